"""Leaderboards of the response models, raw or controlled for any properties (issue 10, part 1).

For each judge, the pairs of one group are battles between `pairs.model_1` and
`pairs.model_2`; the judge's choice decides each. `bradley_terry.fit` turns them into
strengths, alone (control 'none') or with the chosen properties' feature differences as
covariates (LMArena's style control, for any judge and any properties). A control is
'none', a property set ('paper', 'style', 'custom', 'paper+style'), or a comma list of
property names and set names.

Every run also stores the raw ('none') leaderboard, so raw and controlled can be shown side
by side. The control uses only the battles that have every chosen feature; its
`rank_change` is the places a model gains under the control against a raw fit on those same
battles, so it shows what the control does and not which battles it had.

Conventions (issue 17), each stored with its board in `leaderboard_runs`:
- ties: 'drop' (the default: the labels the dissection fits read have no ties, and
  databases loaded before the `ties` table have none) or 'half' (LMArena: a tie is half a
  win for each side, read from the `ties` table);
- the interval: 'hessian', 'sandwich' or 'bootstrap' (`model.bt_intervals`);
- the control form: 'sign' (the properties' -1/0/+1 features) or 'continuous' (LMArena's
  standardised normalised differences of the measures, for style properties).
Every board also stores its k-fold held-out log loss and that of the raw model on the same
battles, and the controls it left out or merged (`board_controls.prune`).

Three steps, as in fitting: read with one short read-only connection, compute with no
connection held, write the results in one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ..model import bradley_terry as bt
from ..model import bt_intervals as bti
from . import board_controls as bc
from ..store import db as dbmod
from ..queries import leaderboard as q

MIN_BATTLES = 10
DEFAULT_GROUP = "All"
SETS = ("paper", "style", "custom")
TIES = ("drop", "half")
FOLDS = 5
SEED = 0


@dataclass(frozen=True)
class Conventions:
    """How a board is fitted (stored with it)."""

    ties: str = "drop"
    ci: str = "hessian"
    bootstrap: int = 100
    form: str = "sign"
    folds: int = FOLDS
    seed: int = SEED

    def check(self) -> None:
        for name, value, known in (("--ties", self.ties, TIES), ("--ci", self.ci, bti.CI_METHODS),
                                   ("--control-form", self.form, bc.FORMS)):
            if value not in known:
                raise LeaderboardError(f"{name} {value!r} is not one of: {', '.join(known)}")
        if self.bootstrap < 2:
            raise LeaderboardError(f"--bootstrap must be at least 2, got {self.bootstrap}")


class LeaderboardError(ValueError):
    """The request can't be answered (unknown judge, group or property); says why."""


@dataclass
class Battles:
    """One judge's battles in the group: models, outcome, and the control's features."""

    judge: str
    model_1: np.ndarray
    model_2: np.ndarray
    y: np.ndarray                 # 1 where response 1 was preferred (0.5: a tie)
    X: np.ndarray | None = None   # (n, k) features of the control; NaN where a pair lacks one
    n_ties: int = 0
    tokens: np.ndarray | None = None  # (n, 2) tokens of response 1 and 2; NaN where unknown


@dataclass
class Board:
    """One judge x control result (or why there is none)."""

    judge: str
    control: str
    result: bt.BTResult | None
    rank_change: np.ndarray | None = None
    note: str | None = None
    n_battles: int = 0
    n_ties: int = 0
    heldout_raw: float | None = None     # the raw model's held-out log loss on this board's battles
    dropped: list[str] = field(default_factory=list)  # controls left out or merged, and why
    win_rate: np.ndarray | None = None     # per model of the result: share of its fitted battles won
    mean_tokens: np.ndarray | None = None  # per model: mean tokens of its responses in them


