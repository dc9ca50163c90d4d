"""The command line: `python -m pipeline <command> ... [--db PATH]`.

Commands stay thin: they read options, call the package, and print. Errors in the
user's input end with one clear line and a non-zero exit, never a traceback. Each module
of this package registers its commands on the one Typer `app` (`base.py`).
"""

from __future__ import annotations

import sys

from ..console import console, error_line
from ..store.errors import DatabaseError
from . import commands  # noqa: F401 - registers demo, load, info, fit, judges, annotate, fits, migrate
from . import answers  # noqa: F401,I001 - registers leaderboard, whatif, differ
from . import custom  # noqa: F401,I001 - registers group and rate
from .base import app


def main() -> None:
    try:
        app()
    except DatabaseError as exc:  # a kind of database trouble: its one line, never a traceback
        error_line(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)
