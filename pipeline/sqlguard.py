"""Ad-hoc SQL over the database, read-only and without access to the server's files.

The SQL page of the app (and anyone scripting it) runs user SQL through `run_query`.
Three layers keep it harmless:

1. A statement check (`check_sql`): exactly one statement, and only one that reads:
   SELECT / WITH / FROM / VALUES / TABLE, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN of one of
   those, or a PRAGMA that only describes (table_info, show_tables, database_size, ...).
   Anything else (DROP, INSERT, COPY, ATTACH, INSTALL/LOAD, SET, ...) and every
   file-reading table function (read_csv, read_parquet, glob, FROM 'file.csv', ...) is
   refused with a message that says why.
2. The connection: an in-memory DuckDB that attaches the database file READ_ONLY and
   then turns external access off (`SET enable_external_access = false`) and locks the
   configuration, before any user SQL runs. DuckDB itself then refuses writes to the
   file and every file or network access (read_csv('/etc/passwd'), COPY ... TO,
   ATTACH, INSTALL, LOAD), whatever slipped past the check.
   Attaching from a private in-memory instance (rather than `duckdb.connect(path,
   read_only=True, config={'enable_external_access': False})`) matters in a server:
   DuckDB refuses a second connection to a file that this process already has open
   with another configuration, and the app's other reads use the default one.
3. Limits: at most `max_rows` rows come back (the result says when it was cut), a
   timer interrupts the query after `timeout_s` seconds, and the query runs on few
   threads with a memory cap, so one query cannot starve the machine.

No Streamlit here: the page draws what `run_query` returns.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from . import db as dbmod

DEFAULT_MAX_ROWS = 10_000
DEFAULT_TIMEOUT_S = 10.0
THREADS = 2
MEMORY_LIMIT = "2GB"

ALLOWED_HELP = ("one read-only statement: SELECT (or WITH, FROM, VALUES), DESCRIBE, SHOW, SUMMARIZE, "
                "EXPLAIN SELECT ..., or PRAGMA table_info('name')")

# PRAGMAs that only describe the database.
SAFE_PRAGMAS = {
    "table_info", "show", "show_tables", "show_tables_expanded", "show_databases", "database_size",
    "storage_info", "version", "platform", "functions", "collations", "database_list", "metadata_info",
    "user_agent",
}

# Statement kinds we refuse, with the reason shown to the user.
_REFUSED_KIND = {
    "INSERT": "it writes data", "UPDATE": "it writes data", "DELETE": "it writes data",
    "MERGE": "it writes data", "MERGE_INTO": "it writes data",
    "CREATE": "it changes the schema", "CREATE_FUNC": "it changes the schema", "DROP": "it changes the schema",
    "ALTER": "it changes the schema", "COMMENT": "it changes the schema",
    "COPY": "it reads or writes files on the server", "COPY_DATABASE": "it reads or writes files on the server",
    "EXPORT": "it writes files on the server", "IMPORT": "it reads files on the server",
    "ATTACH": "it opens another database file", "DETACH": "it closes a database",
    "LOAD": "it installs or loads extensions (code and files from outside the database)",
    "SET": "it changes settings", "VARIABLE_SET": "it changes settings",
    "TRANSACTION": "it controls transactions", "VACUUM": "it maintains the file",
    "PREPARE": "it prepares statements", "EXECUTE": "it executes prepared statements",
    "CALL": "it calls a procedure", "UPDATE_EXTENSIONS": "it installs extensions",
    "MULTI": "it runs several statements (PIVOT with an implicit ENUM is one of them)",
    "LOGICAL_PLAN": "it is an internal statement", "RELATION": "it is an internal statement",
    "EXTENSION": "it is an extension statement",
}

# Table functions that read files or the network. Names starting with read_ or ending
# with _scan are treated the same (read_xlsx, delta_scan, postgres_scan, ...).
FILE_FUNCTIONS = {
    "glob", "sniff_csv", "parquet_metadata", "parquet_schema", "parquet_file_metadata",
    "parquet_kv_metadata", "parquet_bloom_probe", "st_read", "st_read_meta", "sqlite_attach",
    "query_table", "json_execute_serialized_sql", "load_extension", "getenv", "duckdb_secrets",
}


class QueryRefused(ValueError):
    """The SQL is not allowed here; the message says why and what is."""


class QueryTimeout(RuntimeError):
    """The query ran past the time limit and was interrupted."""


class QueryFailed(RuntimeError):
    """DuckDB could not run the query (syntax error, unknown column, ...)."""


@dataclass
class QueryResult:
    frame: pd.DataFrame
    truncated: bool          # more rows existed than max_rows
    max_rows: int
    seconds: float
    statement: str           # the statement as run
    kind: str                # 'SELECT', 'EXPLAIN', 'PRAGMA'
    notes: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class CheckedSQL:
    text: str     # the single statement, without trailing semicolons
    kind: str     # 'SELECT', 'EXPLAIN' or 'PRAGMA'


def _refuse(what: str, why: str) -> QueryRefused:
    return QueryRefused(f"Refused: {what} is not allowed here because {why}. "
                        f"This page is read-only and cannot touch files on the server; it runs {ALLOWED_HELP}.")


def _first_word(text: str) -> str:
    m = re.match(r"\s*([A-Za-z_]+)", _strip_comments(text))
    return m.group(1).upper() if m else "?"


def _strip_comments(text: str) -> str:
    out = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"--[^\n]*", " ", out)


def _tokens(sql: str) -> list[tuple[str, str]]:
    """(kind, text) of each token, comments dropped."""
    try:
        raw = duckdb.tokenize(sql)
    except Exception:  # the tokenizer is lenient; parse errors surface later
        return []
    out = []
    for i, (pos, kind) in enumerate(raw):
        end = raw[i + 1][0] if i + 1 < len(raw) else len(sql)
        name = getattr(kind, "name", str(kind))
        if name == "comment":
            continue
        out.append((name, sql[pos:end].strip()))
    return out


def _is_file_function(name: str) -> bool:
    n = name.lower().strip('"')
    return n in FILE_FUNCTIONS or n.startswith("read_") or n.endswith("_scan")


def _check_file_access(sql: str) -> None:
    toks = _tokens(sql)
    for i, (kind, text) in enumerate(toks):
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind in ("identifier", "keyword") and nxt.startswith("(") and _is_file_function(text):
            raise _refuse(f"{text.lower()}()", "it reads files on the server (external access is off)")
        if kind == "keyword" and text.upper() in ("FROM", "JOIN") and i + 1 < len(toks) \
                and toks[i + 1][0] == "string_const":
            raise _refuse(f"FROM {toks[i + 1][1]}", "a quoted name after FROM or JOIN reads a file on the server "
                          "(external access is off); query the tables listed beside instead")


def check_sql(sql: str) -> CheckedSQL:
    """Accept exactly one read-only statement, or raise QueryRefused saying why."""
    if not sql or not _strip_comments(sql).strip(" \t\r\n;"):
        raise QueryRefused(f"Nothing to run: write {ALLOWED_HELP}.")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryFailed(f"DuckDB could not parse the SQL: {exc}") from None
    if len(statements) != 1:
        raise QueryRefused(f"Refused: {len(statements)} statements; run one at a time "
                           f"({ALLOWED_HELP}).")
    stmt = statements[0]
    kind = stmt.type.name
    text = stmt.query.strip().rstrip(";").strip()
    word = _first_word(text)
    if kind == "SELECT":
        _check_file_access(text)
        return CheckedSQL(text, "SELECT")
    if kind == "EXPLAIN":
        inner = re.sub(r"^\s*EXPLAIN\s+(ANALY[SZ]E\s+)?", "", _strip_comments(text), flags=re.I)
        try:
            inner_statements = duckdb.extract_statements(inner)
        except duckdb.Error as exc:
            raise QueryFailed(f"DuckDB could not parse the SQL: {exc}") from None
        if len(inner_statements) != 1 or inner_statements[0].type.name != "SELECT":
            raise _refuse(f"EXPLAIN {_first_word(inner)}", "only a SELECT may be explained")
        _check_file_access(inner)
        return CheckedSQL(text, "EXPLAIN")
    if kind == "PRAGMA":
        m = re.match(r"\s*PRAGMA\s+([A-Za-z_]+)\s*(.*)$", _strip_comments(text), flags=re.I | re.S)
        name = m.group(1).lower() if m else "?"
        rest = m.group(2).strip() if m else ""
        if name not in SAFE_PRAGMAS or rest.startswith("="):
            raise _refuse(f"PRAGMA {name}", "it is not one of the PRAGMAs that only describe the database "
                          f"({', '.join(sorted(SAFE_PRAGMAS))})")
        _check_file_access(text)
        return CheckedSQL(text, "PRAGMA")
    why = _REFUSED_KIND.get(kind, "it is not a read-only query")
    raise _refuse(f"{word} ({kind.lower()} statement)" if word != kind else word, why)


def _attach_alias(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    alias = re.sub(r"[^A-Za-z0-9_]", "_", stem) or "db"
    if alias[0].isdigit() or alias.lower() in ("memory", "system", "temp", "main"):
        alias = "db_" + alias
    return alias


def connect_guarded(db=None, *, timeout: float = 15.0, threads: int = THREADS,
                    memory_limit: str = MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the database attached READ_ONLY, external access off, settings locked."""
    path = dbmod.resolve_db_path(db)
    if not path.exists():
        raise dbmod.DatabaseMissing(f"no database at {path}: run `python -m pipeline demo` or `load`")
    con = duckdb.connect(":memory:", config={
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "threads": threads,
        "memory_limit": memory_limit,
    })
    try:
        alias = _attach_alias(str(path))
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            try:
                # path and alias are ours (resolve_db_path / sanitised), never user SQL
                quoted = str(path).replace("'", "''")
                con.execute(f"ATTACH '{quoted}' AS \"{alias}\" (READ_ONLY)")
                break
            except duckdb.Error as exc:
                if not dbmod.is_lock_error(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)
        con.execute(f'USE "{alias}"')
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _friendly_error(exc: Exception) -> Exception:
    if isinstance(exc, duckdb.PermissionException):
        return QueryRefused("Refused: the query tried to read or write a file (or the network) on the server, "
                            f"and external access is off here. DuckDB said: {exc}")
    text = str(exc)
    if "read-only mode" in text or "read only" in text.lower():
        return QueryRefused(f"Refused: the database is opened read-only here. DuckDB said: {text}")
    if "configuration has been locked" in text:
        return QueryRefused(f"Refused: settings cannot be changed here. DuckDB said: {text}")
    return QueryFailed(text)


