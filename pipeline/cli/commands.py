"""The data commands: demo, load, info, fit, judges, annotate, fits in and out, migrate.

Commands stay thin: they read options, call the package, and print. Errors in the
user's input end with one clear line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..store import db as dbmod
from ..store.errors import DatabaseError
from . import base
from .base import (AtOption, DbOption, MaxTimeoutsOption, TimeoutOption, app, checked_name, checked_names, checked_seed,
                   confirm_cost, fail, one_line, refuse_empty_groups, say_removed)
from ..console import cell, console, hint, plain_console  # markup off; say()/error_line() escape values


@app.command()
def demo(db: DbOption = None,
         seed: Annotated[int, typer.Option(help="Seed of the generator.")] = 2024,
         no_fit: Annotated[bool, typer.Option("--no-fit", help="Load only; do not fit.")] = False,
         force: Annotated[bool, typer.Option("--force", help="Replace a database that holds real data.")] = False) -> None:
    """Build the demo database from generated data of the release's shape (and fit it)."""
    from ..demo import DemoRefused, build_demo

    seed = checked_seed(seed)
    try:
        result = build_demo(db, seed=seed, fit=not no_fit, force=force)
    except DemoRefused as exc:
        fail(str(exc))
    secs = result["seconds"]
    console.print(f"demo: {result['pairs']} generated pairs, {result['judges']} simulated judges -> "
                  f"{result['path']} ({secs['total']:.1f} s)", highlight=False)


ColOption = Annotated[Optional[str], typer.Option(help="Column for this role (generic files).")]


@app.command()
def load(source: Annotated[str, typer.Argument(help="A .json, .jsonl, .parquet or .csv file (JSON, JSONL, CSV also as .gz, .bz2, .xz, .zst), a folder of them, "
                                                    "or hf:OWNER/NAME.")],
         db: DbOption = None,
         name: Annotated[Optional[str], typer.Option(help="Name of the source in the database.")] = None,
         format: Annotated[Optional[str], typer.Option(
             "--format", help="Force a format: release, arena, lmarena, arena-55k, hh-rlhf, ultrafeedback, "
                              "forensics, alpaca-eval, generic (default: detected from the content).")] = None,
         judge: Annotated[Optional[str], typer.Option(
             help="Judge name for a crowd's votes (default: human; ultrafeedback for UltraFeedback).")] = None,
         multi_turn: Annotated[bool, typer.Option(
             "--multi-turn", help="Keep multi-turn conversations (default: single turn only, the rest counted).")] = False,
         prompt_col: ColOption = None, response_1_col: ColOption = None, response_2_col: ColOption = None,
         model_1_col: ColOption = None, model_2_col: ColOption = None, winner_col: ColOption = None,
         rater_col: ColOption = None, id_col: ColOption = None,
         attribute_col: Annotated[Optional[list[str]], typer.Option(
             help="Keep this column as a pair attribute (repeatable; generic files).")] = None) -> None:
    """Load released-format records or raw labelled pairs into the database (all or nothing)."""
    from ..ingest.formats import Options
    from ..groups import GroupError
    from ..ingest.loader import load_source
    from ..ingest.records import RecordError
    from ..ingest.sources import SourceError

    roles = {"prompt": prompt_col, "response_1": response_1_col, "response_2": response_2_col,
             "model_1": model_1_col, "model_2": model_2_col, "winner": winner_col, "rater": rater_col, "id": id_col}
    options = Options(judge=judge, multi_turn=multi_turn,
                      columns=tuple((role, col) for role, col in roles.items() if col is not None),
                      attribute_columns=tuple(attribute_col or ()))
    name = checked_name(name, "source name")
    try:
        report = load_source(source, db=db, name=name, format=format, options=options)
    except (RecordError, SourceError) as exc:
        # a record names its position (formats' rows name their file too): put the source before it once
        where = f"{source}: " if isinstance(exc, RecordError) and not exc.where.startswith(source) else ""
        fail(f"{where}{exc} (nothing was loaded)")  # the file, then the record and field
    except GroupError as exc:  # a custom group's condition failed on the new pairs: the load rolled back
        fail(f"{exc} (nothing was loaded)")
    console.print(report.summary(), highlight=False, markup=False)
    for line in report.skipped + report.notes:
        console.print(f"  {line}", highlight=False, markup=False)
    if report.new_pairs or report.new_labels:
        # raw pairs have no paper annotations: the style set is what fits them
        fit_args = ("fit",) if report.format == "release" else ("fit", "--properties", "style")
        hint(*fit_args, *(("--db", str(db)) if db else ()), why="to (re)fit the judges")


