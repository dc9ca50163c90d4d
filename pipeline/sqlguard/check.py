"""The statement check: which SQL the guard accepts, decided from DuckDB's own parser.

Every SELECT-like statement is parsed to DuckDB's syntax tree (`json_serialize_sql`) and
walked: a table function must be on a short allowlist (so `query('...')`,
`json_execute_serialized_sql`, `checkpoint()`, `read_*`, `glob` and any function added
by a future DuckDB are refused), a few scalar functions are refused by name, a quoted
table name (`FROM 'file.csv'`, a replacement scan) is refused, and every other name after
FROM or JOIN must be on the allowlist of allowlist.py (the project's tables and views, a
few catalog views, the statement's CTEs). A token scan
stays as a second look for statements the tree cannot be built for (PRAGMA).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass

import duckdb

from .allowlist import cte_names, shadowing_cte, spelled, table_allowed
from .comments import blank_comments

MAX_SQL_CHARS = 20_000   # checked before parsing, so parsing always takes milliseconds

ALLOWED_HELP = ("one read-only statement: SELECT (or WITH, FROM, VALUES), DESCRIBE, SHOW, SUMMARIZE, "
                "EXPLAIN SELECT ..., or PRAGMA table_info('name')")

# PRAGMAs that only describe the database. database_list is left out: it shows the file's path.
SAFE_PRAGMAS = {
    "table_info", "show", "show_tables", "show_tables_expanded", "show_databases", "database_size",
    "storage_info", "version", "platform", "functions", "collations", "metadata_info", "user_agent",
}

# Statement kinds we refuse, with the reason shown to the user.
REFUSED_KIND = {
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

# Table functions a query may use: generators, the catalog, JSON helpers. Everything else
# (read_*, glob, query, checkpoint, logging, secrets, settings, ...) is refused.
ALLOWED_TABLE_FUNCTIONS = {
    "range", "generate_series", "unnest", "repeat", "repeat_row", "summary", "json_each", "json_tree",
    "duckdb_columns", "duckdb_tables", "duckdb_views", "duckdb_schemas", "duckdb_constraints",
    "duckdb_indexes", "duckdb_functions", "duckdb_types", "duckdb_keywords", "duckdb_sequences",
    "duckdb_dependencies", "duckdb_optimizers", "duckdb_memory",
    "pragma_table_info", "pragma_storage_info", "pragma_database_size", "pragma_version",
    "pragma_platform", "pragma_show", "pragma_collations", "pragma_user_agent", "pragma_metadata_info",
    "test_all_types", "histogram", "histogram_values", "icu_calendar_names", "pg_timezone_names",
}

# Table functions that show where the server keeps its files (paths); refused with that reason.
PATH_REVEALING = {
    "duckdb_settings", "current_setting", "duckdb_databases", "duckdb_extensions",
    "duckdb_temporary_files", "duckdb_external_file_cache", "duckdb_logs", "duckdb_logs_parsed",
    "duckdb_log_contexts", "pragma_database_list", "database_list", "duckdb_secrets", "which_secret",
    "getenv", "duckdb_extension_repositories",
}

# Scalar functions refused by name (everything else is a pure computation on values).
REFUSED_SCALAR = {
    "current_setting": "it shows the server's settings, which include paths on the server",
    "getenv": "it reads the server's environment",
    "write_log": "it writes to the server's log",
    "json_execute_serialized_sql": "it runs SQL that the check cannot see",
    "pg_sleep": "it only waits", "sleep_ms": "it only waits",
}


class QueryRefused(ValueError):
    """The SQL is not allowed here; the message says why and what is."""

    what: str = ""   # the refused thing ("read_csv()", "DROP", ...), when there is one
    why: str = ""    # the reason, without the page's help text


class QueryTimeout(RuntimeError):
    """The query ran past the time limit and was interrupted."""


class QueryFailed(RuntimeError):
    """DuckDB could not run the query (syntax error, unknown column, ...)."""


@dataclass(frozen=True)
class CheckedSQL:
    text: str     # the single statement, without trailing semicolons
    kind: str     # 'SELECT', 'EXPLAIN' or 'PRAGMA'


def refuse(what: str, why: str) -> QueryRefused:
    exc = QueryRefused(f"Refused: {what} is not allowed here because {why}. "
                       f"This page is read-only and cannot touch files on the server; it runs {ALLOWED_HELP}.")
    exc.what, exc.why = what, why
    return exc


def refused_because(why: str) -> QueryRefused:
    """A refusal whose reason is the whole story (no one refused thing to name)."""
    exc = QueryRefused(f"Refused: {why}.")
    exc.why = why
    return exc


def one_line(text: object, limit: int = 300) -> str:
    """DuckDB's multi-line messages (LINE 1: ... ^) as one line."""
    first = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return first if len(first) <= limit else first[:limit - 1] + "…"