def run_query(db=None, sql: str = "", *, max_rows: int = DEFAULT_MAX_ROWS,
              timeout_s: float = DEFAULT_TIMEOUT_S) -> QueryResult:
    """Check and run one read-only statement; at most max_rows rows, at most timeout_s seconds.

    Raises QueryRefused (not allowed), QueryTimeout (interrupted), QueryFailed (DuckDB
    error, e.g. a typo) or db.DatabaseMissing.
    """
    checked = check_sql(sql)
    max_rows = max(1, int(max_rows))
    con = connect_guarded(db)
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.daemon = True
    t0 = time.perf_counter()
    try:
        timer.start()
        try:
            if checked.kind == "SELECT":
                frame = con.sql(checked.text).limit(max_rows + 1).df()
            else:
                frame = con.execute(checked.text).df()
        except duckdb.InterruptException:
            raise QueryTimeout(f"Stopped: the query ran longer than the {timeout_s:g} s limit. "
                               "Add a WHERE or LIMIT, or aggregate first.") from None
        except duckdb.Error as exc:
            raise _friendly_error(exc) from None
    finally:
        timer.cancel()
        con.close()
    seconds = time.perf_counter() - t0
    truncated = len(frame) > max_rows
    if truncated:
        frame = frame.iloc[:max_rows].copy()
    notes = []
    if truncated:
        notes.append(f"Showing the first {max_rows:,} rows; the query returns more. "
                     "Add a LIMIT or aggregate to see what you need.")
    return QueryResult(frame, truncated, max_rows, seconds, checked.text, checked.kind, notes)


