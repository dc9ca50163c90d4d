"""What the paper's annotations of one pair say: the typed pair the features are computed from.

Filled by `pipeline.ingest.records` from a released-format record (SPEC section 2), and read by
the feature rules (`paper_rules.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("minor", "moderate", "severe")

# SPEC 4c: category labels on their numeric scales (unknown labels count 0).
STANCE_SCALE = {
    "strongly supported": 2.0, "weakly supported": 1.0, "neutral": 0.0,
    "weakly opposed": -1.0, "strongly opposed": -2.0,
}
MISTAKE_SCALE = {
    "pointed out and corrected": 3.0, "corrected without being pointed out": 2.0,
    "pointed out but not corrected": 1.0, "neither pointed out nor corrected": 0.0, "neither": 0.0,
}

# query-specific key in the record -> (short property name, scale or None for numeric scores)
QUERY_SPECIFIC_KEYS = {
    "clarify user intent": ("clarify intent", None),
    "showing empathetic": ("show empathetic", None),
    "satisfying explicit constraints": ("satisfy constraints", None),
    "supporting explicit subjective stances": ("support stances", STANCE_SCALE),
    "correcting explicit mistakes or biases": ("correct mistakes", MISTAKE_SCALE),
}



@dataclass
class QSItem:
    description: str | None
    label: str | None
    score: float


@dataclass
class Response:
    content: str
    model: str | None
    num_words: int | None
    ratings: dict[str, float | None]          # basic rating key -> score (None when missing)
    applicable: bool                          # error check applicable
    errors: list[dict[str, str | None]]       # severity, type, description
    query_specific: dict[str, list[QSItem]]   # short property name -> rated items

    def error_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITIES, 0)
        for e in self.errors:
            if e["severity"] in counts:
                counts[e["severity"]] += 1
        return counts


@dataclass
class Pair:
    position: int
    source_id: str | None
    query: str
    scenario_auto_j: str | None
    scenario_group: str | None
    reference: str | None
    clear_intent: bool | None
    express_feelings: bool | None
    constraints: list[str]
    stances: list[str]
    mistakes: list[str]
    labels: dict[str, int]                    # judge -> 1 or 2
    r1: Response
    r2: Response
    extra: dict[str, Any] = field(default_factory=dict)
