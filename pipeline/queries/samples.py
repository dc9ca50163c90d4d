"""The Samples page's data: filtering pairs, paging through them, one pair's details."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ..properties.paper import PROPERTIES
from .base import Db, column, frame, reading
from .ordering import HUMAN, human_first, sort_groups, sort_judge_names

PAGE_SIZE = 50               # pairs per page of the browse table

# Every filter is in the one statement; an unset filter's parameter is NULL (or an empty list).
FILTER = """
    SELECT p.pair_id FROM pairs p
    WHERE ($scenarios::VARCHAR[] IS NULL OR list_contains($scenarios::VARCHAR[], p.scenario_group))
      AND ($group::VARCHAR IS NULL OR p.pair_id IN (SELECT pair_id FROM pair_groups WHERE group_name = $group))
      AND ($model::VARCHAR IS NULL OR p.model_1 = $model OR p.model_2 = $model)
      AND (len($disagree::VARCHAR[]) = 0 OR p.pair_id IN (
            SELECT a.pair_id FROM labels a JOIN labels h ON h.pair_id = a.pair_id AND h.judge = $against
            WHERE list_contains($disagree::VARCHAR[], a.judge) AND a.preferred <> h.preferred
            GROUP BY a.pair_id HAVING count(DISTINCT a.judge) = len($disagree::VARCHAR[])))
      AND ($text::VARCHAR IS NULL OR contains(lower(p.query), $text) OR contains(lower(p.response_1), $text)
           OR contains(lower(p.response_2), $text))
    ORDER BY p.pair_id
"""
ID_RANGE = "SELECT count(*), min(pair_id), max(pair_id) FROM pairs"
SCENARIOS = "SELECT DISTINCT scenario_group FROM pairs WHERE scenario_group IS NOT NULL"
GROUP_NAMES = "SELECT DISTINCT group_name, group_kind FROM pair_groups"
MODELS = """
    SELECT model FROM (SELECT model_1 AS model FROM pairs UNION SELECT model_2 FROM pairs)
    WHERE model IS NOT NULL ORDER BY lower(model)
"""
LABELLED_JUDGES = "SELECT DISTINCT judge FROM labels"
# Word counts: the pair's num_words (the release's, or the `words` measure that the loader
# copies there for raw pairs); else the stored measure; else whitespace-separated runs of the text.
WORDS = """coalesce(p.num_words_{n},
                    (SELECT max(m.value) FROM response_measures m
                     WHERE m.pair_id = p.pair_id AND m.side = {n} AND m.measure = 'words'),
                    len(regexp_extract_all(coalesce(p.response_{n}, ''), '\\S+')))::BIGINT"""
PAIR_LIST = """
    SELECT p.pair_id, p.scenario_group, p.model_1, p.model_2, """ + WORDS.format(n=1) + """ AS num_words_1,
           """ + WORDS.format(n=2) + """ AS num_words_2, h.preferred AS human, left(p.query, $preview) AS query
    FROM pairs p LEFT JOIN labels h ON h.pair_id = p.pair_id AND h.judge = $human
    WHERE list_contains($ids, p.pair_id) ORDER BY p.pair_id
"""
PAIR_LIST_COLUMNS = ["pair_id", "scenario_group", "model_1", "model_2", "num_words_1", "num_words_2", "human",
                     "query"]
PAIR = ("SELECT p.* REPLACE (" + WORDS.format(n=1) + " AS num_words_1, " + WORDS.format(n=2) + " AS num_words_2) "
        "FROM pairs p WHERE p.pair_id = $pair_id")
PAIR_GROUPS = "SELECT group_name, group_kind FROM pair_groups WHERE pair_id = $pair_id"
FACTS = "SELECT * EXCLUDE (pair_id) FROM query_facts WHERE pair_id = $pair_id"
ITEMS = "SELECT item_kind, item_index, text FROM query_items WHERE pair_id = $pair_id ORDER BY item_kind, item_index"
LABELS = """
    SELECT l.judge, l.preferred, l.prob_1, j.kind, j.size_b
    FROM labels l LEFT JOIN judges j USING (judge) WHERE l.pair_id = $pair_id
"""
# The two responses' basic ratings side by side, in the paper's property order.
RATINGS = """
    SELECT r.property, r.aspect,
           max(r.score) FILTER (WHERE r.response = 1) AS "response 1",
           max(r.score) FILTER (WHERE r.response = 2) AS "response 2"
    FROM ratings r LEFT JOIN properties p USING (property)
    WHERE r.pair_id = $pair_id
    GROUP BY r.property, r.aspect
    ORDER BY min(p.property_index) NULLS LAST, r.property
