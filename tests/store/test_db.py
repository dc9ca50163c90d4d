"""Connections: schema creation, views, transactions, the published snapshot, the writer queue."""

import hashlib
import os
import subprocess
import sys
import textwrap
import threading
import time

import duckdb
import pytest

from pipeline.store import db as dbmod
from pipeline.store import errors, schema

PAPER = "SELECT count(*) FROM properties WHERE property_set = 'paper'"


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_writing_creates_schema_and_views(tmp_path):
    path = tmp_path / "new.duckdb"
    with dbmod.writing(path) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"pairs", "labels", "features", "pair_groups", "fits", "judges", "property_stats",
            "schema_version", "custom_groups", "leaderboard", "forecasts"} <= tables
    with dbmod.reading(path) as con:
        assert con.execute(PAPER).fetchone()[0] == 29
        assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == schema.latest_version()
    assert not list(tmp_path.glob(".new.duckdb.building*"))  # the private copy became the file


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


def test_a_failed_write_leaves_the_file_byte_identical(tmp_path):
    path = tmp_path / "t.duckdb"
    with dbmod.writing(path) as con:
        con.execute("INSERT INTO judges (judge) VALUES ('kept')")
    before = sha256(path)
    for failure in ("python", "sql"):
        with pytest.raises((RuntimeError, duckdb.Error)):
            with dbmod.writing(path) as con:
                con.execute("INSERT INTO judges (judge) VALUES ('lost')")
                if failure == "python":
                    raise RuntimeError("boom")
                con.execute("SELECT * FROM no_such_table")  # a failing statement
        assert sha256(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.duckdb", "t.duckdb.lock"]


def test_a_failed_first_write_creates_nothing(tmp_path):
    path = tmp_path / "new.duckdb"
    with pytest.raises(RuntimeError):
        with dbmod.writing(path):
            raise RuntimeError("boom")
    assert not path.exists()
    with pytest.raises(errors.DatabaseMissing):
        with dbmod.reading(path):
            pass


def test_reading_a_missing_database_says_what_to_do(tmp_path):
    with pytest.raises(dbmod.DatabaseMissing, match="pipeline demo"):
        with dbmod.reading(tmp_path / "none.duckdb"):
            pass
    assert issubclass(errors.DatabaseMissing, FileNotFoundError)  # older callers catch that


def test_a_reader_sees_the_newest_published_state_while_an_old_one_stays_open(tmp_path):
    path = tmp_path / "t.duckdb"
    with dbmod.writing(path) as con:
        con.execute("INSERT INTO judges (judge) VALUES ('a')")
    with dbmod.reading(path) as old:
        with dbmod.writing(path) as con:
            con.execute("INSERT INTO judges (judge) VALUES ('b')")
        with dbmod.reading(path) as new:
            assert new.execute("SELECT count(*) FROM judges").fetchone()[0] == 2
        assert old.execute("SELECT count(*) FROM judges").fetchone()[0] == 1  # its snapshot


def test_a_reader_does_not_wait_for_a_read_only_holder_in_another_process(tmp_path):
    path = tmp_path / "held.duckdb"
    with dbmod.writing(path):
        pass
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(path)!r}, read_only=True)
        print("open", flush=True)
        sys.stdin.readline()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        started = time.monotonic()
        with dbmod.writing(path) as con:
            con.execute("INSERT INTO judges (judge) VALUES ('x')")
        with dbmod.reading(path) as con:
            assert con.execute("SELECT count(*) FROM judges").fetchone()[0] == 1
        assert time.monotonic() - started < 60  # did not wait for the holder (it never lets go in here)
    finally:
        holder.communicate("\n", timeout=20)


