"""User-written WHERE conditions (custom groups, `annotate --where`): one expression, nothing more.

`check_condition("language = 'de'")` wraps the text as `SELECT * FROM pairs WHERE (\\n<cond>\\n)`
and accepts it only when DuckDB's parser sees exactly that one SELECT: star, one base
table, a WHERE, no UNION / GROUP BY / ORDER BY / LIMIT / CTE smuggled in through a closing
parenthesis. Functions are held to the SQL page's rules (no file-reading or path-revealing
table functions, no quoted file names); subqueries over the database's own tables are
fine (`pair_id IN (SELECT pair_id FROM pair_attributes WHERE ...)`). The text that comes
back has its comments removed, so a caller may embed it as `WHERE (<returned>)` anywhere.
"""

from __future__ import annotations

import duckdb

from .check import QueryRefused, check_tree, one_line, syntax_tree
from .comments import blank_comments

MAX_CONDITION_CHARS = 4_000


class ConditionRefused(QueryRefused):
    """A WHERE condition that is not one harmless expression; the message is one line."""


def _no(why: str) -> ConditionRefused:
    return ConditionRefused(f"Refused condition: {why}. Write one expression over the pairs' columns, "
                            "e.g. \"n_turns > 1\" or \"pair_id IN (SELECT pair_id FROM pair_attributes "
                            "WHERE key = 'language' AND value = 'de')\".")


def _without_comments(text: str) -> str:
    """The text with each comment replaced by a space (strings keep their `--` and `/*`)."""
    return blank_comments(text)[0]


def _unterminated_comment(text: str) -> bool:
    return blank_comments(text)[1]


def _balanced(text: str) -> bool:
    depth = 0
    tokens = duckdb.tokenize(text)
    for i, (pos, kind) in enumerate(tokens):
        if getattr(kind, "name", "") != "operator":
            continue
        end = tokens[i + 1][0] if i + 1 < len(tokens) else len(text)
        for ch in text[pos:end]:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth < 0:
                return False
    return depth == 0


def _only_a_where(tree: dict, table: str) -> bool:
    statements = tree.get("statements") or []
    if len(statements) != 1:
        return False
    node = statements[0].get("node") or {}
    select = node.get("select_list") or []
    source = node.get("from_table") or {}
    return (node.get("type") == "SELECT_NODE" and not node.get("modifiers")
            and not (node.get("cte_map") or {}).get("map")
            and len(select) == 1 and select[0].get("class") == "STAR"
            and source.get("type") == "BASE_TABLE" and source.get("table_name") == table
            and not source.get("alias") and node.get("where_clause") is not None
            and not node.get("group_expressions") and not node.get("group_sets")
            and node.get("having") is None and node.get("qualify") is None and node.get("sample") is None)


def check_condition(where_sql: str, *, table: str = "pairs") -> str:
    """The condition, comments removed and trimmed, or ConditionRefused with one clear line."""
    if not isinstance(where_sql, str):
        raise _no("it is not text")
    if len(where_sql) > MAX_CONDITION_CHARS:
        raise _no(f"it is {len(where_sql):,} characters long; the limit is {MAX_CONDITION_CHARS:,}")
    if "\x00" in where_sql:
        raise _no("it contains a NUL character")
    if _unterminated_comment(where_sql):
        raise _no("it has a /* comment that is never closed")
    cond = _without_comments(where_sql).strip().rstrip(";").strip()
    if not cond:
        raise _no("it is empty")
    if ";" in _without_strings(cond):
        raise _no("it contains ';' (one condition, not several statements)")
    try:
        if not _balanced(cond):
            raise _no("its parentheses do not balance")
    except ConditionRefused:
        raise
    except Exception:  # noqa: BLE001 - the tokenizer gave up; the parser below says why
        pass
    wrapped = f"SELECT * FROM {table} WHERE (\n{cond}\n)"
    try:
        tree = syntax_tree(wrapped)
    except QueryRefused as exc:
        raise _no(exc.why or str(exc)) from None
    if tree.get("error"):
        raise _no(f"DuckDB cannot parse it ({one_line(tree.get('error_message', ''), 160)})")
    if not _only_a_where(tree, table):
        raise _no("it is more than one expression (a closing parenthesis followed by more SQL)")
    try:
        check_tree(tree)
    except ConditionRefused:
        raise
    except QueryRefused as exc:
        raise _no(f"{exc.what} is not allowed because {exc.why}" if exc.what else str(exc)) from None
    return cond


def _without_strings(text: str) -> str:
    """The text with string literals blanked, so a ';' inside quotes does not count."""
    try:
        tokens = duckdb.tokenize(text)
    except Exception:  # noqa: BLE001
        return text
    out, cursor = [], 0
    for i, (pos, kind) in enumerate(tokens):
        end = tokens[i + 1][0] if i + 1 < len(tokens) else len(text)
        out.append(text[cursor:pos])
        out.append("''" if getattr(kind, "name", "") == "string_const" else text[pos:end])
        cursor = end
    out.append(text[cursor:])
    return "".join(out)
