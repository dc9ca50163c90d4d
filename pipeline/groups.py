"""Custom groups: named slices of the pairs, defined by a SQL condition, fitted like the paper's groups.

    python -m pipeline group add German --where "language = 'de'"

The condition is a SQL boolean expression over the pairs, with the pair attributes
(`pair_attributes` key/value rows: language, is_code, category tags, ...) as extra columns,
typed when every value of a key reads as one type (BIGINT, DOUBLE or BOOLEAN, else
VARCHAR), and all of them also in the map column `attributes` (`attributes['my key']`).
A pairs column wins over an attribute of the same name. Definitions live in
`custom_groups`; members in `pair_groups` with `group_kind = 'custom'`, evaluated again
after every load (`refresh`, called by the loader inside its transaction).

A condition must be one expression that only reads the database: more statements, a
file-reading function or `FROM 'file.csv'` are refused (the same rules as the SQL page),
and it is bound on a read-only connection with external access off before it is stored.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import duckdb

from .store import db as dbmod

KIND = "custom"
MAX_NAME = 64
CHECK_TIMEOUT_S = 10.0
# Names the read-outs use for other things: 'Overall' (the similarity mean), 'All' (every pair).
RESERVED = ("Overall", "All")


class GroupError(ValueError):
    """A custom group cannot be added, changed or removed; the one line says why."""


@dataclass(frozen=True)
class GroupInfo:
    name: str
    kind: str                    # 'scenario', 'query-specific', 'all', 'custom'
    n_pairs: int
    condition: str | None = None
    note: str | None = None
    judges_fitted: int = 0


@dataclass(frozen=True)
class Refreshed:
    name: str
    n_pairs: int | None          # None: the condition no longer works here (error says why)
    error: str | None = None


# ------------------------------------------------------------------ the relation


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _has_table(con, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                            "AND schema_name = 'main' AND table_name = ?", [name]).fetchone()[0])


def attribute_types(con) -> list[tuple[str, str]]:
    """(key, SQL type) of every attribute key: the narrowest type all its values read as."""
    rows = con.execute("""
        SELECT key,
               bool_and(TRY_CAST(value AS BIGINT) IS NOT NULL),
               bool_and(TRY_CAST(value AS DOUBLE) IS NOT NULL),
               bool_and(lower(trim(value)) IN ('true', 'false'))
        FROM pair_attributes WHERE value IS NOT NULL GROUP BY key ORDER BY key
    """).fetchall()
    return [(k, "BIGINT" if i else "DOUBLE" if d else "BOOLEAN" if b else "VARCHAR") for k, i, d, b in rows]


_FITS = {"BIGINT": "TRY_CAST(value AS BIGINT) IS NOT NULL", "DOUBLE": "TRY_CAST(value AS DOUBLE) IS NOT NULL",
         "BOOLEAN": "lower(trim(value)) IN ('true', 'false')"}


def type_changes(con, before: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(key, old type, a value that no longer reads as it) for each attribute whose type changed."""
    now = dict(attribute_types(con))
    out = []
    for key, old in before:
        if old in _FITS and now.get(key, old) != old:
            value = con.execute(f"SELECT value FROM pair_attributes WHERE key = ? AND value IS NOT NULL "
                                f"AND NOT ({_FITS[old]}) LIMIT 1", [key]).fetchone()
            out.append((key, old, value[0] if value else "?"))
    return out