@dataclass
class LeaderboardReport:
    group: str
    control: str
    properties: list[str]
    min_battles: int
    boards: list[Board] = field(default_factory=list)
    conventions: Conventions = field(default_factory=Conventions)
    seconds: dict[str, float] = field(default_factory=dict)

    def board(self, judge: str, control: str | None = None) -> Board:
        control = self.control if control is None else control
        return next(b for b in self.boards if b.judge == judge and b.control == control)

    def summary(self) -> str:
        done = [b for b in self.boards if b.result is not None and b.control == self.control]
        empty = [b for b in self.boards if b.result is None and b.control == self.control]
        return (f"leaderboard of group {self.group!r}, control {self.control!r}: {len(done)} judges ranked"
                + (f", {len(empty)} with too few battles" if empty else "")
                + f" (min {self.min_battles} battles a model) in {self.seconds.get('total', 0):.1f} s")


# ------------------------------------------------------------------------------ read


def parse_control(control: str | None) -> list[str]:
    """The tokens of a control: [] for 'none', else set names and property names."""
    text = (control or "none").strip()
    if text.lower() == "none":
        return []
    tokens = [t.strip() for t in text.split(",")]
    if any(not t for t in tokens):
        raise LeaderboardError(f"--control {control!r} has an empty name (use none, paper, style or P1,P2)")
    return list(dict.fromkeys(tokens))


def control_key(tokens: Sequence[str], form: str = "sign") -> str:
    """The stored name of a control; the continuous form is a board of its own."""
    key = ",".join(tokens) if tokens else "none"
    return f"{key} (continuous)" if tokens and form == "continuous" else key


def resolve_properties(con, tokens: Sequence[str]) -> list[str]:
    """Property names of a control, in registry order within a set, sets expanded."""
    registry = q.properties(con)
    by_set: dict[str, list[str]] = {}
    for prop, pset in registry:
        by_set.setdefault(pset, []).append(prop)
    names = {prop for prop, _ in registry}
    out: list[str] = []
    unknown = []
    for token in tokens:
        parts = token.split("+") if token not in names and "+" in token else [token]
        for part in parts:
            if part in by_set:
                out += by_set[part]
            elif part in names:
                out.append(part)
            else:
                unknown.append(part)
    if unknown:
        known_sets = ", ".join(sorted(by_set)) or "none"
        raise LeaderboardError(f"unknown property or property set in --control: {', '.join(unknown)} "
                               f"(sets: {known_sets}; property names are in the properties table)")
    out = list(dict.fromkeys(out))
    if tokens and not out:
        raise LeaderboardError(f"--control {control_key(tokens)!r} names a property set with no properties here")
    return out


def read_inputs(db=None, *, judges: Sequence[str] | None = None, group: str = DEFAULT_GROUP,
                control: str | None = "none", conventions: Conventions = Conventions()
                ) -> tuple[list[Battles], list[str], list[str]]:
    """Battles of every chosen judge in the group, with the control's features; one short read."""
    tokens = parse_control(control)
    conventions.check()
    with dbmod.reading(db) as con:
        labelled = q.labelled_judges(con)
        if judges:
            unknown = [j for j in dict.fromkeys(judges) if j not in labelled]
            if unknown:
                raise LeaderboardError(f"unknown judge (or a judge without labels): {', '.join(unknown)} "
                                       f"(labelled: {', '.join(labelled) or 'none'})")
            judges = list(dict.fromkeys(judges))
        else:
            judges = labelled
        if not judges:
            raise LeaderboardError("no judge has labels: load data first (imported weights have no battles)")
        groups = q.group_names(con)
        if group not in groups and group != DEFAULT_GROUP:  # 'All' is every pair, stored or not
            raise LeaderboardError(f"unknown group: {group} (known: {', '.join(groups) or 'none'})")
        props = resolve_properties(con, tokens)
        all_pairs = group not in groups
        rows = q.battles(con, judges, group, all_pairs=all_pairs)
        feats = q.features(con, props, group, all_pairs=all_pairs) if props else None
        measured = None
        if props and conventions.form == "continuous":
            names = [bc.measure_of(p) for p in props]
            measured = names, bc.measure_matrix(con, [m for m in names if m], group, all_pairs=all_pairs)
        ties = q.ties(con, judges, group, all_pairs=all_pairs) if conventions.ties == "half" else None
        tokens = bc.measure_matrix(con, ["tokens"], group, all_pairs=all_pairs)
    if ties is not None:
        rows = _with_ties(rows, ties)
    battles = _split(rows, feats, judges, props)
    _add_tokens(battles, rows, tokens)
    if measured is not None:
        bc.continuous_features(battles, rows, *measured)
    _refuse_empty(battles, props)
    return battles, judges, props


