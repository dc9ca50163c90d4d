"""The database as a DuckLake: readers pinned to one snapshot, writers that commit one.

A reader attaches the lake READ_ONLY, at the newest snapshot or at `--at`, and holds one
transaction, so every query of one unit of work sees the same snapshot while others commit.
A writer attaches it read-write and runs the caller's work in one transaction, which
commits one snapshot whose message names the job. There is no lock file: DuckLake commits
writers that touched different rows; when another job changed the same table first the
commit fails as a whole (WriteConflict) and the job can run again on the newer snapshot.

A DuckDB-file catalog (`ducklake:PATH.ducklake`) is one DuckDB file, which one process opens
at a time: there, processes take turns, waiting for each other for up to the write timeout.
A PostgreSQL catalog has no such limit.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from . import commit_guard, extensions
from .errors import DatabaseMissing, DataPathUnwritable, LakeUnavailable, SnapshotMissing, WriteConflict, WriterBusy
from .location import LakeDb, redact

ALIAS = "lake"   # the catalog name a reader's and a writer's queries run in
WAIT_STEP = 0.05


def _quote(text: str) -> str:
    return text.replace("'", "''")


def _attach_sql(lake: LakeDb, alias: str, *, read_only: bool, snapshot: int | None) -> str:
    options = []
    if lake.data_path:
        options += [f"DATA_PATH '{_quote(lake.data_path)}'", "OVERRIDE_DATA_PATH TRUE"]
    if read_only:
        options.append("READ_ONLY")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    opts = f" ({', '.join(options)})" if options else ""
    return f"ATTACH '{_quote('ducklake:' + lake.catalog)}' AS \"{alias}\"{opts}"


def _one_line(exc: Exception) -> str:
    return redact(str(exc).replace("\n", " ").strip())[:400]


def _is_busy(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflict" in text or "could not set" in text)


# what libpq and DuckDB's postgres extension say when the server is gone or went away
_LOST = ("unable to connect to postgres", "connection to server", "could not connect", "server closed the connection",
         "terminating connection", "no connection to the server", "could not receive data", "could not send data",
         "connection reset", "broken pipe", "lost synchronization", "connection not open")


def connection_lost(exc: BaseException) -> bool:
    """Whether a DuckDB error says the PostgreSQL catalog could not be reached or went away."""
    return isinstance(exc, duckdb.Error) and any(m in str(exc).lower() for m in _LOST)


def lost_during(lake: LakeDb, exc: Exception, what: str) -> LakeUnavailable:
    """The one line for a catalog lost mid-job: a transaction it had not committed is gone whole."""
    return LakeUnavailable(f"lost the PostgreSQL catalog of {lake.display} during {what}: nothing of it was "
                           f"written; run it again when the server is back ({_one_line(exc)})")


def _translate(lake: LakeDb, exc: Exception, snapshot: int | None) -> Exception:
    text = str(exc)
    low = text.lower()
    if snapshot is not None and "snapshot" in low:
        return SnapshotMissing(f"the lake {lake.display} has no snapshot {snapshot}: "
                               "`python -m pipeline history` lists the ones it has")
    if connection_lost(exc):
        return LakeUnavailable(f"cannot reach the PostgreSQL catalog of {lake.display}: {_one_line(exc)}")
    if "data_path" in low or "data path" in low:
        return DataPathUnwritable(f"the data path of {lake.display} cannot be used: {_one_line(exc)}")
    return LakeUnavailable(f"cannot open the lake {lake.display}: {_one_line(exc)}")


def _attach(con: duckdb.DuckDBPyConnection, lake: LakeDb, *, read_only: bool, snapshot: int | None,
            wait: float, report: Callable[[str], None] | None, alias: str = ALIAS) -> None:
    """ATTACH, waiting (up to `wait` seconds) while another process holds a DuckDB-file catalog."""
    deadline, told = time.monotonic() + wait, False
    sql = _attach_sql(lake, alias, read_only=read_only, snapshot=snapshot)
    while True:
        try:
            con.execute(sql)
            break
        except duckdb.Error as exc:
            if not _is_busy(exc):
                raise _translate(lake, exc, snapshot) from None
            if time.monotonic() > deadline:
                raise WriterBusy(f"gave up after {wait:.0f} s waiting for another process to let go of the "
                                 f"catalog file of {lake.display}; run this again when it is done") from None
            if report and not told:
                report(f"waiting for another process using {lake.display}")
                told = True
            time.sleep(WAIT_STEP)
    con.execute(f'USE "{alias}"')


def _missing(lake: LakeDb) -> DatabaseMissing:
    return DatabaseMissing(f"no workbench data in the lake {lake.display}: run `python -m pipeline load` "
                           f"or `copy --to` with --db {lake.display}")


def open_reader(lake: LakeDb, *, at: int | None = None, wait: float = 60.0,
                report: Callable[[str], None] | None = None,
                config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the newest snapshot (or snapshot `at`), in one transaction."""
    if lake.catalog_file is not None and not lake.catalog_file.exists():
        raise _missing(lake)
    if lake.backend == "postgres" and config is None:
        return _shared_reader(lake, at)
    con = extensions.lake_connection(lake.backend, config)
    try:
        _attach(con, lake, read_only=True, snapshot=at, wait=wait, report=report)
        if at is not None:
            _check_snapshot(con, lake, at)
        _begin(con, lake)
    except BaseException:
        con.close()
        raise
    return con


