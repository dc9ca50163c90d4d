"""One run of a job per database at a time: two would ask the same calls twice.

An advisory file lock next to the journal; the OS drops it when the process dies, even
by SIGKILL, so a crashed run never blocks the next one.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import JobAborted

try:
    import fcntl
except ImportError:  # Windows: no locking, the journal still keeps answers safe
    fcntl = None  # type: ignore[assignment]


def lock_path(journal_file: str | os.PathLike, job: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in job)
    return Path(f"{journal_file}.{safe}.lock")


@contextmanager
def job_lock(journal_file: str | os.PathLike, job: str) -> Iterator[None]:
    path = lock_path(journal_file, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        if fcntl is not None:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "?"
                raise JobAborted(f"another '{job}' job (pid {holder}) is running on this database; "
                                 "wait for it or stop it first") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(f, fcntl.LOCK_UN)


def is_locked(journal_file: str | os.PathLike, job: str) -> bool:
    """Whether a live process holds the job's lock (used by status displays)."""
    path = lock_path(journal_file, job)
    if fcntl is None or not path.exists():
        return False
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False
