"""Copying the call journal into DuckDB's `llm_calls`, so calls and cost can be queried in SQL.

Done at the end of a job in one short transaction (the journal stays the source of
truth; the table is replaced whole, so it can never drift from it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from .journal import open_readonly

LLM_CALLS_DDL = """
CREATE TABLE IF NOT EXISTS llm_calls (
    call_id           BIGINT NOT NULL,     -- row id in the journal (unique there; the table is replaced whole)
    request_hash      VARCHAR NOT NULL,    -- identity of the request: equal hashes share one answer
    run_id            BIGINT,              -- the job run that made the call
    job               VARCHAR NOT NULL,    -- 'annotate', 'judge:NAME', ...
    step              VARCHAR NOT NULL,    -- e.g. 'reference', 'query-facts', 'accuracy'
    pair_key          VARCHAR,             -- pairs.pair_key of the pair it was made for
    model             VARCHAR NOT NULL,
    prompt_version    VARCHAR,             -- '<template>@<version>'
    via               VARCHAR NOT NULL,    -- 'online' or 'batch'
    attempt           INTEGER NOT NULL,    -- 0 for the first answer, then 1, 2, ... (the seed moves on)
    status            VARCHAR NOT NULL,    -- ok, invalid, failed, error, received
    error             VARCHAR,             -- why it is invalid / failed / an error
    raw_text          VARCHAR,             -- the answer exactly as received
    finish_reason     VARCHAR,
    response_id       VARCHAR,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    cost_usd          DOUBLE,              -- from the price table; NULL for an unknown model
    latency_ms        DOUBLE,
    created_at        TIMESTAMP,           -- UTC
    updated_at        TIMESTAMP
);
"""

COLUMNS = ["call_id", "request_hash", "run_id", "job", "step", "item_key", "model", "prompt_version", "via",
           "attempt", "status", "error", "raw_text", "finish_reason", "response_id", "prompt_tokens",
           "completion_tokens", "cost_usd", "latency_ms", "created_at", "updated_at"]


def mirror_calls(journal_file: str | os.PathLike, db=None) -> int:
    """Replace llm_calls with the journal's rows; returns how many."""
    from ..store import db as dbmod

    if not Path(journal_file).exists():
        return 0
    src = open_readonly(journal_file)
    try:
        rows = src.execute(f"SELECT {', '.join(COLUMNS)} FROM calls ORDER BY call_id").fetchall()
    finally:
        src.close()
    arrow = pa.table({c: [r[i] for r in rows] for i, c in enumerate(COLUMNS)})  # noqa: F841 - read by DuckDB
    select = ", ".join("item_key AS pair_key" if c == "item_key" else
                       f"CAST({c} AS TIMESTAMP) AS {c}" if c.endswith("_at") else c for c in COLUMNS)
    with dbmod.writing(db) as con:
        con.execute(LLM_CALLS_DDL)
        con.execute("DELETE FROM llm_calls")
        if rows:
            con.execute(f"INSERT INTO llm_calls SELECT {select} FROM arrow")
    return len(rows)
