"""Raw pairs in the database: stored unannotated, with attributes, raters, 'All' and style features;
deduplicated; all or nothing; annotated in place by a released-format record of the same pair."""

import json

import pytest
from typer.testing import CliRunner

from dbquery import rows, scalar
from formats_fixtures import FIXTURES
from pipeline.cli import app
from pipeline.ingest.formats import NoFormat, Options, RowError
from pipeline.ingest.release_load import load_records
from pipeline.ingest.loader import load_source
from records_factory import make_record

PAPER = "property IN (SELECT property FROM properties WHERE property_set = 'paper')"
STYLE = "property IN (SELECT property FROM properties WHERE property_set = 'style')"


def test_arena_pairs_are_stored_without_annotations(tmp_path):
    db = tmp_path / "t.duckdb"
    report = load_source(str(FIXTURES / "arena_conversations.jsonl"), db=db)
    assert (report.format, report.records, report.new_pairs, report.new_labels) == ("arena", 5, 2, 2)
    assert report.skipped == ["1 rows left out: tie (rows 2)", "1 rows left out: both bad (rows 3)",
                              "1 rows left out: multi-turn (rows 4)"]
    assert rows(db, "SELECT pair_id, annotated, usable, n_turns, model_1, source_id FROM pairs ORDER BY 1") == [
        (0, False, False, 1, "koala-13b", "q-001"), (1, False, False, 1, "alpaca-13b", "q-002")]
    assert rows(db, "SELECT pair_id, judge, preferred, rater FROM labels ORDER BY 1") == [
        (0, "human", 1, "arena_user_101"), (1, "human", 2, "arena_user_102")]
    assert rows(db, "SELECT value FROM pair_attributes WHERE pair_id = 1 AND key = 'language'") == [("German",)]
    assert rows(db, "SELECT judge, kind FROM judges") == [("human", "human")]
    assert rows(db, "SELECT kind, n_pairs FROM sources") == [("pairs:arena", 2)]
    assert scalar(db, f"SELECT count(*) FROM features WHERE {PAPER}") == 0
    assert rows(db, "SELECT group_name, group_kind, count(*) FROM pair_groups GROUP BY ALL") == [("All", "all", 2)]


def test_every_new_pair_gets_the_style_features(tmp_path):
    db = tmp_path / "t.duckdb"
    load_source(str(FIXTURES / "lmarena_140k.json"), db=db)
    n_style = scalar(db, "SELECT count(*) FROM properties WHERE property_set = 'style'")
    assert n_style >= 10
    assert scalar(db, f"SELECT count(*) FROM features WHERE {STYLE}") == 2 * n_style
    load_records([make_record(i) for i in range(3)], source="release", db=db)
    assert scalar(db, f"SELECT count(DISTINCT pair_id) FROM features WHERE {STYLE}") == 5
    assert scalar(db, "SELECT count(*) FROM pair_groups WHERE group_name = 'All'") == 5  # release pairs too


def test_multi_turn_option_stores_n_turns(tmp_path):
    db = tmp_path / "t.duckdb"
    load_source(str(FIXTURES / "arena_conversations.jsonl"), db=db, options=Options(multi_turn=True))
    assert rows(db, "SELECT n_turns, count(*) FROM pairs GROUP BY 1 ORDER BY 1") == [(1, 2), (2, 1)]


def test_reloading_changes_nothing_and_other_options_read_again(tmp_path):
    db = tmp_path / "t.duckdb"
    src = str(FIXTURES / "arena_conversations.jsonl")
    load_source(src, db=db)
    assert load_source(src, db=db).already_loaded
    again = load_source(src, db=db, options=Options(multi_turn=True), name="arena multi-turn")
    assert (again.new_pairs, again.existing_pairs, again.new_labels) == (1, 2, 1)  # the multi-turn pair's vote
    assert scalar(db, "SELECT count(*) FROM pairs") == 3


def test_the_same_pair_from_two_annotators_is_stored_once(tmp_path):
    db = tmp_path / "t.duckdb"
    report = load_source(str(FIXTURES / "alpaca_eval_annotations.json"), db=db)
    assert (report.new_pairs, report.duplicates_in_source, report.new_labels) == (2, 1, 3)
    assert rows(db, "SELECT judge, preferred, prob_1 FROM labels WHERE pair_id = 0 ORDER BY judge") == [
        ("alpaca_eval_gpt4_turbo_fn", 1, None), ("weighted_alpaca_eval_gpt4_turbo", 1, pytest.approx(0.8))]


