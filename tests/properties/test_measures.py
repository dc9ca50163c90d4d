"""Response measures (pipeline/properties/measures.py): the fixed names, each measure, the word
count against NLTK's on real texts, the rows every load stores, the features computed from
them, raw pairs' word counts, the backfill and the migration of an older file."""

import gzip
import json

import numpy as np
import polars as pl
import pytest
from dbquery import rows, scalar
from hypothesis import given, settings
from hypothesis import strategies as st
from records_factory import make_record

from pipeline.ingest import style_backfill
from pipeline.ingest.loader import load_source
from pipeline.ingest.release_load import load_records
from pipeline.properties import measures
from pipeline.properties.style import (
    STYLE_PROPERTIES,
    compare_counts,
    style_counts,
    style_features,
)
from pipeline.store import db as dbmod

NAMES = ["tokens", "words", "characters", "headers", "list_items", "bold", "code_blocks", "links", "emoji",
         "questions", "refusals", "as_an_ai"]


def one(text: str, **given) -> dict[str, int]:
    frame = pl.DataFrame({"pair_id": [0], "response_1": [text], "response_2": [""], **given})
    wide = measures.measure_frame(frame)
    return {m: wide[f"{m}_1"][0] for m in measures.MEASURES}


def test_the_measure_names_are_fixed_and_name_every_style_count():
    assert measures.MEASURES == NAMES
    assert {p.measure for p in STYLE_PROPERTIES} <= set(NAMES)


def test_each_measure_of_one_text():
    got = one("## Plan\n- **Don't** panic...\n- see https://x.org, 3,36 e.g. 3.88!\n😀 Would you like more?")
    assert (got["headers"], got["list_items"], got["bold"], got["links"], got["emoji"], got["questions"]) == (
        1, 2, 1, 1, 1, 1)
    assert got["characters"] == len("## Plan\n- **Don't** panic...\n- see https://x.org, 3,36 e.g. 3.88!\n"
                                    "😀 Would you like more?")
    assert one("")["words"] == 0 and one("")["characters"] == 0
    # NLTK splits clitics, '*', a final period and ':' before a non-digit; keeps 3.88 and 3,36
    assert one("Don't stop.")["words"] == 4                  # Do n't stop .
    assert one("**Bold** costs $3.88, at 10:30")["words"] == 11  # * * Bold * * costs $ 3.88 , at 10:30
    assert one("Hello, world!", num_words_1=[7])["words"] == 7   # a record's own count wins
    some = pl.DataFrame({"pair_id": [0, 1], "response_1": ["a b", "a b c."], "response_2": ["", ""],
                         "num_words_1": [7, None]}, schema_overrides={"num_words_1": pl.Int64})
    assert measures.measure_frame(some)["words_1"].to_list() == [7, 4]  # counted where the record has none


@pytest.mark.slow
def test_the_word_count_matches_nltk_on_real_responses(shared_real):
    from pipeline.annotation.words import count_words

    texts = []
    for path in sorted((shared_real / "alpaca-eval").glob("*.json.gz"))[:3]:
        texts += [r["output_2"] for r in json.loads(gzip.decompress(path.read_bytes()))[:60]]
    lines = gzip.decompress((shared_real / "hh-rlhf" / "harmless-base-test.jsonl.gz").read_bytes()).splitlines()
    texts += [json.loads(line)["chosen"].rsplit("Assistant:", 1)[-1] for line in lines[:120]]
    exact = np.array([count_words(t) for t in texts])
    approx = pl.Series(texts).str.count_matches(measures.WORD_RE).to_numpy()
    rel = np.abs(approx - exact) / np.maximum(exact, 1)
    assert (approx == exact).mean() > 0.85 and rel.mean() < 0.005  # the README gives the figures


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=80), st.text(max_size=80)), min_size=1, max_size=8))
def test_any_text_gets_every_measure_and_features_follow_their_rule(pairs):
    frame = pl.DataFrame({"pair_id": list(range(len(pairs))), "response_1": [a for a, _ in pairs],
                          "response_2": [b for _, b in pairs]})
    wide = measures.measure_frame(frame)
    counted = measures.count_rows(wide)
    assert counted.height == 2 * len(pairs) and counted.select(pl.min_horizontal(measures.MEASURES).min()).item() >= 0
    assert wide["characters_1"].to_list() == [len(a) for a, _ in pairs]
    counts = style_counts(frame)
    feats = style_features(frame)
    for p in STYLE_PROPERTIES:
        assert wide[f"{p.measure}_1"].to_list() == counts[f"{p.source_key}_1"].to_list()
        if p.min_diff is not None:  # the feature is the rule on the two measures
            want = [compare_counts(a, b, p.min_diff) for a, b in zip(wide[f"{p.measure}_1"], wide[f"{p.measure}_2"])]
            assert feats.filter(pl.col("property") == p.name)["value"].to_list() == want


