"""Issue 20, classes 2 and 4: a failed or empty command leaves the file's bytes as they were,
printing never changes what happens, and odd input ends in one line.

Before the fixes: `group add X --where ... --fit --properties bogus` stored the group and
exited 1; a reload that changed nothing rewrote the file; a group named `[/bold]` made
`leaderboard` exit 1 with a MarkupError after writing; `rev:thumbs_up:2` printed as
`rev👍2`; `--seed -1` and `--db ducklake:...` gave tracebacks or created folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dbquery import rows, scalar
from pipeline.cli import app
from pipeline.names import NameRefused, check_name
from records_factory import make_record

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
WIDE = {"COLUMNS": "3000"}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args], env=WIDE)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    src = folder / "r.jsonl"
    src.write_text("".join(json.dumps(make_record(i)) + "\n" for i in range(12)))
    db = folder / "base.duckdb"
    assert run("load", src, "--db", db).exit_code == 0
    labels = folder / "labels.json"
    labels.write_text(json.dumps(["A", "B"] * 6))
    return db, src, labels


@pytest.fixture
def fresh(base, tmp_path):
    db, src, labels = base
    copy = tmp_path / "db.duckdb"
    shutil.copyfile(db, copy)
    return copy, src, labels


def _one_line_failure(result, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.output.startswith("error:") and result.output.count("\n") == 1, result.output


# ---------------------------------------------------------------- no-ops and failures keep the bytes

def test_a_reload_and_other_no_ops_leave_the_bytes_as_they_were(fresh):
    db, src, _ = fresh
    before = sha(db)
    result = run("load", src, "--db", db)
    assert result.exit_code == 0 and "already loaded" in result.output
    assert sha(db) == before
    _one_line_failure(run("group", "remove", "nothere", "--db", db))
    assert run("migrate", "--db", db).exit_code == 0
    assert run("remove-judge", "nobody", "--db", db).exit_code == 1
    assert sha(db) == before


def test_a_real_change_is_still_published(fresh):
    db, src, labels = fresh
    before = sha(db)
    assert run("add-judge", "someone", labels, "--db", db, "--no-fit").exit_code == 0
    assert sha(db) != before and "someone" in {r[0] for r in rows(db, "SELECT judge FROM judges")}


@pytest.mark.parametrize("args, says", [
    (["--where", "pair_id < 50", "--fit", "--properties", "bogus"], "unknown property set 'bogus'"),
    (["--where", "pair_id < 0", "--fit"], "no stored pair matches the condition"),
    (["--where", "pair_id < 50", "--fit", "--properties", "custom"], "no custom properties"),
])
def test_group_add_with_a_fit_that_cannot_run_stores_nothing(fresh, args, says):
    db, _, _ = fresh
    before = sha(db)
    result = run("group", "add", "X", *args, "--db", db)
    _one_line_failure(result)
    assert says in result.output
    assert sha(db) == before and scalar(db, "SELECT count(*) FROM custom_groups") == 0


@pytest.mark.parametrize("command", [["fit", "--group", "E"], ["leaderboard", "--group", "E"],
                                     ["whatif", "--judge", "human", "--model", "model-x", "--group", "E"],
                                     ["differ", "human", "gpt-4-turbo", "--group", "E"]])
def test_an_empty_group_is_called_empty_not_unknown(fresh, command):
    db = fresh[0]
    assert run("group", "add", "E", "--where", "pair_id < 0", "--db", db).exit_code == 0
    before = sha(db)
    result = run(*command, "--db", db)
    _one_line_failure(result)
    assert "group 'E' is empty" in result.output and "unknown" not in result.output
    assert sha(db) == before


@pytest.mark.parametrize("seed", ["-1", "99999999999999999999", str(2**32)])
def test_a_seed_out_of_range_is_one_line(fresh, seed):
    db, _, _ = fresh
    before = sha(db)
    for command in (["fit", "--min-labels", "1"], ["demo", "--no-fit"]):
        result = run(*command, f"--seed={seed}", "--db", db)
        _one_line_failure(result)
        assert "--seed must be" in result.output
    assert sha(db) == before


def _pipeline(*args, cwd: Path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "3000"}
    return subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow  # five CLI processes
def test_db_that_is_not_a_duckdb_file_is_one_line(tmp_path, base):
    _, src, _ = base
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database\n")
    folder = tmp_path / "folder.duckdb"
    folder.mkdir()
    before = sha(junk)
    cases = [(junk, "not a valid DuckDB"), (folder, "is a folder"),
             ("ducklake:mysql:db=x", "unknown DuckLake catalog"),
             ("ducklake:postgres:not a libpq string", "cannot read the PostgreSQL catalog"), ("s3://bucket/x.duckdb", "looks like a URL"),
             ("md:my_db", "looks like a URL")]
    for db, says in cases:
        result = _pipeline("load", src, "--db", db, cwd=tmp_path)  # the real entry point: main()'s one line
        assert result.returncode == 1, (db, result.stdout, result.stderr)
        out = result.stdout + result.stderr
        assert "Traceback" not in out and says in out and out.count("\n") == 1, out
        for command in (["info"], ["group", "list"], ["fit"]):
            result = run(*command, "--db", db)
            if result.exit_code == 0 or not isinstance(result.exception, SystemExit):
                assert type(result.exception).__name__ == "NotADatabase", (command, result.output)
                assert says in str(result.exception) and "\n" not in str(result.exception)
            else:
                _one_line_failure(result)
                assert says in result.output
    assert sha(junk) == before
    made = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock"))  # the writer lock may stay
    assert made == ["folder.duckdb", "junk.duckdb"] and list(folder.iterdir()) == []  # no folders named after URLs


def test_a_name_with_a_colon_is_still_a_path_when_written_as_one(tmp_path, base):
    _, src, _ = base
    result = _pipeline("load", src, "--db", tmp_path / "odd:name.duckdb", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "odd:name.duckdb").is_file()


def test_hostile_import_fits_lines_leave_the_file(fresh, tmp_path):
    db, _, _ = fresh
    before = sha(db)
    ok = {"model_name": "x", "parameters": [0.0] * 29}
    lines = ["[" * 5000 + "]" * 5000, '{"model_name": "x", "parameters": [' + "9" * 5000 + "]}",
             '{"model_name": "a\\ud800", "parameters": [' + ", ".join(["0"] * 29) + "]}",
             json.dumps({**ok, "parameters": [10**400] + [0] * 28}), '{"model_name": ' + "[" * 900 + "]" * 900 + "}"]
    for i, line in enumerate(lines):
        f = tmp_path / f"case{i}" / "model_all_fitted_paras.jsonl"
        f.parent.mkdir()
        f.write_text(json.dumps(ok) + "\n" + line + "\n")
        result = run("import-fits", f, "--db", db)
        _one_line_failure(result)
        assert "line 2" in result.output
    assert sha(db) == before


def test_hostile_rate_files_leave_the_file(fresh, tmp_path):
    db, _, _ = fresh
    before = sha(db)
    texts = ["[[property]]\nname = 'x'\nquestion = 'q'\nscale = 'compare'\nextra = " + "[" * 3000 + "]" * 3000,
             "[[property]]\nname = 'x'\nquestion = 'q'\nscale = 'compare'\nn = " + "9" * 5000,
             "a = {" + "b = {" * 3000 + "}" * 3001]
    for i, text in enumerate(texts):
        f = tmp_path / f"p{i}.toml"
        f.write_text(text)
        result = run("rate", f, "--db", db, "--dry-run")
        _one_line_failure(result)
        assert str(f) in result.output
    assert sha(db) == before


# ---------------------------------------------------------------- printing never changes what happens

# Names built from what Rich reads: markup brackets, emoji codes, backslashes before brackets.
PIECES = st.sampled_from(["[", "]", "[/bold]", "[red]", "[/]", ":thumbs_up:", ":smile:", ":", "\\", "\\[",
                          "rev", "a", "b", " ", "x:y", ":red_heart:", "[link=x]"])
NAMES = st.lists(PIECES, min_size=1, max_size=6).map("".join).filter(
    lambda s: s.strip() != "" and not s.strip().startswith("-"))
settings.register_profile("hostile-printing", max_examples=8, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _stored(name: str, what: str) -> str | None:
    try:
        return check_name(name, what)
    except NameRefused:
        return None


@pytest.mark.slow  # three commands per generated name
@settings(settings.get_profile("hostile-printing"))
@given(name=NAMES)
def test_names_print_literally_through_add_judge_group_add_and_leaderboard(name, base, tmp_path_factory):
    db = tmp_path_factory.mktemp("printing") / "db.duckdb"
    shutil.copyfile(base[0], db)
    labels = base[2]
    judge = _stored(name, "judge name")
    result = run("add-judge", name, labels, "--db", db, "--no-fit", "--kind", "llm")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if judge is None:
        assert result.exit_code == 1
    else:
        assert result.exit_code == 0, result.output
        assert repr(judge) in result.output or judge in result.output
        hint = next(line for line in result.output.splitlines() if line.startswith("next:"))
        assert judge.replace("'", "") in hint.replace("'", "").replace('"', "")  # shell-quoted, not rewritten
    group = _stored(name, "group name")
    result = run("group", "add", name, "--where", "pair_id < 8", "--db", db)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code != 0:  # a refused or built-in name: one line
        assert result.output.startswith("error:"), result.output
        return
    assert group is not None and repr(group) in result.output
    board = run("leaderboard", "--group", group, "--min-battles", "1", "--db", db)
    assert board.exception is None, board.output
    assert board.exit_code == 0, board.output
    assert f"leaderboard of group {group!r}" in " ".join(board.output.split())
    assert scalar(db, "SELECT count(DISTINCT group_name) FROM leaderboard_runs WHERE group_name = ?", [group]) == 1


def test_the_issue_examples_print_as_typed(fresh):
    db, _, labels = fresh
    result = run("add-judge", "rev:thumbs_up:2", labels, "--db", db, "--no-fit")
    assert result.exit_code == 0 and "fit --judge rev:thumbs_up:2" in result.output
    assert "\N{THUMBS UP SIGN}" not in result.output
    for name in ("[/bold]", "[red]G"):
        assert run("group", "add", name, "--where", "pair_id < 8", "--db", db).exit_code == 0
        board = run("leaderboard", "--group", name, "--min-battles", "1", "--db", db)
        assert board.exit_code == 0 and board.exception is None, board.output
        assert f"group {name!r}" in board.output
