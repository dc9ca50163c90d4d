"""The writer lock of a single DuckDB file: `<db>.lock`, one writer at a time.

An flock on a local file: across processes and threads of one machine, one job writes
while the others queue, saying what they wait for. The holder writes who it is into the
lock file. (A lake has no lock file: see lake.py.)
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from .errors import WriterBusy

def _report_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


wait_reporter: Callable[[str], None] = _report_to_stderr
job_name: str | None = None      # what this process calls itself in the lock file (the CLI sets it)
held = threading.local()  # the files this thread is writing (nested writing is refused)


def set_wait_reporter(report: Callable[[str], None]) -> Callable[[str], None]:
    """Where the "waiting for <job>" message goes (default stderr); returns the previous one."""
    global wait_reporter
    previous, wait_reporter = wait_reporter, report
    return previous


def this_job(job: str | None) -> str:
    if job or job_name:
        return job or job_name  # type: ignore[return-value]
    argv0 = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return " ".join([argv0, *sys.argv[1:2]]) if argv0 != "-c" else "python -c"


def lock_path(path: Path) -> Path:
    return Path(str(path) + ".lock")


def read_lock_holder(path: Path) -> dict | None:
    """What the lock file says about the job writing now (None when nobody wrote it yet)."""
    try:
        return json.loads(lock_path(path).read_text() or "null")
    except (OSError, ValueError):
        return None


def _describe(holder: dict | None) -> str:
    if not holder:
        return "another job"
    return f"{holder.get('job', 'a job')} (pid {holder.get('pid', '?')})"


@contextmanager
def writer_lock(path: Path, job: str | None, timeout: float) -> Iterator[None]:
    """flock on <db>.lock: one writer at a time across processes and threads; the holder
    records who it is so that a waiting job can say what it waits for."""
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    locked = False
    try:
        deadline = time.monotonic() + timeout
        delay, told = 0.02, None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked = True
                break
            except BlockingIOError:
                holder = read_lock_holder(path)
                # say it once, and again only when another job took the lock meanwhile
                if told is None or (holder and holder != told):
                    wait_reporter(f"waiting for {_describe(holder)} to finish writing {path}")
                    told = holder or {}
                if time.monotonic() > deadline:
                    raise WriterBusy(f"gave up after {timeout:.0f} s waiting for {_describe(holder)} to finish "
                                     f"writing {path}; run this again when it is done") from None
                time.sleep(delay)
                delay = min(delay * 1.5, 0.25)
        info = {"job": this_job(job), "pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield
    finally:
        if locked:
            with suppress(OSError):
                os.ftruncate(fd, 0)
        os.close(fd)  # releases the flock
