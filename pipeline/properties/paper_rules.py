"""From a pair's annotations to its 29 features (SPEC section 4).

Each feature compares response 1 with response 2: +1 when response 1 has more of the
property, -1 when less, 0 when equal or not applicable. All rules are small pure
functions so each can be tested on its own.
"""

from __future__ import annotations

import numpy as np

from .annotations import QUERY_SPECIFIC_KEYS, SEVERITIES, Pair, Response
from .paper import BASIC, PROPERTY_NAMES, SHORT_LENGTH_THRESHOLD


def sign(x: float) -> int:
    return (x > 0) - (x < 0)


def valid_rating(score: float | None) -> float:
    """A basic rating outside 0..3 (or missing) counts as 0."""
    if score is None or not 0 <= score <= 3:
        return 0.0
    return score


def compare_rating(r1: float | None, r2: float | None) -> int:
    return sign(valid_rating(r1) - valid_rating(r2))


def compare_relevance(r1: float | None, r2: float | None) -> int:
    """Relevance only separates 'not relevant at all' (0) from anything else."""
    a, b = valid_rating(r1) > 0, valid_rating(r2) > 0
    return int(a) - int(b)


def compare_errors(n1: int, n2: int) -> int:
    """Fewer errors is better: +1 when response 2 has more errors than response 1."""
    return sign(n2 - n1)


def clearly_different_length(short: int, long: int) -> bool:
    """SPEC 4d: is `long` clearly longer than `short` (short <= long)?"""
    if short <= 11:
        return long >= SHORT_LENGTH_THRESHOLD[max(short, 0)]
    diff = long - short
    return ((short <= 0.7 * long and diff >= 10) or (short <= 0.8 * long and diff >= 20)
            or (short <= 0.9 * long and diff >= 40))


def compare_length(n1: int | None, n2: int | None) -> int:
    if n1 is None or n2 is None or n1 == n2:
        return 0
    short, long = min(n1, n2), max(n1, n2)
    if not clearly_different_length(short, long):
        return 0
    return 1 if n1 > n2 else -1


def mean_score(items) -> float:
    return sum(i.score for i in items) / len(items) if items else 0.0


# The five query facts (SPEC section 5's query-specific groups, by QueryGroup.key): a pair is in
# the group when its query has the fact, and the group's query-specific property (SPEC 4c) applies
# to it only then. Written once: the loader's group rows and the features both read them here.
QUERY_GROUP_RULES = {
    "intent_unclear": lambda pair: pair.clear_intent is False,
    "express_feeling": lambda pair: pair.express_feelings is True,
    "w_constraints": lambda pair: bool(pair.constraints),
    "w_stances": lambda pair: bool(pair.stances),
    "w_mistakes": lambda pair: bool(pair.mistakes),
}
_QS_APPLIES = {  # each query-specific property's prerequisite
    "clarify intent": QUERY_GROUP_RULES["intent_unclear"],
    "show empathetic": QUERY_GROUP_RULES["express_feeling"],
    "satisfy constraints": QUERY_GROUP_RULES["w_constraints"],
    "support stances": QUERY_GROUP_RULES["w_stances"],
    "correct mistakes": QUERY_GROUP_RULES["w_mistakes"],
}


def query_specific_met(pair: Pair) -> dict[str, bool]:
    """Which query-specific properties apply to this pair's query (SPEC 4c prerequisites)."""
    return {prop: applies(pair) for prop, applies in _QS_APPLIES.items()}


def usable(pair: Pair) -> bool:
    """A pair is usable for fitting when both error checks are applicable."""
    return pair.r1.applicable and pair.r2.applicable


def _basic_features(r1: Response, r2: Response) -> dict[str, int]:
    out = {}
    for p in BASIC:
        a, b = r1.ratings.get(p.source_key), r2.ratings.get(p.source_key)
        if p.name == "relevant":
            out[p.name] = compare_relevance(a, b)
        elif p.name == "non-repetitive":
            out[p.name] = -compare_rating(a, b)  # the rating is 'repetitive': less is better
        else:
            out[p.name] = compare_rating(a, b)
    return out


def pair_features(pair: Pair) -> dict[str, int]:
    """All 29 features of a pair, by short name, in the paper's order."""
    feats = _basic_features(pair.r1, pair.r2)
    c1, c2 = pair.r1.error_counts(), pair.r2.error_counts()
    applicable = usable(pair)
    for sev in SEVERITIES:
        feats[f"no {sev} errors"] = compare_errors(c1[sev], c2[sev]) if applicable else 0
    for prop, met in query_specific_met(pair).items():
        feats[prop] = sign(mean_score(pair.r1.query_specific[prop]) - mean_score(pair.r2.query_specific[prop])) if met else 0
    feats["lengthy"] = compare_length(pair.r1.num_words, pair.r2.num_words)
    return {name: feats[name] for name in PROPERTY_NAMES}


def feature_vector(pair: Pair) -> list[int]:
    return list(pair_features(pair).values())


# ---------------------------------------------------------------- many pairs at once
# The loader computes features for 100,000s of pairs: the same rules as above on numpy
# arrays, one pass per rule instead of ~30 Python calls per pair (tests check equality).

