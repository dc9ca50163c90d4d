"""Opening the DuckDB file: where it is, one writer at a time, and readers that never wait.

DuckDB lets one process write a file, or many processes read it, never both. So nobody
writes the published file in place:
- a reader (`reading`) attaches the published file READ_ONLY to a private in-memory
  DuckDB, so it never waits and always sees the newest published state (a plain
  `duckdb.connect(path, read_only=True)` would hand back this process's cached, older copy);
- a writer (`writing`) takes the writer lock `<db>.lock` (queueing behind another job
  with a message), copies the published file to a private building copy in the same
  folder, migrates it, runs the caller's work in one transaction, checkpoints, and
  atomically renames the copy onto the published path. A write that changed nothing (no
  write-ahead log, the copy untouched) publishes nothing: the file keeps its bytes. Readers holding the old file keep
  reading it; a failure anywhere leaves the published file byte for byte as it was.
Files are written readable by DuckDB >= 1.1 (STORAGE_VERSION).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache
from pathlib import Path

import duckdb

from . import file_lock, lake, lake_schema, schema, template
from .errors import (DatabaseMissing, HeldReadWrite, NestedWriting, NotADatabase, SchemaOutdated, SchemaTooNew,
                     SnapshotMissing, TEMP_PREFIX, WriterBusy, room_refused)
from .file_lock import set_wait_reporter
from .location import ENV_DATA_PATH, ENV_DB, FileDb, LakeDb, locate

__all__ = ["DatabaseMissing", "HeldReadWrite", "NotADatabase", "SchemaOutdated", "SchemaTooNew", "WriterBusy",
           "reading", "writing", "migrate_file", "resolve_db_path", "last_change", "locate", "exists",
           "set_wait_reporter", "set_job", "ENV_DB", "ENV_DATA_PATH"]

ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = ROOT / "sql"
ENV_WRITE_TIMEOUT = "PREFDISSECT_WRITE_TIMEOUT"
STORAGE_VERSION = "v1.1.0"     # the oldest DuckDB whose clients must open our files
_READABLE_STORAGE = (1, 1)     # a file whose storage is newer than this is rewritten
WRITE_TIMEOUT = 600.0          # seconds a writer queues behind another before giving up

migrate = schema.migrate


job_message: str | None = None   # what a lake's commit says this job was (the CLI sets it)


def set_job(name: str | None, message: str | None = None) -> None:
    """What this process calls itself: in the file's lock and in a lake's commit messages."""
    global job_message
    file_lock.job_name = name
    job_message = message


def resolve_db_path(db: str | os.PathLike | None = None) -> Path:
    """The local path the database's side files (journals, logs, uploads) sit next to: the
    file itself, or a lake's anchor (location.py)."""
    return locate(db).anchor


def database_name(db: str | os.PathLike | None = None) -> str:
    """The database as `--db` names it: a file's path or `ducklake:...` (for passing on, not showing)."""
    return locate(db).name


def exists(db: str | os.PathLike | None = None) -> bool:
    """Whether there is a database to read: a file, or a lake holding our tables."""
    where = locate(db)
    if isinstance(where, FileDb):
        return where.path.exists()
    try:
        lake.open_reader(where, wait=5.0).close()
    except DatabaseMissing:
        return False
    return True


def _refuse_folder(path: Path) -> None:
    if path.is_dir():
        raise NotADatabase(f"the database {path} is a folder, not a DuckDB file: give the path of a .duckdb file")