"""
ERRORS = """
    SELECT response, error_index, severity, error_type, description FROM errors
    WHERE pair_id = $pair_id ORDER BY response, error_index
"""
ERROR_CHECKS = "SELECT response, applicable FROM error_checks WHERE pair_id = $pair_id ORDER BY response"
QUERY_SPECIFIC = """
    SELECT response, property, item_index, description, label, score FROM query_specific
    WHERE pair_id = $pair_id ORDER BY property, item_index, response
"""
FEATURES = """
    SELECT f.property, f.value, p.property_set FROM features f LEFT JOIN properties p USING (property)
    WHERE f.pair_id = $pair_id ORDER BY p.property_set, p.property_index
"""


@dataclass(frozen=True)
class PairFilter:
    """What the Samples page filters on; every field optional."""

    scenarios: tuple[str, ...] = ()
    group: str | None = None                 # a pair_groups group (any kind)
    model: str | None = None                 # either response's model
    disagree: tuple[str, ...] = ()           # judges that all chose differently from `against`
    text: str | None = None                  # case-insensitive search in query and responses
    against: str = HUMAN                     # the judge the `disagree` judges are compared with

    def params(self) -> dict:
        text = (self.text or "").strip().lower() or None
        return {"scenarios": list(self.scenarios) or None, "group": self.group, "model": self.model,
                "disagree": [j for j in self.disagree if j != self.against], "against": self.against,
                "text": text}


def filter_options(db: Db = None) -> dict:
    """Values for the Samples filters: scenarios, groups, models, judges with labels, and the
    pair ids' range (n_pairs, min_id, max_id)."""
    with reading(db) as con:
        n, lo, hi = con.execute(ID_RANGE).fetchone()
        scenarios = column(con, SCENARIOS)
        groups = dict(con.execute(GROUP_NAMES).fetchall())
        models = column(con, MODELS)
        judges = column(con, LABELLED_JUDGES)
    return {"scenarios": sort_groups(scenarios), "groups": sort_groups(groups, groups), "models": models,
            "judges": sort_judge_names(judges), "n_pairs": int(n), "min_id": int(lo or 0), "max_id": int(hi or 0)}


def filter_pair_ids(db: Db = None, flt: PairFilter = PairFilter()) -> list[int]:
    """The pair ids that pass the filter, in order."""
    with reading(db) as con:
        ids = con.execute(FILTER, flt.params()).fetchnumpy()["pair_id"]
    return [int(i) for i in ids]


def pair_list(db: Db = None, pair_ids: Sequence[int] = (), preview: int = 120, judge: str = HUMAN) -> pd.DataFrame:
    """One row per pair for the browse table: id, scenario, models, words, `judge`'s choice (in the
    column 'human'), query start."""
    ids = [int(i) for i in pair_ids]
    if not ids:
        return pd.DataFrame(columns=PAIR_LIST_COLUMNS)
    with reading(db) as con:
        df = frame(con, PAIR_LIST, {"ids": ids, "preview": preview, "human": judge})
    df["human"] = df["human"].map(lambda v: "" if pd.isna(v) else f"response {int(v)}")
    return df[PAIR_LIST_COLUMNS]


def _plain(value):
    return None if (not isinstance(value, str) and pd.isna(value)) else value


def pair_detail(db: Db = None, pair_id: int = 0) -> dict | None:
    """Everything about one pair, as plain values and DataFrames (None if there is no such pair).

    Keys: pair (dict of the pairs row), groups (list), facts (dict), items (DataFrame),
    labels (human first), ratings (property x response 1/2), errors, error_checks,
    query_specific, features (property -> value, every set's; empty when the pair has none),
    feature_sets (property -> its property set).
    """
    p = {"pair_id": int(pair_id)}
    with reading(db) as con:
        pair = frame(con, PAIR, p)
        feats = con.execute(FEATURES, p).fetchall()
        if pair.empty:
            return None
        groups = dict(con.execute(PAIR_GROUPS, p).fetchall())
        facts = frame(con, FACTS, p)
        out = {"pair": {k: _plain(v) for k, v in pair.iloc[0].to_dict().items()},
               "groups": sort_groups(groups, groups),
               "facts": facts.iloc[0].to_dict() if not facts.empty else {},
               "items": frame(con, ITEMS, p),
               "labels": frame(con, LABELS, p),
               "ratings": frame(con, RATINGS, p),
               "errors": frame(con, ERRORS, p),
               "error_checks": frame(con, ERROR_CHECKS, p),
               "query_specific": frame(con, QUERY_SPECIFIC, p),
               "features": {str(k): int(v) for k, v, _ in feats},
               "feature_sets": {str(k): str(s) for k, _, s in feats}}
    labels = out["labels"]
    if not labels.empty:
        out["labels"] = labels.sort_values("judge", key=lambda s: s.map(human_first)).reset_index(drop=True)
    return out


