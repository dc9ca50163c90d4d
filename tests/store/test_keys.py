"""Table keys without constraints: the keys read from the schema, the keyless schema a DuckLake
gets, the check for repeated keys, and the loads that keep keys by their statements.

`keyless_db` is a DuckDB file whose tables have the schema's columns and none of its keys
(as on a DuckLake), at the latest schema version: the real load, import and save functions
run on it through db.writing, and their ON CONFLICT replacements must keep every key.
"""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pytest

from dbquery import rows
from pipeline.ingest import formats
from pipeline.ingest.loader import load_source
from pipeline.ingest.release_load import load_records
from pipeline.model.fitted_paras import import_fits
from pipeline.properties.custom import store as custom_store
from pipeline.properties.custom.definition import CustomProperty
from pipeline.properties.custom.prompt import Rated
from pipeline.properties.paper import N_PROPERTIES
from pipeline.store import db as dbmod
from pipeline.store import schema, upsert
from pipeline.store.keys import duplicate_keys, keyless_ddl, table_keys
from raw_battles import battles, write as write_battles
from records_factory import make_record


def _migrated() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    schema.migrate(con)
    return con


def _columns(con) -> list[tuple]:
    return con.execute(
        "SELECT t.table_name, c.column_name, c.data_type, c.column_default, c.is_nullable "
        "FROM duckdb_tables() t JOIN duckdb_columns() c USING (table_oid) "
        "WHERE t.database_name = current_database() ORDER BY 1, 2").fetchall()


def _keyless(con) -> None:
    for ddl in keyless_ddl():
        con.execute(ddl)
    con.executemany("INSERT INTO schema_version (version, name) VALUES (?, ?)",
                    [[s.version, s.name] for s in schema.steps()])
    schema.migrate(con)  # nothing pending: the property registry and the views


@pytest.fixture
def keyless_db(tmp_path):
    path = tmp_path / "lake-like.duckdb"
    con = duckdb.connect(str(path))
    try:
        _keyless(con)
    finally:
        con.close()
    return path


def _constraints(path) -> list[tuple]:
    with dbmod.reading(path) as con:
        return con.execute("SELECT table_name, constraint_type FROM duckdb_constraints() "
                           "WHERE database_name = current_database() AND constraint_type <> 'NOT NULL'").fetchall()


def _no_duplicates(path) -> None:
    with dbmod.reading(path) as con:
        assert duplicate_keys(con) == []
    assert _constraints(path) == []  # the writes really ran without keys


# ---------------------------------------------------------------- the keys and the keyless schema

