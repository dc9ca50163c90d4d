"""The schema's version: every step from the version before it, files made before
versioning, too-new files, and views created in the order their headers name."""

import duckdb
import pytest

from pipeline.store import db as dbmod
from pipeline.store import errors, schema
from pipeline.properties.sets import registry_rows

# A file from before versioning: no schema_version, and fit_runs without group_kind and
# position (the oldest shape); the other tables as the baseline has them.
LEGACY = """
CREATE TABLE properties (property_index INTEGER PRIMARY KEY, property VARCHAR NOT NULL UNIQUE,
    kind VARCHAR NOT NULL, source_key VARCHAR NOT NULL, description VARCHAR);
CREATE TABLE fits (judge VARCHAR NOT NULL, group_name VARCHAR NOT NULL, property VARCHAR NOT NULL,
    weight DOUBLE NOT NULL, sd DOUBLE, ci_low DOUBLE, ci_high DOUBLE, source VARCHAR,
    PRIMARY KEY (judge, group_name, property));
CREATE TABLE fit_runs (judge VARCHAR NOT NULL, group_name VARCHAR NOT NULL, status VARCHAR NOT NULL,
    n_pairs INTEGER, accuracy DOUBLE, method VARCHAR, folds INTEGER, note VARCHAR,
    fitted_at TIMESTAMP DEFAULT current_timestamp, PRIMARY KEY (judge, group_name));
"""


def tables(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}


def columns(con, table) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [table]).fetchall()]


def at_version(con, version: int) -> None:
    """Bring an empty database to `version` by its own steps, as the code of that time did."""
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                "applied_at TIMESTAMP DEFAULT current_timestamp)")
    for step in schema.steps():
        if step.version <= version:
            step.apply(con)
            con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [step.version, step.name])


def legacy_file(path):
    con = duckdb.connect(str(path))
    con.execute(LEGACY)
    con.execute((schema.HERE / "m0001_baseline.sql").read_text().split("-- Files from before")[0])
    con.execute("INSERT INTO properties VALUES (0, 'harmless', 'basic', 'harmlessness', 'old text')")
    con.execute("INSERT INTO pairs (pair_id, source, source_index, pair_key, query, response_1, response_2, usable) "
                "VALUES (7, 's', 0, 'k7', 'q', 'a', 'b', TRUE)")
    con.execute("INSERT INTO labels VALUES (7, 'human', 1, NULL)")
    con.execute("INSERT INTO fits VALUES ('human', 'Code', 'harmless', 0.5, 0.1, 0.3, 0.7, 'fit')")
    con.execute("INSERT INTO fit_runs (judge, group_name, status, n_pairs, accuracy) VALUES ('human', 'Code', 'fitted', 40, 0.7)")
    con.close()
    return path


def test_steps_are_numbered_in_order_from_one():
    versions = [s.version for s in schema.steps()]
    assert versions[:2] == [1, 2] and versions == sorted(set(versions))
    assert schema.latest_version() == versions[-1]


def test_a_new_database_gets_every_step_and_its_version(tmp_path):
    con = duckdb.connect(str(tmp_path / "n.duckdb"))
    assert schema.current_version(con) is None
    applied = schema.migrate(con)
    assert applied == [s.version for s in schema.steps()]
    assert schema.current_version(con) == schema.latest_version()
    assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(applied)
    assert schema.migrate(con) == []  # nothing pending: a no-op


@pytest.mark.parametrize("step", schema.steps(), ids=lambda s: f"m{s.version:04d}_{s.name}")
def test_each_step_from_the_version_before_it(tmp_path, step):
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    at_version(con, step.version - 1)
    assert [s.version for s in schema.pending(con)][0] == step.version
    applied = schema.migrate(con)
    assert applied[0] == step.version and schema.current_version(con) == schema.latest_version()
    schema.apply_views(con)
    for view in (p.stem for p in schema.view_order()):
        con.execute(f"SELECT count(*) FROM {view}").fetchone()


def test_step_2_keeps_rows_and_adds_the_open_world_columns(tmp_path):
    con = duckdb.connect(str(tmp_path / "v1.duckdb"))
    at_version(con, 1)
    con.execute("INSERT INTO pairs (pair_id, source, source_index, pair_key, query, response_1, response_2, usable) "
                "VALUES (1, 's', 0, 'k', 'q', 'a', 'b', TRUE)")
    con.execute("INSERT INTO labels VALUES (1, 'human', 2, 0.2)")
    con.execute("INSERT INTO fits VALUES ('human', 'Code', 'harmless', 0.5, 0.1, 0.3, 0.7, 'fit')")
    con.execute("INSERT INTO fit_runs (judge, group_name, status, accuracy, group_kind, position) "
                "VALUES ('human', 'Code', 'fitted', 0.7, 'scenario', 3)")
    assert schema.migrate(con)[0] == 2
    assert con.execute("SELECT annotated, n_turns FROM pairs").fetchall() == [(True, 1)]
    assert con.execute("SELECT preferred, prob_1, rater FROM labels").fetchall() == [(2, 0.2, None)]
    assert con.execute("SELECT property_set, weight, ci_high FROM fits").fetchall() == [("paper", 0.5, 0.7)]
    assert con.execute("SELECT property_set, accuracy, log_loss, group_kind, position FROM fit_runs").fetchall() == [
        ("paper", 0.7, None, "scenario", 3)]
    # the new keys (kept by the code since step 6): the same judge x group x property under
    # another set is another row; annotated may not be NULL
    from pipeline.store import keys
    assert keys.table_keys()["fits"][0] == ("judge", "group_name", "property_set", "property")
    assert keys.table_keys()["fit_runs"][0] == ("judge", "group_name", "property_set")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO pairs (pair_id, source, source_index, pair_key, query, response_1, response_2, "
                    "usable, annotated) VALUES (2, 's', 1, 'k2', 'q', 'a', 'b', TRUE, NULL)")
    assert columns(con, "properties") == ["property_set", "property_index", "property", "kind", "source_key",
                                          "description", "rule"]
    assert {"pair_attributes", "custom_groups", "custom_properties", "custom_ratings", "leaderboard",
            "leaderboard_runs", "leaderboard_controls", "forecasts"} <= tables(con)