def feature_table(detail: dict, property_set: str | None = None) -> pd.DataFrame:
    """The pair's features: property, value, meaning, set. The chosen set's first (a union set
    'paper+style': its parts in turn), then any other set's; the paper's 29 in their order.
    Without `property_set`, the paper's 29 come first (as rows, with a value or None).
    With a set, only the features the pair has are listed: no row of None for a set it lacks."""
    feats = detail.get("features") or {}
    sets = detail.get("feature_sets") or {}
    paper = [p.name for p in PROPERTIES]
    rank = {name: i for i, name in enumerate(paper)}
    if property_set is None:
        names = paper + [k for k in feats if k not in rank]
    else:
        parts = property_set.split("+")
        first = {s: i for i, s in enumerate(parts)}
        names = sorted(feats, key=lambda k: (first.get(sets.get(k), len(parts)), rank.get(k, len(rank))))
    rows = []
    for name in names:
        v = feats.get(name)
        meaning = ("" if v is None else "response 1 has more" if v > 0 else "response 2 has more" if v < 0
                   else "equal / not applicable")
        rows.append({"property": name, "value": v, "meaning": meaning, "set": sets.get(name, "paper")})
    return pd.DataFrame(rows, columns=["property", "value", "meaning", "set"])


def facts_table(facts: dict) -> pd.DataFrame:
    """The query facts as rows fact, value (plain text)."""
    return pd.DataFrame([{"fact": k.replace("_", " "), "value": str(v)} for k, v in facts.items()])


def with_features(ratings: pd.DataFrame, features: dict) -> pd.DataFrame:
    """The ratings table with each property's feature beside it."""
    return ratings.assign(feature=ratings["property"].map(lambda q: features.get(q)))


# ------------------------------------------------------------------ choices


def choice_of(labels: pd.DataFrame, judge: str) -> int | None:
    """The response (1 or 2) a judge chose on the pair, or None."""
    if labels.empty:
        return None
    chose = labels.loc[labels["judge"] == judge, "preferred"]
    return int(chose.iloc[0]) if len(chose) else None


def choices_table(labels: pd.DataFrame, against: str = HUMAN) -> pd.DataFrame:
    """Each judge's choice, whether it agrees with `against`'s (the human by default), P(response 1)
    when any judge gave one, and the judge's kind."""
    view = labels.copy()
    view["chose"] = view["preferred"].map(lambda v: f"response {int(v)}")
    ref = choice_of(labels, against)
    cols = ["judge", "chose"]
    if ref is not None:
        view[f"agrees with {against}"] = view["preferred"].eq(ref)
        cols.append(f"agrees with {against}")
    if view["prob_1"].notna().any():
        cols.append("prob_1")
    return view[cols + ["kind"]]


# ------------------------------------------------------------------ paging


def step(ids: Sequence[int], current: int, delta: int) -> int:
    """The matching pair before (delta < 0) or after (delta > 0) `current`; ids are sorted,
    and `current` need not be one of them (it moves to the nearest that is)."""
    if delta > 0:
        return ids[min(bisect.bisect_right(ids, current), len(ids) - 1)]
    return ids[max(bisect.bisect_left(ids, current) - 1, 0)]


def page_of(ids: Sequence[int], current: int, page_size: int = PAGE_SIZE) -> tuple[int, list[int]]:
    """(start, window): the page of the browse table that holds `current` (or its place)."""
    pos = bisect.bisect_left(ids, current)
    start = (min(pos, len(ids) - 1) // page_size) * page_size
    return start, list(ids[start:start + page_size])


def after_filter_change(previous: str | None, signature: str, ids: Sequence[int], current: int | None) -> int | None:
    """The pair to jump to when the filter changed (its first match), or None to stay:
    nothing changed, nothing matches, or the current pair still matches."""
    if previous is None or previous == signature or not ids or current in ids:
        return None
    return ids[0]


def position_text(ids: Sequence[int], pair_id: int, n_all: int) -> str:
    """Where the pair sits among the matches, in one line."""
    if not ids:
        return "No pair matches the filters."
    if pair_id in ids:
        return f"Pair {ids.index(pair_id) + 1:,} of {len(ids):,} matching the filters ({n_all:,} in all)."
    return (f"{len(ids):,} pairs match the filters; this pair is not one of them "
            "(Previous / Next move to the nearest that is).")
