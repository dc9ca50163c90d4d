"""Step 8: the pairs' texts that are nearly all distinct (the key, the query and the two
responses) are stored with FSST compression, named in the table's definition, instead of
DuckDB trying each of its methods on every row group it writes.

Why (issue 18): for a text column DuckDB first measures what dictionary compression would
save, copying and hashing every text of the row group, and for these columns then picks FSST.
Named, that trial is skipped: a million HH-RLHF battles loaded 0.7 s sooner (16.3 s against
17.0 s on average, seven pairs of runs alternating, 0.9 CPU-seconds less), into a file of the
same size. Which method a column uses is the storage's business: every DuckDB client from 1.1
on reads the file as before (tests/test_views.py) and uses the method when it writes. The
other text columns keep DuckDB's choice (a column of few values is smaller as a dictionary,
and an all-NULL one with FSST named would be stored uncompressed).

An empty pairs table (a new file) is made again with the same columns, types, defaults and
NOT NULLs, and the methods named. A file that holds pairs keeps its table as it is: rebuilt, the
file would double (DuckDB reuses the freed blocks, it does not give them back), for loads that
are as they were before. A lake is left as it is: DuckLake stores Parquet and refuses a
column's compression method.
"""

from __future__ import annotations

from .m0006_keys_in_code import column_ddl

FSST = ("pair_key", "query", "response_1", "response_2")

_IS_LAKE = "SELECT type = 'ducklake' FROM duckdb_databases() WHERE database_name = current_database()"


def upgrade(con) -> None:
    if con.execute(_IS_LAKE).fetchone()[0] or con.execute("SELECT count(*) FROM pairs").fetchone()[0]:
        return
    body = column_ddl(con, "pairs", {column: "fsst" for column in FSST})
    con.execute("DROP TABLE pairs")
    con.execute(f"CREATE TABLE pairs ({body})")