@app.command()
def info(db: DbOption = None, at: AtOption = None) -> None:
    """What the database holds: sources, pairs, judges, groups, fits."""
    from rich.table import Table

    try:
        with dbmod.reading(db, at=at) as con:
            title = dbmod.locate(db).display + (f" at snapshot {at}" if at is not None else "")
            table = Table(title=cell(title))
            for col in ("source", "kind", "generated", "pairs", "loaded at"):
                table.add_column(col, overflow="fold")  # wrap, never cut a source's name
            for row in con.execute("SELECT source, kind, generated, n_pairs, strftime(loaded_at, '%Y-%m-%d %H:%M') "
                                   "FROM sources ORDER BY loaded_at").fetchall():
                table.add_row(*(cell(v) for v in row))  # literal text; imported weights have no pairs
            plain_console().print(table)
            counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                      for t in ("pairs", "labels", "judges", "features", "fits")}
            counts["groups"] = con.execute("SELECT count(DISTINCT group_name) FROM pair_groups").fetchone()[0]
            plain_console().print(", ".join(f"{v} {k}" for k, v in counts.items()))
    except dbmod.DatabaseMissing as exc:
        fail(str(exc))


def _fit_progress():
    """A Rich progress bar and the (done, total) callback that fitting calls."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("fitting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=True)
    task = bar.add_task("fit", total=None)
    return bar, lambda done, total: bar.update(task, completed=done, total=total)


def _add_and_report(name: str, labels, *, db, kind, size, note, replace, fit: bool) -> None:
    """Add the judge, fit it with a progress bar (on a terminal), print, or fail in one line."""
    from ..model.fitting import FitError
    from ..judges import JudgeError, add_judge

    bar, tick = _fit_progress() if fit and console.is_terminal else (_nothing(), None)
    try:
        with bar:
            report = add_judge(name, labels, db=db, kind=kind, size_b=size, note=note, replace=replace,
                               fit=fit, progress=tick)
    except JudgeError as exc:
        fail(f"{exc} (nothing was written)")
    except FitError as exc:
        fail(f"judge {name!r} was added, but fitting it failed: {exc}")
    except dbmod.DatabaseMissing as exc:
        fail(str(exc))
    console.print(report.summary(), highlight=False)
    if report.fit is not None:
        console.print(report.fit.summary(), highlight=False)
    else:
        hint("fit", "--judge", report.judge, why="to fit it")  # the stored (normalised) name


def _nothing():
    """A context manager that does nothing (no progress bar off a terminal); the fit command uses it too."""
    from contextlib import nullcontext
    return nullcontext()


@app.command("add-judge")
def add_judge_cmd(
        name: Annotated[str, typer.Argument(help="Name of the new judge.")],
        file: Annotated[Path, typer.Argument(help="Labels: JSON list of A/B in dataset order, JSON object or JSONL "
                                                  "of pair_id -> choice, or CSV pair_id,preferred.")],
        db: DbOption = None,
        kind: Annotated[Optional[str], typer.Option(help="human, llm, reward model or other (default: human if "
                                                         "the name starts with 'human', else llm).")] = None,
        size: Annotated[Optional[float], typer.Option(help="Size in billions of parameters (orders the similarity matrix).")] = None,
        note: Annotated[Optional[str], typer.Option(help="A note shown with the judge.")] = None,
        replace: Annotated[bool, typer.Option("--replace", help="Replace a judge of that name (its labels and fits).")] = False,
        no_fit: Annotated[bool, typer.Option("--no-fit", help="Add the labels only; do not fit.")] = False) -> None:
    """Add a judge from a labels file, then fit it for every group."""
    from ..judges import JudgeError, parse_labels_file

    name = checked_name(name, "judge name")
    if not file.is_file():
        fail(f"no file at {file}")
    try:
        parsed = parse_labels_file(file, db=db)
    except JudgeError as exc:
        fail(f"{exc} (nothing was written)")
    except dbmod.DatabaseMissing as exc:
        fail(str(exc))
    if not parsed.ok:
        fail(f"{parsed.error_message()} (nothing was written)")
    console.print(parsed.summary(), highlight=False)
    _add_and_report(name, parsed, db=db, kind=kind, size=size, note=note, replace=replace, fit=not no_fit)


@app.command("remove-judge")
def remove_judge_cmd(name: Annotated[str, typer.Argument(help="The judge to remove.")],
                     db: DbOption = None) -> None:
    """Remove a judge: its labels, fits and fit runs."""
    from ..judges import JudgeError, remove_judge

    name = checked_name(name, "judge name")  # found as stored: NFKC, outer spaces trimmed
    with one_line(JudgeError):
        removed = remove_judge(name, db=db)
    say_removed("judge", name, removed)


@app.command("judge-llm")
def judge_llm_cmd(
        name: Annotated[str, typer.Argument(help="Name of the new judge.")],
        model: Annotated[str, typer.Option(help="Model to ask (any OpenAI-compatible server: OPENAI_BASE_URL).")] = "gpt-4-turbo",
        db: DbOption = None,
        concurrency: Annotated[Optional[int], typer.Option(min=1, help="Requests in flight at once (default 8).")] = None,
        max_pairs: Annotated[Optional[int], typer.Option(min=1, help="Judge only the first N pairs (by pair id).")] = None,
        usable_only: Annotated[bool, typer.Option("--usable-only", help="Only pairs usable for fitting.")] = False,
        no_logprobs: Annotated[bool, typer.Option("--no-logprobs", help="Do not ask for logprobs; read the text answer.")] = False,
        retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Ask again the calls that failed before.")] = False,
        kind: Annotated[str, typer.Option(help="human, llm, reward model or other.")] = "llm",
        size: Annotated[Optional[float], typer.Option(help="Size in billions of parameters.")] = None,
        note: Annotated[Optional[str], typer.Option(help="A note shown with the judge.")] = None,
        replace: Annotated[bool, typer.Option("--replace", help="Replace a judge of that name (its labels and fits).")] = False,
        no_fit: Annotated[bool, typer.Option("--no-fit", help="Add the labels only; do not fit.")] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the calls and estimated cost, ask nothing.")] = False,
        timeout: TimeoutOption = None,
        max_timeouts: MaxTimeoutsOption = None) -> None:
    """Ask an LLM which response is better (both orders), then add the judge and fit it."""
    from ..model.fitting import FitError
    from ..judges import JudgeError
    from ..llm import ConfigError, JobAborted, settings_from_env
    from ..judges import refuse_existing
    from ..judges.llm_judge import JudgeLLMError, judge_with_llm, plan_judge
    from ..llm.progress import progress_bar

    name = checked_name(name, "judge name")
    try:
        settings = settings_from_env(model=model, concurrency=concurrency, timeout=timeout, max_timeouts=max_timeouts)
        refuse_existing(name, db, replace)  # before any estimate or call
        plan = plan_judge(name, model=model, db=db, settings=settings, max_pairs=max_pairs,
                          usable_only=usable_only, logprobs=not no_logprobs, retry_failed=retry_failed)
        for line in plan.lines():
            console.print(line, highlight=False, markup=False)
        if dry_run:
            return
        bar, update = progress_bar(console, plan.calls_total)  # annotate's display: calls, in flight, money
        with bar:
            report = judge_with_llm(name, model=model, db=db, kind=kind, size_b=size, note=note, replace=replace,
                                    fit=not no_fit, plan=plan, progress_callback=update)
    except JudgeLLMError as exc:
        for line in (exc.report.lines() if exc.report else []):
            console.print(line, highlight=False, markup=False)
        fail(str(exc))
    except (JudgeError, ConfigError, JobAborted) as exc:
        fail(f"{exc} (no judge was added)")
    except FitError as exc:
        fail(f"judge {name!r} was added, but fitting it failed: {exc}")
    except dbmod.DatabaseMissing as exc:
        fail(str(exc))
    for line in report.lines():
        console.print(line, highlight=False, markup=False)
    if not report.logprobs_used and not no_logprobs:
        console.print("note: the server refused the logprobs option; labels come from the text answers",
                      highlight=False)
    console.print(report.added.summary(), highlight=False)
    if report.added.fit is not None:
        console.print(report.added.fit.summary(), highlight=False)


@app.command()
def annotate(
        file: Annotated[Optional[Path], typer.Argument(
            help="Raw pairs: .jsonl, .json or .csv (prompt/query, response_a/b, model_a/b, optional winner; or "
                 "Arena conversation_a/b). Without FILE: stored pairs lacking the paper's annotations.")] = None,
        db: DbOption = None,
        model: Annotated[str, typer.Option(help="Annotating model (any OpenAI-compatible server: OPENAI_BASE_URL).")] = "gpt-4-turbo",
        concurrency: Annotated[Optional[int], typer.Option(min=1, help="Requests in flight at once (default 8).")] = None,
        max_pairs: Annotated[Optional[int], typer.Option(min=1, help="Annotate only the first N pairs (of the file, or of the stored pairs by id).")] = None,
        where: Annotated[Optional[str], typer.Option(help="Stored pairs: a SQL condition on the pairs and their attributes, e.g. \"language = 'de'\".")] = None,
        sample: Annotated[Optional[int], typer.Option(min=1, help="Stored pairs: annotate N of them picked at random.")] = None,
        seed: Annotated[int, typer.Option(help="Seed of --sample.")] = 0,
        retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Ask again the calls marked failed before.")] = False,
        batch: Annotated[bool, typer.Option("--batch", help="Use the OpenAI Batch API (half price, up to 24 h).")] = False,
        timeout: TimeoutOption = None,
        max_timeouts: MaxTimeoutsOption = None,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Start without asking to confirm the cost.")] = False) -> None:
    """Annotate pairs with an LLM (SPEC section 7): new ones from FILE, or stored ones; resumable."""
    from ..annotation import InputError, plan_job, plan_stored, run_job
    from ..store.errors import DatabaseError
    from ..llm import ConfigError, settings_from_env
    from ..llm.progress import progress_bar

    seed = checked_seed(seed)
    if file is not None and (where is not None or sample is not None):
        fail("--where and --sample pick stored pairs: give them without FILE")
    try:
        settings = settings_from_env(model=model, concurrency=concurrency, timeout=timeout, max_timeouts=max_timeouts)
        if file is None:
            plan = plan_stored(where, db=db, max_pairs=max_pairs, sample=sample, seed=seed,
                               retry_failed=retry_failed, batch=batch, settings=settings)
        else:
            plan = plan_job(file, db=db, max_pairs=max_pairs, retry_failed=retry_failed, batch=batch,
                            settings=settings)
    except (InputError, ConfigError, DatabaseError) as exc:  # never start paid calls on a plan not read
        fail(str(exc), getattr(exc, "exit_code", 1))  # a busy database: 75, as every other command says
    if plan.problems:  # e.g. no API key: the one error line, not the plan then the same reason again
        fail(plan.problems[0])
    for line in plan.lines():
        console.print(line, highlight=False, markup=False)
    if not plan.tasks and not plan.present:
        fail(f"nothing to annotate in {file}" if file is not None else
             "no stored pair without the paper's annotations matches" + (f" --where {where}" if where else ""))
    confirm_cost(plan, yes)
    bar, update = progress_bar(console, plan.calls_total)
    with bar:
        summary = run_job(plan, progress_callback=update)
    if summary.ok or summary.requests or summary.pairs_annotated:  # else the one error line says it all
        for line in summary.lines():
            console.print(line, highlight=False, markup=False)
    if not summary.ok:
        fail(summary.aborted or "nothing could be annotated")


@app.command()
def fit(db: DbOption = None,
        judge: Annotated[Optional[list[str]], typer.Option("--judge", help="Fit only this judge (repeatable); its rows are replaced, others kept.")] = None,
        group: Annotated[Optional[list[str]], typer.Option("--group", help="Fit only this group (repeatable).")] = None,
        folds: Annotated[Optional[int], typer.Option(help="Average the weights over K training splits (the original's k-fold option).")] = None,
        min_labels: Annotated[int, typer.Option(help="Skip a judge x group with fewer labelled usable pairs.")] = 30,
        seed: Annotated[int, typer.Option(help="Seed of the fold shuffles.")] = 0,
        properties: Annotated[str, typer.Option("--properties", help="Property set: paper (the 29), style (from the texts), paper+style, or custom.")] = "paper",
        adjust: Annotated[Optional[str], typer.Option("--adjust", help="'models': fit the response models' strengths alongside, so the weights mean 'at equal models' (stored as set <set>@models).")] = None) -> None:
    """Fit every judge x group (posterior mean, sd, 95% interval, held-out accuracy and log loss beside their baselines, AUC, calibration)."""
    from ..model.fitting import FitError, fit_database

    judge, group = checked_names(judge, "judge"), checked_names(group, "group")
    seed = checked_seed(seed)
    refuse_empty_groups(db, group)
    bar, tick = _fit_progress() if console.is_terminal else (_nothing(), None)
    try:
        with bar:
            report = fit_database(db, judges=judge, groups=group, folds=folds, min_labels=min_labels,
                                  seed=seed, progress=tick, property_set=properties, adjust=adjust)
    except FitError as exc:
        fail(f"{exc} (nothing was written)")
    except dbmod.DatabaseMissing as exc:
        fail(str(exc))
    if report.backfilled:
        console.print(f"computed the style properties of {report.backfilled} pairs stored without them", highlight=False)
    console.print(report.summary(), highlight=False, markup=False)
    if (line := report.accuracy_line()) is not None:
        console.print(line, highlight=False, markup=False)
    for line in report.warning_lines():
        console.print(line, highlight=False, markup=False, style="yellow")
    for run in report.skipped[:10]:
        console.print(f"  skipped {run.judge} / {run.group_name}: {run.note}", highlight=False)
    if len(report.skipped) > 10:
        console.print(f"  ... {len(report.skipped) - 10} more skipped (see the fit_runs table)", highlight=False)


@app.command("import-fits")
def import_fits_cmd(
        path: Annotated[Path, typer.Argument(help="A model_<group>_fitted_paras.jsonl file, or a folder of them.")],
        db: DbOption = None,
        prefix: Annotated[str, typer.Option(help="Put this before every imported judge name, e.g. 'paper/'.")] = "",
        replace: Annotated[bool, typer.Option("--replace", help="Replace the fits of judges of the same name.")] = False,
        name: Annotated[Optional[str], typer.Option(help="Source name (default fitted_paras:<folder or file name>).")] = None,
        group: Annotated[Optional[str], typer.Option(help="Group of a single file whose name doesn't say it.")] = None) -> None:
    """Import the original project's fitted_paras files as judges with weights (all or nothing)."""
    from ..model.fitted_paras import FittedParasError, import_fits

    prefix = checked_name(prefix, "prefix") if prefix else prefix
    name = checked_name(name, "source name")
    try:
        report = import_fits(path, db=db, prefix=prefix, replace=replace, name=name, group=group)
    except FittedParasError as exc:
        fail(f"{exc} (nothing was imported)")
    console.print(report.summary(), highlight=False)


