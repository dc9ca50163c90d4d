"""SHAP explanations of stored pairs: the fit's weights and the pair's features, read here,
explained by `readouts` (pure)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..answers.readouts import PairExplanation, explain_vector
from .base import DEFAULT_PROPERTY_SET, SET_ORDER, Db, column, reading
from .ordering import sort_groups

# The judge's weights in the group with the pair's feature for each (NULL where it has none).
FIT_AND_FEATURES = """
    SELECT f.property, f.weight, f.source, x.value
    FROM fits f
    JOIN properties p USING (property)
    LEFT JOIN features x ON x.pair_id = $pair_id AND x.property = f.property
    WHERE f.judge = $judge AND f.group_name = $group AND f.property_set = $property_set
    ORDER BY """ + SET_ORDER
JUDGE_GROUPS = "SELECT DISTINCT group_name FROM fits WHERE judge = $judge AND property_set = $property_set"


def pair_shap(db: Db = None, *, judge: str, group: str, pair_id: int,
              property_set: str = DEFAULT_PROPERTY_SET) -> PairExplanation:
    """SHAP explanation of one stored pair under a judge's fitted weights in a group.

    A ValueError when the judge has no fit of the set there, or the pair lacks a feature
    of the set (for the paper's set: the pair is not usable for fitting)."""
    params = {"judge": judge, "group": group, "pair_id": int(pair_id), "property_set": property_set}
    with reading(db) as con:
        rows = con.execute(FIT_AND_FEATURES, params).fetchall()
    if not rows:
        raise ValueError(f"no fit for judge {judge!r} in group {group!r} (property set {property_set!r})")
    if any(value is None for *_, value in rows):
        raise ValueError(f"pair {pair_id} has no features of the property set {property_set!r} "
                         "(unknown, or not usable for fitting)")
    names = [r[0] for r in rows]
    w = np.array([r[1] for r in rows], dtype=float)
    x = np.array([r[3] for r in rows], dtype=float)
    return explain_vector(x, w, names=names, pair_id=int(pair_id), judge=judge, group=group, source=rows[0][2],
                          property_set=property_set)


def shap_for_pair(db: Db = None, judge: str = "", group: str = "", pair_id: int = 0,
                  property_set: str = DEFAULT_PROPERTY_SET) -> dict | None:
    """pair_shap for the page: {'frame', 'base', 'fx', 'weights_source', 'exact'}, or None
    when there is nothing to explain (no fit there, or a pair without features)."""
    try:
        return pair_shap(db, judge=judge, group=group, pair_id=pair_id, property_set=property_set).as_dict()
    except ValueError:
        return None


def shap_groups(db: Db = None, judge: str = "", pair_groups: Sequence[str] = (),
                property_set: str = DEFAULT_PROPERTY_SET) -> list[str]:
    """The pair's groups in which the judge has a fit of the set, in the app's order."""
    with reading(db) as con:
        fitted = set(column(con, JUDGE_GROUPS, {"judge": judge, "property_set": property_set}))
    return [g for g in sort_groups(pair_groups) if g in fitted]
