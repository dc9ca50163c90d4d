"""Planning an annotation job: which pairs, which calls, what they may cost. Changes nothing.

Two sources of pairs: a file of new raw pairs (`plan_job`), or pairs already stored in
the database without the paper's annotations (`plan_stored`: `pairs.annotated = FALSE`,
picked by a SQL condition, a cap and/or a seeded sample). The calls each pair needs
come from the protocol (`Protocol.expected_calls`); answers the journal already holds
are counted as reused, and the rest are estimated with the shared token estimator.

A job's plan holds every pair it will annotate. What a page shows before a job starts can be a
preview (`plan_stored(..., preview=N)`): of a million stored pairs, N spread over them are read and
planned, and the calls and cost scaled to all (reading and planning every pair took minutes).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from ..store import db as dbmod
from ..store.errors import DatabaseError
from ..llm.errors import PlanUnreadable
from ..llm import CallJournal, LLMSettings, journal_path, price_for, settings_from_env
from ..llm.cache import lookup
from ..llm.estimate import CallEstimate
from ..ingest.writing import pair_key, stored_by_key
from ..names import check_name
from .inputs import InputError, InputReport, RawPair, read_pairs
from .protocol import Protocol, expected_output_tokens
from .steps import FACTS, REFERENCE, PairTask


PREVIEW_PAIRS = 2_000  # pairs a page's preview reads and plans (`plan_stored(preview=...)`)


@dataclass
class JobPlan(CallEstimate):
    input: Path | None                          # the file of raw pairs; None for stored pairs
    db: str                                     # the database as --db names it (a file or ducklake:...)
    journal: Path                               # next to the file, or the lake's local anchor
    settings: LLMSettings
    rows: int
    tasks: list[PairTask]                       # pairs to annotate
    present: list[PairTask]                     # already in the database: only their labels are added
    skipped: list[tuple[int, str]]              # (row, reason)
    calls_total: int = 0                        # calls the pairs need (step 2 counted where it may apply)
    batch: bool = False
    where: str | None = None                    # stored pairs: the condition that picked them
    stored_ids: list[int] = field(default_factory=list)   # stored pairs: their pair ids, in task order
    problems: list[str] = field(default_factory=list)   # why it cannot start (no API key, ...)
    # stored pairs: how many pairs a preview stands for (its tasks are a spread of them, its calls and
    # cost scaled to all); None when every pair was planned. A preview is shown, never run.
    preview_of: int | None = None
    preview_queries: int | None = None   # a preview: the distinct queries of all the pairs it stands for

    @property
    def stored(self) -> bool:
        return self.input is None

    @property
    def n_pairs(self) -> int:
        """The pairs to annotate (all of them, for a preview too)."""
        return len(self.tasks) if self.preview_of is None else self.preview_of

    @property
    def source_name(self) -> str:
        """The loader's source name for the annotated records."""
        return "annotated:stored pairs" if self.stored else f"annotated:{check_name(self.input.name)}"

    @property
    def skipped_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, reason in self.skipped:
            out[reason] = out.get(reason, 0) + 1
        return out

    def lines(self) -> list[str]:
        s = self.settings
        mode = "Batch API (half price, results within 24 h)" if self.batch else f"online, {s.concurrency} at a time"
        if self.stored:
            head = [f"stored pairs without the paper's annotations{f' where {self.where}' if self.where else ''}: "
                    f"{self.rows} match, {self.n_pairs} to annotate (filled in place)"]
            if self.preview_of is not None:
                head.append(f"a preview: calls and cost estimated from {len(self.tasks)} of the {self.preview_of} "
                            "pairs, spread over them; the job plans every pair when it starts")
        else:
            skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped_counts.items())) or "none"
            head = [f"input: {self.input} ({self.rows} rows; left out: {skipped})",
                    f"pairs to annotate: {len(self.tasks)}"
                    + (f"; already in the database: {len(self.present)} (only their human labels are added)"
                       if self.present else "")]
        return [*head, f"model: {s.model} at {s.server}; {mode}", *self.call_lines(),
                *(f"cannot start: {p}" for p in self.problems)]


def _settings(settings: LLMSettings | None, **options) -> LLMSettings:
    return (settings or settings_from_env()).with_(**options)