def test_every_table_with_a_primary_key_has_it_first():
    from pipeline.store import schema
    from pipeline.store.keys import KEYED_UNTIL

    con = duckdb.connect(":memory:")  # the schema as steps 1-5 declared it, keys and all
    for step in schema.steps():
        if step.version <= KEYED_UNTIL:
            step.apply(con)
    assert _migrated().execute("SELECT count(*) FROM duckdb_constraints() WHERE constraint_type IN "
                               "('PRIMARY KEY', 'UNIQUE', 'CHECK')").fetchone()[0] == 0  # step 6 dropped them
    pks = dict(con.execute("SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                           "WHERE constraint_type = 'PRIMARY KEY'").fetchall())
    keys = table_keys()
    pks.pop("response_measures")  # a view since step 7; its rows are response_counts', keyed below
    assert pks and {t: keys[t][0] for t in pks} == {t: tuple(c) for t, c in pks.items()}
    assert keys["response_counts"] == [("pair_id", "side")]
    assert keys["pairs"] == [("pair_id",), ("pair_key",)]
    assert keys["properties"] == [("property_set", "property_index"), ("property",)]
    assert keys["ratings"] == []  # a table without keys is listed too


def test_keyless_ddl_has_the_columns_and_no_constraint_but_not_null():
    con = duckdb.connect(":memory:")
    for ddl in keyless_ddl():
        con.execute(ddl)
    assert _columns(con) == _columns(_migrated())
    kinds = {k for (k,) in con.execute("SELECT constraint_type FROM duckdb_constraints()").fetchall()}
    assert kinds == {"NOT NULL"}
    con.execute("INSERT INTO labels (pair_id, judge, preferred) VALUES (1, 'a', 7), (1, 'a', 7)")  # no CHECK, no key
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO labels (pair_id, judge, preferred) VALUES (NULL, 'a', 1)")
    con.execute("INSERT INTO sources (source, kind) VALUES ('s', 'release')")
    assert con.execute("SELECT generated, loaded_at IS NOT NULL FROM sources").fetchall() == [(False, True)]


def test_duplicate_keys_names_each_repeated_key():
    con = duckdb.connect(":memory:")
    _keyless(con)
    assert duplicate_keys(con) == []
    con.execute("INSERT INTO labels (pair_id, judge, preferred) VALUES (1, 'a', 1), (1, 'a', 2), (1, 'b', 1)")
    con.execute("INSERT INTO pairs (pair_id, source, source_index, pair_key, query, response_1, response_2, usable) "
                "VALUES (1, 's', 0, 'k1', 'q', 'a', 'b', TRUE), (2, 's', 1, 'k1', 'q', 'a', 'b', TRUE)")
    con.execute("INSERT INTO sources (source, kind) VALUES ('s', 'release'), ('s', 'release'), ('t', 'x')")
    assert sorted(duplicate_keys(con)) == [
        "labels: 1 value(s) of (pair_id, judge) appear more than once (2 rows), e.g. (1, 'a')",
        "pairs: 1 value(s) of (pair_key) appear more than once (2 rows), e.g. 'k1'",
        "sources: 1 value(s) of (source) appear more than once (2 rows), e.g. 's'"]


def test_duplicate_keys_skips_absent_tables_and_ignores_null_keys():
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE judges (judge VARCHAR, kind VARCHAR)")
    con.execute("INSERT INTO judges VALUES (NULL, 'x'), (NULL, 'y'), ('a', 'z')")
    assert duplicate_keys(con) == []


def test_a_demo_database_has_no_duplicate_keys(demo_db_template):
    with dbmod.reading(demo_db_template) as con:
        assert con.execute("SELECT count(*) FROM labels").fetchone()[0] > 0
        assert duplicate_keys(con) == []


# ---------------------------------------------------------------- the statements, on tables without keys

def test_insert_new_keeps_the_first_of_equal_keys_and_skips_stored_ones():
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE t (a INTEGER, b VARCHAR, v INTEGER)")
    con.execute("INSERT INTO t VALUES (1, 'x', 0)")
    src = pa.table({"a": [1, 2, 2, 3], "b": ["x", "y", "y", "z"], "v": [9, 1, 2, 3], "n": [0, 1, 2, 3]})  # noqa: F841
    con.execute(upsert.insert_new("t", "src", ("a", "b", "v"), ("a", "b"), order="n DESC"))
    assert con.execute("FROM t ORDER BY a").fetchall() == [(1, "x", 0), (2, "y", 2), (3, "z", 3)]


def test_merge_updates_stored_keys_and_inserts_the_others_once():
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE t (a INTEGER, v INTEGER, w INTEGER DEFAULT 5)")
    con.execute("INSERT INTO t VALUES (1, 10, 0)")
    src = pa.table({"a": [1, 2, 2], "v": [1, 2, 3], "n": [0, 1, 2]})  # noqa: F841 - read by name
    con.execute(upsert.merge("t", "src", ("a", "v"), ("a",), {"v": "t.v + s.v"}, order="n"))
    assert con.execute("FROM t ORDER BY a").fetchall() == [(1, 11, 0), (2, 2, 5)]


def test_release_loads_twice_keep_every_key(keyless_db):
    recs = [make_record(i) for i in range(6)]
    recs.append(make_record(2, preference_labels={"human": "response_2", "judge-z": "response_1"}))  # repeated pair
    first = load_records(recs, source="s", db=keyless_db, fingerprint="one")
    assert first.new_pairs == 6 and first.left_out == 1  # the repeated pair's 'human' vote: the first is kept
    again = load_records(recs + [make_record(9)], source="s", db=keyless_db, fingerprint="two")
    assert again.new_pairs == 1 and again.existing_pairs == 7
    assert rows(keyless_db, "SELECT n_pairs FROM sources WHERE source = 's'") == [(7,)]
    assert rows(keyless_db, "SELECT preferred FROM labels WHERE pair_id = 2 ORDER BY judge") == [(2,), (1,), (1,)]
    assert rows(keyless_db, "SELECT count(*) FROM judges") == [(3,)]
    _no_duplicates(keyless_db)


def test_raw_loads_twice_keep_every_key(keyless_db, tmp_path):
    src = write_battles(tmp_path / "b.csv", battles(30), noise=0.2, seed=1)
    first = load_source(str(src), db=keyless_db, name="battles", options=formats.Options(judge="human"))
    assert first.new_pairs > 0
    src.write_text(src.read_text() + "\n")  # another fingerprint: loaded again, nothing new
    again = load_source(str(src), db=keyless_db, name="battles", options=formats.Options(judge="human"))
    assert again.new_pairs == 0 and again.new_labels == 0
    assert rows(keyless_db, "SELECT n_pairs FROM sources") == [(first.new_pairs,)]
    _no_duplicates(keyless_db)


def test_fitted_paras_reimported_with_replace_keep_every_key(keyless_db, tmp_path):
    def write(folder, weight):
        folder.mkdir()
        path = folder / "model_Advice_fitted_paras.jsonl"
        path.write_text(json.dumps({"model_name": "m-7b", "parameters": [weight] * N_PROPERTIES}) + "\n")
        return path

    import_fits(write(tmp_path / "one", 0.1), keyless_db)
    import_fits(write(tmp_path / "two", 0.5), keyless_db, replace=True)
    assert rows(keyless_db, "SELECT DISTINCT weight FROM fits WHERE judge = 'm-7b'") == [(0.5,)]
    assert rows(keyless_db, "SELECT count(*), min(size_b) FROM judges") == [(1, 7.0)]
    _no_duplicates(keyless_db)


def test_custom_ratings_rewritten_keep_every_key(keyless_db):
    load_records([make_record(i) for i in range(3)], source="s", db=keyless_db)
    props = (CustomProperty("humour", "Is it funny?", "rating"),)

    def save(score):
        results = [Rated(pid, "humour", "rating", 1, score, 0) for pid in range(3)]
        custom_store.save(results, props, file="props.toml", prompt_version="v1", db=keyless_db)

    save(2)
    save(3)  # a rerun rewrites the same keys
    assert rows(keyless_db, "SELECT DISTINCT score FROM custom_ratings WHERE response = 1") == [(3.0,)]
    assert rows(keyless_db, "SELECT count(*) FROM features WHERE property = 'humour'") == [(3,)]
    _no_duplicates(keyless_db)
