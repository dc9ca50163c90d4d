"""What the CLI prints cannot change what it does (issue 13.3).

Names full of Rich markup (`[/bold]`, `[red]x[/red]`), shell metacharacters and quotes:
the command does what it says, exits 0, prints the name as typed, and its "next:" hint
pastes back into a shell as the same argument.
"""

from __future__ import annotations

import json
import shlex
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dbquery import rows, scalar
from pipeline.cli import app
from pipeline.console import command, render
from pipeline.names import NameRefused, check_name
from records_factory import make_record

runner = CliRunner()
WIDE = {"COLUMNS": "2000"}
settings.register_profile("cli-output", max_examples=6, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Names built from the characters that broke printing: markup brackets, slashes, shell metacharacters.
NAME_CHARS = st.sampled_from(list("[]/\\;'\"`$&|<>()*? bold red") + ["[/bold]", "[red]", "[/]", "[b]", "]["])
NAMES = st.lists(NAME_CHARS, min_size=1, max_size=8).map("".join).filter(
    lambda s: s.strip() != "" and not s.strip().startswith("-"))


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-output")
    src = folder / "r.jsonl"
    src.write_text("".join(json.dumps(make_record(i)) + "\n" for i in range(3)))
    db = folder / "base.duckdb"
    assert runner.invoke(app, ["load", str(src), "--db", str(db)]).exit_code == 0
    labels = folder / "labels.json"
    labels.write_text(json.dumps(["A", "B", "A"]))
    return db, labels, src


def _fresh(small_db, tmp_path_factory):
    db, labels, src = small_db
    copy = tmp_path_factory.mktemp("case") / "db.duckdb"
    shutil.copyfile(db, copy)
    return copy, labels, src


def _judges(db) -> set[str]:
    return {r[0] for r in rows(db, "SELECT judge FROM judges")}


def _hint_args(output: str) -> list[str] | None:
    for line in output.splitlines():
        if line.startswith("next: `"):
            return shlex.split(line[len("next: `"):line.rindex("`")])
    return None


@settings(settings.get_profile("cli-output"))
@given(name=NAMES)
def test_add_and_remove_judge_with_any_name(name, small_db, tmp_path_factory):
    db, labels, _ = _fresh(small_db, tmp_path_factory)
    try:
        stored = check_name(name, "judge name")
    except NameRefused:
        stored = None
    result = runner.invoke(app, ["add-judge", name, str(labels), "--db", str(db), "--no-fit", "--kind", "llm"],
                           env=WIDE)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    if stored is None:
        assert result.exit_code == 1 and _judges(db) == {"human", "gpt-4-turbo"}
        return
    assert result.exit_code == 0, result.output
    assert stored in _judges(db)
    assert repr(stored) in result.output                      # the summary shows it as typed
    assert _hint_args(result.output) == ["python", "-m", "pipeline", "fit", "--judge", stored]
    result = runner.invoke(app, ["remove-judge", stored, "--db", str(db)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert stored not in _judges(db) and repr(stored) in result.output


@settings(settings.get_profile("cli-output"))
@given(name=NAMES)
def test_load_with_any_source_name(name, small_db, tmp_path_factory):
    db, _, src = _fresh(small_db, tmp_path_factory)
    other = src.parent / "more.jsonl"
    other.write_text("".join(json.dumps(make_record(i)) + "\n" for i in range(10, 12)))
    stored = check_name(name, "source name")
    result = runner.invoke(app, ["load", str(other), "--db", str(db), "--name", name], env=WIDE)
    assert result.exit_code == 0, result.output
    assert scalar(db, "SELECT count(*) FROM sources WHERE source = ?", [stored]) == 1
    assert stored in result.output
    assert _hint_args(result.output) == ["python", "-m", "pipeline", "fit", "--db", str(db)]


def test_markup_in_a_name_is_printed_not_applied(small_db, tmp_path_factory):
    db, labels, _ = _fresh(small_db, tmp_path_factory)
    result = runner.invoke(app, ["add-judge", "[red]red[/red]", str(labels), "--db", str(db), "--no-fit"],
                           env=WIDE)
    assert result.exit_code == 0, result.output
    assert "[red]red[/red]" in result.output and "[red]red[/red]" in _judges(db)


def test_an_error_line_with_markup_is_one_line(tmp_path):
    result = runner.invoke(app, ["remove-judge", "[/bold]", "--db", str(tmp_path / "none.duckdb")], env=WIDE)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and result.output.startswith("error:")


def test_render_escapes_values_not_the_template():
    assert render("[bold]{x}[/]", x="[/bold]") == "[bold]\\[/bold][/]"
    assert shlex.split(command("fit", "--judge", "a; rm -rf ~")) == \
        ["python", "-m", "pipeline", "fit", "--judge", "a; rm -rf ~"]


def test_the_hint_names_the_judge_as_stored_after_normalising(small_db, tmp_path_factory):
    """`add-judge "my  ﬁne judge"` stores "my fine judge" (NFKC, one space): the next: hint must
    name that, or pasting it fits an unknown judge."""
    db, labels, _ = _fresh(small_db, tmp_path_factory)
    result = runner.invoke(app, ["add-judge", "  my  \ufb01ne judge", str(labels), "--db", str(db), "--no-fit"],
                           env=WIDE)
    assert result.exit_code == 0, result.output
    assert "my fine judge" in _judges(db)
    args = _hint_args(result.output)
    assert args == ["python", "-m", "pipeline", "fit", "--judge", "my fine judge"]
    fitted = runner.invoke(app, [*args[3:], "--db", str(db), "--min-labels", "1"], env=WIDE)
    assert fitted.exit_code == 0, fitted.output


def test_the_load_hint_is_a_command_that_works_on_this_database(tmp_path):
    """Raw pairs have no paper annotations: the hint after their load is `fit --properties style`,
    with the same --db, and running it fits (a bare `fit` would skip every group there)."""
    src = tmp_path / "battles.csv"
    lines = ["prompt,response_1,response_2,winner"]
    lines += [f"q{i},{'long answer ' * (1 + i % 5)},short {i},{1 + i % 2}" for i in range(60)]
    src.write_text("\n".join(lines) + "\n")
    db = tmp_path / "raw.duckdb"
    result = runner.invoke(app, ["load", str(src), "--db", str(db)], env=WIDE)
    assert result.exit_code == 0, result.output
    args = _hint_args(result.output)
    assert args[3:] == ["fit", "--properties", "style", "--db", str(db)], args
    fitted = runner.invoke(app, args[3:], env=WIDE)
    assert fitted.exit_code == 0, fitted.output
    assert scalar(db, "SELECT count(*) FROM fits WHERE property_set = 'style'") > 0
