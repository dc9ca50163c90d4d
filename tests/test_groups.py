"""Custom groups: add / list / remove, attributes as columns, refused conditions, refresh on load, fitting."""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from typer.testing import CliRunner

from dbquery import rows, scalar
from pipeline.store import db as dbmod
from pipeline import groups
from pipeline.cli import app
from pipeline.groups import GroupError
from pipeline.ingest.loader import load_source

runner = CliRunner()
LANGS = ["de", "en", "en", "fr"]


def arena_rows(n: int, start: int = 0, seed: int = 0) -> list[dict]:
    """Chatbot Arena conversation rows: language cycles de/en/en/fr, winners vary."""
    rnd = random.Random(seed)
    out = []
    for i in range(start, start + n):
        q = f"question number {i}: how do I sort a list?"
        long_a = rnd.random() < 0.5
        a = "Use sorted(). " + ("Here is more detail. " * 8 if long_a else "")
        b = "Call list.sort() in place. " + ("" if long_a else "Some extra words here. " * 8)
        out.append({"question_id": f"q{i}", "model_a": "model-x", "model_b": "model-y",
                    "winner": rnd.choice(["model_a", "model_b", "model_a" if long_a else "model_b"]),
                    "judge": f"voter{i % 7}", "turn": 1, "anony": i % 3 != 0, "language": LANGS[i % 4],
                    "conversation_a": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                    "conversation_b": [{"role": "user", "content": q}, {"role": "assistant", "content": b}]})
    return out


def write_jsonl(path, records) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


@pytest.fixture
def arena_db(tmp_path):
    db = tmp_path / "arena.duckdb"
    load_source(write_jsonl(tmp_path / "a.jsonl", arena_rows(120)), db=db)
    return db


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def members(db, name) -> set[int]:
    return {r[0] for r in rows(db, "SELECT pair_id FROM pair_groups WHERE group_name = ? AND group_kind = 'custom'",
                               [name])}


# ------------------------------------------------------------------ add, list, remove


def test_add_stores_the_condition_and_the_members(arena_db):
    n = groups.add_group("German", "language = 'de'", db=arena_db, note="German users")
    expected = {r[0] for r in rows(arena_db, "SELECT pair_id FROM pair_attributes WHERE key = 'language' "
                                             "AND value = 'de'")}
    assert n == len(expected) == 30
    assert members(arena_db, "German") == expected
    assert rows(arena_db, "SELECT where_sql, note FROM custom_groups") == [("language = 'de'", "German users")]
    listed = {g.name: g for g in groups.list_groups(arena_db)}
    assert listed["German"].kind == "custom" and listed["German"].n_pairs == 30
    assert listed["German"].condition == "language = 'de'" and listed["All"].kind == "all"


def test_attributes_are_typed_columns_and_a_map(arena_db):
    cols = dict(groups.attribute_columns(arena_db))
    assert cols["language"] == "VARCHAR" and cols["turn"] == "BIGINT" and cols["anony"] == "BOOLEAN"
    assert groups.count_matching(arena_db, "anony") == 80
    assert groups.count_matching(arena_db, "NOT anony AND turn = 1") == 40
    assert groups.count_matching(arena_db, "attributes['language'] = 'fr'") == 30
    assert groups.count_matching(arena_db, "language IN ('de', 'fr') AND model_1 = 'model-x'") == 60
    # the pairs' own columns, and a subquery over the database's tables
    assert groups.count_matching(arena_db, "pair_id IN (SELECT pair_id FROM labels WHERE preferred = 1)") == \
        scalar(arena_db, "SELECT count(DISTINCT pair_id) FROM labels WHERE preferred = 1")


def test_remove_takes_members_and_fits_with_it(arena_db):
    groups.add_group("German", "language = 'de'", db=arena_db)
    groups.add_group("French", "language = 'fr'", db=arena_db)
    from pipeline.model.fitting import fit_database

    fit_database(arena_db, groups=["German"], property_set="style", min_labels=5)
    assert scalar(arena_db, "SELECT count(*) FROM fits WHERE group_name = 'German'") > 0
    removed = groups.remove_group("German", db=arena_db)
    assert removed["pair_groups"] == 30 and removed["fits"] > 0 and removed["fit_runs"] == 1
    assert scalar(arena_db, "SELECT count(*) FROM fits WHERE group_name = 'German'") == 0
    assert members(arena_db, "German") == set()
    assert [g.name for g in groups.list_groups(arena_db, kinds=("custom",))] == ["French"]
    with pytest.raises(GroupError, match="no custom group 'German' \\(custom groups: French\\)"):
        groups.remove_group("German", db=arena_db)


