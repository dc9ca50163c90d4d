"""Ad-hoc SQL over the database, read-only, bounded, and without access to the server's files.

The SQL page of the app (and anyone scripting it) runs user SQL through `run_query`;
custom groups and `annotate --where` check their WHERE text with `check_condition`.

- check.py: which statements are accepted, decided from DuckDB's parser (one read-only
  statement; table functions from an allowlist; no file-reading or path-revealing
  functions; a size cap before parsing).
- condition.py: a user-written WHERE condition is one expression and nothing more.
- runner.py: the query runs in a short-lived worker process with an OS memory cap,
  DuckDB's memory and temp-disk caps, a private temp folder outside the repository, a
  result-bytes cap and a wall-clock limit that covers fetching and serialising.
- worker.py: that worker (DuckDB attaches the file READ_ONLY, external access off,
  settings locked before any user SQL).

No Streamlit here: the page draws what `run_query` returns.
"""

from .check import ALLOWED_HELP, ALLOWED_TABLE_FUNCTIONS, MAX_SQL_CHARS, PATH_REVEALING, SAFE_PRAGMAS, CheckedSQL, QueryFailed, QueryRefused, QueryTimeout, check_sql
from .condition import MAX_CONDITION_CHARS, ConditionRefused, check_condition
from .runner import DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, EXAMPLES, MEMORY_LIMIT, TEMP_LIMIT, QueryResult, QueryTooBig, connect_guarded, describe_schema, run_query

__all__ = [
    "ALLOWED_HELP", "ALLOWED_TABLE_FUNCTIONS", "MAX_SQL_CHARS", "PATH_REVEALING", "SAFE_PRAGMAS",
    "CheckedSQL", "QueryFailed", "QueryRefused", "QueryTimeout", "check_sql",
    "MAX_CONDITION_CHARS", "ConditionRefused", "check_condition",
    "DEFAULT_MAX_BYTES", "DEFAULT_MAX_ROWS", "DEFAULT_TIMEOUT_S", "EXAMPLES", "MEMORY_LIMIT", "TEMP_LIMIT",
    "QueryResult", "QueryTooBig", "connect_guarded", "describe_schema", "run_query",
]