def test_a_read_write_holder_is_named_in_one_line(tmp_path):
    path = tmp_path / "locked.duckdb"
    with dbmod.writing(path):
        pass
    before = sha256(path)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys
        con = duckdb.connect({str(path)!r})
        print("locked", flush=True)
        sys.stdin.readline()
        con.close()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(errors.HeldReadWrite, match=r"duckdb -readonly .*locked\.duckdb") as caught:
            with dbmod.reading(path):
                pass
        assert f"pid {holder.pid}" in str(caught.value) and "\n" not in str(caught.value)
        with pytest.raises(errors.HeldReadWrite, match="read-write"):
            with dbmod.writing(path) as con:
                con.execute("INSERT INTO judges (judge) VALUES ('x')")
    finally:
        holder.communicate("\n", timeout=20)
    assert sha256(path) == before


def test_a_second_writer_queues_with_a_message_then_succeeds(tmp_path):
    path = tmp_path / "q.duckdb"
    with dbmod.writing(path):
        pass
    messages: list[str] = []
    previous = dbmod.set_wait_reporter(messages.append)
    inside, release = threading.Event(), threading.Event()

    def first():
        with dbmod.writing(path, job="first job") as con:
            con.execute("INSERT INTO judges (judge) VALUES ('one')")
            inside.set()
            release.wait(20)

    t = threading.Thread(target=first)
    t.start()
    try:
        assert inside.wait(20)
        threading.Timer(0.5, release.set).start()
        with dbmod.writing(path, job="second") as con:
            con.execute("INSERT INTO judges (judge) VALUES ('two')")
    finally:
        release.set()
        t.join(20)
        dbmod.set_wait_reporter(previous)
    assert messages and messages[0].startswith("waiting for first job (pid ")
    assert str(path) in messages[0]
    with dbmod.reading(path) as con:
        assert sorted(con.execute("SELECT judge FROM judges").fetchall()) == [("one",), ("two",)]


def test_a_writer_gives_up_with_a_typed_error(tmp_path):
    path = tmp_path / "busy.duckdb"
    with dbmod.writing(path):
        pass
    previous = dbmod.set_wait_reporter(lambda m: None)
    inside, release = threading.Event(), threading.Event()

    def holder():
        with dbmod.writing(path, job="long fit"):
            inside.set()
            release.wait(20)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert inside.wait(20)
        with pytest.raises(errors.WriterBusy, match=r"gave up after 0 s waiting for long fit \(pid \d+\)"):
            with dbmod.writing(path, timeout=0.3):
                pass
    finally:
        release.set()
        t.join(20)
        dbmod.set_wait_reporter(previous)


def test_nested_writing_is_refused_instead_of_waiting_on_itself(tmp_path):
    path = tmp_path / "n.duckdb"
    with pytest.raises(errors.NestedWriting):
        with dbmod.writing(path):
            with dbmod.writing(path, timeout=1):
                pass


def test_files_are_readable_by_old_clients(tmp_path):
    """Written with the storage compatibility version; a file in a newer format is rewritten."""
    path = tmp_path / "new_format.duckdb"
    con = duckdb.connect(str(path))  # today's default format
    con.execute("CREATE TABLE judges (judge VARCHAR PRIMARY KEY)")
    con.execute("INSERT INTO judges VALUES ('kept')")
    con.close()
    with dbmod.reading(path) as con:
        newest = dbmod.storage_version(con)
    with dbmod.writing(path) as con:
        con.execute("INSERT INTO judges (judge) VALUES ('added')")
    with dbmod.reading(path) as con:
        assert dbmod.storage_version(con) <= (1, 1)
        assert sorted(con.execute("SELECT judge FROM judges").fetchall()) == [("added",), ("kept",)]
        assert con.execute(PAPER).fetchone()[0] == 29
    assert newest is not None


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


def test_connect_refuses_read_write():
    with pytest.raises(ValueError, match="writing"):
        dbmod.connect("x.duckdb", read_only=False)


def test_the_building_copy_is_byte_for_byte(tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3 * 2**20 + 17))
    target = tmp_path / "copy.bin"
    dbmod.copy_file(source, target)
    assert target.read_bytes() == source.read_bytes()
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    dbmod.copy_file(empty, tmp_path / "empty-copy.bin")
    assert (tmp_path / "empty-copy.bin").read_bytes() == b""