def plan_job(file: str | Path, *, db=None, model: str | None = None, max_pairs: int | None = None,
             concurrency: int | None = None, retry_failed: bool = False, batch: bool = False,
             settings: LLMSettings | None = None, timeout: float | None = None) -> JobPlan:
    """Read the input and count what a run would do and cost; changes nothing anywhere.

    Raises InputError for an unreadable file, and lets a database that cannot be read
    raise (pipeline.store.errors): a plan that cannot see what is stored must not start calls.
    """
    settings = _settings(settings, model=model, concurrency=concurrency, timeout=timeout)
    report: InputReport = read_pairs(file)
    db_name = dbmod.database_name(db)
    pairs = report.pairs[:max_pairs] if max_pairs is not None else report.pairs
    skipped = list(report.skipped)
    keys = [pair_key(pair.query, pair.response_1, pair.response_2) for pair in pairs]
    known = _keys_in_db(db_name, set(keys))
    tasks, present, seen = [], [], {}
    for pair, key in zip(pairs, keys):
        if key in seen:
            skipped.append((pair.position, "same pair as an earlier row"))
            continue
        seen[key] = pair.position
        (present if key in known else tasks).append(PairTask(pair, key))
    plan = JobPlan(input=Path(file), db=db_name, journal=_journal(db), settings=settings,
                   rows=report.rows, tasks=tasks, present=present, skipped=sorted(skipped), batch=batch,
                   retry_failed=retry_failed, price=price_for(settings.model))
    return _finish_plan(plan)


