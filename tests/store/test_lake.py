"""The DuckLake backend: where a lake is, its schema, copies both ways, snapshots and history.

Concurrency, kill -9 and bad days on both backends are in test_lake_concurrency.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.cli.base import commit_message
from pipeline.store import db as dbmod
from pipeline.store import extensions, keys, lake, schema
from pipeline.store.copying import CopyRefused, copy_database
from pipeline.store import errors
from pipeline.store.errors import NotADatabase, SnapshotMissing
from pipeline.store.location import FileDb, LakeDb, locate, redact


# ------------------------------------------------------------------ where a lake is

def test_a_path_is_a_file_and_ducklake_strings_are_lakes(tmp_path):
    assert locate(tmp_path / "x.duckdb") == FileDb(tmp_path / "x.duckdb")
    file_lake = locate(f"ducklake:{tmp_path}/team.ducklake", data_path=tmp_path / "data")
    assert file_lake == LakeDb(f"{tmp_path}/team.ducklake", str(tmp_path / "data"))
    assert file_lake.backend == "duckdb" and file_lake.anchor == tmp_path / "team.ducklake"
    pg = locate("ducklake:postgres:dbname=team host=db.lan port=5433 user=ana")
    assert pg.backend == "postgres" and pg.data_path is None
    assert pg.anchor.parts[-2:] == ("db.lan_5433_team", "lake")  # journals and logs: data/lakes/<server>/


def test_the_data_path_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(dbmod.ENV_DATA_PATH, str(tmp_path / "shared"))
    assert locate(f"ducklake:{tmp_path}/t.ducklake").data_path == str(tmp_path / "shared")
    monkeypatch.setenv(dbmod.ENV_DB, "ducklake:postgres:dbname=x host=h")
    assert locate().backend == "postgres"


@pytest.mark.parametrize("text, says", [
    ("ducklake:postgres:", "cannot read the PostgreSQL catalog"),
    ("ducklake:postgres:host=h port=1", "names no database"),
    ("ducklake:postgres:dbname='unclosed", "cannot read the PostgreSQL catalog"),
    ("ducklake:mysql:db=x", "unknown DuckLake catalog"),
    ("ducklake:", "the DuckLake catalog is empty"),
    ("s3://bucket/x.duckdb", "looks like a URL"),
])
def test_catalog_strings_that_do_not_parse_are_one_line(text, says):
    with pytest.raises(NotADatabase, match=says) as caught:
        locate(text)
    assert "\n" not in str(caught.value)


def test_a_folder_is_not_a_catalog(tmp_path):
    with pytest.raises(NotADatabase, match="is a folder"):
        locate(f"ducklake:{tmp_path}")


@settings(max_examples=150)
@given(secret=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"),
                                             blacklist_characters="'\\"), min_size=1, max_size=20))
def test_passwords_never_show(secret):
    text = f"ducklake:postgres:dbname=x host=h password={secret} user=u"
    assert redact(text) == "ducklake:postgres:dbname=x host=h password=*** user=u"
    assert LakeDb(text.removeprefix("ducklake:"), None).display == redact(text)
    quoted = "ducklake:postgres:dbname=x password='" + secret + " more' user=u"
    assert redact(quoted) == "ducklake:postgres:dbname=x password=*** user=u"
    assert redact(f"s3://ana:{secret}@bucket/x") == "s3://ana:***@bucket/x" or "@" in secret or "/" in secret


def test_the_commit_message_names_the_job_not_the_place():
    argv = ["load", "/data/in/arena.jsonl", "--db", "ducklake:postgres:dbname=x password=pw", "--data-path", "/x"]
    assert commit_message(argv) == "load arena.jsonl"
    assert commit_message(["fit", "--judge", "human", "--db=ducklake:x.ducklake"]) == "fit --judge human"
    assert commit_message(["add-judge", "gpt-x", "labels.json"]) == "add-judge gpt-x labels.json"


# ------------------------------------------------------------------ extensions and schema

def test_the_extensions_load_from_the_wheels_with_installs_off():
    con = extensions.lake_connection("postgres")
    loaded = {r[0] for r in con.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}
    assert {"ducklake", "postgres_scanner"} <= loaded
    assert con.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone()[0] is False


def test_a_new_lake_has_the_files_tables_and_views_without_keys(tmp_path):
    db = f"ducklake:{tmp_path}/t.ducklake"
    with dbmod.writing(db, job="create"):
        pass
    file = tmp_path / "f.duckdb"
    with dbmod.writing(file):
        pass
    shape = ("SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
             "AND schema_name = 'main' ORDER BY ALL")
    views = "SELECT view_name FROM duckdb_views() WHERE NOT internal AND database_name = current_database() ORDER BY 1"
    with dbmod.reading(db) as lk, dbmod.reading(file) as fl:
        assert lk.execute(shape).fetchall() == fl.execute(shape).fetchall()
        assert lk.execute(views).fetchall() == fl.execute(views).fetchall()
        assert schema.current_version(lk) == schema.latest_version()
        assert lk.execute("SELECT count(*) FROM properties").fetchone()[0] > 0
        for (view,) in lk.execute(views).fetchall():
            lk.execute(f'SELECT count(*) FROM "{view}"').fetchone()  # every view binds on a lake


def test_an_unchanged_lake_gets_no_snapshot_from_a_write_that_writes_nothing(tmp_path):
    db = f"ducklake:{tmp_path}/t.ducklake"
    with dbmod.writing(db, job="create"):
        pass
    before = lake.history(locate(db))
    with dbmod.writing(db, job="nothing"):
        pass
    assert lake.history(locate(db)) == before


def test_a_lake_behind_the_code_is_brought_up_by_the_same_steps_as_a_file(tmp_path):
    db = f"ducklake:{tmp_path}/t.ducklake"
    last = schema.steps()[-1]
    with dbmod.writing(db, job="create"):
        pass
    with dbmod.writing(db, job="one step back") as con:  # as if the lake had been made one step ago
        con.execute("DELETE FROM schema_version WHERE version = ?", [last.version])
    with pytest.raises(errors.SchemaOutdated):
        dbmod.reading(db).__enter__()
    assert dbmod.migrate_file(db) == (last.version - 1, last.version)  # a Python step too, on a lake
    with dbmod.reading(db) as con:
        assert con.execute("SELECT max(version), count(*) FROM schema_version").fetchone() == (
            last.version, len(schema.steps()))
        assert keys.duplicate_keys(con) == []
    assert [m for _i, _t, _a, m in lake.history(locate(db))][0] == "migrate"


# ------------------------------------------------------------------ copies, snapshots, history

TABLE_ROWS = "SELECT count(*), coalesce(sum(hash(t)), 0) FROM \"{table}\" AS t"


def _contents(db) -> dict[str, tuple]:
    with dbmod.reading(db) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = "
                                            "current_database() AND table_name <> 'schema_version'").fetchall()]
        return {t: con.execute(TABLE_ROWS.format(table=t)).fetchone() for t in sorted(tables)}


def test_copy_moves_every_table_to_a_lake_and_back(demo_db, tmp_path):
    lake_db = f"ducklake:{tmp_path}/team.ducklake"
    report = copy_database(demo_db, lake_db)
    assert report.rows["labels"] > 0 and report.rows["pairs"] == 5240
    original = _contents(demo_db)
    assert _contents(lake_db) == original
    with dbmod.reading(lake_db) as con:
        assert keys.duplicate_keys(con) == []
    back = tmp_path / "back.duckdb"
    copy_database(lake_db, back)
    assert _contents(back) == original
    with pytest.raises(CopyRefused, match="already holds"):
        copy_database(demo_db, lake_db)  # a target with data is refused, nothing written
    assert _contents(lake_db) == original
    with pytest.raises(CopyRefused, match="same database"):
        copy_database(demo_db, demo_db)


def test_copy_to_a_postgres_lake_and_back(demo_db, pg_lake, tmp_path):
    db, data = pg_lake
    result = subprocess.run([sys.executable, "-m", "pipeline", "--data-path", str(data), "copy", "--db", str(demo_db),
                             "--to", db], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "copied" in result.stderr and "password" not in result.stderr
    assert _contents(db) == _contents(demo_db)
    assert any(data.rglob("*.parquet"))  # the data files went where --data-path said
    back = tmp_path / "back.duckdb"
    copy_database(db, back)
    assert _contents(back) == _contents(demo_db)


def test_each_write_is_one_snapshot_named_by_its_job_and_at_reads_the_past(demo_db, tmp_path):
    db = f"ducklake:{tmp_path}/team.ducklake"
    copy_database(demo_db, db)
    where = locate(db)
    copied = lake.history(where)[0][0]
    with dbmod.writing(db, job="add-judge late") as con:
        con.execute("INSERT INTO judges (judge, kind) VALUES ('late', 'llm')")
    newest, _when, author, message = lake.history(where)[0]
    assert newest == copied + 1 and message == "add-judge late" and author
    with dbmod.reading(db) as con:
        assert con.execute("SELECT count(*) FROM judges WHERE judge = 'late'").fetchone()[0] == 1
    with dbmod.reading(db, at=copied) as con:
        assert con.execute("SELECT count(*) FROM judges WHERE judge = 'late'").fetchone()[0] == 0
    with pytest.raises(SnapshotMissing, match="no snapshot 999"):
        dbmod.reading(db, at=999).__enter__()
    with pytest.raises(SnapshotMissing, match="single file"):
        dbmod.reading(demo_db, at=1).__enter__()


def test_the_cli_reads_at_a_snapshot_and_lists_history(demo_db, tmp_path):
    db = f"ducklake:{tmp_path}/team.ducklake"
    copy_database(demo_db, db)
    run = [sys.executable, "-m", "pipeline"]
    subprocess.run([*run, "remove-judge", "human", "--db", db], check=True, capture_output=True, timeout=300)
    history = subprocess.run([*run, "history", "--db", db], capture_output=True, text=True, timeout=120)
    assert history.returncode == 0 and "remove-judge human" in history.stdout and "copy from" in history.stdout
    first = lake.history(locate(db))[1][0]
    past = subprocess.run([*run, "info", "--db", db, "--at", str(first)], capture_output=True, text=True, timeout=120)
    now = subprocess.run([*run, "info", "--db", db], capture_output=True, text=True, timeout=120)
    assert "12 judges" in past.stdout and "11 judges" in now.stdout
    missing = subprocess.run([*run, "info", "--db", db, "--at", "999"], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "no snapshot 999" in missing.stderr
    on_file = subprocess.run([*run, "history", "--db", str(demo_db)], capture_output=True, text=True, timeout=120)
    assert on_file.returncode == 1 and "keeps no history" in on_file.stderr


# ------------------------------------------------------------------ bad days

def test_postgres_down_is_one_line_with_exit_75(tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = f"ducklake:postgres:dbname=x host=127.0.0.1 port={port} user=postgres password=hunter2 connect_timeout=3"
    for argv in (["info"], ["load", str(tmp_path / "none.jsonl")], ["history"]):
        result = subprocess.run([sys.executable, "-m", "pipeline", *argv, "--db", db], capture_output=True, text=True,
                                timeout=120, cwd=tmp_path)
        assert result.returncode in (1, 75), (argv, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
        assert "hunter2" not in result.stderr + result.stdout  # the password never shows
    info = subprocess.run([sys.executable, "-m", "pipeline", "info", "--db", db], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert info.returncode == 75 and "cannot reach the PostgreSQL catalog" in info.stderr


def test_a_data_path_that_cannot_be_written_is_one_line_and_writes_nothing(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # a path below a file: no one can write it, root included
    source = tmp_path / "raw.jsonl"
    source.write_text('{"prompt": "p", "response_a": "a", "response_b": "b", "winner": "model_a"}\n')
    db = f"ducklake:{tmp_path}/t.ducklake"
    result = subprocess.run([sys.executable, "-m", "pipeline", "--data-path", str(blocker / "sub"), "load", str(source),
                             "--db", db], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "cannot write the lake's data path" in result.stderr and "nothing was written" in result.stderr
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(dbmod.ENV_DATA_PATH, str(blocker / "sub"))
        with pytest.raises(errors.DataPathUnwritable):
            with dbmod.writing(db, job="x"):
                pass
    assert not (tmp_path / "t.ducklake").exists()  # no catalog was made


def test_a_real_conflict_commits_nothing_of_the_loser_and_says_so(demo_db, pg_lake):
    import threading

    db, data = pg_lake
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(dbmod.ENV_DATA_PATH, str(data))
        copy_database(demo_db, db)
        done = []

        def winner():
            with dbmod.writing(db, job="winner") as con:
                con.execute("UPDATE judges SET note = 'winner' WHERE judge = 'human'")
            done.append(True)

        with pytest.raises(errors.WriteConflict) as caught:
            with dbmod.writing(db, job="loser") as con:
                con.execute("UPDATE judges SET note = 'loser' WHERE judge = 'gpt-4-turbo'")
                t = threading.Thread(target=winner)
                t.start()
                t.join(120)
        assert done and "\n" not in str(caught.value) and "nothing of `loser` was written" in str(caught.value)
        with dbmod.reading(db) as con:
            notes = dict(con.execute("SELECT judge, note FROM judges WHERE judge IN ('human', 'gpt-4-turbo')").fetchall())
        assert notes["human"] == "winner" and notes["gpt-4-turbo"] != "loser"
        assert [m for _i, _t, _a, m in lake.history(locate(db))][:2] == ["winner", "copy from " + str(demo_db)]


def test_the_cli_runs_a_job_that_lost_a_conflict_again(monkeypatch, capsys):
    import importlib

    climain = importlib.import_module("pipeline.cli.main")  # the module (pipeline.cli.main is also the function)

    calls = []

    def app():
        calls.append(1)
        if len(calls) < 3:
            raise errors.WriteConflict("another job changed the lake first; nothing of `fit` was written")
        raise SystemExit(0)

    monkeypatch.setattr(climain, "app", app)
    monkeypatch.setattr(climain.time, "sleep", lambda s: None)
    with pytest.raises(SystemExit) as ended:
        climain.main()
    assert ended.value.code == 0 and len(calls) == 3
    assert capsys.readouterr().err.count("running it again") == 2

    calls.clear()
    monkeypatch.setattr(climain, "app", lambda: (calls.append(1), (_ for _ in ()).throw(
        errors.WriteConflict("another job changed the lake first"))))
    with pytest.raises(SystemExit) as ended:
        climain.main()
    assert ended.value.code == 75 and len(calls) == climain.ATTEMPTS
