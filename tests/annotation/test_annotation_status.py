"""Watching a job while it creates its journal (annotation/status.py, llm/journal.py): the
status page polls the journal from another process, so it may open the file at any moment of
the job's start."""

from __future__ import annotations

import sqlite3

import pytest

from pipeline.annotation import job_status
from pipeline.llm import journal as journal_mod
from pipeline.llm import journal_path
from pipeline.store import db as dbmod


def test_a_journal_without_its_tables_yet_reads_as_nothing_to_tell(tmp_path):
    db = tmp_path / "raw.duckdb"
    path = journal_path(dbmod.resolve_db_path(db))
    path.parent.mkdir(parents=True, exist_ok=True)
    sqlite3.connect(path).close()  # the file exists, as the job's connect leaves it
    empty = job_status(db)
    assert empty.exists and empty.run is None and empty.calls == {} and not empty.running
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE calls (job TEXT, step TEXT, status TEXT)")  # one table of three
    con.close()
    half = job_status(db)
    assert half.exists and half.run is None and half.calls == {}
    other = tmp_path / "other.duckdb"
    journal_mod.CallJournal(journal_path(dbmod.resolve_db_path(other))).close()  # the job's own schema, whole
    made = job_status(other)
    assert made.exists and made.run is None and made.calls == {} and made.open_batches == 0


def test_the_journal_schema_is_made_in_one_transaction(tmp_path, monkeypatch):
    """A failure while the schema is made leaves no table: no reader ever sees half of it."""
    path = tmp_path / "journal.sqlite"
    monkeypatch.setattr(journal_mod, "SCHEMA", journal_mod.SCHEMA + "\nCREATE TABLE calls (x);")  # fails last
    with pytest.raises(sqlite3.OperationalError, match="already exists"):
        journal_mod.CallJournal(path)
    con = sqlite3.connect(path)
    try:
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] == 0
    finally:
        con.close()