def relation_sql(con) -> str:
    """A SELECT of every pair with its attributes as columns: what a condition is evaluated over."""
    if not _has_table(con, "pair_attributes"):
        return "SELECT *, CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS attributes FROM pairs"
    taken = {c.casefold() for (c,) in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'pairs'").fetchall()} | {"attributes"}
    cols = []
    for key, typ in attribute_types(con):
        if not key.strip() or key.casefold() in taken or not key.isprintable() or len(key) > 64:
            continue  # still reachable as attributes['key']
        taken.add(key.casefold())
        value = f"max(value) FILTER (WHERE key = {_literal(key)})"
        if typ == "BOOLEAN":
            value = f"CAST(lower(trim({value})) AS BOOLEAN)"
        elif typ != "VARCHAR":
            value = f"CAST({value} AS {typ})"
        cols.append(f"{value} AS {_ident(key)}")
    attrs = ", ".join(["map(list(key), list(value)) AS attributes"] + cols)
    return (f"SELECT p.*, a.* EXCLUDE (pair_id) FROM pairs p LEFT JOIN "
            f"(SELECT pair_id, {attrs} FROM pair_attributes GROUP BY pair_id) a USING (pair_id)")


def members_sql(relation: str, condition: str, form: str = "try") -> str:
    """The pair ids a condition selects. In the "try" form, TRY and coalesce make a value the
    condition cannot be evaluated on (a cast that fails on a new pair) count as not selected
    rather than an error, which would abort the loader's transaction. TRY cannot hold a
    subquery, so a condition with one runs "plain". The condition sits on lines of its own,
    so a trailing `-- comment` cannot swallow the parentheses."""
    test = f"coalesce(TRY((\n{condition}\n)), false)" if form == "try" else f"(\n{condition}\n)"
    return f"SELECT pair_id FROM ({relation}) AS pairs WHERE {test}"


def _typed_empty(columns: list[tuple[str, str]]) -> str:
    """A relation with these (name, type) columns and no rows: for binding a condition alone."""
    cols = ", ".join(f"CAST(NULL AS {typ}) AS {_ident(name)}" for name, typ in columns)
    return f"SELECT {cols} WHERE false"


def bind_check(con, columns: list[tuple[str, str]], condition: str) -> str:
    """Bind the condition against these columns on rows of none: its form ("try" or "plain"), or
    GroupError. It runs on a cursor of `con`, whose own transaction an error cannot abort."""
    database = con.execute("SELECT current_database()").fetchone()[0]
    cur = con.cursor()
    try:
        cur.execute(f"USE {_ident(database)}")  # a cursor starts in the default database, not the one in use
        _check_boolean(cur, columns, condition)
        for form in ("try", "plain"):
            try:
                cur.execute(f"SELECT count(*) FROM ({members_sql(_typed_empty(columns), condition, form)})")
                cur.fetchone()
                return form
            except duckdb.Error as exc:
                if form == "try" and "TRY can not be used" in str(exc):  # DuckDB's own text: it has no error code
                    continue
                raise _bind_error(exc, columns) from None
    finally:
        cur.close()
    raise GroupError("the condition cannot be bound")  # not reached: the plain form returns or raises


def _check_boolean(cur, columns: list[tuple[str, str]], condition: str) -> None:
    """The condition's type, from DuckDB's binder (nothing runs): only BOOLEAN is a condition. `1`,
    `pair_id` or `num_words_1 - 100` would otherwise be cast to true or false in silence."""
    try:
        described = cur.execute(f"DESCRIBE SELECT (\n{condition}\n) AS c FROM ({_typed_empty(columns)}) AS pairs").fetchall()
    except duckdb.Error as exc:
        raise _bind_error(exc, columns) from None
    kind = described[0][1] if described else "?"
    if kind != "BOOLEAN":
        raise GroupError(f"the condition must be true or false for each pair (for example language = 'de'), "
                         f"not a value of type {kind}")


def _columns(con, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE ({relation})").fetchall()]


# ------------------------------------------------------------------ checks


def check_condition_text(condition: str) -> str:
    """One expression that only reads (comments removed): else GroupError saying why. Nothing is run."""
    from .sqlguard import ConditionRefused, QueryFailed, QueryRefused, check_condition
    from .sqlguard.check import check_file_access

    if not isinstance(condition, str) or not condition.strip():
        raise GroupError("the condition is empty: give a SQL condition, e.g. --where \"language = 'de'\"")
    try:
        text = check_condition(condition)
        check_file_access(text)  # also a file function written where a value goes: read_csv('x') = 1
    except (QueryRefused, QueryFailed) as exc:
        what, why = getattr(exc, "what", ""), getattr(exc, "why", "")
        if what and why and not isinstance(exc, ConditionRefused):  # its message already says it so
            raise GroupError(f"Refused condition: {what} is not allowed because {why}") from None
        raise GroupError(" ".join(str(exc).split())) from None
    return text


def check_name(name: str, con=None) -> str:
    """A usable custom group name (pipeline.names), not taken by a built-in group."""
    from .names import NameRefused, check_name as normalised

    try:  # NFKC, no invisible, text-direction or control characters, at most MAX_NAME
        clean = normalised(name, "group name", max_chars=MAX_NAME)
    except NameRefused as exc:
        raise GroupError(str(exc)) from None
    if clean.casefold() in {r.casefold() for r in RESERVED}:
        raise GroupError(f"{clean!r} is a built-in name; choose another group name")
    from .properties.paper import ALL_FILE_KEY, ALL_GROUP, QUERY_GROUPS, SCENARIO_GROUPS

    builtin = {g.casefold(): g for g in SCENARIO_GROUPS} | {g.name.casefold(): g.name for g in QUERY_GROUPS}
    # The fitted_paras file keys too: a group 'w_stances' would be exported into the built-in
    # group's model_w_stances_fitted_paras.jsonl, and imported back as that group.
    builtin |= {g.key.casefold(): g.name for g in QUERY_GROUPS} | {ALL_FILE_KEY: ALL_GROUP}
    if con is not None:
        builtin |= {g.casefold(): g for (g,) in con.execute(
            "SELECT DISTINCT group_name FROM pair_groups WHERE group_kind <> ?", [KIND]).fetchall()}
    if clean.casefold() in builtin:
        raise GroupError(f"{clean!r} is the name (or fitted_paras file key) of a built-in group ({builtin[clean.casefold()]!r}); "
                         "choose another name")
    return clean


def _bind_error(exc: Exception, columns: list[tuple[str, str]] | None = None) -> GroupError:
    text = " ".join(str(exc).split())
    text = text.split(" LINE ")[0]          # DuckDB's caret drawing of the position
    if isinstance(exc, duckdb.PermissionException):
        return GroupError(f"Refused condition: it tries to read files or the network ({text})")
    if "COALESCE" in text and "BOOLEAN" in text:
        return GroupError("the condition must be true or false for each pair (for example language = 'de'), "
                          "not a value")
    for prefix in ("Binder Error: ", "Parser Error: ", "Catalog Error: ", "Conversion Error: "):
        text = text.replace(prefix, "")
    if "Referenced column" in text and columns is not None:
        text = text.split(" Candidate bindings")[0].rstrip("!")
        names = [n for n, _ in columns]
        attrs = names[names.index("attributes") + 1:] if "attributes" in names else []
        text += f" (attribute columns: {', '.join(attrs) or 'none stored yet'}; or attributes['key'])"
    return GroupError(f"the condition does not work on the pairs: {text[:400]}")


def count_matching(db, condition: str, *, timeout_s: float = CHECK_TIMEOUT_S) -> int:
    """How many pairs the condition selects (the preview of `group add` and the Groups page)."""
    return len(pair_ids(db, condition, timeout_s=timeout_s))


def pair_ids(db, condition: str, *, timeout_s: float = CHECK_TIMEOUT_S) -> list[int]:
    """The ids of the pairs the condition selects, in order: checked, then bound and run on a
    read-only connection with external access off, within `timeout_s`."""
    from . import sqlguard

    text = check_condition_text(condition)
    con = sqlguard.connect_guarded(db)
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.daemon = True
    try:
        timer.start()
        relation = relation_sql(con)
        form = bind_check(con, _columns(con, relation), text)
        return [r[0] for r in con.execute(f"{members_sql(relation, text, form)} ORDER BY pair_id").fetchall()]
    except duckdb.InterruptException:
        raise GroupError(f"the condition took longer than {timeout_s:g} s to evaluate; simplify it") from None
    except duckdb.Error as exc:
        raise _bind_error(exc) from None
    finally:
        timer.cancel()
        con.close()


def attribute_columns(db=None) -> list[tuple[str, str]]:
    """(column, type) a condition can use: the pairs columns and the attribute columns."""
    with dbmod.reading(db) as con:
        return _columns(con, relation_sql(con))


# ------------------------------------------------------------------ writing


def _fill(con, name: str, condition: str, relation: str, form: str) -> int:
    con.execute("DELETE FROM pair_groups WHERE group_name = ? AND group_kind = ?", [name, KIND])
    con.execute(f"INSERT INTO pair_groups (pair_id, group_name, group_kind) "
                f"SELECT DISTINCT pair_id, ?, ? FROM ({members_sql(relation, condition, form)})", [name, KIND])
    return con.execute("SELECT count(*) FROM pair_groups WHERE group_name = ? AND group_kind = ?",
                       [name, KIND]).fetchone()[0]


def add_group(name: str, condition: str, *, db=None, note: str | None = None, replace: bool = False) -> int:
    """Store the group and its members; returns the number of pairs. GroupError says why not."""
    text = check_condition_text(condition)
    if note is not None and (len(note) > 1000 or not note.replace("\n", " ").isprintable()):
        raise GroupError("the note must be printable text of at most 1000 characters")
    with dbmod.reading(db) as con:
        name = check_name(name, con)
    count_matching(db, text)  # binds it where files and the network are out of reach
    with dbmod.writing(db) as con:
        name = check_name(name, con)
        found = con.execute("SELECT group_name FROM custom_groups WHERE lower(group_name) = lower(?)",
                            [name]).fetchone()
        if found and not replace:
            raise GroupError(f"group {found[0]!r} already exists: remove it first, or add --replace to change it")
        if found:  # replaced: its members and every result computed on them go
            con.execute("DELETE FROM pair_groups WHERE group_name = ? AND group_kind = ?", [found[0], KIND])
            _drop_results(con, found[0])
            con.execute("DELETE FROM custom_groups WHERE group_name = ?", [found[0]])
        con.execute("INSERT INTO custom_groups (group_name, where_sql, note, created_at) "
                    "VALUES (?, ?, ?, current_timestamp)", [name, text, note])
        relation = relation_sql(con)
        form = bind_check(con, _columns(con, relation), text)
        try:
            return _fill(con, name, text, relation, form)
        except duckdb.Error as exc:  # a runtime failure of a subquery condition: nothing is stored
            raise _bind_error(exc) from None


def _drop_results(con, name: str) -> dict[str, int]:
    """Rows of every table keyed by group_name (fits, fit runs, leaderboards, ...) for this group."""
    removed = {}
    tables = [t for (t,) in con.execute(
        "SELECT DISTINCT table_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND column_name = 'group_name' AND table_name NOT IN ('pair_groups', "
        "'custom_groups') AND table_name IN (SELECT table_name FROM duckdb_tables() "
        "WHERE database_name = current_database())").fetchall()]
    for table in sorted(tables):
        n = con.execute(f"SELECT count(*) FROM {_ident(table)} WHERE group_name = ?", [name]).fetchone()[0]
        if n:
            con.execute(f"DELETE FROM {_ident(table)} WHERE group_name = ?", [name])
            removed[table] = n
    return removed


def remove_group(name: str, *, db=None) -> dict[str, int]:
    """Remove a custom group, its members and every fit of it; returns rows removed per table."""
    from .names import NameRefused, check_name as normalised

    try:  # found under the name it was stored as: `group remove "Ｇ１"` removes G1
        name = normalised(name, "group name", max_chars=MAX_NAME)
    except NameRefused as exc:
        raise GroupError(str(exc)) from None
    with dbmod.writing(db) as con:
        found = con.execute("SELECT group_name FROM custom_groups WHERE group_name = ?", [name]).fetchone()
        if not found:
            known = [g for (g,) in con.execute("SELECT group_name FROM custom_groups ORDER BY 1").fetchall()]
            raise GroupError(f"no custom group {name!r} (custom groups: {', '.join(known) or 'none'})")
        members = con.execute("SELECT count(*) FROM pair_groups WHERE group_name = ? AND group_kind = ?",
                              [name, KIND]).fetchone()[0]
        con.execute("DELETE FROM pair_groups WHERE group_name = ? AND group_kind = ?", [name, KIND])
        removed = {"pair_groups": members, **_drop_results(con, name)}
        con.execute("DELETE FROM custom_groups WHERE group_name = ?", [name])
    return removed


def refresh(con) -> list[Refreshed]:
    """Evaluate every custom group again on `con` (the loader's transaction).

    Each condition is first bound, on a cursor, against the relation's columns with no rows, so
    one that no longer binds (an attribute changed type) keeps its old members and is reported.
    In the "try" form a value that breaks the condition just leaves the pair out. Only a
    subquery condition failing at run time on the new data raises GroupError naming the group:
    the transaction cannot go on after it, so the load stops with that one line.
    """
    if not _has_table(con, "custom_groups"):
        return []
    groups = con.execute("SELECT group_name, where_sql FROM custom_groups ORDER BY group_name").fetchall()
    if not groups:
        return []
    relation = relation_sql(con)
    columns = _columns(con, relation)
    out = []
    for name, condition in groups:
        try:
            text = check_condition_text(condition)
            form = bind_check(con, columns, text)
        except GroupError as exc:
            out.append(Refreshed(name, None, str(exc)))
            continue
        try:
            out.append(Refreshed(name, _fill(con, name, text, relation, form)))
        except duckdb.Error as exc:
            raise GroupError(f"custom group {name!r}: its condition failed on the new data "
                             f"({' '.join(str(exc).split())[:200]}); fix it with `group add {name} --where ... "
                             "--replace` or remove the group") from None
    return out


# ------------------------------------------------------------------ reading


def list_groups(db=None, *, kinds: tuple[str, ...] | None = None) -> list[GroupInfo]:
    """Every group with its kind and pairs; custom ones with their condition and note."""
    with dbmod.reading(db) as con:
        custom = _has_table(con, "custom_groups")
        fitted = dict(con.execute("SELECT group_name, count(DISTINCT judge) FROM fit_runs "
                                  "WHERE status = 'fitted' GROUP BY group_name").fetchall())
        rows = con.execute("SELECT group_name, min(group_kind), count(*) FROM pair_groups "
                           "GROUP BY group_name").fetchall()
        defs = {n: (w, note) for n, w, note in con.execute(
            "SELECT group_name, where_sql, note FROM custom_groups").fetchall()} if custom else {}
    sizes = {n: (k, c) for n, k, c in rows}
    for n in defs:
        sizes.setdefault(n, (KIND, 0))
    order = {"all": 0, "scenario": 1, "query-specific": 2, KIND: 3}
    out = [GroupInfo(n, k, c, *defs.get(n, (None, None)), judges_fitted=fitted.get(n, 0))
           for n, (k, c) in sizes.items() if kinds is None or k in kinds]
    return sorted(out, key=lambda g: (order.get(g.kind, 9), g.name))


__all__ = ["GroupError", "GroupInfo", "Refreshed", "add_group", "attribute_columns", "attribute_types",
           "check_condition_text", "type_changes",
           "check_name", "count_matching", "list_groups", "pair_ids", "refresh", "relation_sql", "remove_group"]
