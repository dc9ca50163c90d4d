"""Step 3: `response_measures`, the measurements of every response (tokens, words, characters
and the counts behind every style property; `pipeline.properties.measures`).

An older file's pairs got their measures here; since step 7 (which keeps them in
`response_counts`, a column per measure, and makes `response_measures` a view) they get them
there."""

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
    con.execute(TABLE)  # its pairs are measured at step 7, into the table that replaced this one