@app.command("export-fits")
def export_fits_cmd(
        path: Annotated[Path, typer.Argument(help="Folder to write model_<group>_fitted_paras.jsonl files into.")],
        db: DbOption = None,
        source: Annotated[Optional[list[str]], typer.Option("--source", help="Export fits of this source (repeatable; default: ours, 'fit').")] = None,
        all_sources: Annotated[bool, typer.Option("--all", help="Export every judge's fits, imported ones too.")] = False,
        judge: Annotated[Optional[list[str]], typer.Option("--judge", help="Only this judge (repeatable).")] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace files that exist.")] = False,
        at: AtOption = None) -> None:
    """Write fits in the original's fitted_paras format, one file per group."""
    from ..model.fitted_paras import FIT_SOURCE, FittedParasError, export_fits

    dbmod.pin_snapshot(at)
    sources = None if all_sources else (source or [FIT_SOURCE])
    judge = checked_names(judge, "judge")
    try:
        files = export_fits(path, db=db, sources=sources, judges=judge, overwrite=overwrite)
    except FittedParasError as exc:
        fail(str(exc))
    except DatabaseError as exc:
        fail(str(exc), exc.exit_code)
    console.print(f"wrote {len(files)} files to {path}", highlight=False)


@app.command()
def migrate(db: DbOption = None) -> None:
    """Upgrade the database to this code's schema (and to a storage format DuckDB >= 1.1 reads)."""
    before, after = dbmod.migrate_file(db)
    path = dbmod.locate(db).display
    said = "already at" if before == after else f"upgraded from version {before} to"
    console.print(f"{path}: {said} schema version {after}", highlight=False, markup=False)


@app.callback()
def _every_command(ctx: typer.Context,
                   data_path: Annotated[Optional[str], typer.Option(
                       "--data-path", help="Where a new lake keeps its data files: a folder (shared storage for a "
                       "team) or s3://... (default: $PREFDISSECT_DATA_PATH, else the one the lake remembers).")] = None
                   ) -> None:
    # the writer lock records who holds it, a lake's commit message names the job, and a job
    # queued behind another says so on stderr
    if data_path:
        os.environ[dbmod.ENV_DATA_PATH] = data_path
    dbmod.set_job(f"pipeline {ctx.invoked_subcommand}", base.argv_message or ctx.invoked_subcommand)
    dbmod.pin_snapshot(None)  # a command's own --at pins its reads; none is left from an earlier one
    dbmod.set_wait_reporter(lambda message: console.print(message, highlight=False, markup=False, soft_wrap=True))
