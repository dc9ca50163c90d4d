"""The README is the front door: every command and option, table, column, view and Python
name it documents must exist, and everything that exists must be documented there."""

import importlib
import re
from pathlib import Path

import duckdb
import pytest
import typer.main

from pipeline.store import schema
from pipeline.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def commands() -> dict:
    """Every command by its full name; a group's subcommands as 'group sub'."""
    found = {}
    for name, cmd in typer.main.get_command(app).commands.items():
        if hasattr(cmd, "commands"):  # a group (typer may vendor its own click)
            found.update({f"{name} {sub}": c for sub, c in cmd.commands.items()})
        else:
            found[name] = cmd
    return dict(sorted(found.items()))


def options(command) -> list[str]:
    """The long option names of a command (arguments and --help left out)."""
    names = []
    for param in command.params:
        if param.param_type_name != "option":
            continue
        longs = [o for o in param.opts if o.startswith("--")]
        if longs and longs[0] not in ("--help", "--db"):  # --db: documented once, for every command
            names.append(longs[0])
    return names


def chunks() -> list[str]:
    """Table rows one by one, and every other block of lines between blank lines."""
    out, block = [], []
    for line in README.splitlines() + [""]:
        if line.startswith("|"):
            out.append(line)
        elif line.strip():
            block.append(line)
        else:
            if block:
                out.append("\n".join(block))
            block = []
    return out


def schema_columns() -> dict[str, list[str]]:
    con = duckdb.connect()
    schema.migrate(con)
    got: dict[str, list[str]] = {}
    for table, column in con.execute("SELECT table_name, column_name FROM duckdb_columns() "
                                     "WHERE schema_name = 'main' AND NOT internal ORDER BY table_name, column_index").fetchall():
        if table not in {p.stem for p in schema.view_order()}:
            got.setdefault(table, []).append(column)
    return got


COLUMNS = schema_columns()


@pytest.mark.parametrize("command", list(commands()))
def test_every_command_is_in_the_readme(command):
    assert f"`{command}" in README, f"command {command} is not documented in README.md"


@pytest.mark.parametrize("command,option", [(c, o) for c, cmd in commands().items() for o in options(cmd)])
def test_every_cli_option_is_in_the_readme(command, option):
    near = [c for c in chunks() if re.search(rf"`(python -m pipeline )?{re.escape(command)}\b", c)
            or re.search(rf"pipeline {re.escape(command)}\b", c)]
    assert near, f"command {command} has no table row or usage block in README.md"
    assert any(re.search(rf"{re.escape(option)}\b", c) for c in near), \
        f"option {option} of `{command}` is not in its README row or usage block"


def test_the_db_option_every_command_takes_is_documented():
    assert "python -m pipeline <command> ... [--db PATH]" in README
    assert all("--db" in [o for p in cmd.params for o in p.opts] for cmd in commands().values())


@pytest.mark.parametrize("table", sorted(COLUMNS))
def test_every_table_is_in_the_readme(table):
    assert f"| `{table}` |" in README, f"table {table} has no row in the README's schema"


@pytest.mark.parametrize("table", sorted(COLUMNS))
def test_every_table_column_is_in_the_readme(table):
    row = next((line for line in README.splitlines() if line.startswith(f"| `{table}` |")), "")
    for col in COLUMNS[table]:
        assert f"`{col}`" in row, f"{table}.{col} is not in the README's row for {table}"


@pytest.mark.parametrize("view", [p.stem for p in schema.view_order()])
def test_every_view_is_in_the_readme(view):
    assert f"| `{view}`" in README, f"view {view} has no row in the README's schema"


@pytest.mark.parametrize("name", sorted(set(re.findall(r"`(pipeline(?:\.\w+)+)", README))))
def test_every_python_name_the_readme_documents_exists(name):
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):  # the longest importable module, then attributes
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            assert hasattr(obj, attr), f"README names {name}, but {'.'.join(parts[:cut])} has no {attr}"
            obj = getattr(obj, attr)
        return
    pytest.fail(f"README names {name}, which does not import")


def test_the_two_setup_commands_are_the_makefile_targets():
    assert "make app" in README and "make test" in README
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^app:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert re.search(r"^test-fast:", makefile, re.M) and "not slow" in makefile
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