def test_replace_changes_the_condition_and_drops_old_fits(arena_db):
    groups.add_group("Slice", "language = 'de'", db=arena_db)
    with pytest.raises(GroupError, match="already exists"):
        groups.add_group("slice", "language = 'fr'", db=arena_db)
    assert groups.add_group("Slice", "language <> 'en'", db=arena_db, replace=True) == 60
    assert rows(arena_db, "SELECT group_name, where_sql FROM custom_groups") == [("Slice", "language <> 'en'")]


# ------------------------------------------------------------------ refused, nothing changed

REFUSED = [
    ("read_csv('/etc/passwd') IS NOT NULL", "read_csv() is not allowed because it reads files"),
    ("(SELECT count(*) FROM read_csv('/etc/passwd')) > 0", "read_csv() is not allowed"),
    ("pair_id IN (SELECT 1 FROM '/etc/passwd')", "FROM '/etc/passwd' is not allowed"),
    ("(SELECT count(*) FROM glob('/*')) > 0", "glob() is not allowed"),
    ("getenv('HOME') = 'x'", "getenv() is not allowed"),
    ("language = ", "Refused condition"),
    ("language = 'de'; DROP TABLE pairs", "contains ';'"),
    ("1 = 1) UNION SELECT 5 --", "Refused condition"),
    ("no_such_column = 1", "Referenced column \"no_such_column\" not found"),
    ("language", "must be true or false"),
    ("", "the condition is empty"),
]


@pytest.mark.parametrize("condition, why", REFUSED, ids=[c or "empty" for c, _ in REFUSED])
def test_refused_conditions_change_nothing(arena_db, condition, why):
    before = sha(arena_db)
    with pytest.raises(GroupError) as err:
        groups.add_group("Bad", condition, db=arena_db)
    assert why in str(err.value) and "\n" not in str(err.value)
    assert sha(arena_db) == before


@pytest.mark.parametrize("name, why", [("Code", "built-in group"), ("all", "built-in name"),
                                       ("Overall", "built-in name"), ("  ", "the group name is empty"),
                                       ("bad\x07name", "contains U\\+0007"), ("a\u202eb", "U\\+202E"),
                                       ("x" * 65, "the limit is 64")])
def test_refused_names(demo_db, name, why):
    with pytest.raises(GroupError, match=why):
        groups.add_group(name, "true", db=demo_db)


def test_the_cli_says_one_line_and_exits_non_zero(arena_db):
    before = sha(arena_db)
    result = runner.invoke(app, ["group", "add", "X", "--where", "read_csv('/etc/passwd') = 1", "--db", str(arena_db)])
    assert result.exit_code == 1
    assert "Refused condition: read_csv()" in result.output and "Traceback" not in result.output
    assert "nothing was changed" in result.output
    assert sha(arena_db) == before
    result = runner.invoke(app, ["group", "remove", "Nope", "--db", str(arena_db)])
    assert result.exit_code == 1 and "no custom group 'Nope'" in result.output


def test_cli_add_list_remove(arena_db):
    result = runner.invoke(app, ["group", "add", "German", "--where", "language = 'de'", "--note", "[b]x[/b]",
                                 "--db", str(arena_db)])
    assert result.exit_code == 0, result.output
    assert "group 'German': 30 pairs" in result.output and "fit --group German" in result.output
    result = runner.invoke(app, ["group", "list", "--custom", "--db", str(arena_db)])
    assert result.exit_code == 0 and "German" in result.output and "[b]x[/b]" in result.output  # not markup
    result = runner.invoke(app, ["group", "remove", "German", "--db", str(arena_db)])
    assert result.exit_code == 0 and "30 pair_groups rows" in result.output


# ------------------------------------------------------------------ refresh


