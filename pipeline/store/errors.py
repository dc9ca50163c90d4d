"""Kinds of database error, each with one line that says what happened and what to do.

The CLI prints `str(exc)` of any `DatabaseError` as its one line and exits with
`exit_code`; the app shows the same line. Callers tell kinds apart by class, never by
message text. Other modules may add kinds here (subclass `DatabaseError`).
"""

from __future__ import annotations


class DatabaseError(RuntimeError):
    """Base of the database kinds: the message is the whole story, one line."""

    exit_code = 1


class DatabaseMissing(DatabaseError, FileNotFoundError):
    """The database file does not exist yet."""


class WriterBusy(DatabaseError):
    """Another job kept the writer lock longer than this one was willing to wait."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class HeldReadWrite(DatabaseError):
    """A DuckDB client in another process has the published file open read-write."""

    exit_code = 75


class SchemaOutdated(DatabaseError):
    """The file's schema is older than this code; `python -m pipeline migrate` upgrades it."""


class SchemaTooNew(DatabaseError):
    """The file was written by a newer version of this code; reading it could mislead."""


class NestedWriting(DatabaseError):
    """db.writing() inside db.writing() on the same file in one thread would wait on itself."""


class NotADatabase(DatabaseError):
    """--db names something that is not a DuckDB file we can use: a folder, another kind of
    file, or a URL / catalog string (DuckLake, postgres:, s3://, ...)."""


class LakeUnavailable(DatabaseError):
    """A DuckLake's catalog cannot be reached (PostgreSQL down or refusing us, a catalog file
    held by another process) or its extension cannot load."""

    exit_code = 75


class WriteConflict(DatabaseError):
    """Another job committed a change to the same rows of a lake first; nothing of this job
    was written, and running it again redoes it on the newer snapshot."""

    exit_code = 75


class SnapshotMissing(DatabaseError):
    """`--at` names a snapshot the lake does not have (or the database is not a lake)."""


class DataPathUnwritable(DatabaseError):
    """The lake's data path cannot be written: nothing was written."""
