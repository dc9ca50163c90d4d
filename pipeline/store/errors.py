"""Kinds of database error, each with one line that says what happened and what to do.

The CLI prints `str(exc)` of any `DatabaseError` as its one line and exits with
`exit_code`; the app shows the same line. Callers tell kinds apart by class, never by
message text. Other modules may add kinds here (subclass `DatabaseError`).
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path


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


# Every folder this code makes in the temporary folder (TMPDIR) starts so (a load's scratch, the
# views' check, the extensions' home), which `room_refused` reads to name TMPDIR
TEMP_PREFIX = "prefdissect-"


class NoRoom(DatabaseError):
    """The file system would not take the bytes a write needed (no space left, a quota, a file
    size limit): nothing was written."""

    exit_code = 74  # EX_IOERR


# What the operating system says when a file may not grow; DuckDB's IO errors quote it
# ('Could not write file "...": No space left on device'), Python's OSError carries its number
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def no_room(exc: BaseException) -> tuple[str, str | None] | None:
    """(the system's reason, the file it could not write when said) when `exc` is a write the
    file system refused for want of room; else None."""
    if isinstance(exc, OSError):
        if exc.errno in _NO_ROOM:
            return os.strerror(exc.errno), exc.filename2 or exc.filename
        return None
    if type(exc).__module__.lstrip("_") != "duckdb":  # DuckDB gives no error number: its message
        return None                                   # is all there is to read (an IO error, or a
    for code in _NO_ROOM:                             # fatal one when the checkpoint failed)
        written = re.search(rf'Could not write file "([^"]+)": {re.escape(os.strerror(code))}', str(exc))
        if written:
            return os.strerror(code), written.group(1)
    return None


def room_refused(exc: BaseException, target, nothing: str = "nothing was written") -> NoRoom | None:
    """`exc` as the one line of a write to `target` the file system refused for want of room
    (naming the folder it could not grow: the database's, a lake's data path, or the temporary
    folder), else None. `nothing`: what became of the write."""
    found = no_room(exc)
    if found is None:
        return None
    reason, file = found
    folder = Path(file).parent if file else Path(target).parent
    ours = next((i for i, part in enumerate(folder.parts) if part.startswith(TEMP_PREFIX)), None)
    where = f"the temporary folder {Path(*folder.parts[:ours])} (TMPDIR)" if ours else str(folder)
    return NoRoom(f"{target}: no room to write ({reason}) in {where}: {nothing}; make room there and run it again")
