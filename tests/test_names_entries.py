"""Name rules everywhere names enter (issue 20.3): names from files and flags are stored as
pipeline.names normalises them, found again by the same normalisation, or refused in one line
that names the file and the record, with the database file unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dbquery import rows
from fuzzing import CASES, case_db, one_line_error, run_or_refuse_cleanly
from pipeline.cli import app
from pipeline.demo import generate_records
from pipeline.ingest.loader import load_source
from pipeline.ingest.release_load import load_records
from pipeline.ingest.sources import SourceError
from pipeline.model.fitted_paras import FittedParasError, export_fits, import_fits
from pipeline.model.fitting import fit_database
from pipeline.names import NameRefused, check_name
from pipeline.properties.paper import N_PROPERTIES

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parent / "ingest" / "formats" / "fixtures"
GENERATED = settings(deadline=None, derandomize=True, database=None, max_examples=40,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# The characters names get wrong: letters, fullwidth forms, spaces of every kind, controls, bidi
# controls, zero-width characters, combining marks, a lone surrogate, markup.
TRICKY = ("a", "B", "7", " ", "  ", "\u00a0", "\u3000", "\t", "\n", "\x1b", "\u200b", "\u200d", "\u202e",
          "\u2066", "\ufeff", "\u0301", "\ud800", "ｈ", "Ｇ", "１", "ﬁ", "[/b]", ":", "-", "日", "\u2028")
NAMES = st.one_of(
    st.lists(st.sampled_from(TRICKY), min_size=0, max_size=12).map("".join),
    st.text(max_size=20),
    st.integers(95, 130).map(lambda n: "x" * n),
)


def expected(text: str) -> str | None:
    try:
        return check_name(text)
    except NameRefused:
        return None


def params(v: float = 0.0) -> list[float]:
    return [v + i / 100 for i in range(N_PROPERTIES)]


def fitted_file(folder: Path, key: str, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"model_{key}_fitted_paras.jsonl"
    path.write_text("".join(json.dumps({"model_name": n, "parameters": params(i)}) + "\n"
                            for i, n in enumerate(names)))
    return path


# ------------------------------------------------------------------ import-fits: model_name, group keys

@pytest.mark.parametrize("name, stored", [
    (" human ", "human"), ("ｈｕｍａｎ", "human"), ("gpt  4", "gpt 4"),
    ("human\u200b", None), ("gpt\u202e4", None), ("a\nb", None), ("x" * 500, None),
])
def test_import_fits_model_names_are_normalised_or_refused_naming_file_and_line(tmp_path, name, stored):
    db = tmp_path / "f.duckdb"
    path = fitted_file(tmp_path / "in", "Code", ["other", name])
    if stored is None:
        with pytest.raises(FittedParasError) as err:
            import_fits(path, db)
        assert str(err.value).startswith(f"{path} line 2: ") and "\n" not in str(err.value)
        assert not db.exists()
    else:
        import_fits(path, db)
        assert rows(db, "SELECT judge FROM judges ORDER BY 1") == sorted([("other",), (stored,)])


def test_two_lines_that_normalise_to_one_judge_are_refused(tmp_path):
    with pytest.raises(FittedParasError, match="line 2: judge 'human' again"):
        import_fits(fitted_file(tmp_path / "in", "Code", ["human", "ｈｕｍａｎ "]), tmp_path / "f.duckdb")


@pytest.mark.parametrize("group, says", [
    ("Overall", "reserved"), ("overall", "reserved"), ("G\u200b1", "ZERO WIDTH SPACE"), ("a\nb", "control"),
])
def test_import_fits_group_keys_are_checked(tmp_path, group, says):
    path = fitted_file(tmp_path / "in", "whatever", ["human"])
    with pytest.raises(FittedParasError, match=says):
        import_fits(path, tmp_path / "f.duckdb", group=group)
    named = tmp_path / "k" / f"model_{group}_fitted_paras.jsonl"
    named.parent.mkdir()
    named.write_text(path.read_text())
    with pytest.raises(FittedParasError, match=says):
        import_fits(named, tmp_path / "f.duckdb")


def test_import_fits_group_option_is_normalised(tmp_path):
    db = tmp_path / "f.duckdb"
    import_fits(fitted_file(tmp_path / "in", "x", ["human"]), db, group=" Ｃｏｄｅ ")
    assert rows(db, "SELECT DISTINCT group_name FROM fits") == [("Code",)]


def test_a_non_utf8_file_name_is_refused_in_one_line(tmp_path):
    import os

    folder = os.fsencode(tmp_path)
    bad = os.path.join(folder, b"model_w\xffx_fitted_paras.jsonl")
    with open(bad, "w") as f:
        f.write(json.dumps({"model_name": "a", "parameters": params()}) + "\n")
    db = tmp_path / "f.duckdb"
    result = runner.invoke(app, ["import-fits", os.fsdecode(bad), "--db", str(db)])
    assert result.exit_code == 1 and one_line_error(result.output), result.output
    assert "lone surrogate" in result.output and not db.exists()
    data = os.path.join(folder, b"pairs\xff.jsonl")
    with open(data, "wb") as f:
        f.write((FIXTURES / "hh_rlhf.jsonl").read_bytes())
    result = runner.invoke(app, ["load", os.fsdecode(data), "--db", str(db)])
    assert result.exit_code == 1 and one_line_error(result.output), result.output
    assert "give one with --name" in " ".join(result.output.split())
    result = runner.invoke(app, ["load", os.fsdecode(data), "--db", str(db), "--name", "pairs"])
    assert result.exit_code == 0, result.output


@settings(GENERATED, max_examples=25)
@given(name=NAMES)
def test_generated_import_fits_names(tmp_path_factory, name):
    CASES["names: import-fits model_name"] += 1
    folder = tmp_path_factory.mktemp("imp")
    db = folder / "f.duckdb"
    path = fitted_file(folder / "in", "Code", [name])
    want = expected(name)
    if want is None:
        with pytest.raises(FittedParasError) as err:
            import_fits(path, db)
        assert str(err.value).startswith(f"{path} line 1: ") and "\n" not in str(err.value)
        assert not db.exists()
        return
    import_fits(path, db)
    assert rows(db, "SELECT judge FROM judges") == [(want,)]
    result = runner.invoke(app, ["remove-judge", "--db", str(db), "--", name])  # found by the typed name
    assert result.exit_code == 0, result.output
    assert rows(db, "SELECT count(*) FROM judges") == [(0,)]


# ------------------------------------------------------------------ judges and sources from data files

def forensics_file(folder: Path, annotator: str) -> Path:
    data = json.loads((FIXTURES / "annotated_pairs.json").read_text())
    data["annotators"]["h0000001"]["name"] = annotator
    path = folder / "annotated.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("annotator, stored", [("ｈｕｍａｎ", "human"), ("  Human panel ", "Human panel")])
def test_forensics_annotators_are_stored_normalised(tmp_path, annotator, stored):
    db = tmp_path / "f.duckdb"
    load_source(str(forensics_file(tmp_path, annotator)), db=db)
    judges = {j for (j,) in rows(db, "SELECT judge FROM judges")}
    assert stored in judges and annotator not in judges
    assert {j for (j,) in rows(db, "SELECT DISTINCT judge FROM labels")} <= judges


@pytest.mark.parametrize("annotator, stored", [("ｇｐｔ４ ", "gpt4"), ("gpt\u202e4", None)])
def test_alpaca_eval_annotators_are_normalised_or_refused_naming_the_row(tmp_path, annotator, stored):
    db = tmp_path / "f.duckdb"
    rows_ = json.loads((FIXTURES / "alpaca_eval_annotations.json").read_text())
    for row in rows_:
        row["annotator"] = annotator
    path = tmp_path / "ae.json"
    path.write_text(json.dumps(rows_))
    if stored is None:
        with pytest.raises(SourceError, match=r"^ae\.json: row 0: the judge"):
            load_source(str(path), db=db)
        assert not db.exists()
    else:
        load_source(str(path), db=db)
        assert rows(db, "SELECT DISTINCT judge FROM labels") == [(stored,)]


def test_load_judge_option_is_stored_normalised(tmp_path):
    db = tmp_path / "f.duckdb"
    load_source(str(FIXTURES / "hh_rlhf.jsonl"), db=db, options=__import__("pipeline.ingest.formats",
                fromlist=["Options"]).Options(judge="  Ｈuman  panel "))
    assert rows(db, "SELECT DISTINCT judge FROM labels") == [("Human panel",)]


@pytest.fixture(scope="module")
def base_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("names-base") / "base.duckdb"
    load_source(str(FIXTURES / "arena_conversations.jsonl"), db=db)
    return db


@settings(GENERATED, max_examples=15)
@given(name=NAMES)
def test_generated_forensics_annotators(base_db, tmp_path_factory, name):
    CASES["names: forensics annotator"] += 1
    folder, db, before = case_db(base_db, tmp_path_factory)
    path = forensics_file(folder, name)
    # a blank name: the annotator is named by its description
    want = expected(name) if name.strip() else "Human annotator from original dataset"
    result = run_or_refuse_cleanly(["load", str(path), "--db", str(db)], db, before)
    if want is None:
        assert result.exit_code != 0 and "annotator" in result.output and "annotated.json" in result.output
    else:
        assert result.exit_code == 0, result.output
        assert (want,) in rows(db, "SELECT judge FROM judges")


@settings(GENERATED, max_examples=15)
@given(stem=NAMES.filter(lambda s: "/" not in s and "\x00" not in s and 0 < len(s.encode("utf-8", "surrogatepass")) < 200))
def test_generated_source_names_from_file_names(base_db, tmp_path_factory, stem):
    CASES["names: source from file name"] += 1
    folder, db, before = case_db(base_db, tmp_path_factory)
    try:
        path = folder / f"{stem}.jsonl"
        path.write_bytes((FIXTURES / "hh_rlhf.jsonl").read_bytes())
    except (OSError, UnicodeEncodeError):  # a name the file system refuses is not an input
        return
    want = expected(path.name)
    result = run_or_refuse_cleanly(["load", str(path), "--db", str(db)], db, before)
    if want is None:
        assert result.exit_code != 0 and "give one with --name" in " ".join(result.output.split())
    else:
        assert result.exit_code == 0, result.output
        assert (want,) in rows(db, "SELECT source FROM sources")


def test_source_names_with_invisible_characters_are_refused(tmp_path):
    db = tmp_path / "f.duckdb"
    for stem in ("zw\u200bsrc", "nl\nsrc"):
        path = tmp_path / f"{stem}.jsonl"
        path.write_bytes((FIXTURES / "hh_rlhf.jsonl").read_bytes())
        with pytest.raises(SourceError, match="give one with --name"):
            load_source(str(path), db=db)
    assert not db.exists()


def test_annotate_refuses_a_file_name_that_cannot_be_a_source_name(tmp_path):
    from pipeline.annotation import InputError, read_pairs

    for stem in ("zw\u200bpairs", "rtl\u202epairs"):
        path = tmp_path / f"{stem}.csv"
        path.write_text("prompt,response_a,response_b\nq,a,b\n")
        with pytest.raises(InputError, match="rename the file"):
            read_pairs(path)
    ok = tmp_path / "pairs.csv"
    ok.write_text("prompt,response_a,response_b\nq,a,b\n")
    assert len(read_pairs(ok).pairs) == 1


# ------------------------------------------------------------------ lookups and groups

@pytest.fixture(scope="module")
def fitted_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("fitted") / "f.duckdb"
    load_records(generate_records(seed=2, group_sizes={"Code": 60}), source="t", db=db)
    fit_database(db, groups=["Code", "Contain Explicit Constraints"], min_labels=5)
    return db


@pytest.mark.parametrize("typed", ["Ｇ１", " G1 ", "G1"])
def test_group_names_are_found_as_stored(fitted_db, tmp_path, typed):
    db = tmp_path / "g.duckdb"
    db.write_bytes(fitted_db.read_bytes())
    result = runner.invoke(app, ["group", "add", "Ｇ１", "--db", str(db), "--where", "pair_id < 40"])
    assert result.exit_code == 0, result.output
    assert rows(db, "SELECT group_name FROM custom_groups") == [("G1",)]
    result = runner.invoke(app, ["fit", "--db", str(db), "--group", typed, "--judge", " ｈｕｍａｎ", "--min-labels", "5"])
    assert result.exit_code == 0, result.output
    assert rows(db, "SELECT DISTINCT judge FROM fits WHERE group_name = 'G1'") == [("human",)]
    result = runner.invoke(app, ["group", "remove", typed, "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert rows(db, "SELECT count(*) FROM custom_groups") == [(0,)]


@pytest.mark.parametrize("name", ["w_stances", "intent_unclear", "w_mistakes", "express_feeling",
                                  "w_constraints", "all", "ALL", "Ｗ_stances", "Overall"])
def test_group_names_that_are_builtin_file_keys_are_refused(fitted_db, tmp_path, name):
    db = tmp_path / "g.duckdb"
    db.write_bytes(fitted_db.read_bytes())
    before = db.read_bytes()
    result = runner.invoke(app, ["group", "add", name, "--db", str(db), "--where", "pair_id < 40"])
    assert result.exit_code == 1 and one_line_error(result.output), result.output
    assert db.read_bytes() == before


def test_export_refuses_to_write_two_groups_into_one_file(fitted_db, tmp_path):
    db = tmp_path / "g.duckdb"
    db.write_bytes(fitted_db.read_bytes())
    import duckdb

    con = duckdb.connect(str(db))  # a custom group stored before such names were refused
    con.execute("INSERT INTO fits SELECT * REPLACE ('w_constraints' AS group_name) FROM fits "
                "WHERE group_name = 'Contain Explicit Constraints'")
    con.close()
    result = runner.invoke(app, ["export-fits", str(tmp_path / "out"), "--db", str(db)])
    assert result.exit_code == 1 and one_line_error(result.output), result.output
    assert "w_constraints" in result.output and not (tmp_path / "out").exists()


def test_export_then_import_round_trips(fitted_db, tmp_path):
    files = export_fits(tmp_path / "out", fitted_db)
    assert sorted(p.name for p in files) == ["model_Code_fitted_paras.jsonl", "model_w_constraints_fitted_paras.jsonl"]
    db = tmp_path / "back.duckdb"
    import_fits(tmp_path / "out", db)
    query = ("SELECT judge, group_name, property, round(weight, 12) FROM fits "
             "WHERE property_set = 'paper' ORDER BY ALL")
    assert rows(db, query) == rows(fitted_db, query)


@settings(GENERATED, max_examples=8)
@given(name=NAMES)
def test_generated_names_through_cli_lookups(fitted_db, tmp_path_factory, name):
    """`--judge`, `--group` and judge arguments: refused in one line, or looked up normalised."""
    CASES["names: CLI lookups"] += 1
    folder, db, before = case_db(fitted_db, tmp_path_factory)
    want = expected(name)
    for args in (["differ", "--db", str(db), "--", name, "human"],
                 ["leaderboard", "--db", str(db), "--judge", name],
                 ["fit", "--db", str(db), "--group", "Code", "--judge", name, "--min-labels", "5"]):
        result = run_or_refuse_cleanly(args, db, before)
        if want is None:
            assert result.exit_code != 0, result.output
        before = db.read_bytes()
