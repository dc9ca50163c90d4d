"""The command line: `python -m pipeline <command> ... [--db PATH]`.

Commands stay thin: they read options, call the package, and print. Errors in the
user's input end with one clear line and a non-zero exit, never a traceback. Each module
of this package registers its commands on the one Typer `app` (`base.py`).
"""

from __future__ import annotations

import random
import sys
import time

from ..console import console, error_line
from ..store.errors import DatabaseError, WriteConflict
from . import commands  # noqa: F401 - registers demo, load, info, fit, judges, annotate, fits, migrate
from . import answers  # noqa: F401,I001 - registers leaderboard, whatif, differ
from . import custom  # noqa: F401,I001 - registers group and rate
from . import lake  # noqa: F401,I001 - registers history and copy
from . import base
from .base import app, commit_message

ATTEMPTS = 4   # a job whose lake commit lost to another job's is run again, on the newer snapshot


def _run() -> None:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            app()
        except WriteConflict as exc:
            if attempt == ATTEMPTS:
                raise
            console.print(f"{exc}: running it again ({attempt + 1} of {ATTEMPTS})", highlight=False, markup=False,
                          soft_wrap=True)
            time.sleep(random.uniform(0.1, 0.5) * attempt)


def main() -> None:
    base.argv_message = commit_message(sys.argv[1:])  # a lake's commit message: `load arena.jsonl`
    try:
        _run()
    except DatabaseError as exc:  # a kind of database trouble: its one line, never a traceback
        error_line(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)
    finally:
        base.argv_message = None  # main() run in-process (tests) leaves no message to the next command
