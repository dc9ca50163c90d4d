"""The command line: `python -m pipeline <command> ... [--db PATH]`.

Commands stay thin: they read options, call the package, and print. Errors in the
user's input end with one clear line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from . import db as dbmod

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Preference-dissection workbench: annotate pairs, load them, and dissect judges.")
console = Console(stderr=True)

DbOption = Annotated[Optional[Path], typer.Option(
    "--db", help="DuckDB file (default: $PREFDISSECT_DB or data/preference.duckdb).")]


def fail(message: str, code: int = 1) -> None:
    """Print one clear line and exit non-zero."""
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@app.command()
def demo(db: DbOption = None,
         seed: Annotated[int, typer.Option(help="Seed of the generator.")] = 2024,
         no_fit: Annotated[bool, typer.Option("--no-fit", help="Load only; do not fit.")] = False,
         force: Annotated[bool, typer.Option(help="Replace a database that holds real data.")] = False) -> None:
    """Build the demo database from generated data of the release's shape (and fit it)."""
    from .demo import DemoRefused, build_demo

    try:
        result = build_demo(db, seed=seed, fit=not no_fit, force=force)
    except DemoRefused as exc:
        fail(str(exc))
    secs = result["seconds"]
    console.print(f"demo: {result['pairs']} generated pairs, {result['judges']} simulated judges -> "
                  f"{result['path']} ({secs['total']:.1f} s)", highlight=False)


@app.command()
def load(source: Annotated[str, typer.Argument(help="A .json, .jsonl or .parquet file, a folder of them, or hf:OWNER/NAME.")],
         db: DbOption = None,
         name: Annotated[Optional[str], typer.Option(help="Name of the source in the database.")] = None) -> None:
    """Load released-format records into the database (all or nothing)."""
    from .loader import load_source
    from .records import RecordError
    from .sources import SourceError

    try:
        report = load_source(source, db=db, name=name)
    except (RecordError, SourceError) as exc:
        fail(f"{exc} (nothing was loaded)")
    console.print(report.summary(), highlight=False)
    if report.new_pairs or report.new_labels:
        console.print("next: `python -m pipeline fit` to (re)fit the judges", highlight=False)


@app.command()
def info(db: DbOption = None) -> None:
    """What the database holds: sources, pairs, judges, groups, fits."""
    from rich.table import Table

    try:
        with dbmod.reading(db) as con:
            table = Table(title=str(dbmod.resolve_db_path(db)))
            for col in ("source", "kind", "generated", "pairs", "loaded at"):
                table.add_column(col)
            for row in con.execute("SELECT source, kind, generated, n_pairs, loaded_at FROM sources ORDER BY loaded_at").fetchall():
                table.add_row(*(str(v) for v in row))
            Console().print(table)
            counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                      for t in ("pairs", "labels", "judges", "features", "fits")}
            Console().print(", ".join(f"{v} {k}" for k, v in counts.items()))
    except dbmod.DatabaseMissing as exc:
        fail(str(exc))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)
