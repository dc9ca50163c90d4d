"""What every command module of the CLI shares: the Typer app, common options, and the one-line failures.

cli.py, cli_answers.py and cli_custom.py register their commands on `app` from here, so none
of them imports another (cli.py imports the other two only to register them).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..console import console, error_line

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Preference-dissection workbench: annotate pairs, load them, and dissect judges.")
# `console` (pipeline/console.py) prints with markup off; say()/error_line() escape values.

DbOption = Annotated[Optional[Path], typer.Option(
    "--db", help="DuckDB file, or a lake: ducklake:PATH.ducklake or ducklake:postgres:dbname=... "
    "(default: $PREFDISSECT_DB or data/preference.duckdb).")]
AtOption = Annotated[Optional[int], typer.Option(
    "--at", min=0, help="Read a lake as it was at this snapshot (`history` lists them; default: the newest).")]
TimeoutOption = Annotated[Optional[float], typer.Option(
    help="Seconds to wait for one answer (default 120, or $PREFDISSECT_LLM_TIMEOUT).")]
MaxTimeoutsOption = Annotated[Optional[int], typer.Option(
    min=1, help="Requests timing out in a row that end the run (default 5): a silent server is a failure.")]


def fail(message: str, code: int = 1) -> None:
    """Print one clear line and exit non-zero."""
    error_line(message)
    raise typer.Exit(code)


@contextmanager
def one_line(*kinds: type[Exception], then: str = ""):
    """Turn the named kinds of error, and every database error (with its exit code), into the one
    error line; `then` says what was left undone, e.g. "nothing was written"."""
    from ..store.errors import DatabaseError, WriteConflict

    try:
        yield
    except kinds as exc:
        fail(f"{exc} ({then})" if then else str(exc))
    except WriteConflict:
        raise  # main() runs the command again on the newer snapshot
    except DatabaseError as exc:
        fail(str(exc), exc.exit_code)


def confirm_cost(plan, yes: bool) -> None:
    """Before paid calls: ask on a terminal, or fail without --yes (`plan` is an llm CallEstimate)."""
    from ..llm import format_usd

    if plan.calls_to_make and not yes:
        if not sys.stdin.isatty():
            fail("add --yes to start without confirming the cost")
        if not typer.confirm(f"make {plan.calls_to_make} calls for about {format_usd(plan.est_cost_usd)}?"):
            raise typer.Exit(1)


def say_removed(what: str, name: str, removed: dict[str, int]) -> None:
    console.print(f"removed {what} {name!r}: " + ", ".join(f"{n} {t} rows" for t, n in removed.items()),
                  highlight=False, markup=False)


def checked_name(text: str | None, what: str) -> str | None:
    """A name as pipeline/names.py normalises it (NFKC, no invisible characters), or fail in one line."""
    from ..names import NameRefused, check_name

    if text is None:
        return None
    try:
        return check_name(text, what)
    except NameRefused as exc:
        fail(f"{exc} (nothing was written)")


def checked_names(texts: list[str] | None, what: str) -> list[str] | None:
    """Each of a repeatable option's names as `checked_name` gives it (None stays None)."""
    return None if texts is None else [checked_name(t, what) for t in texts]


def refuse_empty_groups(db, groups) -> None:
    """A custom group that exists but holds no pair yet is not "unknown": say it is empty and
    what would fill it, in one line, before anything is computed or written."""
    from ..store import db as dbmod

    if not groups:
        return
    try:
        with dbmod.reading(db) as con:
            for name in dict.fromkeys(groups):
                row = con.execute("SELECT group_name, where_sql FROM custom_groups WHERE group_name = ? AND NOT EXISTS "
                                  "(SELECT 1 FROM pair_groups g WHERE g.group_name = custom_groups.group_name)",
                                  [name]).fetchone()
                if row:
                    fail(f"group {row[0]!r} is empty: no stored pair matches its condition {row[1]!r} yet. It is "
                         "filled again after every load: load pairs that match it, or change the condition with "
                         "`group add NAME --where SQL --replace` (nothing was written)")
    except dbmod.DatabaseMissing:
        return  # the command itself says there is no database


def check_fit_inputs(db, property_set: str) -> None:
    """What `fit` would refuse before writing anything: an unknown or unrated property set, no
    labelled judge. `group add --fit` checks these first, so that a fit that cannot run leaves
    the file as it was instead of storing the group and then failing."""
    from ..model.fitting import FitError, set_properties
    from ..properties.sets import PROPERTY_SETS
    from ..store import db as dbmod

    if property_set not in PROPERTY_SETS:
        fail(f"unknown property set {property_set!r} (known: {', '.join(PROPERTY_SETS)}) (nothing was changed)")
    with dbmod.reading(db) as con:
        try:
            set_properties(con, property_set)
        except FitError as exc:
            fail(f"{exc} (nothing was changed)")
        if con.execute("SELECT count(*) FROM labels").fetchone()[0] == 0:
            fail("no judge has labels to fit: load data first, or add the group without --fit (nothing was changed)")


MAX_SEED = 2**32 - 1  # numpy's legacy seeding (fold shuffles, samples) takes 0 .. 2**32 - 1


def checked_seed(seed: int) -> int:
    """--seed within what the generators take, or one line (a traceback from numpy before)."""
    if not 0 <= seed <= MAX_SEED:
        fail(f"--seed must be a whole number from 0 to {MAX_SEED}, got {seed} (nothing was written)")
    return seed


_PLACE_OPTIONS = {"--db", "--data-path", "--at", "--to"}
argv_message: str | None = None   # main() sets it from the real command line; else the command's name


def commit_message(argv: list[str]) -> str:
    """What a lake's commit says this job was: the command line without where the database is
    (no catalog string, so no secret) and with files by their names, e.g. `load arena.jsonl`."""
    from ..store.location import redact

    words, skip = [], False
    for word in argv:
        if skip:
            skip = False
            continue
        if word in _PLACE_OPTIONS:
            skip = True
            continue
        if any(word.startswith(o + "=") for o in _PLACE_OPTIONS):
            continue
        words.append(Path(word).name if "/" in word and not word.startswith("-") else word)
    return redact(" ".join(words))[:500] or "pipeline"
