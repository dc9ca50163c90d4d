"""Connections: schema creation, views, transactions, and waiting out another process's lock."""

import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from pipeline import db as dbmod


def test_writing_creates_schema_and_views(tmp_path):
    path = tmp_path / "new.duckdb"
    with dbmod.writing(path) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"pairs", "labels", "features", "pair_groups", "fits", "judges", "property_stats"} <= tables
    with dbmod.reading(path) as con:
        assert con.execute("SELECT count(*) FROM properties").fetchone()[0] == 29


def test_writing_rolls_back_on_error(tmp_path):
    path = tmp_path / "t.duckdb"
    with dbmod.writing(path) as con:
        con.execute("INSERT INTO judges (judge) VALUES ('kept')")
    with pytest.raises(RuntimeError):
        with dbmod.writing(path) as con:
            con.execute("INSERT INTO judges (judge) VALUES ('lost')")
            raise RuntimeError("boom")
    with dbmod.reading(path) as con:
        assert con.execute("SELECT judge FROM judges").fetchall() == [("kept",)]


def test_reading_a_missing_database_says_what_to_do(tmp_path):
    with pytest.raises(dbmod.DatabaseMissing, match="pipeline demo"):
        with dbmod.reading(tmp_path / "none.duckdb"):
            pass


def test_a_reader_waits_for_a_writer_in_another_process(tmp_path):
    path = tmp_path / "locked.duckdb"
    with dbmod.writing(path):
        pass
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(path)!r})
        print("locked", flush=True)
        time.sleep(1.5)
        con.close()
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(duckdb.Error):
            duckdb.connect(str(path), read_only=True)  # without waiting, the lock refuses us
        started = time.monotonic()
        with dbmod.reading(path, timeout=20) as con:
            assert con.execute("SELECT count(*) FROM properties").fetchone()[0] == 29
        assert time.monotonic() - started > 0.3
    finally:
        holder.wait(timeout=20)


def test_last_change_moves_when_the_file_changes(tmp_path):
    path = tmp_path / "t.duckdb"
    assert dbmod.last_change(path) == 0.0
    with dbmod.writing(path):
        pass
    first = dbmod.last_change(path)
    time.sleep(0.05)
    with dbmod.writing(path) as con:
        con.execute("INSERT INTO judges (judge) VALUES ('x')")
    assert dbmod.last_change(path) > first