def test_measure_frame_names_missing_columns():
    with pytest.raises(ValueError, match=r"missing \['response_2'\]"):
        measures.measure_frame(pl.DataFrame({"pair_id": [0], "response_1": ["x"]}))


def raw_file(tmp_path, n=4):
    path = tmp_path / "raw.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"query {i}", "response_a": "- one\n- two\n" * i + "Short.",
                                        "response_b": f"A longer answer, number {i}!", "model_a": "x",
                                        "model_b": "y", "winner": "model_a"}) + "\n" for i in range(n)))
    return path


def stored(db) -> pl.DataFrame:
    return pl.DataFrame(rows(db, "SELECT pair_id, side, measure, value FROM response_measures"),
                        schema=["pair_id", "side", "measure", "value"], orient="row")


def test_loads_store_every_measure_and_raw_pairs_get_word_counts(tmp_path):
    db = tmp_path / "m.duckdb"
    load_source(str(raw_file(tmp_path)), db=db)
    load_records([make_record(i) for i in range(3)], source="annotated", db=db)
    n = scalar(db, "SELECT count(*) FROM pairs")
    assert n == 7 and scalar(db, "SELECT count(*) FROM response_measures") == n * 2 * len(NAMES)
    assert scalar(db, "SELECT count(*) FROM pairs WHERE num_words_1 IS NULL OR num_words_2 IS NULL") == 0
    # raw pairs: num_words from the measure; released pairs: the record's num_words is the measure
    assert rows(db, "SELECT count(*) FROM pairs p JOIN response_measures m ON m.pair_id = p.pair_id AND m.measure = "
                    "'words' WHERE m.value <> CASE m.side WHEN 1 THEN p.num_words_1 ELSE p.num_words_2 END") == [(0,)]
    assert rows(db, "SELECT num_words_2 FROM pairs WHERE source = 'raw.jsonl' ORDER BY pair_id LIMIT 1") == [(7,)]
    assert rows(db, "SELECT value FROM response_measures WHERE measure = 'list_items' AND side = 1 "
                    "ORDER BY pair_id LIMIT 4") == [(0.0,), (2.0,), (4.0,), (6.0,)]
    # the stored style features are the rule on the stored measures
    m = stored(db).pivot(on=["measure", "side"], index="pair_id", values="value")
    feats = {(pid, prop): v for pid, prop, v in rows(db, "SELECT pair_id, property, value FROM features")}
    for p in STYLE_PROPERTIES:
        if p.min_diff is not None:
            for row in m.iter_rows(named=True):
                a, b = int(row[f'{{"{p.measure}",1}}']), int(row[f'{{"{p.measure}",2}}'])
                assert feats[(row["pair_id"], p.name)] == compare_counts(a, b, p.min_diff)


def test_backfill_fills_missing_measures_and_nothing_else(tmp_path):
    db = tmp_path / "b.duckdb"
    load_source(str(raw_file(tmp_path)), db=db)
    before = stored(db).sort(pl.all())
    with dbmod.writing(db) as con:
        con.execute("DELETE FROM response_counts WHERE pair_id = 1")
        con.execute("UPDATE response_counts SET bold = NULL WHERE pair_id = 2")  # one measure not taken
    assert style_backfill.backfill_measures(db) == 2
    assert stored(db).sort(pl.all()).equals(before)
    stamp = db.stat().st_mtime_ns
    assert style_backfill.backfill_measures(db) == 0 and db.stat().st_mtime_ns == stamp
    with dbmod.writing(db) as con:  # fit's backfill fills them too
        con.execute("DELETE FROM response_counts WHERE pair_id = 3")
    assert style_backfill.backfill(db) == 0 and stored(db).sort(pl.all()).equals(before)


