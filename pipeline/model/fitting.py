"""Fitting every judge x group: the dissection of SPEC section 6, stored in `fits` and `fit_runs`.

The work is split in three steps so that the database is never locked while numbers are
crunched (the app keeps reading during a fit):

1. read: one short read-only connection collects features, groups and labels;
2. compute: per group, X (usable pairs x 29) and for all its judges Y and a label mask,
   handed to `bayes` (all groups of one batch in one call);
3. write: one short transaction replaces the rows of the judges (and groups) fitted.

A judge with fewer than `min_labels` labels in a group is not fitted there: it gets a
'skipped' row in `fit_runs` saying why, and no weights.

Property sets (`properties.PROPERTY_SETS`): X's columns are the set's properties, and a
set uses the pairs that have a feature row for every one of them: `paper` the usable
annotated pairs, `style` every pair, `paper+style` the pairs that have both, `custom`
the pairs rated on every custom property. Rows in `fits` / `fit_runs` carry the set, and
a refit replaces only the rows of its own set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ..ingest import style_backfill
from ..properties.paper import PROPERTY_NAMES
from ..properties.sets import CUSTOM_SET, PAPER_SET, PROPERTY_SETS, SET_PARTS, STYLE_SET, set_names
from ..store import db as dbmod
from . import bayes, heldout
from .blas import one_blas_thread

MIN_LABELS = 30
ACCURACY_FOLDS = 5      # k of the held-out accuracy when the weights are not k-fold averaged
FIT_THREADS = max(1, min(4, os.cpu_count() or 1))  # groups fitted at once (numpy, BLAS, the EP loop drop the GIL)
FIT_SOURCE = "fit"      # fits.source of our own fits
METHOD = "ep"           # bayes' default: expectation propagation for the posterior mean

Progress = Callable[[int, int], None]


class FitError(ValueError):
    """The request can't be fitted (unknown judge or group, bad option); says why."""


@dataclass
class GroupData:
    """One group's usable pairs and every requested judge's labels on them."""

    name: str
    kind: str
    X: np.ndarray                 # (n, 29) features
    Y: np.ndarray                 # (J, n) 1 where the judge preferred response 1
    mask: np.ndarray              # (J, n) the judge labelled the pair
    judges: list[str]
    properties: list[str] = field(default_factory=lambda: list(PROPERTY_NAMES))  # X's columns


@dataclass
class RunRow:
    judge: str
    group_name: str
    group_kind: str
    status: str                   # 'fitted' or 'skipped'
    n_pairs: int
    accuracy: float | None = None
    note: str | None = None
    folds: int | None = None      # fold fits averaged: k capped at the group's pairs (1 = one fit)
    log_loss: float | None = None          # held-out metrics (pipeline/model/heldout.py)
    auc: float | None = None
    calibration_error: float | None = None


@dataclass
class FitReport:
    judges: list[str]
    groups: list[str]
    folds: int | None
    min_labels: int
    runs: list[RunRow] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    property_set: str = PAPER_SET
    backfilled: int = 0           # pairs that got their style rows first

    @property
    def fitted(self) -> int:
        return sum(r.status == "fitted" for r in self.runs)

    @property
    def skipped(self) -> list[RunRow]:
        return [r for r in self.runs if r.status == "skipped"]

    def summary(self) -> str:
        how = f"{self.folds}-fold averaged" if self.folds else "one fit per judge x group"
        return (f"fitted {self.fitted} judge x group models ({how}, properties: {self.property_set}), "
                f"skipped {len(self.skipped)} (under {self.min_labels} labels); {len(self.judges)} judges, "
                f"{len(self.groups)} groups, in {self.seconds.get('total', 0):.1f} s")

    def accuracy_line(self, limit: int = 8) -> str | None:
        """How much of each judge's choices the set explains: held-out accuracy in 'All'
        (else the mean over its fitted groups), e.g. 'style alone explains ...'."""
        by_judge: dict[str, list[float]] = {}
        in_all: dict[str, float] = {}
        for r in self.runs:
            if r.status == "fitted" and r.accuracy is not None and np.isfinite(r.accuracy):
                by_judge.setdefault(r.judge, []).append(r.accuracy)
                if r.group_kind == "all":
                    in_all[r.judge] = r.accuracy
        if not by_judge:
            return None
        acc = {j: in_all.get(j, float(np.mean(v))) for j, v in by_judge.items()}
        shown = ", ".join(f"{j} {a:.0%}" for j, a in list(acc.items())[:limit])
        more = f", ... ({len(acc) - limit} more in fit_runs)" if len(acc) > limit else ""
        where = "group All" if in_all else "mean over groups"
        return f"held-out accuracy with the {self.property_set} properties ({where}; 50% = chance): {shown}{more}"


