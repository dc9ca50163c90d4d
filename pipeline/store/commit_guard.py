"""Keeping a lake's new data files through a commit whose answer was lost.

When DuckLake's COMMIT fails it deletes the data files the transaction wrote. But a commit
whose answer was lost (PostgreSQL gone after it got COMMIT) may have been committed: the
catalog then names files that no longer exist, and every read of those tables fails. So
before COMMIT each file written since the transaction began gets a hard link in a private
folder of the data path; after a failed commit that may have landed, the deleted ones come
back (an orphan file if it had not landed: unread, as a killed writer leaves). Local data
paths only; s3:// and other remote paths are left as DuckLake leaves them.
"""

from __future__ import annotations

import os
import shutil
from contextlib import suppress
from pathlib import Path

import duckdb

PREFIX = ".prefdissect-commit-"
SLACK_S = 2.0   # file times are coarse; an older file kept too is harmless


def data_folder(con: duckdb.DuckDBPyConnection, alias: str) -> Path | None:
    """The lake's data path as its catalog remembers it, when it is a local folder."""
    with suppress(duckdb.Error):
        row = con.execute(f'SELECT value FROM "__ducklake_metadata_{alias}".ducklake_metadata '
                          "WHERE key = 'data_path'").fetchone()
        if row and row[0] and "://" not in row[0] and Path(row[0]).is_dir():
            return Path(row[0])
    return None


def keep_new_files(folder: Path, since: float) -> Path | None:
    """Hard-link every file of `folder` changed since `since` into a private folder (returned)."""
    keep = folder / f"{PREFIX}{os.getpid()}-{id(object())}"
    try:
        keep.mkdir()
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if not d.startswith(PREFIX)]
            for name in files:
                path = Path(root, name)
                if path.stat().st_mtime >= since - SLACK_S:
                    link = keep / path.relative_to(folder)
                    link.parent.mkdir(parents=True, exist_ok=True)
                    os.link(path, link)
    except OSError:
        drop(keep)
        return None  # no hard links here: commit unguarded, as before
    return keep


def restore(folder: Path, keep: Path) -> None:
    """Put back every kept file that is gone from the data path."""
    for link in keep.rglob("*"):
        target = folder / link.relative_to(keep)
        if link.is_file() and not target.exists():
            with suppress(OSError):
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(link, target)


def drop(keep: Path | None) -> None:
    if keep is not None:
        shutil.rmtree(keep, ignore_errors=True)