def test_a_bad_row_late_in_the_file_loads_nothing(tmp_path, monkeypatch):
    import pipeline.ingest.writing as writing

    monkeypatch.setattr(writing, "CHUNK", 2)
    db = tmp_path / "t.duckdb"
    load_records([make_record(0)], source="first", db=db)
    before = {t: rows(db, f"SELECT * FROM {t} ORDER BY ALL") for t in ("pairs", "labels", "features", "pair_groups")}
    lines = (FIXTURES / "arena_conversations.jsonl").read_text().splitlines()
    bad = json.loads(lines[1])
    bad["winner"] = "model_c"
    path = tmp_path / "arena.jsonl"
    path.write_text("\n".join(lines + lines[:2] + [json.dumps(bad)]) + "\n")
    with pytest.raises(RowError, match=r"arena.jsonl: row 7, field 'winner': unknown winner 'model_c'"):
        load_source(str(path), db=db)
    assert {t: rows(db, f"SELECT * FROM {t} ORDER BY ALL") for t in before} == before


def test_a_release_record_of_a_stored_raw_pair_fills_its_annotations_in_place(tmp_path):
    db = tmp_path / "t.duckdb"
    raw = tmp_path / "raw.jsonl"
    raw.write_text("".join(json.dumps({"prompt": f"query number {i}", "response_a": f"first answer {i}",
                                       "response_b": f"second answer {i}", "model_a": "model-x",
                                       "model_b": "model-y", "winner": "model_b", "language": "en"}) + "\n"
                           for i in range(3)))
    load_source(str(raw), db=db, options=Options(attribute_columns=("language",)))
    report = load_records([make_record(i, r1={"friendly": 3}) for i in range(2)], source="annotated:raw", db=db)
    assert (report.new_pairs, report.annotated_in_place, report.usable_pairs) == (0, 2, 2)
    assert rows(db, "SELECT pair_id, annotated, usable, source, scenario_group, num_words_1 FROM pairs ORDER BY 1") == [
        (0, True, True, "raw.jsonl", "Daily Tasks", 100), (1, True, True, "raw.jsonl", "Daily Tasks", 100),
        (2, False, False, "raw.jsonl", None, 3)]  # a raw pair's words are measured: "first answer 2"
    assert scalar(db, f"SELECT count(*) FROM features WHERE {PAPER} AND pair_id = 0") == 29
    assert scalar(db, "SELECT value FROM features WHERE pair_id = 1 AND property = 'friendly'") == 1
    assert rows(db, "SELECT group_name FROM pair_groups WHERE pair_id = 0 ORDER BY 1") == [("All",), ("Daily Tasks",)]
    assert scalar(db, "SELECT count(*) FROM ratings WHERE pair_id = 0") == 40
    # the raw human label stays; the release's other judge is added
    assert rows(db, "SELECT judge, preferred FROM labels WHERE pair_id = 0 ORDER BY 1") == [
        ("gpt-4-turbo", 2), ("human", 2)]
    assert rows(db, "SELECT value FROM pair_attributes WHERE pair_id = 0") == [("en",)]


def test_a_file_in_no_format_lists_what_was_tried(tmp_path):
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"text": "hello", "label": 1}) + "\n")
    with pytest.raises(NoFormat) as info:
        load_source(str(path), db=tmp_path / "t.duckdb")
    message = str(info.value)
    for part in ("release (missing field 'preference_labels')", "arena (missing column 'conversation_a')",
                 "arena-55k (missing column 'prompt')", "hh-rlhf (missing column 'chosen')",
                 "alpaca-eval (missing column 'instruction')", "generic (missing column 'prompt'"):
        assert part in message
    assert not (tmp_path / "t.duckdb").exists()


def test_release_files_refuse_raw_pair_options(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(make_record(0)) + "\n")
    from pipeline.ingest.sources import SourceError

    with pytest.raises(SourceError, match="for raw pairs"):
        load_source(str(path), db=tmp_path / "t.duckdb", options=Options(judge="x"))


runner = CliRunner()


def test_cli_load_with_format_and_column_options(tmp_path):
    db = str(tmp_path / "t.duckdb")
    result = runner.invoke(app, ["load", str(FIXTURES / "generic_pairs.csv"), "--db", db, "--format", "generic",
                                 "--prompt-col", "question", "--response-1-col", "answer_left",
                                 "--response-2-col", "answer_right", "--winner-col", "choice",
                                 "--rater-col", "who", "--attribute-col", "topic", "--judge", "panel"])
    assert result.exit_code == 0, result.output
    assert "3 new raw pairs" in result.output and "1 rows left out: tie (rows 2)" in result.output
    assert rows(db, "SELECT DISTINCT judge FROM labels") == [("panel",)]
    assert scalar(db, "SELECT count(*) FROM pair_attributes WHERE key = 'topic'") == 3


def test_cli_bad_input_is_one_line_and_nothing_is_loaded(tmp_path):
    db = tmp_path / "t.duckdb"
    result = runner.invoke(app, ["load", str(FIXTURES / "generic_pairs.csv"), "--db", str(db)])
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "not in any known format; tried release" in out and "nothing was loaded" in out
    assert "Traceback" not in result.output and not db.exists()
    result = runner.invoke(app, ["load", str(FIXTURES / "hh_rlhf.jsonl"), "--db", str(db), "--format", "arena"])
    assert result.exit_code == 1 and "not in format arena: missing column 'conversation_a'" in " ".join(result.output.split())
