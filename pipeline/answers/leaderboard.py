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
from ..store import db as dbmod
from ..queries import leaderboard as q

MIN_BATTLES = 10
DEFAULT_GROUP = "All"
SETS = ("paper", "style", "custom")


class LeaderboardError(ValueError):
    """The request can't be answered (unknown judge, group or property); says why."""


@dataclass
class Battles:
    """One judge's battles in the group: models, outcome, and the control's features."""

    judge: str
    model_1: np.ndarray
    model_2: np.ndarray
    y: np.ndarray                 # 1 where response 1 was preferred
    X: np.ndarray | None = None   # (n, k) features of the control; NaN where a pair lacks one


@dataclass
class Board:
    """One judge x control result (or why there is none)."""

    judge: str
    control: str
    result: bt.BTResult | None
    rank_change: np.ndarray | None = None
    note: str | None = None
    n_battles: int = 0


@dataclass
class LeaderboardReport:
    group: str
    control: str
    properties: list[str]
    min_battles: int
    boards: list[Board] = field(default_factory=list)
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


def control_key(tokens: Sequence[str]) -> str:
    return ",".join(tokens) if tokens else "none"


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
                control: str | None = "none") -> tuple[list[Battles], list[str], list[str]]:
    """Battles of every chosen judge in the group, with the control's features; one short read."""
    tokens = parse_control(control)
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
        rows = q.battles(con, judges, group, all_pairs=group not in groups)
        feats = q.features(con, props, group, all_pairs=group not in groups) if props else None
    return _split(rows, feats, judges, props), judges, props


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
        out.append(Battles(judge, rows["model_1"][sel], rows["model_2"][sel],
                           (rows["preferred"][sel] == 1).astype(float), X))
    return out


# ---------------------------------------------------------------------------- compute


def _fit(judge: str, control: str, m1, m2, y, X, props, min_battles) -> Board:
    try:
        result = bt.fit(m1, m2, y, X, props, min_battles=min_battles)
    except bt.BTError as exc:
        return Board(judge, control, None, note=str(exc), n_battles=len(y))
    note = None if result.converged else "Newton's method did not converge: strengths may be off"
    return Board(judge, control, result, np.zeros(len(result.models), dtype=int), note, len(y))


def compute(battles: list[Battles], props: list[str], *, min_battles: int = MIN_BATTLES,
            control: str = "none") -> list[Board]:
    """The raw board of every judge, and its controlled board when a control is given."""
    boards = []
    for b in battles:
        raw_board = _fit(b.judge, "none", b.model_1, b.model_2, b.y, None, (), min_battles)
        boards.append(raw_board)
        if not props:
            continue
        complete = ~np.isnan(b.X).any(1)
        m1, m2, y, X = b.model_1[complete], b.model_2[complete], b.y[complete], b.X[complete]
        board = _fit(b.judge, control, m1, m2, y, X, props, min_battles)
        if board.result is not None:
            # the raw fit on the same battles: the raw board itself when every battle has the features
            raw = raw_board.result if complete.all() and raw_board.result is not None else \
                bt.fit(m1, m2, y, min_battles=min_battles)
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


def _tables(boards: list[Board], group: str, min_battles: int) -> tuple[pa.Table, pa.Table, pa.Table]:
    lb, runs, ctl = [], [], []
    for b in boards:
        r = b.result
        left = r.left_out if r is not None else {}
        note = b.note
        if left:
            shown = ", ".join(f"{m} ({n})" for m, n in sorted(left.items(), key=lambda kv: -kv[1])[:10])
            note = "; ".join(filter(None, [note, f"left out (battles): {shown}" + (" ..." if len(left) > 10 else "")]))
        runs.append((b.judge, group, b.control, r.n_fitted if r else 0, len(r.models) if r else 0, len(left),
                     min_battles, bt.CI_METHOD if r else None, note))
        if r is None:
            continue
        elo = bt.elo(r.strength)
        for i, model in enumerate(r.models):
            lb.append((b.judge, group, b.control, model, float(r.strength[i]), float(r.ci_low[i]),
                       float(r.ci_high[i]), int(r.rank[i]), int(r.n_battles[i]), float(elo[i]),
                       int(b.rank_change[i])))
        low, high = r.weight_ci
        for i, prop in enumerate(r.covariates):
            ctl.append((b.judge, group, b.control, prop, *(None if np.isnan(v) else float(v)
                                                          for v in (r.weight[i], low[i], high[i]))))
    return (_table(lb, q.LEADERBOARD_COLUMNS), _table(runs, q.RUN_COLUMNS), _table(ctl, q.CONTROL_COLUMNS))


def _table(rows: list[tuple], columns: dict[str, pa.DataType]) -> pa.Table:
    cols = list(zip(*rows)) if rows else [[] for _ in columns]
    return pa.table({name: pa.array(list(values), kind) for (name, kind), values in zip(columns.items(), cols)})


def write_results(db, boards: list[Board], *, group: str, min_battles: int) -> None:
    """Replace these judges' boards of this group and these controls, in one transaction."""
    lb_t, runs_t, ctl_t = _tables(boards, group, min_battles)  # noqa: F841 - read by DuckDB
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
                      control: str | None = "none", min_battles: int = MIN_BATTLES,
                      store: bool = True) -> LeaderboardReport:
    """Fit and store the raw (and controlled) leaderboard of every chosen judge in a group."""
    if min_battles < 1:
        raise LeaderboardError(f"--min-battles must be at least 1, got {min_battles}")
    t0 = time.perf_counter()
    battles, judges, props = read_inputs(db, judges=judges, group=group, control=control)
    key = control_key(parse_control(control))
    t1 = time.perf_counter()
    boards = compute(battles, props, min_battles=min_battles, control=key)
    t2 = time.perf_counter()
    if store:
        write_results(db, boards, group=group, min_battles=min_battles)
    t3 = time.perf_counter()
    report = LeaderboardReport(group, key, props, min_battles, boards)
    report.seconds = {"read": t1 - t0, "fit": t2 - t1, "write": t3 - t2, "total": t3 - t0}
    return report


__all__ = ["Board", "LeaderboardError", "LeaderboardReport", "MIN_BATTLES", "build_leaderboard", "compute",
           "control_key", "parse_control", "read_inputs", "write_results"]
