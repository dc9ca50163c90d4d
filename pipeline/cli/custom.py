"""Your own slices and properties: `group add/remove/list` and `rate` (registered on the CLI app by cli.py).

Values from the data (group names, conditions, notes) go into Rich tables as `Text`, which
Rich never reads as markup.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from .base import DbOption, app, check_fit_inputs, confirm_cost, fail, one_line, say_removed
from ..console import console, plain_console

out = plain_console()  # markup, emoji codes and highlighting off
group_app = typer.Typer(no_args_is_help=True, help="Custom groups: named slices of the pairs, fitted like "
                                                    "the paper's groups.")
app.add_typer(group_app, name="group")


def _say(text: str) -> None:
    console.print(Text(text), highlight=False)


def _fit_group(name: str, db, properties: str) -> None:
    from ..model.fitting import FitError, fit_database

    try:
        report = fit_database(db, groups=[name], property_set=properties)
    except FitError as exc:
        fail(f"group {name!r} was added, but fitting it failed: {exc}")
    _say(report.summary())


@group_app.command("add")
def group_add(
        name: Annotated[str, typer.Argument(help="Name of the group (as shown on every page).")],
        where: Annotated[str, typer.Option("--where", help="SQL condition over the pairs and their attributes, "
                                                           "e.g. \"language = 'de'\" or \"is_code\".")],
        db: DbOption = None,
        note: Annotated[Optional[str], typer.Option(help="A note shown with the group.")] = None,
        replace: Annotated[bool, typer.Option("--replace", help="Change the condition of a group that exists "
                                                                "(its fits are removed).")] = False,
        fit: Annotated[bool, typer.Option("--fit", help="Fit every judge on the group right away.")] = False,
        properties: Annotated[str, typer.Option("--properties", help="Property set for --fit.")] = "paper") -> None:
    """Add a custom group from a SQL condition; it is evaluated again after every load."""
    from ..groups import GroupError, add_group, check_name, count_matching

    with one_line(GroupError, then="nothing was changed"):
        if fit:  # everything --fit needs is checked before the group is stored
            check_fit_inputs(db, properties)
            if count_matching(db, where) == 0:
                fail("no stored pair matches the condition, so --fit has nothing to fit: add the group without "
                     "--fit (it is evaluated again after every load) (nothing was changed)")
        n = add_group(name, where, db=db, note=note, replace=replace)
        name = check_name(name)  # the name as stored (NFKC, one space): what --fit and the hint must use
    _say(f"group {name!r}: {n} pairs")
    if n == 0:
        _say("note: no pair matches the condition yet; it is evaluated again after every load")
    if fit:
        _fit_group(name, db, properties)
    elif n:  # an empty group has nothing to fit yet
        _say(f"next: python -m pipeline fit --group {shlex.quote(name)} to fit it")


@group_app.command("remove")
def group_remove(name: Annotated[str, typer.Argument(help="The custom group to remove.")],
                 db: DbOption = None) -> None:
    """Remove a custom group with its members and its fits."""
    from ..groups import GroupError, remove_group

    with one_line(GroupError):
        removed = remove_group(name, db=db)
    say_removed("group", name, removed)


@group_app.command("list")
def group_list(db: DbOption = None,
               custom_only: Annotated[bool, typer.Option("--custom", help="Only the custom groups.")] = False) -> None:
    """Every group: kind, pairs, judges fitted, and the condition of custom ones."""
    from ..groups import KIND, list_groups

    with one_line():
        groups = list_groups(db, kinds=(KIND,) if custom_only else None)
    table = Table(title="groups")
    for col in ("group", "kind", "pairs", "judges fitted", "condition", "note"):
        table.add_column(col, overflow="fold")
    for g in groups:
        table.add_row(Text(g.name), g.kind, str(g.n_pairs), str(g.judges_fitted), Text(g.condition or ""),
                      Text(g.note or ""))
    out.print(table)
    if not groups:
        _say("no groups yet" + (": add one with `python -m pipeline group add NAME --where SQL`"
                                if custom_only else ""))


@app.command()
def rate(
        file: Annotated[Path, typer.Argument(help="TOML file, one table per property: name, question, "
                                                  "scale = compare | rating, optional description.")],
        db: DbOption = None,
        where: Annotated[Optional[str], typer.Option("--where", help="Only pairs matching this SQL condition "
                                                                     "(as in `group add`).")] = None,
        max_pairs: Annotated[Optional[int], typer.Option(min=1, help="Rate only the first N pairs (by pair id).")] = None,
        model: Annotated[str, typer.Option(help="Rating model (any OpenAI-compatible server: OPENAI_BASE_URL).")] = "gpt-4-turbo",
        concurrency: Annotated[Optional[int], typer.Option(min=1, help="Requests in flight at once (default 8).")] = None,
        timeout: Annotated[Optional[float], typer.Option(min=1, help="Seconds to wait for one answer (default 120).")] = None,
        batch: Annotated[bool, typer.Option("--batch", help="Use the OpenAI Batch API (half price, up to 24 h).")] = False,
        retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Ask again the calls marked failed before.")] = False,
        replace: Annotated[bool, typer.Option("--replace", help="Redefine stored properties whose question or scale "
                                                                "changed (their old ratings are removed).")] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the calls and estimated cost, ask nothing.")] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Start without asking to confirm the cost.")] = False) -> None:
    """Rate stored pairs on your own properties with an LLM; then `fit --properties custom`."""
    from ..properties.custom import PropertyFileError, RateError, plan_rate, run_rate
    from ..groups import GroupError
    from ..llm import ConfigError, JobAborted
    from ..llm.progress import progress_bar

    with one_line(GroupError, RateError), one_line(PropertyFileError, then="nothing was asked"):
        plan = plan_rate(file, db=db, where=where, max_pairs=max_pairs, model=model, concurrency=concurrency,
                         timeout=timeout, batch=batch, retry_failed=retry_failed, replace=replace)
    for line in plan.lines():
        console.print(Text(line), highlight=False)
    if dry_run:
        return
    if plan.problems:
        fail(plan.problems[0])
    confirm_cost(plan, yes)
    bar, update = progress_bar(console, plan.calls_total)
    with one_line(RateError, ConfigError, JobAborted), bar:
        report = run_rate(plan, progress_callback=update)
    for line in report.lines():
        console.print(Text(line), highlight=False)
    _say("next: python -m pipeline fit --properties custom")
