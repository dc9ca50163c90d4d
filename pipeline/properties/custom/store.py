"""Custom properties in the database: definitions, ratings and features, in one short transaction.

- `custom_properties`: one row per property (question, scale, prompt version, file);
- `properties`: the registry, with `property_set = 'custom'` (index in the order defined);
- `custom_ratings`: the 0..3 ratings of each response, for scale 'rating';
- `features`: the feature (-1, 0, 1) of each rated pair, read by `fit --properties custom`.

A property already stored with another question or scale answers a different question:
changing it needs `replace`, which drops its old ratings and features.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from ...store import db as dbmod
from ...store import upsert
from .definition import CustomProperty, PropertyFileError, builtin_names
from .prompt import Rated

SET = "custom"
KIND = "custom"
# rewritten rows replace the stored ones, the last of a repeated key winning (as INSERT OR REPLACE
# did), kept by the statements themselves: a DuckLake table has no keys
_FEATURES = upsert.merge("features", "new_custom_features", ("pair_id", "property", "value"),
                         ("pair_id", "property"), {"value": "s.value"}, order="row_order DESC")
_RATINGS = upsert.merge("custom_ratings", "new_custom_ratings", ("pair_id", "response", "property", "score"),
                        ("pair_id", "response", "property"), {"score": "s.score"}, order="row_order DESC")


def _has_column(con, table: str, column: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
                            "AND schema_name = 'main' AND table_name = ? AND column_name = ?",
                            [table, column]).fetchone()[0])


def stored(con) -> dict[str, tuple[str, str]]:
    """Property -> (question, scale) of the custom properties in the database."""
    return {p: (q, s) for p, q, s in con.execute(
        "SELECT property, question, scale FROM custom_properties").fetchall()}


def reserved_names(con) -> list[str]:
    """Names a custom property may not take: the paper's, the style set's, any other set's."""
    names = builtin_names()
    if _has_column(con, "properties", "property_set"):
        names += [p for (p,) in con.execute(
            "SELECT property FROM properties WHERE property_set <> ?", [SET]).fetchall()]
    return names


def conflicts(con, props: Iterable[CustomProperty], file: str) -> list[str]:
    """One line per property stored with another question or scale."""
    have = stored(con)
    out = []
    for p in props:
        old = have.get(p.name)
        if old and old != (p.question, p.scale):
            what = "scale" if old[1] != p.scale else "question"
            out.append(f"{file}: property {p.name!r} is stored with another {what} ({old[1]}: {old[0]!r}); "
                       "add --replace to redefine it (its ratings and features are removed)")
    return out


def check_against_db(props: tuple[CustomProperty, ...], file: str, *, db=None, replace: bool = False) -> None:
    """Refuse (PropertyFileError) before any call: names taken by other sets, redefinitions without replace."""
    with dbmod.reading(db) as con:
        taken = {n.casefold(): n for n in reserved_names(con)}
        for i, p in enumerate(props):
            if p.name.casefold() in taken:
                raise PropertyFileError(f"{file}: [[property]] #{i + 1} ({p.name!r}), key 'name': clashes with the "
                                        f"property {taken[p.name.casefold()]!r} of another set; choose another name")
        problems = [] if replace else conflicts(con, props, file)
    if problems:
        raise PropertyFileError(problems[0])


def _define(con, props: tuple[CustomProperty, ...], file: str, prompt_version: str, replace: bool) -> None:
    have = stored(con)
    redefined = [p.name for p in props if p.name in have and have[p.name] != (p.question, p.scale)]
    if redefined and not replace:
        raise PropertyFileError(conflicts(con, props, file)[0])
    if redefined:
        con.execute("DELETE FROM features WHERE list_contains(?, property)", [redefined])
        con.execute("DELETE FROM custom_ratings WHERE list_contains(?, property)", [redefined])
    for p in props:
        con.execute("DELETE FROM custom_properties WHERE property = ?", [p.name])
        con.execute("INSERT INTO custom_properties (property, question, scale, prompt_version, definition_file, "
                    "defined_at) VALUES (?, ?, ?, ?, ?, current_timestamp)",
                    [p.name, p.question, p.scale, prompt_version, file])
    _register(con, props)


def _register(con, props: tuple[CustomProperty, ...]) -> None:
    """Rows in the property registry: a new property goes after the custom ones already there."""
    if not _has_column(con, "properties", "property_set"):
        return  # a file from before the open-world schema: the registry holds the paper's 29 only
    cols = {c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = "
                                      "current_database() AND table_name = 'properties'").fetchall()}
    index = dict(con.execute("SELECT property, property_index FROM properties WHERE property_set = ?",
                             [SET]).fetchall())
    nxt = max(index.values(), default=-1) + 1
    for p in props:
        if p.name not in index:
            index[p.name] = nxt
            nxt += 1
        con.execute("DELETE FROM properties WHERE property = ?", [p.name])
        values = {"property_set": SET, "property_index": index[p.name], "property": p.name, "kind": KIND,
                  "source_key": p.scale, "description": p.description or p.question, "rule": p.rule}
        values = {k: v for k, v in values.items() if k in cols}
        con.execute(f"INSERT INTO properties ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                    list(values.values()))


def save(results: list[Rated], props: tuple[CustomProperty, ...], *, file: str, prompt_version: str,
         db=None, replace: bool = False) -> dict[str, int]:
    """Store definitions, ratings and features in one transaction; counts of rows written."""
    feats = pa.table({
        "pair_id": pa.array([r.pair_id for r in results], pa.int32()),
        "property": pa.array([r.property for r in results], pa.string()),
        "value": pa.array([r.value for r in results], pa.int8()),
        "row_order": pa.array(range(len(results)), pa.int64())})
    rated = [r for r in results if r.scale == "rating"]
    ratings = pa.table({
        "pair_id": pa.array([r.pair_id for r in rated for _ in (1, 2)], pa.int32()),
        "response": pa.array([side for _ in rated for side in (1, 2)], pa.int8()),
        "property": pa.array([r.property for r in rated for _ in (1, 2)], pa.string()),
        "score": pa.array([float(s) for r in rated for s in (r.score_1, r.score_2)], pa.float64()),
        "row_order": pa.array(range(2 * len(rated)), pa.int64())})
    with dbmod.writing(db) as con:
        _define(con, props, file, prompt_version, replace)
        # registered under names no table has (a bare `ratings` would read the paper's ratings table)
        con.register("new_custom_features", feats)
        con.register("new_custom_ratings", ratings)
        try:
            con.execute(_FEATURES)
            con.execute(_RATINGS)
        finally:
            con.unregister("new_custom_features")
            con.unregister("new_custom_ratings")
    return {"features": len(results), "custom_ratings": 2 * len(rated), "custom_properties": len(props)}


def list_properties(db=None) -> list[dict]:
    """The stored custom properties with how many pairs each has a feature for."""
    with dbmod.reading(db) as con:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'custom_properties'"
                           ).fetchone()[0]:
            return []
        rows = con.execute("""
            SELECT c.property, c.question, c.scale, c.prompt_version, c.definition_file,
                   (SELECT count(*) FROM features f WHERE f.property = c.property) AS n_pairs
            FROM custom_properties c ORDER BY c.defined_at, c.property""").fetchall()
    keys = ("property", "question", "scale", "prompt_version", "definition_file", "n_pairs")
    return [dict(zip(keys, r)) for r in rows]