def _compression(con, table: str) -> dict[str, set[str]]:
    """Column -> the methods its text segments are stored with (after a checkpoint)."""
    found: dict[str, set[str]] = {}
    for column, method in con.execute(f"SELECT column_name, compression FROM pragma_storage_info('{table}') "
                                      "WHERE segment_type = 'VARCHAR'").fetchall():
        found.setdefault(column, set()).add(method)
    return found


def test_step_8_names_fsst_for_the_pairs_distinct_texts_of_a_new_file(tmp_path):
    """Issue 18: the key, query and responses are stored with FSST, without DuckDB's trial of a
    dictionary, even where a dictionary would have won (texts of three values: version 7 stores
    them as one); the other texts keep DuckDB's choice; the columns are version 7's."""
    from pipeline.store.schema import m0008_pairs_texts_fsst as step8

    rows = ("INSERT INTO pairs (pair_id, source, source_index, pair_key, query, response_1, response_2, usable, "
            "annotated) SELECT i, 'one source', i, sha1(i::VARCHAR), 'question ' || (i % 3), 'first ' || (i % 3), "
            "'second ' || (i % 3), TRUE, FALSE FROM range(200000) t(i)")
    old = duckdb.connect(str(tmp_path / "v7.duckdb"))
    at_version(old, 7)
    old.execute(rows)
    old.execute("CHECKPOINT")
    assert _compression(old, "pairs")["response_1"] == {"Dictionary"}  # what DuckDB picks by itself

    con = duckdb.connect(str(tmp_path / "v8.duckdb"))
    at_version(con, 7)
    schema_before = con.execute("SELECT column_name, data_type, column_default, is_nullable FROM duckdb_columns() "
                                "WHERE table_name = 'pairs' ORDER BY column_index").fetchall()
    assert schema.migrate(con) == [8]
    assert con.execute("SELECT column_name, data_type, column_default, is_nullable FROM duckdb_columns() "
                       "WHERE table_name = 'pairs' ORDER BY column_index").fetchall() == schema_before
    con.execute(rows)
    con.execute("CHECKPOINT")
    methods = _compression(con, "pairs")
    assert all(methods[c] == {"FSST"} for c in step8.FSST), methods
    assert methods["source"] == {"Dictionary"}


def test_step_8_leaves_a_file_with_pairs_as_it_is(tmp_path):
    """Rebuilt, a file of pairs would double; its rows and table stay, and loads go on as before."""
    con = duckdb.connect(str(tmp_path / "v7.duckdb"))
    at_version(con, 7)
    con.execute("INSERT INTO pairs (pair_id, source, source_index, pair_key, query, response_1, response_2, usable, "
                "annotated) SELECT i, 's', i, sha1(i::VARCHAR), 'q', 'same', 'same', TRUE, FALSE FROM range(200000) t(i)")
    con.execute("CHECKPOINT")
    before = con.execute("SELECT count(*), sum(hash(p)) FROM pairs p").fetchone()
    assert schema.migrate(con) == [8]
    con.execute("CHECKPOINT")
    assert con.execute("SELECT count(*), sum(hash(p)) FROM pairs p").fetchone() == before
    assert _compression(con, "pairs")["response_1"] == {"Dictionary"}


def test_the_registry_is_filled_and_custom_rows_are_kept(tmp_path):
    con = duckdb.connect(str(tmp_path / "r.duckdb"))
    schema.migrate(con)
    got = sorted(con.execute("SELECT * FROM properties").fetchall())
    assert got == sorted(tuple(r) for r in registry_rows())
    assert con.execute("SELECT count(*) FROM properties WHERE property_set = 'paper'").fetchone()[0] == 29
    con.execute("INSERT INTO properties VALUES ('custom', 0, 'cites sources', 'custom', NULL, 'asks', NULL)")
    con.execute("UPDATE properties SET description = 'stale' WHERE property = 'harmless'")
    schema.migrate(con)
    assert con.execute("SELECT description FROM properties WHERE property = 'harmless'").fetchone()[0] != "stale"
    assert con.execute("SELECT count(*) FROM properties WHERE property_set = 'custom'").fetchone()[0] == 1