_BASIC_SOURCE_KEYS = [p.source_key for p in BASIC]
_RATING_SIGN = np.array([-1 if p.name == "non-repetitive" else 1 for p in BASIC])  # 'repetitive': less is better
_RELEVANT = np.array([p.name == "relevant" for p in BASIC])
_QS_PROPS = [short for short, _ in QUERY_SPECIFIC_KEYS.values()]
_THRESHOLDS = np.array([SHORT_LENGTH_THRESHOLD[s] for s in range(12)])
_SEVERITY_CODE = {sev: i for i, sev in enumerate(SEVERITIES)}
_UNCOUNTED = len(SEVERITIES)  # an error without a severity (or with one error_counts does not count)


def _sign(x: np.ndarray) -> np.ndarray:
    """sign() on an array: 0 for NaN too, as the scalar rule gives."""
    return (x > 0).astype(np.int8) - (x < 0)


def _valid(scores: np.ndarray) -> np.ndarray:
    """valid_rating on an array (NaN stands for a missing rating)."""
    with np.errstate(invalid="ignore"):
        return np.where((scores >= 0) & (scores <= 3), scores, 0.0)


def _length_features(n1: list[int | None], n2: list[int | None]) -> np.ndarray:
    """compare_length on arrays (None: no word count, so 0)."""
    x1, x2 = np.array(n1, dtype=float), np.array(n2, dtype=float)  # None -> NaN; counts are < 2**31, exact
    known = ~(np.isnan(x1) | np.isnan(x2))
    a, b = np.where(known, x1, 0).astype(np.int64), np.where(known, x2, 0).astype(np.int64)
    short, long = np.minimum(a, b), np.maximum(a, b)
    diff = long - short
    big = (((short <= 0.7 * long) & (diff >= 10)) | ((short <= 0.8 * long) & (diff >= 20))
           | ((short <= 0.9 * long) & (diff >= 40)))
    clear = np.where(short <= 11, long >= _THRESHOLDS[np.clip(short, 0, 11)], big) & known & (a != b)
    return np.where(clear, _sign(a - b), 0)


def basic_ratings(pairs: list[Pair]) -> np.ndarray:
    """Every pair's basic ratings as one (len(pairs), 2, 20) array: response, then rating in
    BASIC's order; NaN where a rating is missing."""
    flat = [v for p in pairs for resp in (p.r1, p.r2) for v in map(resp.ratings.get, _BASIC_SOURCE_KEYS)]
    return np.array(flat, dtype=float).reshape(len(pairs), 2, len(BASIC))


def error_count_matrix(pairs: list[Pair]) -> np.ndarray:
    """Response.error_counts of every pair as one (len(pairs), 2, 3) array: response, then
    severity in SEVERITIES' order. One pass over all the errors, not a dict per response."""
    responses = [resp.errors for p in pairs for resp in (p.r1, p.r2)]
    sizes = np.fromiter(map(len, responses), dtype=np.int64, count=len(responses))
    codes = np.array([_SEVERITY_CODE.get(e["severity"], _UNCOUNTED) for errors in responses for e in errors],
                     dtype=np.int64)
    owner = np.repeat(np.arange(len(responses)), sizes)
    slots = _UNCOUNTED + 1
    counts = np.bincount(owner * slots + codes, minlength=len(responses) * slots)
    return counts.reshape(len(pairs), 2, slots)[:, :, :_UNCOUNTED]


def _qs_difference(a: list, b: list) -> float:
    """mean_score(a) - mean_score(b); most pairs rate no item at all."""
    return (mean_score(a) - mean_score(b)) if a or b else 0.0


def feature_matrix(pairs: list[Pair], ratings: np.ndarray | None = None) -> np.ndarray:
    """pair_features of every pair as one (len(pairs), 29) int8 array, columns in PROPERTY_NAMES order.
    `ratings`: their `basic_ratings`, where the caller has them already."""
    n = len(pairs)
    if n == 0:
        return np.zeros((0, len(PROPERTY_NAMES)), dtype=np.int8)
    out: dict[str, np.ndarray] = {}
    grid = basic_ratings(pairs) if ratings is None else ratings
    r1, r2 = _valid(grid[:, 0, :]), _valid(grid[:, 1, :])
    basic = np.where(_RELEVANT, (r1 > 0).astype(np.int8) - (r2 > 0), _sign(r1 - r2) * _RATING_SIGN)
    for j, p in enumerate(BASIC):
        out[p.name] = basic[:, j]
    applicable = np.array([usable(p) for p in pairs], dtype=bool)
    counts = error_count_matrix(pairs)
    c1, c2 = counts[:, 0, :], counts[:, 1, :]
    errors = np.where(applicable[:, None], _sign(c2 - c1), 0)
    for j, sev in enumerate(SEVERITIES):
        out[f"no {sev} errors"] = errors[:, j]
    for prop in _QS_PROPS:
        applies = _QS_APPLIES[prop]  # query_specific_met's rule, one property at a time (no dict a pair)
        d = np.array([_qs_difference(p.r1.query_specific[prop], p.r2.query_specific[prop]) if applies(p) else 0.0
                      for p in pairs])
        out[prop] = _sign(d)
    out["lengthy"] = _length_features([p.r1.num_words for p in pairs], [p.r2.num_words for p in pairs])
    return np.stack([out[name] for name in PROPERTY_NAMES], axis=1).astype(np.int8)