def _first_word(text: str) -> str:
    m = re.match(r"\s*([A-Za-z_]+)", _strip_comments(text))
    return m.group(1).upper() if m else "?"


def _strip_comments(text: str) -> str:
    return blank_comments(text)[0]


def check_size(sql: str) -> None:
    if len(sql) > MAX_SQL_CHARS:
        raise QueryRefused(f"Refused: the SQL is {len(sql):,} characters long; the limit is "
                           f"{MAX_SQL_CHARS:,}. Shorten it (aggregate, or use a CTE once).")


# --- DuckDB's syntax tree ---------------------------------------------------------------

_parser_lock = threading.Lock()
_parser: duckdb.DuckDBPyConnection | None = None


def syntax_tree(sql: str) -> dict:
    """DuckDB's parse of `sql` as a dict ({'error': True, 'error_message': ...} when it fails)."""
    global _parser
    with _parser_lock:
        if _parser is None:
            _parser = duckdb.connect(":memory:", config={"enable_external_access": False,
                                                          "autoload_known_extensions": False,
                                                          "autoinstall_known_extensions": False})
        try:
            text = _parser.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchone()[0]
        except duckdb.Error as exc:
            return {"error": True, "error_message": one_line(exc)}
    try:
        return json.loads(text)
    except RecursionError:
        raise refused_because("the SQL is nested too deeply to check") from None


