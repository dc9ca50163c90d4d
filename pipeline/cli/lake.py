"""The lake commands: `history` (a lake's snapshots) and `copy --to` (file <-> lake)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..console import cell, console, plain_console
from ..store import db as dbmod
from ..store.location import LakeDb
from .base import AtOption, DbOption, app, fail, one_line


@app.command()
def history(db: DbOption = None,
            limit: Annotated[Optional[int], typer.Option(min=1, help="Show only the newest N snapshots.")] = None
            ) -> None:
    """A lake's snapshots, newest first: id, time (UTC), author and the job that committed it."""
    from ..store import lake

    where = dbmod.locate(db)
    if not isinstance(where, LakeDb):
        fail(f"{where.display} is a single file, which keeps no history: a lake does (--db ducklake:...)")
    with one_line():
        rows = lake.history(where, limit=limit)
    table = Table(title=cell(where.display))
    for col in ("snapshot", "time (UTC)", "author", "job"):
        table.add_column(col, overflow="fold")
    for snapshot, when, author, message in rows:
        table.add_row(cell(snapshot), cell(when), cell(author or ""), cell(message or ""))
    plain_console().print(table)


@app.command("copy")
def copy_cmd(to: Annotated[str, typer.Option("--to", help="The new database: a .duckdb file or ducklake:...")],
             db: DbOption = None, at: AtOption = None) -> None:
    """Copy every table with its rows into a new database: a file into a lake, or back."""
    from ..store.copying import copy_database

    with one_line(then="nothing was written"):
        report = copy_database(db, Path(to) if not to.startswith("ducklake:") else to, at=at)
    total = sum(report.rows.values())
    console.print(f"copied {total} rows in {len(report.rows)} tables to {dbmod.locate(to).display}",
                  highlight=False, markup=False, soft_wrap=True)
