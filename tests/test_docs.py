"""The README is the front door: every command, table and view must be documented there."""

import re
from pathlib import Path

import pytest

from pipeline.cli import app
from pipeline.db import SCHEMA_FILE, SQL_DIR

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def command_names():
    import typer.main

    group = typer.main.get_command(app)
    return sorted(group.commands)


def table_names():
    return re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", SCHEMA_FILE.read_text())


@pytest.mark.parametrize("command", command_names())
def test_every_command_is_in_the_readme(command):
    assert f"`{command}" in README, f"command {command} is not documented in README.md"


@pytest.mark.parametrize("table", table_names())
def test_every_table_is_in_the_readme(table):
    assert f"| `{table}` |" in README, f"table {table} has no row in the README's schema"


@pytest.mark.parametrize("view", sorted(p.stem for p in SQL_DIR.glob("*.sql")))
def test_every_view_is_in_the_readme(view):
    assert f"| `{view}`" in README, f"view {view} has no row in the README's schema"


def test_every_table_column_is_in_the_readme():
    schema = SCHEMA_FILE.read_text()
    for table, body in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", schema, re.S):
        row = next(line for line in README.splitlines() if line.startswith(f"| `{table}` |"))
        for col in re.findall(r"^\s+(\w+)\s+[A-Z]", body, re.M):
            if col in ("PRIMARY", "UNIQUE", "CHECK"):
                continue
            assert f"`{col}`" in row, f"{table}.{col} is not in the README's row for {table}"


def test_the_two_setup_commands_are_the_makefile_targets():
    assert "make app" in README and "make test" in README
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^app:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