def test_groups_are_evaluated_again_after_every_load(arena_db, tmp_path):
    groups.add_group("German", "language = 'de'", db=arena_db)
    groups.add_group("Spanish", "language = 'es'", db=arena_db)
    assert len(members(arena_db, "Spanish")) == 0
    more = arena_rows(40, start=1000, seed=1)
    for r in more[:10]:
        r["language"] = "es"
    load_source(write_jsonl(tmp_path / "b.jsonl", more), db=arena_db)
    assert len(members(arena_db, "Spanish")) == 10
    assert len(members(arena_db, "German")) == 30 + sum(r["language"] == "de" for r in more)


def test_refresh_never_aborts_the_loaders_transaction(arena_db):
    groups.add_group("Turn plus", "turn + 1 = 2", db=arena_db)           # turn is BIGINT now
    groups.add_group("Number", "CAST(attributes['turn'] AS INTEGER) = 1", db=arena_db)
    kept = members(arena_db, "Turn plus")
    with dbmod.writing(arena_db) as con:
        # a new pair whose attributes break both conditions: turn is no longer a number
        con.execute("INSERT INTO pair_attributes VALUES (0, 'extra', 'x')")
        con.execute("UPDATE pair_attributes SET value = 'first' WHERE pair_id = 1 AND key = 'turn'")
        result = {r.name: r for r in groups.refresh(con)}
        assert result["Turn plus"].n_pairs is None and "does not work" in result["Turn plus"].error
        # TRY: the pair whose value breaks the cast is left out, the others stay, and nothing fails
        assert result["Number"].n_pairs == 119 and result["Number"].error is None
        assert con.execute("SELECT count(*) FROM pairs").fetchone()[0] == 120    # still usable
    assert members(arena_db, "Turn plus") == kept
    assert rows(arena_db, "SELECT value FROM pair_attributes WHERE pair_id = 0 AND key = 'extra'") == [("x",)]


# ------------------------------------------------------------------ fitted like the paper's groups


def test_a_custom_group_is_fitted_like_the_papers(demo_db):
    groups.add_group("Long code", "scenario_group = 'Code' OR num_words_1 > 250", db=demo_db)
    from pipeline.model.fitting import fit_database

    report = fit_database(demo_db, groups=["Long code"])
    assert report.fitted > 0
    runs = rows(demo_db, "SELECT DISTINCT group_kind, property_set FROM fit_runs WHERE group_name = 'Long code' "
                         "AND status = 'fitted'")
    assert runs == [("custom", "paper")]
    n = scalar(demo_db, "SELECT count(*) FROM fits WHERE group_name = 'Long code' AND judge = 'human'")
    assert n == 29
    assert next(g for g in groups.list_groups(demo_db) if g.name == "Long code").judges_fitted == report.fitted


def test_cli_add_with_fit(arena_db):
    result = runner.invoke(app, ["group", "add", "German", "--where", "language = 'de'", "--fit",
                                 "--properties", "style", "--db", str(arena_db)])
    assert result.exit_code == 0, result.output
    assert scalar(arena_db, "SELECT count(*) FROM fit_runs WHERE group_name = 'German' AND property_set = 'style'") == 1


def test_cli_uses_the_stored_name_after_normalising(arena_db):
    """`group add "Long  \ufb01le"` stores "Long file" (NFKC, one space): the summary, --fit and the
    next: hint must say that name, or `fit --group` as printed names an unknown group."""
    import shlex

    typed = "  Long  \ufb01le de"
    result = runner.invoke(app, ["group", "add", typed, "--where", "language = 'de'", "--db", str(arena_db)],
                           env={"COLUMNS": "2000"})
    assert result.exit_code == 0, result.output
    assert "group 'Long file de': 30 pairs" in result.output and members(arena_db, "Long file de")
    hint = next(line for line in result.output.splitlines() if line.startswith("next: "))
    args = shlex.split(hint[len("next: "):].removesuffix(" to fit it"))
    assert args == ["python", "-m", "pipeline", "fit", "--group", "Long file de"]
    fitted = runner.invoke(app, [*args[3:], "--properties", "style", "--db", str(arena_db)])
    assert fitted.exit_code == 0, fitted.output
    result = runner.invoke(app, ["group", "add", typed, "--where", "language = 'de'", "--replace", "--fit",
                                 "--properties", "style", "--db", str(arena_db)])
    assert result.exit_code == 0, result.output
    assert scalar(arena_db, "SELECT count(*) FROM fit_runs WHERE group_name = 'Long file de' "
                            "AND property_set = 'style'") == 1
