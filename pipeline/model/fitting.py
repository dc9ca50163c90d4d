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

Each fitted run also stores the baselines of its held-out accuracy and log loss (same
folds, pipeline/model/heldout.py) and the layout facts behind the warnings of
pipeline/model/fit_warnings.py. `adjust='models'` fits the response models' strengths
alongside the weights (pipeline/model/adjusted.py), stored under the set `<set>@models`.
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
from . import bayes, fit_warnings, heldout
from .adjusted import ADJUSTS, adjusted_set, model_design
from .blas import one_blas_thread
from .fit_report import FitReport, RunRow

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
    model_1: np.ndarray | None = None   # (n,) who wrote each response (None: not known)
    model_2: np.ndarray | None = None
    prior_scale: np.ndarray | None = None  # per column of X, where X has more than the properties


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
    model_1, model_2 = _models(con, ids)
    out = []
    for name, kind in groups:
        pids = members["pair_id"][members["group_name"] == name]
        cols = np.searchsorted(ids, pids[np.isin(pids, ids)])
        cols.sort()
        out.append(GroupData(name, kind, X[cols], Y[:, cols], M[:, cols], judges, properties,
                             model_1[cols], model_2[cols]))
    return out


def _models(con, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """model_1 and model_2 of the pairs `ids` (sorted), None where not known."""
    rows = con.execute("SELECT pair_id, model_1, model_2 FROM pairs ORDER BY pair_id").fetchall()
    known = {r[0]: (r[1], r[2]) for r in rows}
    m1 = np.array([known.get(int(i), (None, None))[0] for i in ids], dtype=object)
    m2 = np.array([known.get(int(i), (None, None))[1] for i in ids], dtype=object)
    return m1, m2


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


def _with_models(group: GroupData) -> GroupData | None:
    """The group's pairs that name both response models, with the strengths' columns
    (adjusted.model_design); None when no two models meet there."""
    if group.model_1 is None:
        return None
    design = model_design(group.X, group.model_1, group.model_2)
    if design is None:
        return None
    r = design.rows
    return GroupData(group.name, group.kind, design.X, group.Y[:, r], group.mask[:, r], group.judges,
                     group.properties, group.model_1[r], group.model_2[r], design.prior_scale)


def _facts(group: GroupData, judge_rows: np.ndarray) -> list[dict]:
    """Per judge row: the layout facts of fit_warnings on the pairs it labelled."""
    out = []
    for j in judge_rows:
        m = group.mask[j]
        models = group.model_1[m] if group.model_1 is not None else [None]
        out.append({"share_response_1": fit_warnings.share_response_1(group.Y[j][m]),
                    "constant_model_1": fit_warnings.constant_model(models)})
    return out


def _fit_one(problem, folds: int | None, seed: int, prior_scale=None):
    """Posterior summary and held-out metrics (heldout.HeldOut) of one group's (X, Y, mask)."""
    X, Y, M = problem
    kw = {"method": METHOD} if prior_scale is None else {"method": METHOD, "prior_scale": prior_scale}
    if folds:
        return heldout.fit_kfold_scored(X, Y, M, k=folds, seed=seed, **kw)
    summary = bayes.fit_many([problem], seed=seed, **kw)[0]
    return summary, heldout.heldout_scores(X, Y, M, k=ACCURACY_FOLDS, seed=seed, **kw)


def compute(groups: list[GroupData], *, folds: int | None = None, min_labels: int = MIN_LABELS,
            seed: int = 0, progress: Progress | None = None,
            adjust: str | None = None) -> tuple[list[RunRow], pa.Table]:
    """Fit every eligible judge x group. Returns fit_runs rows and the fits table.
    adjust='models': with the response models' strengths (only pairs that name both).

    Groups are fitted on FIT_THREADS threads, largest first (so that a big group doesn't
    start last), one BLAS thread each: the products are many and small, and two threads
    on two cores beat one BLAS call on two (measured). Results come out in group order."""
    total = sum(len(g.judges) for g in groups)
    done = 0
    runs: list[RunRow] = []
    pending = []  # (group, eligible judges, problem)
    for g in groups:
        if adjust:
            adjusted = _with_models(g)
            if adjusted is None:
                runs += [RunRow(j, g.name, g.kind, "skipped", 0, adjust=adjust,
                                note="no two response models meet in this group's pairs: nothing to adjust for")
                         for j in g.judges]
                done += len(g.judges)
                continue
            g = adjusted
        ok, skipped = _eligible(g, min_labels)
        for r in skipped:
            r.adjust = adjust
        runs += skipped
        done += len(skipped)
        if ok.any():
            used = g.mask[ok].any(0)
            sub = GroupData(g.name, g.kind, *_problem(g, ok), [j for j, k in zip(g.judges, ok) if k],
                            g.properties, *(None if m is None else m[used] for m in (g.model_1, g.model_2)),
                            g.prior_scale)
            pending.append((sub, sub.judges, (sub.X, sub.Y, sub.mask)))
    _tick(progress, done, total)
    results = [None] * len(pending)
    by_size = sorted(range(len(pending)), key=lambda i: -pending[i][2][1].size)
    with one_blas_thread(), ThreadPoolExecutor(max_workers=FIT_THREADS) as pool:
        futures = {pool.submit(_fit_one, pending[i][2], folds, seed, pending[i][0].prior_scale): i
                   for i in by_size}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            done += len(pending[i][1])
            _tick(progress, done, total)
    fits: list[pa.Table] = []
    for (g, judges, (X, _, mask)), (summ, score) in zip(pending, results):
        k = min(folds, len(X)) if folds else None  # heldout.fit_kfold caps k the same way
        facts = _facts(g, np.arange(len(judges)))
        runs += [RunRow(j, g.name, g.kind, "fitted", int(n), note=_note(k, adjust), folds=k or 1, adjust=adjust,
                        **score.row(i), **facts[i])
                 for i, (j, n) in enumerate(zip(judges, mask.sum(1)))]
        fits.append(_fit_rows(g.name, judges, summ, g.properties))
    return runs, pa.concat_tables(fits) if fits else _fit_rows("", [], None, [])


def _note(folds: int | None, adjust: str | None = None) -> str:
    k = folds or ACCURACY_FOLDS
    return (f"accuracy, log loss, AUC, calibration: held-out, {k}-fold"
            + (f"; weights averaged over {folds} fold fits" if folds else "")
            + ("; fitted with the response models' strengths (weights at equal models)" if adjust else ""))


def _fit_rows(group_name: str, judges: list[str], s, properties: list[str]) -> pa.Table:
    """One row per judge x property, columns as in the fits table."""
    P = len(properties)
    n = len(judges) * P
    empty = np.zeros(n)
    return pa.table({
        "judge": pa.array(np.repeat(judges, P).tolist(), pa.string()),
        "group_name": pa.array([group_name] * n, pa.string()),
        "property": pa.array(list(properties) * len(judges), pa.string()),
        **{col: pa.array(np.ravel(getattr(s, attr)[:, :P]) if s is not None else empty, pa.float64())
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
    metrics = heldout.METRICS + ("share_response_1",)
    runs_t = pa.table({  # noqa: F841 - read by DuckDB below
        "judge": pa.array([r.judge for r in runs], pa.string()),
        "group_name": pa.array([r.group_name for r in runs], pa.string()),
        "group_kind": pa.array([r.group_kind for r in runs], pa.string()),
        "status": pa.array([r.status for r in runs], pa.string()),
        "n_pairs": pa.array([r.n_pairs for r in runs], pa.int32()),
        **{m: pa.array([getattr(r, m) for r in runs], pa.float64()) for m in metrics},
        "note": pa.array([r.note for r in runs], pa.string()),
        "constant_model_1": pa.array([r.constant_model_1 for r in runs], pa.string()),
        "adjust": pa.array([r.adjust for r in runs], pa.string()),
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
                    f"{', '.join(metrics)}, constant_model_1, adjust, method, folds, note) SELECT judge, group_name, ?, "
                    f"group_kind, status, n_pairs, {', '.join(metrics)}, constant_model_1, adjust, "
                    f"CASE WHEN status = 'fitted' THEN ? END, folds, note FROM runs_t",
                    [property_set, METHOD])


# ------------------------------------------------------------------------------- all


def _names_models(db) -> bool:
    with dbmod.reading(db) as con:
        return con.execute("SELECT count(*) FROM pairs WHERE model_1 IS NOT NULL AND model_2 IS NOT NULL "
                           "AND model_1 <> model_2").fetchone()[0] > 0


def fit_database(db=None, *, judges: Sequence[str] | None = None, groups: Sequence[str] | None = None,
                 folds: int | None = None, min_labels: int = MIN_LABELS, seed: int = 0,
                 progress: Progress | None = None, property_set: str = PAPER_SET,
                 adjust: str | None = None) -> FitReport:
    """Fit every (or the chosen) judge x group on a property set and store the posterior summaries.

    `folds=K` averages the posterior over K training splits, as the original's option
    does; otherwise one fit on all of a group's pairs. Only the chosen judges' rows (in
    the chosen groups, of this property set) are replaced: adding a judge and fitting it
    leaves the others be. A style set first computes the style rows of pairs stored
    without them (`style.backfill`). adjust='models' fits the weights at equal response
    models (pipeline/model/adjusted.py), stored under the set `<set>@models`.
    """
    if folds is not None and folds < 1:
        raise FitError(f"--folds must be at least 2 (or 1 for one fit on all pairs), got {folds}")
    folds = folds if folds and folds > 1 else None
    if min_labels < 1:
        raise FitError(f"--min-labels must be at least 1, got {min_labels}")
    if property_set not in PROPERTY_SETS:
        raise FitError(f"unknown property set {property_set!r} (known: {', '.join(PROPERTY_SETS)})")
    if adjust is not None and adjust not in ADJUSTS:
        raise FitError(f"unknown --adjust {adjust!r} (known: {', '.join(ADJUSTS)})")
    t0 = time.perf_counter()
    data = read_inputs(db, judges=judges, groups=groups, property_set=property_set)  # checks names first
    if adjust and not _names_models(db):  # before the backfill: a refused fit writes nothing
        raise FitError("--adjust models needs pairs that name the models that wrote them (pairs.model_1, "
                       "model_2); no pair here does")
    backfilled = 0
    if STYLE_SET in SET_PARTS[property_set]:
        backfilled = style_backfill.backfill(db)
        if backfilled:
            data = read_inputs(db, judges=judges, groups=groups, property_set=property_set)
    t1 = time.perf_counter()
    runs, fits = compute(data, folds=folds, min_labels=min_labels, seed=seed, progress=progress, adjust=adjust)
    t2 = time.perf_counter()
    fitted_judges = data[0].judges if data else list(judges or [])
    write_results(db, runs, fits, judges=fitted_judges, groups=list(groups) if groups else None,
                  property_set=adjusted_set(property_set, adjust))
    t3 = time.perf_counter()
    report = FitReport(fitted_judges, [g.name for g in data], folds, min_labels, runs, property_set=property_set,
                       backfilled=backfilled, adjust=adjust)
    report.seconds = {"read": t1 - t0, "fit": t2 - t1, "write": t3 - t2, "total": t3 - t0}
    return report


__all__ = ["FitError", "FitReport", "GroupData", "RunRow", "compute", "fit_database", "read_inputs",
           "set_properties", "write_results", "MIN_LABELS"]
