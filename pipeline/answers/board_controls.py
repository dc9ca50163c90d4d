"""The controls of a leaderboard: their form, and which of them a board can fit.

- `measure_matrix`: each response's measures (tokens, headers, ...) for the pairs of a group,
  read from `response_counts` (a column per measure), or counted from the texts
  (`properties.style.style_counts`) in a database made before the measures were kept.
- `continuous`: LMArena's control form, the normalised difference (a - b) / (a + b) of a
  measure (0 when both are 0), standardised over the battles. The `sign` form is the
  property's stored -1/0/+1 feature.
- `prune`: a control constant in the battles is left out; controls identical (or opposite)
  in every battle are merged into one; a control that is a linear combination of the models
  and the controls before it is left out. Without this, a degenerate control has no
  estimate and stretches every interval (two identical controls gave +-138 in the demo).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..model.blas import one_blas_thread
from ..properties import style
from ..queries import leaderboard as q

FORMS = ("sign", "continuous")


def measure_of(prop: str) -> str | None:
    """The measure a style property is counted from ('length (tokens)' -> 'tokens'); None for others."""
    p = style.STYLE_BY_NAME.get(prop)
    return None if p is None else p.count.__name__


MEASURES = [p.count.__name__ for p in style.STYLE_PROPERTIES]


def measure_matrix(con, names: Sequence[str], group: str, *, all_pairs: bool, pair_ids: Sequence[int] | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pair ids sorted, M1 (n, k), M2 (n, k)): the measures of response 1 and 2; NaN where missing.
    With `pair_ids`, of those pairs of the group only."""
    names = list(names)
    if q.has_measures(con):
        rows = q.measures(con, names, group, all_pairs=all_pairs, pair_ids=pair_ids)
        ids = np.unique(rows["pair_id"])
        out = np.full((2, len(ids), len(names)), np.nan)
        side, at = rows["side"].astype(int) - 1, np.searchsorted(ids, rows["pair_id"])
        for j, m in enumerate(names):
            out[side, at, j] = rows[m]
        return ids, out[0], out[1]
    import polars as pl

    texts = q.texts(con, group, all_pairs=all_pairs)
    if pair_ids is not None:
        texts = texts.filter(pl.col("pair_id").is_in(list(pair_ids)))
    ids = texts["pair_id"].to_numpy()
    counters = {p.count.__name__: p.count for p in style.STYLE_PROPERTIES}
    M = []
    for k in (1, 2):  # only the measures asked for: the regular expressions are the cost
        cols = [texts.select(counters[m](pl.col(f"response_{k}").fill_null("")).cast(pl.Float64)).to_series().to_numpy()
                if m in counters else np.full(len(ids), np.nan) for m in names]
        M.append(np.column_stack(cols) if cols else np.zeros((len(ids), 0)))
    return ids, M[0], M[1]


def normalised_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a - b) / (a + b), 0 where both are 0 (LMArena's style features before standardising)."""
    total = a + b
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total == 0, 0.0, (a - b) / np.where(total == 0, 1.0, total))


def standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X - mean) / sd per column over the finite rows; a column with sd 0 is only centred."""
    mean = np.nanmean(X, axis=0) if len(X) else np.zeros(X.shape[1])
    sd = np.nanstd(X, axis=0) if len(X) else np.ones(X.shape[1])
    sd = np.where(sd > 0, sd, 1.0)
    return (X - mean) / sd, mean, sd


def prune(X: np.ndarray, names: Sequence[str], m1: np.ndarray, m2: np.ndarray
          ) -> tuple[np.ndarray, list[str], list[str]]:
    """Controls a board can fit: (X kept, their names, one line per control left out or merged)."""
    names = list(names)
    notes: list[str] = []
    keep: list[int] = []
    merged: dict[int, list[str]] = {}
    for j in range(X.shape[1]):
        col = X[:, j]
        if len(col) == 0 or np.ptp(col) == 0:
            notes.append(f"{names[j]}: constant in the battles, left out")
            continue
        twin = next((i for i in keep if np.array_equal(X[:, i], col) or np.array_equal(X[:, i], -col)), None)
        if twin is not None:
            merged.setdefault(twin, []).append(names[j])
            continue
        keep.append(j)
    for i, others in merged.items():
        notes.append(f"{' & '.join([names[i]] + others)}: identical in every battle, merged into one control")
    # Linear dependence on the models and the controls before: greedy on the Gram matrix.
    models = sorted(set(m1.tolist()) | set(m2.tolist()), key=str)
    index = {m: i for i, m in enumerate(models)}
    A = np.zeros((len(m1), max(len(models) - 1, 0) + len(keep)))
    rows = np.arange(len(m1))
    a, b = np.array([index[v] for v in m1], int), np.array([index[v] for v in m2], int)
    for side, sign in ((a, 1.0), (b, -1.0)):
        ok = side > 0
        A[rows[ok], side[ok] - 1] += sign
    base = max(len(models) - 1, 0)
    A[:, base:] = X[:, keep]
    with one_blas_thread():  # a small product: threads only contend for it
        G = A.T @ A
    chosen = list(range(base))
    final: list[int] = []
    for k, j in enumerate(keep):
        trial = chosen + [base + k]
        sub = G[np.ix_(trial, trial)]
        if np.linalg.matrix_rank(sub, tol=1e-8 * max(np.abs(sub).max(), 1.0)) == len(trial):
            chosen, final = trial, final + [j]
        else:
            notes.append(f"{names[j]}: a linear combination of the models and other controls, left out")
    label = {i: " & ".join([names[i]] + merged.get(i, [])) for i in final}
    return X[:, final], [label[i] for i in final], notes


def continuous_features(battles, rows: dict, names: list[str | None], measured) -> None:
    """Replace each style property's sign feature by its normalised measure difference, standardised
    over each judge's battles; other properties keep their sign features."""
    ids, M1, M2 = measured
    have = [m for m in names if m]
    for b in battles:
        sel = rows["judge"] == b.judge
        pid = rows["pair_id"][sel]
        pos = np.searchsorted(ids, pid).clip(0, max(len(ids) - 1, 0))
        found = (ids[pos] == pid) if len(ids) else np.zeros(len(pid), bool)
        for j, m in enumerate(names):
            if m is None:
                continue
            k = have.index(m)
            d = np.full(len(pid), np.nan)
            d[found] = normalised_difference(M1[pos[found], k], M2[pos[found], k])
            b.X[:, j] = standardise(d[:, None])[0][:, 0]


__all__ = ["FORMS", "MEASURES", "continuous_features", "measure_matrix", "measure_of", "normalised_difference", "prune", "sign_features",
           "standardise"]


def sign_features(M1: np.ndarray, M2: np.ndarray) -> np.ndarray:
    """The style set's -1/0/+1 features from the measures (columns in `MEASURES` order), by each
    property's own rule (`style.compare`): the one definition the loader also uses."""
    import polars as pl

    n = len(M1)
    if n == 0:
        return np.zeros((0, len(MEASURES)))
    cols = {f"a{j}": np.rint(M1[:, j]).astype(np.int64) for j in range(len(MEASURES))}
    cols |= {f"b{j}": np.rint(M2[:, j]).astype(np.int64) for j in range(len(MEASURES))}
    frame = pl.DataFrame(cols).select(*(style.compare(p, pl.col(f"a{j}"), pl.col(f"b{j}")).alias(p.name)
                                        for j, p in enumerate(style.STYLE_PROPERTIES)))
    return frame.to_numpy().astype(float)