def _walk(node):
    """Every dict in the tree, without recursion (a deep tree must not exhaust the stack)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _table_function_names(tree) -> set[int]:
    """ids of FUNCTION nodes that are table functions (so they are judged as such, once)."""
    return {id(n["function"]) for n in _walk(tree)
            if n.get("type") == "TABLE_FUNCTION" and isinstance(n.get("function"), dict)}


def check_tree(tree: dict) -> None:
    """Refuse table functions off the allowlist, refused scalar functions, quoted table names and
    any table or view off the allowlist (allowlist.py)."""
    table_fns = _table_function_names(tree)
    ctes = cte_names(_walk(tree))
    if (shadow := shadowing_cte(ctes)) is not None:
        raise refuse(f"WITH {shadow} AS (...)", "a CTE may not take the name of one of DuckDB's own tables, "
                     "views or table functions")
    for node in _walk(tree):
        if node.get("type") == "TABLE_FUNCTION" and isinstance(node.get("function"), dict):
            name = str(node["function"].get("function_name", "")).lower()
            if name in PATH_REVEALING:
                raise refuse(f"{name}()", "it shows paths and settings of the server")
            if name not in ALLOWED_TABLE_FUNCTIONS:
                why = ("it reads files on the server (external access is off)"
                       if name.startswith("read_") or name.endswith("_scan") or name in ("glob", "sniff_csv")
                       or name.startswith("parquet_") else
                       "it is not one of the table functions allowed here (range, generate_series, "
                       "unnest, the duckdb_* catalog functions, pragma_table_info, ...)")
                raise refuse(f"{name}()", why)
        elif node.get("class") == "FUNCTION" and id(node) not in table_fns:
            name = str(node.get("function_name", "")).lower()
            if name in REFUSED_SCALAR:
                raise refuse(f"{name}()", REFUSED_SCALAR[name])
            if name in PATH_REVEALING:
                raise refuse(f"{name}()", "it shows paths and settings of the server")
            if _is_file_function(name):  # a table function's name in a scalar position
                raise refuse(f"{name}()", "it reads files on the server (external access is off)")
        elif node.get("type") == "BASE_TABLE":
            name = str(node.get("table_name", ""))
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", name):
                raise refuse(f"FROM '{name}'", "a quoted name after FROM or JOIN reads a file on the server "
                             "(external access is off); query the tables listed beside instead")
            if not table_allowed(node, ctes):
                raise refuse(spelled(node), "a query may read only the project's tables and views and a few "
                             "catalog views (duckdb_tables, duckdb_views, duckdb_columns, information_schema."
                             "tables/columns); the rest can show paths and settings of the server")


def _tokens(sql: str) -> list[tuple[str, str]]:
    """(kind, text) of each token, comments dropped."""
    sql = _strip_comments(sql)
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
    return (n.startswith("read_") or n.endswith("_scan") or n in PATH_REVEALING
            or (n not in ALLOWED_TABLE_FUNCTIONS and n in _KNOWN_RISKY))


_KNOWN_RISKY = {"glob", "sniff_csv", "query", "query_table", "json_execute_serialized_sql", "load_extension",
                "parquet_metadata", "parquet_schema", "parquet_file_metadata", "parquet_kv_metadata",
                "parquet_bloom_probe", "st_read", "st_read_meta", "sqlite_attach", "checkpoint",
                "force_checkpoint"}


def check_file_access(sql: str, *, tree: dict | None = None) -> None:
    """The syntax-tree check (when the statement has a tree) and the token scan."""
    if tree is not None and not tree.get("error"):
        check_tree(tree)
    toks = _tokens(sql)
    for i, (kind, text) in enumerate(toks):
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind in ("identifier", "keyword") and nxt.startswith("(") and _is_file_function(text):
            raise refuse(f"{text.lower()}()", "it reads files on the server (external access is off)")
        if kind == "keyword" and text.upper() in ("FROM", "JOIN") and i + 1 < len(toks) \
                and toks[i + 1][0] == "string_const":
            raise refuse(f"FROM {toks[i + 1][1]}", "a quoted name after FROM or JOIN reads a file on the server "
                         "(external access is off); query the tables listed beside instead")


def _statement_kind(stmt) -> str:
    try:
        name = stmt.type.name
        return "UNKNOWN" if name == "???" else name  # DuckDB 1.5 names UPDATE EXTENSIONS "???"
    except ValueError:  # a kind this DuckDB's Python enum does not name (UPDATE EXTENSIONS in 2.0)
        return "UNKNOWN"


def _extract(sql: str) -> list:
    try:
        return duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryFailed(f"DuckDB could not parse the SQL: {one_line(exc)}") from None
    except (ValueError, RuntimeError) as exc:  # the Python binding met something it cannot name
        raise refuse(f"{_first_word(sql)} statement", f"it is not a kind of statement this page knows "
                     f"({one_line(exc, 80)})") from None


def check_sql(sql: str) -> CheckedSQL:
    """Accept exactly one read-only statement, or raise QueryRefused saying why."""
    if not isinstance(sql, str):
        raise QueryRefused(f"Nothing to run: write {ALLOWED_HELP}.")
    check_size(sql)
    if "\x00" in sql:
        raise QueryRefused("Refused: the SQL contains a NUL character.")
    try:  # DuckDB's binding raises a TypeError on text UTF-8 cannot hold (a lone surrogate)
        sql.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QueryRefused(f"Refused: the SQL holds a lone surrogate \\u{ord(sql[exc.start]):04x} at character "
                           f"{exc.start + 1}, which is not valid Unicode.") from None
    if not _strip_comments(sql).strip(" \t\r\n;"):
        raise QueryRefused(f"Nothing to run: write {ALLOWED_HELP}.")
    statements = _extract(sql)
    if len(statements) != 1:
        raise QueryRefused(f"Refused: {len(statements)} statements; run one at a time "
                           f"({ALLOWED_HELP}).")
    stmt = statements[0]
    kind = _statement_kind(stmt)
    text = stmt.query.strip().rstrip(";").strip()
    word = _first_word(text)
    if kind == "SELECT":
        check_file_access(text, tree=syntax_tree(text))
        return CheckedSQL(text, "SELECT")
    if kind == "EXPLAIN":
        inner = re.sub(r"^\s*EXPLAIN\s+(ANALY[SZ]E\s+)?", "", _strip_comments(text), flags=re.I)
        inner_statements = _extract(inner)
        if len(inner_statements) != 1 or _statement_kind(inner_statements[0]) != "SELECT":
            raise refuse(f"EXPLAIN {_first_word(inner)}", "only a SELECT may be explained")
        check_file_access(inner, tree=syntax_tree(inner))
        return CheckedSQL(text, "EXPLAIN")
    if kind == "PRAGMA":
        m = re.match(r"\s*PRAGMA\s+([A-Za-z_]+)\s*(.*)$", _strip_comments(text), flags=re.I | re.S)
        name = m.group(1).lower() if m else "?"
        rest = m.group(2).strip() if m else ""
        if name == "database_list":
            raise refuse("PRAGMA database_list", "it shows paths of the server")
        if name not in SAFE_PRAGMAS or rest.startswith("="):
            raise refuse(f"PRAGMA {name}", "it is not one of the PRAGMAs that only describe the database "
                         f"({', '.join(sorted(SAFE_PRAGMAS))})")
        check_file_access(text)
        return CheckedSQL(text, "PRAGMA")
    if kind == "UNKNOWN":
        words = " ".join(re.findall(r"[A-Za-z_]+", _strip_comments(text))[:2]).upper() or "this"
        raise refuse(f"{words} statement", "it is not a kind of statement this page knows")
    why = REFUSED_KIND.get(kind, "it is not a read-only query")
    raise refuse(f"{word} ({kind.lower()} statement)" if word != kind else word, why)
