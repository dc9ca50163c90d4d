"""Step 3: `response_measures`, the measurements of every response (tokens, words, characters
and the counts behind every style property; `pipeline.properties.measures`).

A Python step, not plain SQL, because an older file's pairs get their measures here, at the
migration that its next write runs: the counts are polars regular expressions, which SQL
cannot run with the same definitions."""

from __future__ import annotations

TABLE = """
CREATE TABLE IF NOT EXISTS response_measures (
    pair_id  INTEGER NOT NULL,
    side     TINYINT NOT NULL,     -- 1 or 2: response_1 or response_2 of the pair
    measure  VARCHAR NOT NULL,     -- 'tokens', 'words', 'characters', 'headers', 'list_items', ...
    value    DOUBLE NOT NULL,
    PRIMARY KEY (pair_id, side, measure)
)"""


def upgrade(con) -> None:
    from ...properties import measures

    con.execute(TABLE)
    measures.fill_missing(con)
