"""The small database the judges tests share: 40 pairs in one source (imported by each test file)."""

from __future__ import annotations

import shutil

import pytest

from dbquery import rows
from pipeline.ingest.release_load import load_records
from records_factory import make_record

N = 40


def flat(text: str) -> str:
    return " ".join(text.split())  # Rich wraps long lines at the test terminal's width


@pytest.fixture(scope="module")
def small_template(tmp_path_factory):
    db = tmp_path_factory.mktemp("judges") / "s.duckdb"
    load_records([make_record(i) for i in range(N)], source="first", db=db)
    return db


@pytest.fixture
def small_db(small_template, tmp_path):
    """40 pairs in one source, ids 0..39, all usable, in one scenario group (a private copy)."""
    db = tmp_path / "s.duckdb"
    shutil.copyfile(small_template, db)
    return db


def snapshot(db):
    """Everything a refused add must leave as it was."""
    return rows(db, "SELECT (SELECT count(*) FROM labels), (SELECT count(*) FROM judges), "
                    "(SELECT count(*) FROM fits), (SELECT count(*) FROM fit_runs)")


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path
