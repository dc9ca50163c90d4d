"""How the app orders judges, groups and properties: each rule written once.

Pure functions (no database): the query modules and the pages sort with these.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from ..properties.paper import ALL_GROUP, PROPERTY_NAMES, QUERY_GROUP_BY_NAME, QUERY_GROUPS, SCENARIO_GROUPS
from ..answers.readouts import OVERALL

HUMAN = "human"
PROPERTY_ORDER = {name: i for i, name in enumerate(PROPERTY_NAMES)}
_QUERY_ORDER = {g.name: i for i, g in enumerate(QUERY_GROUPS)}
# Where each kind of group sits in a list: Overall, All, scenario, query-specific, custom.
_KIND_RANK = {"overall": 0, "all": 1, "scenario": 2, "query-specific": 3, "custom": 4}


def human_first(judge: str) -> tuple[bool, str]:
    """Sort key: the human crowd first, then by name (case-insensitive)."""
    return (judge != HUMAN, judge.lower())


def sort_judge_names(names: Iterable[str]) -> list[str]:
    """Distinct names, human first, then alphabetical."""
    return sorted(dict.fromkeys(names), key=human_first)


def _size(value) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return None
    return float(value)


def sort_judges_by_size(names: Iterable[str], sizes: Mapping[str, float] | None = None) -> list[str]:
    """Human first, then judges of unknown size (proprietary models, taken as the largest),
    then by size in billions of parameters, largest first, then by name."""
    sizes = sizes or {}

    def key(j: str):
        s = _size(sizes.get(j))
        return (j != HUMAN, s is not None, -(s or 0.0), j.lower())

    return sorted(dict.fromkeys(names), key=key)


def group_kind(group_name: str) -> str:
    """The kind of a group known by name alone ('custom' groups are only known from the
    database: `catalog.group_kinds`)."""
    if group_name == OVERALL:
        return "overall"
    if group_name == ALL_GROUP:
        return "all"
    return "query-specific" if group_name in QUERY_GROUP_BY_NAME else "scenario"


def group_sort_key(name: str, kind: str | None = None) -> tuple:
    kind = kind or group_kind(name)
    if kind == "scenario":
        within = SCENARIO_GROUPS.index(name) if name in SCENARIO_GROUPS else len(SCENARIO_GROUPS)
    elif kind == "query-specific":
        within = _QUERY_ORDER.get(name, len(_QUERY_ORDER))
    else:
        within = 0
    return (_KIND_RANK.get(kind, len(_KIND_RANK)), within, name.lower())


def sort_groups(names: Iterable[str], kinds: Mapping[str, str] | None = None) -> list[str]:
    """Overall, All, the scenario groups in the paper's order (others after, by name), the
    query-specific ones, then custom groups."""
    kinds = kinds or {}
    return sorted(dict.fromkeys(names), key=lambda g: group_sort_key(g, kinds.get(g)))


def sort_properties(df: pd.DataFrame, how: str = "effect") -> list[str]:
    """Property order for the dissection chart.

    'effect': by mean probability over the judges shown, most preferred first;
    'spread': by the spread between the judges shown (largest disagreement first);
    'paper': the property set's fixed order (the paper's 29 in the paper's order).
    """
    if df.empty:
        return []
    if how == "paper":  # the rows come in the set's order (`property_order`), keep it
        if "property_order" in df.columns:
            df = df.sort_values("property_order", kind="stable")
        return list(dict.fromkeys(df["property"]))
    g = df.groupby("property")["probability"]
    score = (g.max() - g.min()) if how == "spread" else g.mean()
    return list(score.sort_values(ascending=False, kind="stable").index)


def in_order(values: Sequence[str], order: Sequence[str]) -> list[str]:
    """`values` in the order of `order`, unknown ones last (as given)."""
    rank = {v: i for i, v in enumerate(order)}
    return sorted(values, key=lambda v: rank.get(v, len(rank)))