def describe_schema(db=None) -> pd.DataFrame:
    """Every table and view of the database with its columns: name, kind, column, type."""
    con = connect_guarded(db)
    try:
        return con.execute(
            """
            SELECT c.table_name AS name,
                   CASE WHEN v.view_name IS NULL THEN 'table' ELSE 'view' END AS kind,
                   c.column_name AS "column", c.data_type AS type, c.column_index AS position
            FROM duckdb_columns() c
            LEFT JOIN duckdb_views() v
              ON v.database_name = c.database_name AND v.schema_name = c.schema_name
             AND v.view_name = c.table_name
            WHERE c.database_name = current_database() AND c.schema_name = 'main' AND NOT c.internal
            ORDER BY kind, name, position
            """
        ).df()
    finally:
        con.close()


EXAMPLES: dict[str, str] = {
    "Pairs per scenario group": (
        "SELECT scenario_group, count(*) AS pairs\nFROM pairs\nGROUP BY ALL\nORDER BY pairs DESC"),
    "Agreement with the human": (
        "SELECT judge_b AS judge, n, round(agreement, 3) AS agreement, round(kappa, 3) AS kappa\n"
        "FROM judge_agreement\nWHERE judge_a = 'human'\nORDER BY agreement DESC"),
    "Strongest weights per judge (mean over groups)": (
        "SELECT judge, property, round(avg(weight), 3) AS mean_weight\nFROM fits\n"
        "GROUP BY judge, property\n"
        "QUALIFY row_number() OVER (PARTITION BY judge ORDER BY abs(avg(weight)) DESC) <= 3\n"
        "ORDER BY judge, abs(mean_weight) DESC"),
    "Probability of preferred, human vs gpt-4-turbo": (
        "SELECT property, group_name,\n"
        "       round(max(probability) FILTER (WHERE judge = 'human'), 1) AS human,\n"
        "       round(max(probability) FILTER (WHERE judge = 'gpt-4-turbo'), 1) AS gpt_4_turbo\n"
        "FROM preference_probability\nWHERE group_name = 'Advice'\nGROUP BY ALL\nORDER BY human DESC"),
    "Longer response win rate": (
        "SELECT judge, n, round(longer_win_rate, 3) AS longer_win_rate\nFROM length_effect\n"
        "ORDER BY longer_win_rate DESC"),
    "Columns of a table": "DESCRIBE pairs",
}
