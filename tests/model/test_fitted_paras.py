"""import-fits / export-fits: the original's fitted_paras files in and out, all or nothing."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.demo import generate_records
from pipeline.model.fitted_paras import FittedParasError, export_fits, guess_size_b, import_fits, read_path
from pipeline.model.fitting import fit_database
from pipeline.ingest.release_load import load_records
from pipeline.properties.paper import N_PROPERTIES, PROPERTY_NAMES
from records_factory import make_record
from dbquery import rows

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference" / "fitted_paras"  # CI keeps ../shared beside the repo
runner = CliRunner()
needs_reference = pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"no reference files at {REFERENCE}")



def write(folder: Path, key: str, judges: dict[str, list], extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"model_{key}_fitted_paras.jsonl"
    lines = [json.dumps({"model_name": n, "parameters": p}) for n, p in judges.items()]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def params(v: float) -> list[float]:
    return [v + i / 100 for i in range(N_PROPERTIES)]


@needs_reference
def test_round_trip_of_the_published_files_is_byte_identical(tmp_path):
    db = tmp_path / "ref.duckdb"
    report = import_fits(REFERENCE, db)
    assert len(report.judges) == 33 and len(report.groups) == 16 and "human" in report.judges
    out = tmp_path / "out"
    files = export_fits(out, db, sources=[report.source])
    assert sorted(p.name for p in files) == sorted(p.name for p in REFERENCE.glob("*.jsonl"))
    for p in files:
        assert p.read_bytes() == (REFERENCE / p.name).read_bytes(), p.name
    # stored as judges with a source of their own, and read by the views
    assert rows(db, "SELECT DISTINCT source FROM fits") == [(report.source,)]
    assert rows(db, "SELECT DISTINCT status, method FROM fit_runs") == [("imported", "imported")]
    assert rows(db, "SELECT kind, source FROM judges WHERE judge = 'human'") == [("human", report.source)]
    (n_groups,) = rows(db, """SELECT n_groups FROM judge_similarity
                              WHERE judge_a = 'human' AND judge_b = 'qwen-72b' AND group_name = 'Overall'""")[0]
    assert n_groups == 11  # the five query-specific files are not part of Overall


@needs_reference
def test_reference_files_parse_with_their_groups():
    files = read_path(REFERENCE)
    kinds = {f.group_name: f.group_kind for f in files}
    assert kinds["Unclear User Intent"] == kinds["Contain Mistakes or Bias"] == "query-specific"
    assert kinds["Creative Writing"] == "scenario" and sum(k == "scenario" for k in kinds.values()) == 11


@pytest.mark.parametrize("bad, message", [
    ('{"model_name": "x", "parameters": [1, 2]}', "line 3: parameters must be a list of 29 numbers, got 2 values"),
    ('{"model_name": "", "parameters": []}', "line 3: model_name must be a non-empty string"),
    ("not json", "line 3: not JSON"),
    ('["a list"]', "line 3: expected an object"),
    (json.dumps({"model_name": "x", "parameters": [0.1] * 28 + [True]}), "parameter 28 (lengthy) is not a finite number"),
    (json.dumps({"model_name": "x", "parameters": [0.1] * 28 + ["0.3"]}), "parameter 28 (lengthy)"),
    ('{"model_name": "x", "parameters": [' + "NaN, " * 28 + "0]}", "parameter 0 (harmless) is not a finite number"),
    (json.dumps({"model_name": "a", "parameters": params(0)}), "line 3: judge 'a' again (first on line 1)"),
])
def test_a_bad_line_is_refused_with_file_and_line_and_nothing_is_imported(tmp_path, bad, message):
    folder = tmp_path / "in"
    write(folder, "Advice", {"a": params(0.1)})
    bad_file = write(folder, "Code", {"a": params(0.1), "b": params(0.2)}, extra=bad + "\n")
    db = tmp_path / "x.duckdb"
    with pytest.raises(FittedParasError) as exc:
        import_fits(folder, db)
    assert str(bad_file) in str(exc.value) and message in str(exc.value)
    assert not db.exists()


def test_group_from_file_name_or_option(tmp_path):
    f = write(tmp_path, "w_stances", {"a": params(0)})
    assert read_path(f)[0].group_name == "Show Explicit Subjective Stances"
    other = tmp_path / "community.jsonl"
    other.write_text(f.read_text())
    with pytest.raises(FittedParasError, match="can't tell the group"):
        read_path(other)
    assert read_path(other, group="express_feeling")[0].group_name == "Express Feelings or Emotions"
    assert read_path(other, group="Code")[0].group_kind == "scenario"
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    with pytest.raises(FittedParasError, match="no model_<group>"):
        read_path(empty)


def test_reimport_brings_back_a_removed_judge(tmp_path):
    # The same files again used to say "already imported, nothing changed" although a judge
    # had been removed since; now they restore it (and still refuse a real clash).
    from pipeline.judges import add_judge, remove_judge

    db = tmp_path / "r.duckdb"
    first = write(tmp_path / "one", "Advice", {"human": params(0.1), "m-7b": params(0.2)})
    import_fits(first, db, prefix="paper/")
    remove_judge("paper/m-7b", db=db)
    report = import_fits(first, db, prefix="paper/")
    assert not report.already_imported and not report.replaced
    assert rows(db, "SELECT judge, weight FROM fits WHERE property = 'harmless' ORDER BY judge") == [
        ("paper/human", 0.1), ("paper/m-7b", 0.2)]
    assert import_fits(first, db, prefix="paper/").already_imported
    remove_judge("paper/m-7b", db=db)
    load_records([make_record(0)], source="s", db=db)
    add_judge("paper/m-7b", [(0, 1)], db=db, fit=False)  # the name is someone else's now
    with pytest.raises(FittedParasError, match="already in the database: paper/m-7b"):
        import_fits(first, db, prefix="paper/")


def test_clash_prefix_replace_and_reimport(tmp_path):
    db = tmp_path / "c.duckdb"
    first = write(tmp_path / "one", "Advice", {"human": params(0.1), "m-7b": params(0.2)})
    second = write(tmp_path / "two", "Advice", {"human": params(0.5)})
    import_fits(first, db)
    assert import_fits(first, db).already_imported  # same files again: nothing to do
    with pytest.raises(FittedParasError, match=r"1 judge name\(s\) already in the database: human.*--prefix.*--replace"):
        import_fits(second, db)
    assert rows(db, "SELECT weight FROM fits WHERE judge = 'human' AND property = 'harmless'") == [(0.1,)]
    import_fits(second, db, prefix="paper/")
    assert rows(db, "SELECT judge, weight FROM fits WHERE property = 'harmless' ORDER BY judge") == [
        ("human", 0.1), ("m-7b", 0.2), ("paper/human", 0.5)]
    report = import_fits(second, db, replace=True)
    assert report.replaced == ["human"]
    assert rows(db, "SELECT weight, source FROM fits WHERE judge = 'human' AND property = 'harmless'") == [
        (0.5, "fitted_paras:model_Advice_fitted_paras.jsonl")]
    assert rows(db, "SELECT size_b FROM judges WHERE judge = 'm-7b'") == [(7.0,)]
    with pytest.raises(FittedParasError, match="reserved"):
        import_fits(second, db, name="fit", prefix="x/")


def test_imported_judge_names_clash_with_labelled_ones(tmp_path):
    db = tmp_path / "l.duckdb"
    load_records(generate_records(seed=2, group_sizes={"Code": 40}), source="t", db=db)
    with pytest.raises(FittedParasError, match="human"):
        import_fits(write(tmp_path / "f", "Code", {"human": params(0)}), db)
    assert rows(db, "SELECT count(*) FROM fits") == [(0,)]


def test_export_of_our_fits(tmp_path):
    db = tmp_path / "e.duckdb"
    load_records(generate_records(seed=2, group_sizes={"Code": 60}), source="t", db=db)
    fit_database(db, groups=["Code", "Contain Explicit Constraints"], min_labels=10)
    import_fits(write(tmp_path / "paper", "Code", {"human": params(0)}), db, prefix="paper/")
    files = export_fits(tmp_path / "out", db)
    assert [p.name for p in files] == ["model_Code_fitted_paras.jsonl", "model_w_constraints_fitted_paras.jsonl"]
    lines = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert lines[0]["model_name"] == "human"  # humans first
    assert "paper/human" not in {d["model_name"] for d in lines}  # ours only, by default
    weights = dict(rows(db, "SELECT property, weight FROM fits WHERE judge = 'human' AND group_name = 'Code'"))
    assert lines[0]["parameters"] == [weights[p] for p in PROPERTY_NAMES]
    with pytest.raises(FittedParasError, match="exists"):
        export_fits(tmp_path / "out", db)
    every = export_fits(tmp_path / "out", db, sources=None, overwrite=True)
    assert "paper/human" in files[0].read_text() and len(every) == 2


def test_commands(tmp_path):
    db = tmp_path / "cli.duckdb"
    folder = tmp_path / "in"
    write(folder, "Advice", {"human": params(0)}, extra='{"model_name": "x"}\n')
    result = runner.invoke(app, ["import-fits", str(folder), "--db", str(db)])
    assert result.exit_code == 1 and "line 2" in result.output and "nothing was imported" in result.output
    assert "Traceback" not in result.output
    write(folder, "Advice", {"human": params(0)})
    result = runner.invoke(app, ["import-fits", str(folder), "--db", str(db), "--prefix", "paper/"])
    assert result.exit_code == 0 and "1 judges x 1 groups" in result.output
    result = runner.invoke(app, ["export-fits", str(tmp_path / "out"), "--db", str(db)])
    assert result.exit_code == 1 and "no fits to export" in result.output
    assert "add --all" in " ".join(result.output.split())  # only imported fits: say how to export them
    result = runner.invoke(app, ["export-fits", str(tmp_path / "out"), "--db", str(db), "--all"])
    assert result.exit_code == 0 and "wrote 1 files" in result.output


def test_an_export_the_folder_refuses_writes_nothing_in_one_line(tmp_path):
    """A folder under a file, or files the disk will not take (every file the process writes
    capped at 1,000 bytes, as a full disk refuses them): one line, and the folder as it was, no
    file half-replaced and none left aside."""
    import os
    import resource
    import signal
    import subprocess
    import sys

    db, folder, out = tmp_path / "x.duckdb", tmp_path / "in", tmp_path / "out"
    for i, key in enumerate(["Advice", "Code", "Math"]):
        write(folder, key, {"human": params(i + 1 / 3), "gpt-4": params(i + 2 / 3)})  # 1.2 kB a file
    import_fits(folder, db)
    files = export_fits(out, db, sources=None)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = runner.invoke(app, ["export-fits", str(files[0] / "sub"), "--db", str(db), "--all"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert " ".join(result.output.split()) == (f"error: {files[0] / 'sub'}: cannot write the fits there "
                                               f"({os.strerror(20)}); nothing was written")

    def capped():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))

    done = subprocess.run([sys.executable, "-m", "pipeline", "export-fits", str(out), "--db", str(db), "--all",
                           "--overwrite"], cwd=ROOT, preexec_fn=capped, capture_output=True, text=True, timeout=120)
    output = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1 and "Traceback" not in output, output
    assert output == f"error: {out}: cannot write the fits there ({os.strerror(27)}); nothing was written"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_size_from_name():
    assert guess_size_b("llama-2-70b-chat") == 70 and guess_size_b("mistral-8x7b") == 56
    assert guess_size_b("yi-6b") == 6 and guess_size_b("gpt-4-1106-preview") is None
    assert guess_size_b("human") is None and guess_size_b("qwen-1.8b") == 1.8


def test_an_export_of_style_fits_only_says_the_format_has_no_place_for_them(tmp_path):
    """Raw battles fitted on the style properties: the fitted_paras format holds the paper's 29,
    so the export says that and where the fits are, instead of only 'no fits'."""
    from raw_battles import build

    db = build(tmp_path, {"human": 0.3}, n=80)
    result = runner.invoke(app, ["export-fits", str(tmp_path / "out"), "--db", str(db)], env={"COLUMNS": "10000"})
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "paper's 29 properties" in result.output and "property set(s) style" in result.output
    assert not (tmp_path / "out").exists()