def _with_ties(rows: dict, ties: dict) -> dict:
    """Battles plus ties (preferred 0: half a win each), in judge order."""
    both = {k: np.concatenate([rows[k], ties[k] if k in ties else np.zeros(len(ties["judge"]), rows[k].dtype)])
            for k in ("judge", "pair_id", "model_1", "model_2", "preferred")}
    order = np.argsort(both["judge"].astype(str), kind="stable")
    return {k: v[order] for k, v in both.items()}


def _add_tokens(battles: list[Battles], rows: dict, tokens) -> None:
    ids, T1, T2 = tokens
    for b in battles:
        pid = rows["pair_id"][rows["judge"] == b.judge]
        pos = np.searchsorted(ids, pid).clip(0, max(len(ids) - 1, 0))
        found = (ids[pos] == pid) if len(ids) else np.zeros(len(pid), bool)
        b.tokens = np.full((len(pid), 2), np.nan)
        b.tokens[found] = np.column_stack([T1[pos[found], 0], T2[pos[found], 0]])


def _model_stats(board: Board, m1, m2, y, tokens) -> None:
    """Win rate and mean tokens of each model of a fitted board, over the battles it fitted."""
    r = board.result
    board.win_rate, board.mean_tokens = np.full(len(r.models), np.nan), np.full(len(r.models), np.nan)
    for i, model in enumerate(r.models):
        on1, on2 = m1 == model, m2 == model
        if on1.any() or on2.any():
            board.win_rate[i] = np.r_[y[on1], 1 - y[on2]].mean()
            t = np.r_[tokens[on1, 0], tokens[on2, 1]] if tokens is not None else np.array([])
            board.mean_tokens[i] = np.nanmean(t) if np.isfinite(t).any() else np.nan


def _refuse_empty(battles: list[Battles], props: list[str]) -> None:
    """A control with no value in any battle is refused (it would have no estimate)."""
    if not props or not battles:
        return
    has = np.zeros(len(props), bool)
    for b in battles:
        if b.X is not None and len(b.X):
            has |= ~np.isnan(b.X).all(0)
    empty = [p for p, h in zip(props, has) if not h]
    if empty:
        raise LeaderboardError(f"no data for the control {', '.join(empty)} in these battles "
                               f"(choose properties that are annotated or counted here, e.g. style)")


def _split(rows: dict, feats: dict | None, judges: list[str], props: list[str]) -> list[Battles]:
    """Per-judge battles; features joined by pair id (NaN where a pair lacks one)."""
    ids = np.unique(rows["pair_id"])
    X_all = None
    if feats is not None:
        X_all = np.full((len(ids), len(props)), np.nan)
        col = {p: i for i, p in enumerate(props)}
        pos = np.searchsorted(ids, feats["pair_id"]).clip(0, max(len(ids) - 1, 0))
        inside = ids[pos] == feats["pair_id"] if len(ids) else np.zeros(len(pos), bool)
        X_all[pos[inside], [col[p] for p in feats["property"][inside]]] = feats["value"][inside]
    out = []
    for judge in judges:
        sel = rows["judge"] == judge
        X = None if X_all is None else X_all[np.searchsorted(ids, rows["pair_id"][sel])]
        pref = rows["preferred"][sel]
        y = np.where(pref == 1, 1.0, np.where(pref == 0, 0.5, 0.0))
        out.append(Battles(judge, rows["model_1"][sel], rows["model_2"][sel], y, X, int((pref == 0).sum())))
    return out