def file_at_version(db, version: int):
    """An open connection to a new file made by the schema steps up to `version` (as the code of
    that time made it), each recorded in schema_version."""
    import duckdb

    from pipeline.store import schema

    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                "applied_at TIMESTAMP DEFAULT current_timestamp)")
    for step in schema.steps():
        if step.version <= version:
            step.apply(con)
            con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [step.version, step.name])
    return con


def test_an_older_file_gets_its_measures_at_its_next_write(tmp_path):
    """A version-2 file (its own steps, as the code of that time made it) with a raw pair: the
    migration of its next write measures the pair and gives it its word counts."""
    db = tmp_path / "old.duckdb"
    con = file_at_version(db, 2)
    con.execute("INSERT INTO pairs (pair_id, source, source_index, pair_key, query, response_1, response_2, usable, "
                "annotated) VALUES (5, 's', 0, 'k', 'q', '- a\n- b', 'No list, sorry.', FALSE, FALSE)")
    con.close()
    with dbmod.writing(db):
        pass
    got = {(m, side): v for _, side, m, v in stored(db).iter_rows()}
    assert len(got) == 2 * len(NAMES) and got[("list_items", 1)] == 2 and got[("list_items", 2)] == 0
    assert rows(db, "SELECT num_words_1, num_words_2 FROM pairs") == [(4, 5)]  # - a - b / No list , sorry .


def test_a_file_with_the_long_table_keeps_its_measures_in_the_columns(tmp_path):
    """A version-6 file keeps a row per (pair, side, measure): step 7 moves the values (not counted
    again) into response_counts, the view gives the same rows, and a pair missing some is measured."""
    from pipeline.store.schema import m0007_measure_columns

    assert list(m0007_measure_columns.COLUMNS) == measures.MEASURES  # the step's columns are today's measures
    con = file_at_version(db := tmp_path / "v6.duckdb", 6)
    for pid in (1, 2):
        con.execute("INSERT INTO pairs (pair_id, source, source_index, pair_key, query, response_1, response_2, "
                    "usable, annotated) VALUES (?, 's', ?, ?, 'q', 'a b', 'c', FALSE, FALSE)", [pid, pid, f"k{pid}"])
    kept = [(1, side, m, float(100 * side + i)) for side in (1, 2) for i, m in enumerate(NAMES)]
    con.executemany("INSERT INTO response_measures VALUES (?, ?, ?, ?)", kept + [(2, 1, "tokens", 7.0)])
    con.close()
    with dbmod.writing(db):
        pass
    assert sorted(rows(db, "SELECT * FROM response_measures WHERE pair_id = 1")) == sorted(kept)
    assert rows(db, "SELECT value FROM response_measures WHERE pair_id = 2 AND side = 1 AND measure = 'tokens'") == [(2.0,)]
    assert scalar(db, "SELECT count(*) FROM response_measures WHERE pair_id = 2") == 2 * len(NAMES)
    assert scalar(db, "SELECT count(*) FROM duckdb_views() WHERE view_name = 'response_measures'") == 1


@pytest.mark.slow
def test_hh_rlhf_raw_pairs_get_word_counts(shared_real, tmp_path):
    path = tmp_path / "hh.jsonl"
    path.write_bytes(gzip.decompress((shared_real / "hh-rlhf" / "harmless-base-test.jsonl.gz").read_bytes()))
    db = tmp_path / "hh.duckdb"
    load_source(str(path), db=db)
    assert scalar(db, "SELECT count(*) FROM pairs") > 600  # the single-turn pairs
    assert scalar(db, "SELECT count(*) FROM pairs WHERE num_words_1 IS NULL OR num_words_2 IS NULL") == 0
    assert scalar(db, "SELECT count(DISTINCT pair_id) FROM response_measures") == scalar(db, "SELECT count(*) FROM pairs")