# ------------------------------------------------------------------------------ read


def _labelled_judges(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT DISTINCT judge FROM labels ORDER BY judge").fetchall()]


def _pick(requested: Sequence[str] | None, available: list[str], what: str, hint: str = "") -> list[str]:
    """The requested names (in the order given), or all; unknown names are an error."""
    if not requested:
        return available
    unknown = [r for r in dict.fromkeys(requested) if r not in available]
    if unknown:
        raise FitError(f"unknown {what}: {', '.join(unknown)}{hint} (known: {', '.join(available) or 'none'})")
    return list(dict.fromkeys(requested))


def set_properties(con, property_set: str) -> list[str]:
    """X's columns for a property set: built-in names in registry order; `custom` from the
    `properties` table (written by `rate`) in its property_index order."""
    if property_set not in PROPERTY_SETS:
        raise FitError(f"unknown property set {property_set!r} (known: {', '.join(PROPERTY_SETS)})")
    if CUSTOM_SET not in SET_PARTS[property_set]:
        return set_names(property_set)
    names = [r[0] for r in con.execute("SELECT property FROM properties WHERE property_set = ? "
                                       "ORDER BY property_index", [CUSTOM_SET]).fetchall()]
    if not names:
        raise FitError("no custom properties are defined: rate some first (see the README, custom properties)")
    return names


def _feature_matrix(con, properties: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(pair ids, X) for every pair that has all the given properties, columns in that order."""
    cols = pa.table({"property": pa.array(properties, pa.string()),  # noqa: F841 - read by DuckDB below
                     "col": pa.array(range(len(properties)), pa.int32())})
    rows = con.execute("SELECT f.pair_id, c.col, f.value FROM features f JOIN cols c USING (property)").fetchnumpy()
    ids, inverse = np.unique(rows["pair_id"], return_inverse=True)
    X = np.zeros((len(ids), len(properties)))
    X[inverse, rows["col"]] = rows["value"]
    complete = np.bincount(inverse, minlength=len(ids)) == len(properties)  # (pair, property) is a key
    return ids[complete], X[complete]


def _group_data(con, ids: np.ndarray, X: np.ndarray, judges: list[str],
                groups: list[tuple[str, str]], properties: list[str]) -> list[GroupData]:
    members = con.execute("SELECT group_name, pair_id FROM pair_groups").fetchnumpy()
    labels = con.execute("SELECT judge, pair_id, preferred FROM labels WHERE list_contains(?, judge)",
                         [judges]).fetchnumpy()
    jpos = {j: i for i, j in enumerate(judges)}
    # One (judges x usable pairs) table of labels: 1/0 and a mask, then sliced per group.
    row = np.searchsorted(ids, labels["pair_id"]).clip(0, max(len(ids) - 1, 0))
    usable = (ids[row] == labels["pair_id"]) if len(ids) else np.zeros(len(row), bool)
    jrow = np.array([jpos[j] for j in labels["judge"]], dtype=int)
    Y = np.zeros((len(judges), len(ids)))
    M = np.zeros((len(judges), len(ids)), dtype=bool)
    Y[jrow[usable], row[usable]] = labels["preferred"][usable] == 1
    M[jrow[usable], row[usable]] = True
    out = []
    for name, kind in groups:
        pids = members["pair_id"][members["group_name"] == name]
        cols = np.searchsorted(ids, pids[np.isin(pids, ids)])
        cols.sort()
        out.append(GroupData(name, kind, X[cols], Y[:, cols], M[:, cols], judges, properties))
    return out


def read_inputs(db=None, *, judges: Sequence[str] | None = None, groups: Sequence[str] | None = None,
                property_set: str = PAPER_SET) -> list[GroupData]:
    """Everything a fit needs, read with one short read-only connection."""
    with dbmod.reading(db) as con:
        properties = set_properties(con, property_set)
        labelled = _labelled_judges(con)
        imported = {r[0] for r in con.execute("SELECT DISTINCT judge FROM fits WHERE source <> ?",
                                              [FIT_SOURCE]).fetchall()}
        hint = ""
        if judges and any(j in imported and j not in labelled for j in judges):
            hint = " (imported judges have weights but no labels, so they can't be refitted)"
        judges = _pick(judges, labelled, "judge", hint)
        if not judges:
            raise FitError("no judge has labels to fit: load data first (imported judges can't be refitted)")
        kinds = dict(con.execute(
            "SELECT group_name, min(group_kind) FROM pair_groups GROUP BY group_name").fetchall())
        names = _pick(groups, sorted(kinds, key=lambda g: (kinds[g] != "scenario", g)), "group")
        ids, X = _feature_matrix(con, properties)
        return _group_data(con, ids, X, judges, [(g, kinds[g]) for g in names], properties)


# ---------------------------------------------------------------------------- compute


def _eligible(group: GroupData, min_labels: int) -> tuple[np.ndarray, list[RunRow]]:
    """Which judges have enough labels here; 'skipped' rows for the others."""
    counts = group.mask.sum(1)
    ok = counts >= min_labels
    skipped = []
    for judge, n in zip(group.judges, counts):
        if n < min_labels:
            why = "no usable pairs in this group" if group.X.shape[0] == 0 else \
                f"only {n} labelled usable pairs in this group (fewer than {min_labels}); not fitted"
            skipped.append(RunRow(judge, group.name, group.kind, "skipped", int(n), note=why))
    return ok, skipped


def _problem(group: GroupData, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X, Y, mask for the eligible judges, without pairs none of them labelled."""
    mask = group.mask[ok]
    used = mask.any(0)
    return group.X[used], group.Y[ok][:, used], mask[:, used]


def _fit_one(problem, folds: int | None, seed: int):
    """Posterior summary and held-out metrics (heldout.HeldOut) of one group's (X, Y, mask)."""
    X, Y, M = problem
    if folds:
        return heldout.fit_kfold_scored(X, Y, M, k=folds, seed=seed, method=METHOD)
    summary = bayes.fit_many([problem], seed=seed, method=METHOD)[0]
    return summary, heldout.heldout_scores(X, Y, M, k=ACCURACY_FOLDS, seed=seed, method=METHOD)


def compute(groups: list[GroupData], *, folds: int | None = None, min_labels: int = MIN_LABELS,
            seed: int = 0, progress: Progress | None = None) -> tuple[list[RunRow], pa.Table]:
    """Fit every eligible judge x group. Returns fit_runs rows and the fits table.

    Groups are fitted on FIT_THREADS threads, largest first (so that a big group doesn't
    start last), one BLAS thread each: the products are many and small, and two threads
    on two cores beat one BLAS call on two (measured). Results come out in group order."""
    total = sum(len(g.judges) for g in groups)
    done = 0
    runs: list[RunRow] = []
    pending = []  # (group, eligible judges, problem)
    for g in groups:
        ok, skipped = _eligible(g, min_labels)
        runs += skipped
        done += len(skipped)
        if ok.any():
            pending.append((g, [j for j, k in zip(g.judges, ok) if k], _problem(g, ok)))
    _tick(progress, done, total)
    results = [None] * len(pending)
    by_size = sorted(range(len(pending)), key=lambda i: -pending[i][2][1].size)
    with one_blas_thread(), ThreadPoolExecutor(max_workers=FIT_THREADS) as pool:
        futures = {pool.submit(_fit_one, pending[i][2], folds, seed): i for i in by_size}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            done += len(pending[i][1])
            _tick(progress, done, total)
    fits: list[pa.Table] = []
    for (g, judges, (X, _, mask)), (summ, score) in zip(pending, results):
        k = min(folds, len(X)) if folds else None  # heldout.fit_kfold caps k the same way
        runs += [RunRow(j, g.name, g.kind, "fitted", int(n), note=_note(k), folds=k or 1, **score.row(i))
                 for i, (j, n) in enumerate(zip(judges, mask.sum(1)))]
        fits.append(_fit_rows(g.name, judges, summ, g.properties))
    return runs, pa.concat_tables(fits) if fits else _fit_rows("", [], None, [])


def _note(folds: int | None) -> str:
    k = folds or ACCURACY_FOLDS
    return (f"accuracy, log loss, AUC, calibration: held-out, {k}-fold"
            + (f"; weights averaged over {folds} fold fits" if folds else ""))


def _fit_rows(group_name: str, judges: list[str], s, properties: list[str]) -> pa.Table:
    """One row per judge x property, columns as in the fits table."""
    P = len(properties)
    n = len(judges) * P
    empty = np.zeros(n)
    return pa.table({
        "judge": pa.array(np.repeat(judges, P).tolist(), pa.string()),
        "group_name": pa.array([group_name] * n, pa.string()),
        "property": pa.array(list(properties) * len(judges), pa.string()),
        **{col: pa.array(np.ravel(getattr(s, attr)) if s is not None else empty, pa.float64())
           for col, attr in [("weight", "mean"), ("sd", "sd"), ("ci_low", "ci_low"), ("ci_high", "ci_high")]},
    })


def _tick(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


# ------------------------------------------------------------------------------ write


def write_results(db, runs: list[RunRow], fits: pa.Table, *, judges: list[str],
                  groups: list[str] | None, property_set: str = PAPER_SET) -> None:
    """Replace the fitted judges' rows of this property set (in the chosen groups, or all)
    in one transaction."""
    if not judges:
        return
    metrics = ("accuracy", "log_loss", "auc", "calibration_error")
    runs_t = pa.table({  # noqa: F841 - read by DuckDB below
        "judge": pa.array([r.judge for r in runs], pa.string()),
        "group_name": pa.array([r.group_name for r in runs], pa.string()),
        "group_kind": pa.array([r.group_kind for r in runs], pa.string()),
        "status": pa.array([r.status for r in runs], pa.string()),
        "n_pairs": pa.array([r.n_pairs for r in runs], pa.int32()),
        **{m: pa.array([getattr(r, m) for r in runs], pa.float64()) for m in metrics},
        "note": pa.array([r.note for r in runs], pa.string()),
        "folds": pa.array([r.folds for r in runs], pa.int32())})
    fits_t = fits  # noqa: F841 - read by DuckDB below
    where = "property_set = ? AND list_contains(?, judge)" + (" AND list_contains(?, group_name)" if groups else "")
    params = [property_set, judges] + ([groups] if groups else [])
    with dbmod.writing(db) as con:
        con.execute(f"DELETE FROM fits WHERE {where}", params)
        con.execute(f"DELETE FROM fit_runs WHERE {where}", params)
        con.execute("INSERT INTO fits (judge, group_name, property_set, property, weight, sd, ci_low, ci_high, "
                    "source) SELECT judge, group_name, ?, property, weight, sd, ci_low, ci_high, ? FROM fits_t",
                    [property_set, FIT_SOURCE])
        con.execute(f"INSERT INTO fit_runs (judge, group_name, property_set, group_kind, status, n_pairs, "
                    f"{', '.join(metrics)}, method, folds, note) SELECT judge, group_name, ?, group_kind, status, "
                    f"n_pairs, {', '.join(metrics)}, CASE WHEN status = 'fitted' THEN ? END, folds, note FROM runs_t",
                    [property_set, METHOD])


# ------------------------------------------------------------------------------- all


def fit_database(db=None, *, judges: Sequence[str] | None = None, groups: Sequence[str] | None = None,
                 folds: int | None = None, min_labels: int = MIN_LABELS, seed: int = 0,
                 progress: Progress | None = None, property_set: str = PAPER_SET) -> FitReport:
    """Fit every (or the chosen) judge x group on a property set and store the posterior summaries.

    `folds=K` averages the posterior over K training splits, as the original's option
    does; otherwise one fit on all of a group's pairs. Only the chosen judges' rows (in
    the chosen groups, of this property set) are replaced: adding a judge and fitting it
    leaves the others be. A style set first computes the style rows of pairs stored
    without them (`style.backfill`).
    """
    if folds is not None and folds < 1:
        raise FitError(f"--folds must be at least 2 (or 1 for one fit on all pairs), got {folds}")
    folds = folds if folds and folds > 1 else None
    if min_labels < 1:
        raise FitError(f"--min-labels must be at least 1, got {min_labels}")
    if property_set not in PROPERTY_SETS:
        raise FitError(f"unknown property set {property_set!r} (known: {', '.join(PROPERTY_SETS)})")
    t0 = time.perf_counter()
    data = read_inputs(db, judges=judges, groups=groups, property_set=property_set)  # checks names first
    backfilled = 0
    if STYLE_SET in SET_PARTS[property_set]:
        backfilled = style_backfill.backfill(db)
        if backfilled:
            data = read_inputs(db, judges=judges, groups=groups, property_set=property_set)
    t1 = time.perf_counter()
    runs, fits = compute(data, folds=folds, min_labels=min_labels, seed=seed, progress=progress)
    t2 = time.perf_counter()
    fitted_judges = data[0].judges if data else list(judges or [])
    write_results(db, runs, fits, judges=fitted_judges, groups=list(groups) if groups else None,
                  property_set=property_set)
    t3 = time.perf_counter()
    report = FitReport(fitted_judges, [g.name for g in data], folds, min_labels, runs, property_set=property_set,
                       backfilled=backfilled)
    report.seconds = {"read": t1 - t0, "fit": t2 - t1, "write": t3 - t2, "total": t3 - t0}
    return report


__all__ = ["FitError", "FitReport", "GroupData", "RunRow", "compute", "fit_database", "read_inputs",
           "set_properties", "write_results", "MIN_LABELS"]