def test_a_legacy_file_is_recognised_and_upgraded_by_the_next_write(tmp_path):
    path = legacy_file(tmp_path / "legacy.duckdb")
    with duckdb.connect(str(path), read_only=True) as con:
        assert schema.current_version(con) == 0
    with pytest.raises(errors.SchemaOutdated, match=r"version 0 .*python -m pipeline migrate"):
        with dbmod.reading(path):
            pass
    with dbmod.writing(path) as con:
        con.execute("INSERT INTO judges (judge) VALUES ('new')")
    with dbmod.reading(path) as con:
        assert schema.current_version(con) == schema.latest_version()
        assert con.execute("SELECT pair_id, annotated FROM pairs").fetchall() == [(7, True)]
        assert con.execute("SELECT judge, property_set, weight FROM fits").fetchall() == [("human", "paper", 0.5)]
        assert con.execute("SELECT status, n_pairs, group_kind, position FROM fit_runs").fetchall() == [
            ("fitted", 40, None, None)]
        assert con.execute("SELECT count(*) FROM properties WHERE property_set = 'paper'").fetchone()[0] == 29
        assert con.execute("SELECT count(*) FROM preference_probability").fetchone()[0] == 1


def test_migrate_command_upgrades_in_place(tmp_path):
    path = legacy_file(tmp_path / "legacy.duckdb")
    assert dbmod.migrate_file(path) == (0, schema.latest_version())
    with dbmod.reading(path) as con:
        assert con.execute("SELECT count(*) FROM labels").fetchone()[0] == 1
    assert dbmod.migrate_file(path) == (schema.latest_version(), schema.latest_version())
    with pytest.raises(errors.DatabaseMissing):
        dbmod.migrate_file(tmp_path / "none.duckdb")


def test_a_failing_step_changes_nothing(tmp_path, monkeypatch):
    # schema.migrate commits statement by statement (DuckDB 1.5 cannot commit two ADD COLUMNs
    # to one table in one transaction); the writer runs it on its private copy, so a failing
    # step leaves the published file byte for byte as it was
    path = tmp_path / "f.duckdb"
    con = duckdb.connect(str(path))
    at_version(con, 1)
    con.close()
    before = path.read_bytes()
    broken = schema.Step(99, "broken", tmp_path / "m0099_broken.sql")
    broken.path.write_text("CREATE TABLE half_done (x INTEGER); SELECT * FROM no_such_table;")
    every = schema.steps() + [broken]
    monkeypatch.setattr(schema, "steps", lambda: every)
    with pytest.raises(duckdb.Error):
        with dbmod.writing(path):
            pass
    assert path.read_bytes() == before
    con = duckdb.connect(str(path), read_only=True)
    assert schema.current_version(con) == 1
    assert "half_done" not in tables(con) and "forecasts" not in tables(con)


def test_a_file_newer_than_the_code_is_refused(tmp_path):
    path = tmp_path / "future.duckdb"
    with dbmod.writing(path):
        pass
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version (version, name) VALUES (999, 'from the future')")
    con.close()
    with pytest.raises(errors.SchemaTooNew, match="version 999"):
        with dbmod.reading(path):
            pass
    with pytest.raises(errors.SchemaTooNew):
        with dbmod.writing(path):
            pass
    with pytest.raises(errors.SchemaTooNew):
        dbmod.migrate_file(path)


def test_a_file_without_our_tables_reads_as_unversioned(tmp_path):
    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()
    with dbmod.reading(path) as con:
        assert schema.current_version(con) is None


def test_every_view_file_declares_its_dependencies_first():
    for path in sorted(schema.SQL_DIR.glob("*.sql")):
        assert path.read_text().startswith("-- depends: "), f"{path.name}: first line must be `-- depends: ...`"


def test_views_are_created_after_what_they_name(tmp_path):
    (tmp_path / "b_top.sql").write_text("-- depends: a_base\nCREATE OR REPLACE VIEW b_top AS SELECT x + 1 AS y FROM a_base;")
    (tmp_path / "a_base.sql").write_text("-- depends: z_root\nCREATE OR REPLACE VIEW a_base AS SELECT x FROM z_root;")
    (tmp_path / "z_root.sql").write_text("-- depends: none\nCREATE OR REPLACE VIEW z_root AS SELECT 1 AS x;")
    assert [p.stem for p in schema.view_order(tmp_path)] == ["z_root", "a_base", "b_top"]
    (tmp_path / "z_root.sql").write_text("-- depends: b_top\nCREATE OR REPLACE VIEW z_root AS SELECT 1 AS x;")
    with pytest.raises(RuntimeError, match="cycle"):
        schema.view_order(tmp_path)
    (tmp_path / "z_root.sql").write_text("-- depends: nowhere\nSELECT 1;")
    with pytest.raises(RuntimeError, match="nowhere"):
        schema.view_order(tmp_path)
    (tmp_path / "z_root.sql").write_text("SELECT 1;")
    with pytest.raises(RuntimeError, match="first line"):
        schema.view_order(tmp_path)