def _not_duckdb(path: Path, exc: Exception) -> NotADatabase:
    return NotADatabase(f"cannot open the database {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                        " (give the path of a DuckDB file written by this tool)")


def is_lock_error(exc: Exception) -> bool:
    """Another connection holds the file: a lock in another process, or, in this process,
    an open connection of another mode (DuckDB says so only in its message)."""
    text = str(exc).lower()
    return (("lock" in text and ("conflict" in text or "could not set" in text))
            or "different configuration" in text or "unique file handle conflict" in text)


def _held_read_write(path: Path, exc: Exception) -> HeldReadWrite:
    m = re.search(r"held in (.+?) \(PID (\d+)\)", str(exc))
    who = f"{Path(m.group(1)).name} (pid {m.group(2)})" if m else "another connection in this process"
    return HeldReadWrite(f"the database {path} is open read-write in {who}: close it there, or open it "
                         f"with `duckdb -readonly {path}` (Python: duckdb.connect(path, read_only=True))")


def catalog_alias(path: Path) -> str:
    """The catalog name a DuckDB client would give the file: its stem, made a safe identifier."""
    alias = re.sub(r"[^A-Za-z0-9_]", "_", path.stem) or "db"
    if alias[0].isdigit() or alias.lower() in ("memory", "system", "temp", "main"):
        alias = "db_" + alias
    return alias


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _attach_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB with the published file attached READ_ONLY and in use."""
    _refuse_folder(path)
    if not path.exists():
        raise DatabaseMissing(f"no database at {path}: run `python -m pipeline demo` or `load`")
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET enable_progress_bar = false")  # it would print on the caller's stdout
        alias = catalog_alias(path)
        try:
            con.execute(f"ATTACH '{_quote(path)}' AS \"{alias}\" (READ_ONLY)")
        except duckdb.Error as exc:
            if is_lock_error(exc):
                raise _held_read_write(path, exc) from None
            raise _not_duckdb(path, exc) from None
        con.execute(f'USE "{alias}"')
    except BaseException:
        con.close()
        raise
    return con


def check_version(con: duckdb.DuckDBPyConnection, path: Path) -> int | None:
    """The file's schema version; an older or newer one than the code's is an error kind."""
    have, latest = schema.current_version(con), schema.latest_version()
    if have is not None and have < latest:
        raise SchemaOutdated(f"the database {path} has schema version {have} and this code needs {latest}: "
                             f"run `python -m pipeline migrate --db {path}` to upgrade it (a write upgrades it too)")
    if have is not None and have > latest:
        raise SchemaTooNew(f"the database {path} has schema version {have}, newer than this code knows "
                           f"({latest}): update the code before using it")
    return have


_pin = threading.local()


def pin_snapshot(at: int | None) -> None:
    """`--at` / `?at=`: this thread's reads see snapshot `at` of a lake (None: the newest)."""
    _pin.at = None if at is None else int(at)


def pinned_snapshot() -> int | None:
    return getattr(_pin, "at", None)


def no_snapshots(where: FileDb, asked: str) -> SnapshotMissing:
    """The one line for a snapshot asked of a single file (`asked`: `--at 3`, `?at=3`)."""
    return SnapshotMissing(f"{asked}: the database {where.path} is a single file, which keeps no snapshots; "
                           "time travel needs a lake (--db ducklake:...)")


def connect(db: str | os.PathLike | None = None, *, read_only: bool = True,
            timeout: float | None = None, at: int | None = None) -> duckdb.DuckDBPyConnection:
    """A reader's connection (the caller closes it). Writing goes only through `writing()`."""
    if not read_only:
        raise ValueError("open the database for writing with db.writing(), which publishes atomically")
    where = locate(db)
    at = pinned_snapshot() if at is None else at
    if isinstance(where, LakeDb):
        con = lake.open_reader(where, at=at, report=file_lock.wait_reporter)
        label = where.display
    else:
        if at is not None:
            raise no_snapshots(where, f"--at {at}")
        con, label = _attach_read_only(where.path), where.path
    try:
        check_version(con, label)
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def reading(db: str | os.PathLike | None = None, *, timeout: float | None = None,
            at: int | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the newest published state (or a lake's snapshot `at`), for
    one unit of work. It never waits on a file or a PostgreSQL lake (timeout is unused)."""
    con = connect(db, read_only=True, at=at)
    try:
        yield con
    finally:
        con.close()


# ------------------------------------------------------------------ building and publishing

def storage_version(con: duckdb.DuckDBPyConnection) -> tuple[int, ...] | None:
    """The storage format of the current database as (major, minor), e.g. (1, 0) for the
    format DuckDB 1.0 and 1.1 read; None when DuckDB does not say."""
    row = con.execute("SELECT tags FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    tag = (row[0] or {}).get("storage_version") if row else None
    m = re.match(r"v(\d+)\.(\d+)", tag or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def _open_new(building: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(building), config={"storage_compatibility_version": STORAGE_VERSION})
    con.execute("SET enable_progress_bar = false")
    return con


def _open_building(path: Path, building: Path) -> tuple[duckdb.DuckDBPyConnection, bool]:
    """The private read-write copy the job works on, and whether it is a byte copy of the
    published file (else a fresh file, COPY FROM DATABASE, when the published one is in a
    storage format too new for old clients; or a brand-new database when there is none)."""
    if not path.exists():  # a copy of an empty database of this schema (template.py), else migrated
        fresh = template.copy_into(building, STORAGE_VERSION, _open_new, copy_file)
        con = _open_new(building)
        if fresh:
            con.execute("UPDATE schema_version SET applied_at = current_timestamp")  # applied to this file now
        return con, False
    probe = _attach_read_only(path)  # also: an analyst holding it read-write is refused here
    try:
        too_new = (storage_version(probe) or (0, 0)) > _READABLE_STORAGE
    finally:
        probe.close()
    if too_new:
        con = _open_new(building)
        con.execute(f"ATTACH '{_quote(path)}' AS published (READ_ONLY)")
        target = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(f'COPY FROM DATABASE published TO "{target}"')
        con.execute("DETACH published")
        return con, False
    copy_file(path, building)
    wal = Path(str(path) + ".wal")  # only files of crashed older versions have one
    if wal.exists():
        shutil.copyfile(wal, Path(str(building) + ".wal"))
        return _open_new(building), False
    return _open_new(building), True


def copy_file(source: Path, target: Path) -> None:
    """A byte copy by copy_file_range, which a filesystem with reflinks (XFS, btrfs) serves by
    sharing blocks instead of copying them; shutil's copy where the call is refused."""
    try:
        with open(source, "rb") as src, open(target, "wb") as dst:
            left = os.fstat(src.fileno()).st_size
            while left > 0:
                done = os.copy_file_range(src.fileno(), dst.fileno(), min(left, 1 << 30))
                if done == 0:
                    break
                left -= done
            if left > 0:
                raise OSError("short copy")
    except (OSError, AttributeError):
        shutil.copyfile(source, target)


def _file_state(building: Path) -> tuple[int, int, int]:
    """(size, mtime, size of the write-ahead log) of the building copy."""
    st = building.stat()
    wal = Path(str(building) + ".wal")
    return st.st_size, st.st_mtime_ns, (wal.stat().st_size if wal.exists() else 0)


@lru_cache(maxsize=1)
def _expected_views() -> dict[str, str]:
    """Each view of sql/ as DuckDB reads it back from a file of our storage version (not the text an in-
    memory database shows): from the empty database of this schema (template.py), else a scratch one."""
    empty = template.empty_database(STORAGE_VERSION, _open_new)
    if empty is not None:
        return _views_in(empty)
    with tempfile.TemporaryDirectory(prefix=f"{TEMP_PREFIX}views-") as folder:
        scratch = Path(folder) / "views.duckdb"
        template.build(scratch, _open_new)
        return _views_in(scratch)


def _views_in(path: Path) -> dict[str, str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return dict(con.execute(_VIEWS_SQL).fetchall())
    finally:
        con.close()


_VIEWS_SQL = ("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' "
              "AND database_name = current_database()")


def _prepare_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Migrate, but leave an up-to-date file untouched: re-creating views that did not change
    would make every write, a no-op too, publish a new file."""
    if not schema.pending(con):
        have = dict(con.execute(_VIEWS_SQL).fetchall())
        if all(have.get(name) == sql for name, sql in _expected_views().items()):
            schema.sync_properties(con)  # writes only when the registry changed
            return
    schema.migrate(con)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(building: Path, path: Path) -> None:
    if Path(str(building) + ".wal").exists():
        raise RuntimeError(f"{building} still has a write-ahead log after CHECKPOINT; not publishing it")
    _fsync(building)
    os.replace(building, path)
    with suppress(FileNotFoundError):
        os.remove(Path(str(path) + ".wal"))  # it belonged to the file just replaced
    with suppress(OSError):
        _fsync(path.parent)  # the rename itself survives a power cut


def _discard(building: Path) -> None:
    for p in (building, Path(str(building) + ".wal")):
        with suppress(FileNotFoundError):
            os.remove(p)


@contextmanager
def writing(db: str | os.PathLike | None = None, *, timeout: float | None = None,
            job: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection holding one transaction: all of it is published, or none.

    Queues behind another writer (saying so) for up to `timeout` seconds (default
    $PREFDISSECT_WRITE_TIMEOUT or 600), then raises WriterBusy. On a lake, the transaction
    commits one snapshot whose message names the job."""
    if timeout is None:
        timeout = float(os.environ.get(ENV_WRITE_TIMEOUT) or WRITE_TIMEOUT)
    where = locate(db)
    if isinstance(where, LakeDb):
        with _lake_writing(where, job, timeout) as con:
            yield con
        return
    path = where.path
    _refuse_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(path.resolve())
    held: set[str] = file_lock.held.__dict__.setdefault("paths", set())
    if key in held:
        raise NestedWriting(f"db.writing({path}) inside another db.writing of the same file in one thread")
    with file_lock.writer_lock(path, job, timeout):
        held.add(key)
        building = path.with_name(f".{path.name}.building-{os.getpid()}-{threading.get_ident()}")
        try:
            _discard(building)  # a leftover of a killed job with the same pid
            con, copied = _open_building(path, building)
            try:
                before = _file_state(building)
                _prepare_schema(con)  # statement by statement, on the private copy (schema.migrate)
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                except BaseException:
                    with suppress(duckdb.Error):
                        con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
                # nothing written (no log, file untouched): the published bytes stay as they are
                changed = not copied or _file_state(building) != before
                if changed:
                    con.execute("CHECKPOINT")
            finally:
                con.close()
            if changed:
                _publish(building, path)
            else:
                _discard(building)
        except BaseException as exc:
            _discard(building)
            if (refused := room_refused(exc, path)) is not None:
                raise refused from exc  # a full disk, in one line
            raise
        finally:
            held.discard(key)


@contextmanager
def _lake_writing(where: LakeDb, job: str | None, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
    held: set[str] = file_lock.held.__dict__.setdefault("paths", set())
    if where.catalog in held:
        raise NestedWriting(f"db.writing({where.display}) inside another db.writing of the same lake in one thread")
    held.add(where.catalog)
    try:
        message = job or job_message or file_lock.this_job(None)
        with lake.writing(where, message=message, prepare=lake_schema.prepare, wait=timeout,
                          report=file_lock.wait_reporter) as con:
            yield con
    except BaseException as exc:
        if (refused := room_refused(exc, where.display, nothing="no snapshot was committed")) is not None:
            raise refused from exc
        raise
    finally:
        held.discard(where.catalog)


def migrate_file(db: str | os.PathLike | None = None) -> tuple[int | None, int]:
    """Upgrade an existing file to this code's schema (and a storage format old clients
    read). Returns (version before, version after)."""
    where = locate(db)
    if isinstance(where, LakeDb):
        with lake.writing(where, message="migrate", prepare=lambda con: None) as con:
            before = schema.current_version(con)
            lake_schema.prepare(con)
        return before, schema.latest_version()
    path = where.path
    if not path.exists():
        raise DatabaseMissing(f"no database at {path}: nothing to migrate")
    probe = _attach_read_only(path)
    try:
        before = schema.current_version(probe)
    finally:
        probe.close()
    if before is not None and before > schema.latest_version():
        raise SchemaTooNew(f"the database {path} has schema version {before}, newer than this code knows "
                           f"({schema.latest_version()}): update the code before using it")
    with writing(path, job="migrate"):
        pass
    return before, schema.latest_version()


def last_change(db: str | os.PathLike | None = None) -> float:
    """A cheap token that changes whenever the published file does (for caches): each
    publish is a new file, written after the one it replaces; on a lake, the snapshot read."""
    where = locate(db)
    if isinstance(where, LakeDb):
        return float(pinned_snapshot() if pinned_snapshot() is not None else (lake.newest_snapshot(where) or 0))
    try:
        return float(resolve_db_path(db).stat().st_mtime_ns)
    except FileNotFoundError:
        return 0.0