def _begin(con: duckdb.DuckDBPyConnection, lake: LakeDb) -> None:
    con.execute("BEGIN TRANSACTION")  # one snapshot for every query of this connection
    if not _has_schema(con):
        raise _missing(lake)


# A PostgreSQL catalog's readers share one in-memory DuckDB per process and lake: the
# extensions load once and the lake stays attached read-only (each pinned snapshot too, as
# lake_at_N); a reader is a cursor of it in its own transaction, which sees the newest
# snapshot when it begins. (A DuckDB-file catalog is not kept open: that would hold its file
# and keep other processes' writers out.)
_SHARED: dict[tuple[str, str | None], duckdb.DuckDBPyConnection] = {}
_SHARED_LOCK = threading.Lock()


def _attached(con: duckdb.DuckDBPyConnection, alias: str) -> bool:
    return con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [alias]).fetchone()[0] > 0


def _shared_instance(lake: LakeDb, at: int | None) -> tuple[duckdb.DuckDBPyConnection, str]:
    key = (lake.catalog, lake.data_path)
    with _SHARED_LOCK:
        base = _SHARED.get(key)
        if base is None:
            base = extensions.lake_connection(lake.backend)
            _SHARED[key] = base
        try:
            if not _attached(base, ALIAS):
                _attach(base, lake, read_only=True, snapshot=None, wait=0.0, report=None)
            alias = ALIAS if at is None else f"{ALIAS}_at_{int(at)}"
            if at is not None and not _attached(base, alias):
                _check_snapshot(base, lake, at)
                _attach(base, lake, read_only=True, snapshot=at, wait=0.0, report=None, alias=alias)
        except BaseException as exc:
            if not isinstance(exc, SnapshotMissing):  # a catalog that went away: start afresh next time
                _SHARED.pop(key, None)
                base.close()
            raise
    return base, alias


def _shared_reader(lake: LakeDb, at: int | None) -> duckdb.DuckDBPyConnection:
    base, alias = _shared_instance(lake, at)
    con = base.cursor()
    try:
        con.execute(f'USE "{alias}"')
        _begin(con, lake)
    except duckdb.Error as exc:
        con.close()
        with _SHARED_LOCK:
            if _SHARED.get((lake.catalog, lake.data_path)) is base:
                _SHARED.pop((lake.catalog, lake.data_path))
        raise (LakeUnavailable(f"cannot read the lake {lake.display}: {_one_line(exc)}")) from None
    except BaseException:
        con.close()
        raise
    return con


def _has_schema(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                       "AND table_name = 'schema_version'").fetchone()[0] > 0


def _check_snapshot(con: duckdb.DuckDBPyConnection, lake: LakeDb, at: int) -> None:
    ids = {r[0] for r in con.execute(f"SELECT snapshot_id FROM ducklake_snapshots('{ALIAS}')").fetchall()}
    if at not in ids:
        raise SnapshotMissing(f"the lake {lake.display} has no snapshot {at}: "
                              "`python -m pipeline history` lists the ones it has")


def _check_data_path(lake: LakeDb) -> None:
    """A local data path must be a folder we can write (made when missing); s3:// and other
    remote paths are left to DuckDB."""
    where = lake.data_path
    if not where or "://" in where:
        return
    folder = Path(where)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".prefdissect-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise DataPathUnwritable(f"cannot write the lake's data path {where}: {exc.strerror or exc} "
                                 "(nothing was written)") from None


def author() -> str:
    with suppress(Exception):
        return f"{getpass.getuser()}@{socket.gethostname()}"
    return "unknown"