def plan_stored(where: str | None = None, *, db=None, model: str | None = None, max_pairs: int | None = None,
                sample: int | None = None, seed: int = 0, concurrency: int | None = None,
                retry_failed: bool = False, batch: bool = False, settings: LLMSettings | None = None,
                timeout: float | None = None, preview: int | None = None) -> JobPlan:
    """Plan the paper's protocol for stored pairs that lack its annotations (`pairs.annotated = FALSE`).

    `where` is a SQL condition on the pairs and their attributes (pipeline.groups.pair_ids);
    `sample` picks that many of the matching pairs at random (`seed`), `max_pairs` caps
    the count (the first by pair id). Raises InputError for a refused condition.
    `preview`: where more pairs are picked, only that many of them (evenly spread) are read and
    planned, and the calls, tokens and cost are scaled to all of them (`JobPlan.preview_of`).
    """
    settings = _settings(settings, model=model, concurrency=concurrency, timeout=timeout)
    db_name = dbmod.database_name(db)
    ids = _stored_ids(db_name, where)
    picked = ids
    if sample is not None and sample < len(ids):
        picked = sorted(random.Random(seed).sample(ids, sample))
    if max_pairs is not None:
        picked = picked[:max_pairs]
    planned = picked
    preview = None if preview is None else max(preview, 1)
    if preview is not None and len(picked) > preview:
        planned = [picked[len(picked) * i // preview] for i in range(preview)]
    rows = _stored_rows(db_name, planned)
    queries = _distinct_queries(db_name, picked) if planned is not picked else None
    tasks = [PairTask(RawPair(position=pid, query=q, response_1=r1, response_2=r2, model_1=m1, model_2=m2,
                              source_id=pid), key) for pid, key, q, r1, r2, m1, m2 in rows]
    plan = JobPlan(input=None, db=db_name, journal=_journal(db), settings=settings, rows=len(ids),
                   tasks=tasks, present=[], skipped=[], batch=batch, retry_failed=retry_failed,
                   price=price_for(settings.model), where=where, stored_ids=[r[0] for r in rows],
                   preview_of=len(picked) if planned is not picked else None, preview_queries=queries)
    return _finish_plan(plan)


def _journal(db) -> Path:
    """The job's call journal: a local file beside the database (a lake's anchor, location.py)."""
    return journal_path(dbmod.resolve_db_path(db))


def _plan_read(read):
    """A read of the database for a plan: an error that is not one of ours (a file DuckDB cannot
    read) is one PlanUnreadable line, never taken for an empty database."""
    @functools.wraps(read)
    def reading(db_path: str, *args):
        try:
            return read(db_path, *args)
        except (DatabaseError, InputError):
            raise
        except duckdb.Error as exc:
            raise PlanUnreadable.of(dbmod.locate(db_path).display, exc) from None
    return reading


@_plan_read
def _stored_ids(db_path: str, where: str | None) -> list[int]:
    """The ids of the stored pairs without annotations that the condition picks, in order."""
    sql = "SELECT pair_id FROM pairs WHERE NOT annotated"
    with dbmod.reading(db_path) as con:
        if not con.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'pairs' "
                           "AND column_name = 'annotated'").fetchone():
            raise InputError(f"{dbmod.locate(db_path).display} has no pairs.annotated column: run `python -m pipeline migrate`")
    if where and where.strip():
        # The same condition language as `group add` and `rate --where`: pairs columns plus
        # attributes (language, is_code, ...), checked and bound on a guarded connection.
        from ..groups import GroupError, pair_ids  # noqa: PLC0415 - only stored-pair plans

        try:
            among_ids = _id_table(pair_ids(db_path, where))  # noqa: F841 - read by name in _AMONG
        except GroupError as exc:
            raise InputError(f"--where {where!r} cannot be used: {exc}") from None
        sql += _AMONG
    with dbmod.reading(db_path) as con:
        return [pid for (pid,) in con.execute(sql + " ORDER BY pair_id").fetchall()]


# A semi-join on the ids of an Arrow table the statement reads by name (`among_ids`, a local of
# the caller): list_contains compared each pair with every id (a million squared where a condition
# picks most of a million pairs), and a million ids as a list parameter took 1.3 s to bind.
_AMONG = " AND pair_id IN (SELECT pair_id FROM among_ids)"


def _id_table(ids: list[int]) -> pa.Table:
    return pa.table({"pair_id": pa.array(ids, pa.int64())})


@_plan_read
def _stored_rows(db_path: str, ids: list[int]) -> list[tuple]:
    """The pairs of these ids (still without annotations), in id order, with what a task needs."""
    if not ids:
        return []
    among_ids = _id_table(ids)  # noqa: F841 - read by name in _AMONG
    with dbmod.reading(db_path) as con:
        return con.execute("SELECT pair_id, pair_key, query, response_1, response_2, model_1, model_2 FROM pairs "
                           f"WHERE NOT annotated{_AMONG} ORDER BY pair_id").fetchall()


@_plan_read
def _distinct_queries(db_path: str, ids: list[int]) -> int:
    """How many distinct queries these pairs ask (a preview's query-level calls scale with it)."""
    among_ids = _id_table(ids)  # noqa: F841 - read by name in _AMONG
    with dbmod.reading(db_path) as con:
        return con.execute(f"SELECT count(DISTINCT query) FROM pairs WHERE NOT annotated{_AMONG}").fetchone()[0]


def _finish_plan(plan: JobPlan) -> JobPlan:
    if not plan.settings.api_key:
        plan.problems.append("OPENAI_API_KEY is not set (environment or .env)")
    _estimate(plan)
    return plan


@_plan_read
def _keys_in_db(db_path: str, keys: set[str]) -> set[str]:
    """Those of `keys` that are stored (the file's, looked up: every stored key of millions of pairs
    took seconds and hundreds of MB)."""
    if not dbmod.exists(db_path) or not keys:
        return set()
    with dbmod.reading(db_path) as con:
        return {k for k, _ in stored_by_key(con, keys, "1")}


# the steps a query asks once, whatever the pairs that share it: a preview scales them by queries
QUERY_STEPS = frozenset({REFERENCE, FACTS})


@dataclass
class _Tally:
    """The calls of one kind of step a plan counted: needed, answered, failed, and those still to make."""
    total: int = 0
    cached: int = 0
    failed: int = 0
    todo: list = field(default_factory=list)
    completion: int = 0


def _estimate(plan: JobPlan) -> None:
    """Count calls, reuse answers the journal holds, and estimate the rest's tokens and cost."""
    proto = Protocol(plan.settings)
    journal = CallJournal(plan.journal) if plan.journal.exists() else None

    def settled(req, validate):
        return None if journal is None else lookup(journal, req, validate, write=False).result

    seen: set[str] = set()  # pairs that share a request (same query, same responses) share its call
    tallies = {True: _Tally(), False: _Tally()}  # by whether the step is a query's (QUERY_STEPS)
    try:
        for task in plan.tasks:
            for call in proto.expected_calls(task, settled, plan.retry_failed):
                if call.request.hash in seen:
                    continue
                seen.add(call.request.hash)
                tally = tallies[call.step in QUERY_STEPS]
                tally.total += 1
                if call.found is not None and call.found.ok:
                    tally.cached += 1
                    continue
                if call.found is not None:
                    tally.failed += 1
                    if not plan.retry_failed:
                        continue
                tally.todo.append(call.request)
                tally.completion += expected_output_tokens(call.step)
    finally:
        if journal:
            journal.close()
    factors = _preview_factors(plan)
    plan.estimate_parts(plan.settings.model, [(tally.todo, tally.completion, factors[by_query])
                                              for by_query, tally in tallies.items()], batch=plan.batch)
    for name in ("total", "cached", "failed"):
        setattr(plan, f"calls_{name}", round(sum(getattr(t, name) * factors[q] for q, t in tallies.items())))


def _preview_factors(plan: JobPlan) -> dict[bool, float]:
    """How many times its count each planned call stands for, by whether it is a query's: 1 for a
    full plan; for a preview, all pairs / planned pairs, and a query's steps all queries / planned
    queries (pairs that share a query share its calls: scaled by pairs, they were counted again)."""
    if plan.preview_of is None or not plan.tasks:
        return {True: 1.0, False: 1.0}
    by_pair = plan.preview_of / len(plan.tasks)
    planned_queries = len({task.pair.query for task in plan.tasks})
    by_query = by_pair if plan.preview_queries is None else plan.preview_queries / planned_queries
    return {True: by_query, False: by_pair}


