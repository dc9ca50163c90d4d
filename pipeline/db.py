"""Opening the DuckDB file: where it is, its schema and views, and short-lived connections.

DuckDB lets one process write a file, or many processes read it, never both. So every
part of the product holds a connection only for as long as one unit of work: the app
opens read-only, reads, closes; a job opens read-write for one transaction and closes.
A connection that meets another process's lock waits and retries instead of failing.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = ROOT / "sql"
SCHEMA_FILE = Path(__file__).resolve().parent / "schema.sql"
DEFAULT_DB = Path("data") / "preference.duckdb"
ENV_DB = "PREFDISSECT_DB"


class DatabaseMissing(FileNotFoundError):
    """The database file does not exist yet."""


def resolve_db_path(db: str | os.PathLike | None = None) -> Path:
    """--db, else $PREFDISSECT_DB, else data/preference.duckdb."""
    if db:
        return Path(db)
    env = os.environ.get(ENV_DB)
    return Path(env) if env else DEFAULT_DB


def is_lock_error(exc: Exception) -> bool:
    """Another connection holds the file: a lock in another process, or, in this
    process, an open connection with another configuration (read-only vs read-write)."""
    text = str(exc).lower()
    return ("lock" in text and ("conflict" in text or "could not set" in text)) or "different configuration" in text


def connect(db: str | os.PathLike | None = None, *, read_only: bool = False,
            timeout: float = 60.0) -> duckdb.DuckDBPyConnection:
    """Open the database, waiting (with jittered backoff) while another process holds the lock."""
    path = resolve_db_path(db)
    if read_only and not path.exists():
        raise DatabaseMissing(f"no database at {path}: run `python -m pipeline demo` or `load`")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.Error as exc:  # IOException on lock conflicts
            if not is_lock_error(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)
    con.execute("SET enable_progress_bar = false")  # it would print on the caller's stdout
    return con


@contextmanager
def reading(db: str | os.PathLike | None = None, *, timeout: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection for one unit of work."""
    con = connect(db, read_only=True, timeout=timeout)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def writing(db: str | os.PathLike | None = None, *, timeout: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection holding one transaction: all of it is committed, or none."""
    con = connect(db, read_only=False, timeout=timeout)
    try:
        ensure_schema(con)
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        con.close()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables, fill the property registry, (re)create every view in sql/."""
    from .properties import PROPERTIES

    con.execute(SCHEMA_FILE.read_text())
    have = con.execute("SELECT count(*) FROM properties").fetchone()[0]
    if have != len(PROPERTIES):
        con.execute("DELETE FROM properties")
        con.executemany(
            "INSERT INTO properties VALUES (?, ?, ?, ?, ?)",
            [(p.index, p.name, p.kind, p.source_key, p.description) for p in PROPERTIES],
        )
    apply_views(con)


def view_files() -> list[Path]:
    return sorted(SQL_DIR.glob("*.sql"))


def apply_views(con: duckdb.DuckDBPyConnection) -> None:
    """CREATE OR REPLACE every view; a view that needs another is retried after it."""
    pending = view_files()
    while pending:
        failed: list[tuple[Path, Exception]] = []
        for path in pending:
            try:
                con.execute(path.read_text())
            except duckdb.CatalogException as exc:  # depends on a view not created yet
                failed.append((path, exc))
        if len(failed) == len(pending):
            path, exc = failed[0]
            raise RuntimeError(f"view {path.name} cannot be created: {exc}") from exc
        pending = [p for p, _ in failed]


def last_change(db: str | os.PathLike | None = None) -> float:
    """A cheap token that changes whenever the database file does (for caches)."""
    path = resolve_db_path(db)
    stamps = [p.stat().st_mtime_ns for p in (path, Path(str(path) + ".wal")) if p.exists()]
    return float(max(stamps)) if stamps else 0.0
