"""Storing judges: add one with its labels (then fit it), remove one, list them.

Streamlit-free: the CLI (`add-judge`, `remove-judge`, `judge-llm`) and the Add judge page call
`add_judge`, `remove_judge` and `list_judges`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..store import db as dbmod
from .errors import JudgeError, JudgeExists, LabelsRefused, UnknownJudge
from .labels_file import Label, ParsedLabels

KINDS = ("human", "llm", "reward model", "other")
_KIND_ALIASES = {"lm": "llm", "reward-model": "reward model", "reward_model": "reward model", "rm": "reward model",
                 "human annotators": "human", "humans": "human"}
MAX_NAME = 100


@dataclass
class AddJudgeReport:
    judge: str
    labels: int
    with_prob: int
    replaced: bool
    kind: str | None
    size_b: float | None
    position_consistency: float | None = None
    ties: int = 0
    fit: Any = None                  # the FitReport, when fitted
    seconds: float = 0.0

    def summary(self) -> str:
        verb = "replaced" if self.replaced else "added"
        parts = [f"judge {self.judge!r} {verb}: {self.labels} labels"]
        if self.with_prob:
            parts.append(f"{self.with_prob} with a probability")
        if self.ties:
            parts.append(f"{self.ties} ties left out")
        if self.position_consistency is not None:
            parts.append(f"position consistency {100 * self.position_consistency:.1f}%")
        return ", ".join(parts) + f" ({self.seconds:.1f} s)"


# ---------------------------------------------------------------- adding and removing


def check_name(name: str) -> str:
    """The judge name as pipeline/names.py normalises it (NFKC; no invisible or control characters)."""
    from ..names import NameRefused, check_name as normalised

    if not (name or "").strip():
        raise JudgeError("a judge needs a name")
    try:
        return normalised(name, "judge name", max_chars=MAX_NAME)
    except NameRefused as exc:
        raise JudgeError(str(exc)) from None


def check_kind(kind: str | None, name: str) -> str:
    """One of KINDS; by default 'human' for names starting with human, else 'llm' (as the loader does)."""
    if kind is None or not kind.strip():
        return "human" if name.lower().startswith("human") else "llm"
    k = kind.strip().lower()
    k = _KIND_ALIASES.get(k, k)
    if k not in KINDS:
        raise JudgeError(f"kind {kind!r} is not one of: {', '.join(KINDS)}")
    return k


def check_size(size_b: float | None) -> float | None:
    if size_b is None:
        return None
    if not isinstance(size_b, (int, float)) or isinstance(size_b, bool) or not math.isfinite(size_b) or size_b <= 0:
        raise JudgeError(f"size {size_b!r} is not a positive number of billions of parameters")
    return float(size_b)


def judge_exists(con, name: str) -> bool:
    """A judge is there if any table holds something of it: row, labels or fits."""
    return any(con.execute(f"SELECT 1 FROM {t} WHERE judge = ? LIMIT 1", [name]).fetchone()
               for t in ("judges", "labels", "fits", "fit_runs"))


def _delete_judge(con, name: str) -> dict[str, int]:
    counts = {}
    for table in ("labels", "fits", "fit_runs", "judges"):
        counts[table] = con.execute(f"SELECT count(*) FROM {table} WHERE judge = ?", [name]).fetchone()[0]
        con.execute(f"DELETE FROM {table} WHERE judge = ?", [name])
    return counts


def _as_labels(labels: ParsedLabels | Iterable[Label | tuple]) -> tuple[list[Label], str | None, int]:
    """(labels, source name, ties) from a ParsedLabels or plain (pair_id, preferred[, prob_1]) items."""
    if isinstance(labels, ParsedLabels):
        if not labels.ok:
            raise LabelsRefused(labels)
        return labels.labels, labels.source, labels.ties
    out = [lab if isinstance(lab, Label) else Label(*lab) for lab in labels]
    return out, None, 0


def _check_labels(con, labels: list[Label]) -> None:
    """The same promises for labels that did not come from a file: known pairs, 1 or 2, once each."""
    if not labels:
        raise JudgeError("no labels to add")
    known = {r[0] for r in con.execute("SELECT pair_id FROM pairs").fetchall()}
    seen: set[int] = set()
    for lab in labels:
        if lab.pair_id not in known:
            raise JudgeError(f"pair {lab.pair_id}: no pair with this id in the database")
        if lab.preferred not in (1, 2):
            raise JudgeError(f"pair {lab.pair_id}: preferred must be 1 or 2, got {lab.preferred!r}")
        if lab.prob_1 is not None and not 0.0 <= lab.prob_1 <= 1.0:
            raise JudgeError(f"pair {lab.pair_id}: prob_1 {lab.prob_1!r} is not between 0 and 1")
        if lab.pair_id in seen:
            raise JudgeError(f"pair {lab.pair_id} is labelled twice")
        seen.add(lab.pair_id)


def _insert_labels(con, name: str, labels: list[Label]) -> None:
    arrow = pa.table({  # noqa: F841 - read by DuckDB below
        "pair_id": pa.array([lab.pair_id for lab in labels], pa.int32()),
        "judge": pa.array([name] * len(labels), pa.string()),
        "preferred": pa.array([lab.preferred for lab in labels], pa.int8()),
        "prob_1": pa.array([lab.prob_1 for lab in labels], pa.float64()),
    })
    con.execute("INSERT INTO labels (pair_id, judge, preferred, prob_1) "
                "SELECT pair_id, judge, preferred, prob_1 FROM arrow")


def add_judge(name: str, labels: ParsedLabels | Iterable[Label | tuple], *, db=None, kind: str | None = None,
              size_b: float | None = None, note: str | None = None, source: str | None = None,
              position_consistency: float | None = None, replace: bool = False, fit: bool = True,
              progress=None) -> AddJudgeReport:
    """Write the judge and its labels in one transaction, then fit only that judge.

    A judge of that name already present is an error unless `replace`, which first removes
    its labels, fits and fit runs (in the same transaction).
    """
    started = time.perf_counter()
    name = check_name(name)
    kind = check_kind(kind, name)
    size_b = check_size(size_b)
    rows, file_source, ties = _as_labels(labels)
    _require_db(db)
    with dbmod.writing(db) as con:
        _check_labels(con, rows)
        existed = judge_exists(con, name)
        if existed and not replace:
            raise JudgeExists(name)
        if existed:
            _delete_judge(con, name)
        con.execute("INSERT INTO judges (judge, kind, size_b, source, note, position_consistency) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [name, kind, size_b, source or file_source, note, position_consistency])
        _insert_labels(con, name, rows)
    report = AddJudgeReport(judge=name, labels=len(rows), with_prob=sum(r.prob_1 is not None for r in rows),
                            replaced=existed, kind=kind, size_b=size_b,
                            position_consistency=position_consistency, ties=ties)
    if fit:
        from ..model.fitting import fit_database

        report.fit = fit_database(db, judges=[name], progress=progress)
    report.seconds = time.perf_counter() - started
    return report


def _require_db(db) -> None:
    """Adding or removing a judge never creates a database (a file or a lake) as a side effect."""
    if not dbmod.exists(db):
        raise dbmod.DatabaseMissing(f"no database at {dbmod.locate(db).display}: run `python -m pipeline demo` or `load`")


def remove_judge(name: str, db=None) -> dict[str, int]:
    """Remove the judge, its labels, fits and fit runs; rows removed per table."""
    _require_db(db)
    with dbmod.writing(db) as con:
        if not judge_exists(con, name):
            raise UnknownJudge(f"no judge named {name!r}")
        return _delete_judge(con, name)


def refuse_existing(name: str, db, replace: bool) -> None:
    """Checked before any paid call (judge-llm) and again when the labels are written."""
    if replace:
        return
    with dbmod.reading(db) as con:
        if judge_exists(con, name):
            raise JudgeExists(name)


def list_judges(db=None) -> list[dict]:
    """Every judge with its metadata and label count (for the Add judge page)."""
    with dbmod.reading(db) as con:
        cur = con.execute(
            "SELECT j.judge, j.kind, j.size_b, j.source, j.note, j.position_consistency, j.added_at, "
            "(SELECT count(*) FROM labels l WHERE l.judge = j.judge) AS n_labels FROM judges j ORDER BY j.judge")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]


__all__ = ["AddJudgeReport", "KINDS", "MAX_NAME", "add_judge", "check_kind", "check_name", "check_size",
           "judge_exists", "list_judges", "refuse_existing", "remove_judge"]