# ---------------------------------------------------------------------------- compute


def _fit(judge: str, control: str, m1, m2, y, X, props, min_battles, conv: Conventions) -> Board:
    try:
        result = bt.fit(m1, m2, y, X, props, min_battles=min_battles, ci=conv.ci, bootstrap=conv.bootstrap,
                        seed=conv.seed, heldout_folds=conv.folds)
    except bt.BTError as exc:
        return Board(judge, control, None, note=str(exc), n_battles=len(y))
    note = None if result.converged else "Newton's method did not converge: strengths may be off"
    board = Board(judge, control, result, np.zeros(len(result.models), dtype=int), note, len(y))
    board.heldout_raw = result.heldout_log_loss
    return board


def compute(battles: list[Battles], props: list[str], *, min_battles: int = MIN_BATTLES,
            control: str = "none", conventions: Conventions = Conventions()) -> list[Board]:
    """The raw board of every judge, and its controlled board when a control is given."""
    conv = conventions
    boards = []
    for b in battles:
        raw_board = _fit(b.judge, "none", b.model_1, b.model_2, b.y, None, (), min_battles, conv)
        raw_board.n_ties = b.n_ties
        if raw_board.result is not None:
            _model_stats(raw_board, b.model_1, b.model_2, b.y, b.tokens)
        boards.append(raw_board)
        if not props:
            continue
        complete = ~np.isnan(b.X).any(1)
        m1, m2, y, X = b.model_1[complete], b.model_2[complete], b.y[complete], b.X[complete]
        X, names, dropped = bc.prune(X, props, m1, m2)
        board = _fit(b.judge, control, m1, m2, y, X, names, min_battles, conv)
        board.dropped, board.n_ties = dropped, int((y == 0.5).sum())
        if board.result is not None:
            _model_stats(board, m1, m2, y, None if b.tokens is None else b.tokens[complete])
            # the raw fit on the same battles (and folds): the raw board itself when every battle has the features
            raw = raw_board.result if complete.all() and raw_board.result is not None else \
                bt.fit(m1, m2, y, min_battles=min_battles, heldout_folds=conv.folds, seed=conv.seed)
            board.heldout_raw = raw.heldout_log_loss
            raw_rank = dict(zip(raw.models, raw.rank.tolist()))
            board.rank_change = np.array([raw_rank[m] - r for m, r in zip(board.result.models,
                                                                          board.result.rank.tolist())])
        lacking = int((~complete).sum())
        if lacking:
            board.note = "; ".join(filter(None, [board.note, f"{lacking} battles without every control "
                                                             "feature were left out"]))
        boards.append(board)
    return boards


# ------------------------------------------------------------------------------ write


def _tables(boards: list[Board], group: str, min_battles: int,
            conv: Conventions = Conventions()) -> tuple[pa.Table, pa.Table, pa.Table]:
    lb, runs, ctl = [], [], []
    for b in boards:
        r = b.result
        left = r.left_out if r is not None else {}
        note = b.note
        if left:
            shown = ", ".join(f"{m} ({n})" for m, n in sorted(left.items(), key=lambda kv: -kv[1])[:10])
            note = "; ".join(filter(None, [note, f"left out (battles): {shown}" + (" ..." if len(left) > 10 else "")]))
        runs.append((b.judge, group, b.control, r.n_fitted if r else 0, len(r.models) if r else 0, len(left),
                     min_battles, r.ci_method if r else None, note, conv.ties, b.n_ties,
                     None if b.control == "none" else conv.form, r.heldout_log_loss if r else None,
                     b.heldout_raw, "; ".join(b.dropped) or None))
        if r is None:
            continue
        elo = bt.elo(r.strength)
        for i, model in enumerate(r.models):
            lb.append((b.judge, group, b.control, model, float(r.strength[i]), float(r.ci_low[i]),
                       float(r.ci_high[i]), int(r.rank[i]), int(r.n_battles[i]), float(elo[i]),
                       int(b.rank_change[i]), _float(b.win_rate, i), _float(b.mean_tokens, i)))
        low, high = r.weight_ci
        for i, prop in enumerate(r.covariates):
            ctl.append((b.judge, group, b.control, prop, *(None if np.isnan(v) else float(v)
                                                          for v in (r.weight[i], low[i], high[i]))))
    return (_table(lb, q.LEADERBOARD_COLUMNS), _table(runs, q.RUN_COLUMNS), _table(ctl, q.CONTROL_COLUMNS))


