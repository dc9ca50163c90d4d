"""Step 7: the measures are kept one row per response (`response_counts`: pair_id, side and a
column per measure) instead of one row per response and measure, and `response_measures`
becomes a view of it (sql/response_measures.sql) with the columns and rows the table had.

Why (issue 18): at a million battles the long table took 22.8 million rows, after the texts
the costliest insert of a load; the same counts are 1.9 million rows here. Readers are
unchanged: they read the view. Writers write this table (`pipeline.properties.measures`).

The measure columns are the measures as of this step (`measures.MEASURES`), counts as
INTEGER; a NULL is a measure not taken (the view leaves it out, as the table had no row).
A file from before step 3 gets its pairs measured here.
"""

from __future__ import annotations

COLUMNS = ("tokens", "words", "characters", "headers", "list_items", "bold", "code_blocks", "links", "emoji",
           "questions", "refusals", "as_an_ai")

TABLE = ("CREATE TABLE IF NOT EXISTS response_counts (pair_id INTEGER NOT NULL, side TINYINT NOT NULL, "
         + ", ".join(f"{c} INTEGER" for c in COLUMNS) + ")")

# The long table's rows, a row per (pair, side) with a column per measure
FROM_LONG = ("INSERT INTO response_counts (pair_id, side, " + ", ".join(COLUMNS) + ") SELECT pair_id, side, "
             + ", ".join(f"CAST(max(value) FILTER (WHERE measure = '{c}') AS INTEGER)" for c in COLUMNS)
             + " FROM response_measures GROUP BY pair_id, side")

_LONG_TABLE = ("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
               "AND schema_name = 'main' AND table_name = 'response_measures'")


def upgrade(con) -> None:
    from ...properties import measures

    con.execute(TABLE)
    if con.execute(_LONG_TABLE).fetchone()[0]:
        con.execute(FROM_LONG)
        con.execute("DROP TABLE response_measures")  # the view of the same name replaces it
    measures.fill_missing(con)
