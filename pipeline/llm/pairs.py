"""A stored pair as an LLM job sees it, and which response it is shown as A.

Shared by the LLM judge, `rate` (custom properties) and annotation, so every job that shows
both responses in one call decides the A/B order the same way: by a hash of the pair's key
(as the paper's protocol and alpaca_eval do), the same pair always the same way round.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass


def is_swapped(pair_key: str) -> bool:
    """True: response 2 is shown as A. About half of all pairs, decided by the pair's key."""
    return hashlib.sha256(f"swap:{pair_key}".encode()).digest()[0] & 1 == 1


@dataclass(frozen=True)
class PairText:
    pair_id: int
    pair_key: str
    query: str
    response_1: str
    response_2: str

    @property
    def swapped(self) -> bool:
        """True: response 2 is shown as A (the hash-decided order of `is_swapped`)."""
        return is_swapped(self.pair_key)

    def shown(self) -> dict[str, str]:
        a, b = (self.response_2, self.response_1) if self.swapped else (self.response_1, self.response_2)
        return {"response_a": a, "response_b": b}


def read_pair_texts(db=None, *, ids: Sequence[int] | None = None, usable_only: bool = False,
                    max_pairs: int | None = None) -> list[PairText]:
    """The stored pairs' texts by pair id: all, those in `ids`, or only usable ones; the first `max_pairs`."""
    from ..store import db as dbmod

    conditions, params = [], []
    if ids is not None:
        conditions.append("list_contains(?, pair_id)")
        params.append(list(ids))
    if usable_only:
        conditions.append("usable")
    sql = "SELECT pair_id, pair_key, query, response_1, response_2 FROM pairs"
    sql += (" WHERE " + " AND ".join(conditions) if conditions else "") + " ORDER BY pair_id"
    sql += f" LIMIT {int(max_pairs)}" if max_pairs else ""
    with dbmod.reading(db) as con:
        return [PairText(*r) for r in con.execute(sql, params).fetchall()]
