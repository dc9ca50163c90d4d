"""The paper's released record format (SPEC section 2): annotated pairs with `preference_labels`.

Only detected here; `pipeline.ingest.loader` reads it through `pipeline.ingest.records`, as before.
"""

from __future__ import annotations

NAME = "release"
TITLE = "released-format records (annotated pairs)"


def check(sample: dict, context: dict | None) -> str | None:
    if "preference_labels" in sample or isinstance(sample.get("response_1"), dict):
        return None
    return "missing field 'preference_labels'"