def _float(values: np.ndarray | None, i: int) -> float | None:
    return None if values is None or not np.isfinite(values[i]) else float(values[i])


def _table(rows: list[tuple], columns: dict[str, pa.DataType]) -> pa.Table:
    cols = list(zip(*rows)) if rows else [[] for _ in columns]
    return pa.table({name: pa.array(list(values), kind) for (name, kind), values in zip(columns.items(), cols)})


def write_results(db, boards: list[Board], *, group: str, min_battles: int,
                  conventions: Conventions = Conventions()) -> None:
    """Replace these judges' boards of this group and these controls, in one transaction."""
    lb_t, runs_t, ctl_t = _tables(boards, group, min_battles, conventions)  # noqa: F841 - read by DuckDB
    judges = sorted({b.judge for b in boards})
    controls = sorted({b.control for b in boards})
    if not judges:
        return
    params = [judges, group, controls]
    with dbmod.writing(db) as con:
        for table in ("leaderboard", "leaderboard_runs", "leaderboard_controls"):
            con.execute(f"DELETE FROM {table} WHERE list_contains(?, judge) AND group_name = ? "
                        "AND list_contains(?, control)", params)
        con.execute(f"INSERT INTO leaderboard ({', '.join(q.LEADERBOARD_COLUMNS)}) "
                    f"SELECT {', '.join(q.LEADERBOARD_COLUMNS)} FROM lb_t")
        con.execute(f"INSERT INTO leaderboard_runs ({', '.join(q.RUN_COLUMNS)}, fitted_at) "
                    f"SELECT {', '.join(q.RUN_COLUMNS)}, current_timestamp FROM runs_t")
        con.execute(f"INSERT INTO leaderboard_controls ({', '.join(q.CONTROL_COLUMNS)}) "
                    f"SELECT {', '.join(q.CONTROL_COLUMNS)} FROM ctl_t")


# ------------------------------------------------------------------------------- all


def build_leaderboard(db=None, *, judges: Sequence[str] | None = None, group: str = DEFAULT_GROUP,
                      control: str | None = "none", min_battles: int = MIN_BATTLES, ties: str = "drop",
                      ci: str = "hessian", bootstrap: int = 100, control_form: str = "sign",
                      folds: int = FOLDS, seed: int = SEED, store: bool = True) -> LeaderboardReport:
    """Fit and store the raw (and controlled) leaderboard of every chosen judge in a group."""
    if min_battles < 1:
        raise LeaderboardError(f"--min-battles must be at least 1, got {min_battles}")
    conv = Conventions(ties, ci, bootstrap, control_form, folds, seed)
    conv.check()
    t0 = time.perf_counter()
    battles, judges, props = read_inputs(db, judges=judges, group=group, control=control, conventions=conv)
    key = control_key(parse_control(control), control_form)
    t1 = time.perf_counter()
    boards = compute(battles, props, min_battles=min_battles, control=key, conventions=conv)
    t2 = time.perf_counter()
    if store:
        write_results(db, boards, group=group, min_battles=min_battles, conventions=conv)
    t3 = time.perf_counter()
    report = LeaderboardReport(group, key, props, min_battles, boards, conventions=conv)
    report.seconds = {"read": t1 - t0, "fit": t2 - t1, "write": t3 - t2, "total": t3 - t0}
    return report


__all__ = ["Board", "Conventions", "LeaderboardError", "TIES", "LeaderboardReport", "MIN_BATTLES", "build_leaderboard", "compute",
           "control_key", "parse_control", "read_inputs", "write_results"]
