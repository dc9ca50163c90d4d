"""The paper's 29 properties and its groups: the registry every other module (and the app) reads.

Order, short names and sources follow the paper (SPEC section 3). The short name is
what the database and the charts use; `source_key` is the field name in the released
record it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Property:
    index: int
    name: str          # short name used everywhere in the product
    kind: str          # 'basic', 'error', 'query-specific' or 'length'
    source_key: str    # where it comes from in a released record
    description: str   # one line for tooltips and the README


_BASIC = [
    ("harmless", "harmlessness", "Free of harmful, unsafe or offensive content."),
    ("grammarly correct", "grammar, spelling, punctuation, and code-switching",
     "Correct grammar, spelling and punctuation, no stray language switches."),
    ("friendly", "friendly", "Warm and friendly in tone."),
    ("polite", "polite", "Courteous and respectful."),
    ("interactive", "interactive", "Engages the user, e.g. asks questions back."),
    ("authoritative", "authoritative tone", "Speaks with confidence and authority."),
    ("funny", "funny and humorous", "Humorous or witty."),
    ("use rhetorical devices", "metaphors, personification, similes, hyperboles, irony, parallelism",
     "Uses metaphors, similes, irony and other rhetorical devices."),
    ("complex word & sentence", "complex word usage and sentence structure",
     "Uses sophisticated words and sentence structures."),
    ("use supporting materials", "use of direct and explicit supporting materials",
     "Cites sources, quotes or concrete supporting material."),
    ("well formatted", "well formatted", "Clear layout: lists, headings, code blocks."),
    ("admit limits", "admit limitations or mistakes", "Admits its limitations or mistakes."),
    ("persuasive", "persuade user", "Tries to persuade the user."),
    ("step-by-step", "step by step solution", "Solves the task step by step."),
    ("use informal expressions", "use of informal expressions", "Uses slang or informal expressions."),
    ("non-repetitive", "repetitive", "Does not repeat itself (the repetitive rating, sign flipped)."),
    ("clear", "clear and understandable", "Clear and easy to understand."),
    ("relevant", "relevance without considering inaccuracy",
     "Addresses the query at all (zero versus non-zero relevance)."),
    ("novel", "innovative and novel", "Innovative or novel content."),
    ("contain rich info", "information richness without considering inaccuracy",
     "Rich in information, regardless of accuracy."),
]

_ERRORS = [
    ("no minor errors", "minor", "Fewer minor errors."),
    ("no moderate errors", "moderate", "Fewer moderate errors."),
    ("no severe errors", "severe", "Fewer severe errors."),
]

_QUERY_SPECIFIC = [
    ("clarify intent", "clarify user intent", "Helps clarify an unclear intent (only when the intent is unclear)."),
    ("show empathetic", "showing empathetic", "Shows empathy (only when the user expresses feelings)."),
    ("satisfy constraints", "satisfying explicit constraints", "Satisfies the query's explicit constraints."),
    ("support stances", "supporting explicit subjective stances", "Supports the user's explicit stances."),
    ("correct mistakes", "correcting explicit mistakes or biases", "Corrects mistakes or biases in the query."),
]


def _build() -> list[Property]:
    props: list[Property] = []
    for name, key, desc in _BASIC:
        props.append(Property(len(props), name, "basic", key, desc))
    for name, key, desc in _ERRORS:
        props.append(Property(len(props), name, "error", key, desc))
    for name, key, desc in _QUERY_SPECIFIC:
        props.append(Property(len(props), name, "query-specific", key, desc))
    props.append(Property(len(props), "lengthy", "length", "num_words", "Clearly longer than the other response."))
    return props


PROPERTIES: list[Property] = _build()
PROPERTY_NAMES: list[str] = [p.name for p in PROPERTIES]
N_PROPERTIES = len(PROPERTIES)
BY_NAME: dict[str, Property] = {p.name: p for p in PROPERTIES}
BASIC: list[Property] = [p for p in PROPERTIES if p.kind == "basic"]
BASIC_KEYS: dict[str, str] = {p.source_key: p.name for p in BASIC}

assert N_PROPERTIES == 29

# SPEC 4d: for a short response of s words (s <= 11), the longer one must reach this many words.
SHORT_LENGTH_THRESHOLD = {0: 1, 1: 3, 2: 5, 3: 7, 4: 8, 5: 10, 6: 11, 7: 13, 8: 14, 9: 16, 10: 17, 11: 19}

_KIND_RULES = {
    "basic": "sign(r1 - r2) of the 0..3 ratings (SPEC 4a)",
    "error": "+1 when response 2 has more errors of this severity, -1 when fewer (SPEC 4b)",
    "query-specific": "sign(mean1 - mean2) when the query meets the prerequisite, else 0 (SPEC 4c)",
    "length": "sign of the word-count difference when clearly different (SPEC 4d)",
}
_RULE_EXCEPTIONS = {
    "relevant": "+1 if r1 > 0 and r2 == 0, -1 if the reverse, else 0 (SPEC 4a)",
    "non-repetitive": "-sign(r1 - r2) of the 'repetitive' rating (SPEC 4a)",
}


def paper_rule(p: Property) -> str:
    """One line: how the feature of a paper property is computed from the annotations."""
    return _RULE_EXCEPTIONS.get(p.name) or _KIND_RULES[p.kind]


@dataclass(frozen=True)
class QueryGroup:
    name: str          # display / database name (SPEC section 5)
    key: str           # key used in the original's fitted_paras files and group_indices.json
    prerequisite: str  # the query fact that puts a pair in the group


QUERY_GROUPS: list[QueryGroup] = [
    QueryGroup("Unclear User Intent", "intent_unclear", "clear intent is No"),
    QueryGroup("Express Feelings or Emotions", "express_feeling", "explicitly express feelings is Yes"),
    QueryGroup("Contain Explicit Constraints", "w_constraints", "explicit constraints is non-empty"),
    QueryGroup("Show Explicit Subjective Stances", "w_stances", "explicit subjective stances is non-empty"),
    QueryGroup("Contain Mistakes or Bias", "w_mistakes", "explicit mistakes or biases is non-empty"),
]
QUERY_GROUP_BY_KEY = {g.key: g for g in QUERY_GROUPS}
QUERY_GROUP_BY_NAME = {g.name: g for g in QUERY_GROUPS}

# The release's 11 scenario groups, in the paper's order (data may bring others).
SCENARIO_GROUPS: list[str] = [
    "Advice", "Code", "Communication", "Creative Writing", "Daily Tasks", "Exam Questions",
    "Functional Writing", "Knowledge-aware", "NLP Tasks", "Others", "Unsafe Queries",
]


# Every pair is in 'All' (group_kind 'all'), so data without scenario groups can be fitted;
# the original's files call it 'all'. It is not part of the similarity's 'Overall'.
ALL_GROUP, ALL_KIND, ALL_FILE_KEY = "All", "all", "all"


def group_file_key(group_name: str) -> str:
    """The key the original project uses in file names for a group."""
    if group_name == ALL_GROUP:
        return ALL_FILE_KEY
    g = QUERY_GROUP_BY_NAME.get(group_name)
    return g.key if g else group_name


def group_from_file_key(key: str) -> tuple[str, str]:
    """(group_name, group_kind) for a key from a fitted_paras file name."""
    if key == ALL_FILE_KEY:
        return ALL_GROUP, ALL_KIND
    g = QUERY_GROUP_BY_KEY.get(key)
    if g:
        return g.name, "query-specific"
    return key, "scenario"