def _commit(con: duckdb.DuckDBPyConnection, lake: LakeDb, message: str) -> None:
    try:
        con.execute(f"CALL \"{ALIAS}\".set_commit_message(?, ?)", [author(), message])
    except duckdb.Error as exc:
        raise (lost_during(lake, exc, f"`{message}`") if connection_lost(exc) else _translate(lake, exc, None)) from None
    try:
        con.execute("COMMIT")
    except duckdb.Error as exc:
        if isinstance(exc, duckdb.TransactionException) and "conflict" in str(exc).lower():
            raise WriteConflict(f"another job changed {lake.display} first ({_one_line(exc)}); nothing of "
                                f"`{message}` was written: run it again") from None
        # the catalog may have committed before its answer was lost: say so rather than guess
        what = (f"lost the PostgreSQL catalog of {lake.display} while committing `{message}`" if connection_lost(exc)
                else f"committing `{message}` to {lake.display} failed")
        raise LakeUnavailable(f"{what}: it was written whole or not at all (`python -m pipeline history` shows "
                              f"which) ({_one_line(exc)})") from None


@contextmanager
def writing(lake: LakeDb, *, message: str, prepare: Callable[[duckdb.DuckDBPyConnection], None],
            wait: float = 600.0, report: Callable[[str], None] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction on the lake, committed as one snapshot named `message`; a failure
    anywhere rolls it all back (a snapshot is all of a write or none of it)."""
    _check_data_path(lake)
    if lake.catalog_file is not None:
        lake.catalog_file.parent.mkdir(parents=True, exist_ok=True)
    con = extensions.lake_connection(lake.backend)
    try:
        _attach(con, lake, read_only=False, snapshot=None, wait=wait, report=report)
        folder, since = commit_guard.data_folder(con, ALIAS), time.time()
        con.execute("BEGIN TRANSACTION")
        try:
            prepare(con)
            yield con
        except BaseException as exc:
            with suppress(duckdb.Error):
                con.execute("ROLLBACK")
            if connection_lost(exc):  # not committed: PostgreSQL dropped the transaction with the connection
                raise lost_during(lake, exc, f"`{message}`") from None
            raise
        keep = commit_guard.keep_new_files(folder, since) if folder else None
        try:
            _commit(con, lake, message)
        except LakeUnavailable:  # it may have landed: its files must be there (commit_guard.py)
            if keep is not None:
                commit_guard.restore(folder, keep)
            raise
        finally:
            commit_guard.drop(keep)
    finally:
        con.close()


def history(lake: LakeDb, *, limit: int | None = None) -> list[tuple[int, str, str | None, str | None]]:
    """(snapshot id, time, author, commit message), newest first."""
    con = open_reader(lake)
    try:
        sql = (f"SELECT snapshot_id, strftime(snapshot_time, '%Y-%m-%d %H:%M:%S'), author, commit_message "
               f"FROM ducklake_snapshots('{ALIAS}') ORDER BY snapshot_id DESC")
        rows = con.execute(sql + (f" LIMIT {int(limit)}" if limit else "")).fetchall()
    finally:
        con.close()
    return [(int(r[0]), r[1], r[2], r[3]) for r in rows]


def newest_snapshot(lake: LakeDb) -> int | None:
    """The newest snapshot id (a cache token that changes with every commit); None when the
    lake has no workbench data yet or cannot be read. (The app reads it once per page run:
    ui/data.start_run.)"""
    try:
        con = open_reader(lake, wait=5.0)
    except Exception:  # noqa: BLE001 - a token, not an answer: the read itself will say what is wrong
        return None
    try:
        return int(con.execute(f"SELECT max(snapshot_id) FROM ducklake_snapshots('{ALIAS}')").fetchone()[0])
    finally:
        con.close()


_LIBPQ_VARIABLES = ("PGPASSWORD", "PGPASSFILE", "PGSSLMODE", "PGSSLROOTCERT", "PGSERVICE", "PGSERVICEFILE")


def libpq_environment() -> dict[str, str]:
    """The libpq settings a separate reader process needs to reach a PostgreSQL catalog (the
    SQL screen's worker gets these and no other variable of the server's)."""
    env = {k: os.environ[k] for k in _LIBPQ_VARIABLES if k in os.environ}
    if "PGPASSFILE" not in env and (Path.home() / ".pgpass").exists():
        env["PGPASSFILE"] = str(Path.home() / ".pgpass")
    return env


def guarded_attach(lake: LakeDb, at: int | None) -> dict:
    """What the SQL screen's worker runs to attach the lake read-only at one snapshot: the
    extension files to load and the ATTACH statement (pinned to the newest snapshot when
    `at` is None, so that the whole query sees one)."""
    if at is None:
        at = newest_snapshot(lake)
        if at is None:
            raise _missing(lake)
    backend = [extensions.binary("ducklake")] + ([extensions.binary("postgres")] if lake.backend == "postgres" else [])
    data_path = lake.data_path.rstrip("/") + "/" if lake.data_path else None
    return {"load": [str(p) for p in backend], "attach": _attach_sql(lake, ALIAS, read_only=True, snapshot=at),
            "data_path": data_path}
