"""Stored pairs that lack the paper's annotations (`pairs.annotated = FALSE`): what the
Annotate page offers to annotate in place. Fixed SQL, read-only."""

from __future__ import annotations

from .base import Db, reading, scalar

# A database from before the `annotated` column has none to offer (`migrate` adds it).
HAS_COLUMN = """
    SELECT count(*) FROM information_schema.columns WHERE table_name = 'pairs' AND column_name = 'annotated'
"""
UNANNOTATED = "SELECT count(*) FROM pairs WHERE NOT annotated"


def unannotated_count(db: Db = None) -> int:
    """How many stored pairs have no paper annotations yet (0 where the column is missing)."""
    with reading(db) as con:
        if not scalar(con, HAS_COLUMN):
            return 0
        return int(scalar(con, UNANNOTATED) or 0)
