"""Fitting on property sets: a planted style effect is found, sets are stored side by side,
held-out metrics are filled, 'All' is fitted but not part of 'Overall', export stays 'paper'."""

import json

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from dbquery import rows
from pipeline.store import db as dbmod
from pipeline.cli import app
from pipeline.demo import generate_records
from pipeline.model.fitted_paras import export_fits
from pipeline.model.fitting import FitError, fit_database
from pipeline.ingest.release_load import load_records
from pipeline.properties.paper import N_PROPERTIES, PROPERTY_NAMES
from pipeline.properties.style import STYLE_NAMES, style_features

N_PAIRS = 1600
LIST_WEIGHT = 1.2  # the planted effect: the judge 'lister' likes the response with more list items


def random_text(rng) -> str:
    """Markdown with independent random amounts of several style properties."""
    parts = ["Here is my answer to your question about the topic at hand." * int(rng.integers(1, 3))]
    parts += [f"## Part {i}" for i in range(rng.integers(0, 3))]
    parts += [f"- item number {i}" for i in range(rng.choice([0, 0, 1, 2, 3, 5, 8]))]
    parts += [f"This is **important {i}**." for i in range(rng.integers(0, 3))]
    if rng.random() < 0.3:
        parts.append("Would you like me to say more?")
    if rng.random() < 0.2:
        parts.append("See https://example.org/page for details.")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Generated pairs whose texts are replaced by random markdown; two judges: 'lister'
    (P(response 1) = sigmoid(1.2 x list-items feature)) and 'coin' (fair coin)."""
    rng = np.random.default_rng(42)
    db = tmp_path_factory.mktemp("planted") / "p.duckdb"
    load_records(generate_records(seed=9, group_sizes={"Others": N_PAIRS // 2, "Code": N_PAIRS // 2}),
                 source="planted", db=db)
    with dbmod.reading(db) as con:
        ids = [r[0] for r in con.execute("SELECT pair_id FROM pairs ORDER BY pair_id").fetchall()]
    texts = pl.DataFrame({"pair_id": ids, "response_1": [random_text(rng) for _ in ids],
                          "response_2": [random_text(rng) for _ in ids]})
    feats = style_features(texts).filter(pl.col("property") == "list items")
    x = feats["value"].to_numpy().astype(float)
    p = 1 / (1 + np.exp(-LIST_WEIGHT * x))
    lister = np.where(rng.random(len(ids)) < p, 1, 2)
    coin = rng.integers(1, 3, len(ids))
    new_labels = pa.table({"pair_id": ids * 2, "judge": ["lister"] * len(ids) + ["coin"] * len(ids),  # noqa: F841
                       "preferred": np.concatenate([lister, coin]).astype(np.int8)})
    new_texts = texts.to_arrow()  # noqa: F841 - read by DuckDB below
    with dbmod.writing(db) as con:
        con.execute("UPDATE pairs SET response_1 = t.response_1, response_2 = t.response_2 "
                    "FROM new_texts t WHERE pairs.pair_id = t.pair_id")
        # stale style rows (of the old texts) go, so fit's backfill computes them from the new texts
        con.execute("DELETE FROM features WHERE list_contains(?, property)", [STYLE_NAMES])
        con.execute("DELETE FROM labels")
        con.execute("INSERT INTO labels (pair_id, judge, preferred) SELECT pair_id, judge, preferred FROM new_labels")
        con.execute("INSERT INTO pair_groups SELECT pair_id, 'All', 'all' FROM pairs WHERE pair_id NOT IN "
                    "(SELECT pair_id FROM pair_groups WHERE group_name = 'All')")  # the code keeps the keys
    return db


@pytest.fixture(scope="module")
def fitted(planted, tmp_path_factory):
    db = tmp_path_factory.mktemp("sets") / "s.duckdb"
    db.write_bytes(planted.read_bytes())
    reports = {s: fit_database(db, property_set=s) for s in ("paper", "style", "paper+style")}
    return db, reports


def weights(db, judge, group, property_set):
    return {p: (w, lo, hi) for p, w, lo, hi in rows(
        db, "SELECT property, weight, ci_low, ci_high FROM fits WHERE judge = ? AND group_name = ? "
            "AND property_set = ?", [judge, group, property_set])}


def test_planted_list_items_effect_is_found(fitted):
    db, reports = fitted
    assert reports["style"].backfilled == N_PAIRS  # style rows computed from the new texts first
    for group in ("All", "Others"):
        got = weights(db, "lister", group, "style")
        w, lo, hi = got.pop("list items")
        assert lo > 0 and w > 0.6, group                    # clearly positive, 95% interval above 0
        assert max(abs(v[0]) for v in got.values()) < 0.2   # unrelated style weights near 0
        coin = weights(db, "coin", group, "style")
        assert max(abs(v[0]) for v in coin.values()) < 0.2
        assert sum(lo <= 0 <= hi for _, lo, hi in coin.values()) >= 8


def test_heldout_accuracy_says_how_much_style_explains(fitted):
    db, reports = fitted
    acc = dict(rows(db, "SELECT judge || '/' || property_set, accuracy FROM fit_runs WHERE group_name = 'All'"))
    assert acc["lister/style"] > 0.6 and acc["lister/style"] > acc["lister/paper"] + 0.05
    assert 0.4 < acc["coin/style"] < 0.6
    line = reports["style"].accuracy_line()
    assert line.startswith("held-out accuracy with the style properties (group All") and "lister" in line
    bad = rows(db, """SELECT count(*) FROM fit_runs WHERE status = 'fitted' AND NOT (
                          accuracy BETWEEN 0 AND 1 AND log_loss > 0 AND auc BETWEEN 0 AND 1
                          AND calibration_error BETWEEN 0 AND 1)""")
    assert bad == [(0,)]
    lister_auc = rows(db, "SELECT auc FROM fit_runs WHERE judge = 'lister' AND group_name = 'All' "
                          "AND property_set = 'style'")[0][0]
    assert lister_auc > 0.6


def test_each_set_has_its_columns_and_pairs(fitted):
    db, _ = fitted
    per_set = dict(rows(db, "SELECT property_set, count(DISTINCT property) FROM fits GROUP BY ALL"))
    assert per_set == {"paper": N_PROPERTIES, "style": len(STYLE_NAMES), "paper+style": N_PROPERTIES + len(STYLE_NAMES)}
    n = {s: c for s, c in rows(db, "SELECT property_set, n_pairs FROM fit_runs WHERE judge = 'coin' "
                                    "AND group_name = 'All'")}
    usable = rows(db, "SELECT count(*) FROM pairs WHERE usable")[0][0]
    assert n == {"paper": usable, "style": N_PAIRS, "paper+style": usable} and usable < N_PAIRS
    order = [p for (p,) in rows(db, """SELECT property FROM preference_probability WHERE judge = 'coin'
                                       AND group_name = 'Code' AND property_set = 'paper+style'
                                       ORDER BY property_set, property_index""")]
    assert set(order) == set(PROPERTY_NAMES + STYLE_NAMES)


def test_refitting_one_set_keeps_the_others(fitted, tmp_path):
    db = tmp_path / "r.duckdb"
    db.write_bytes(fitted[0].read_bytes())
    with dbmod.writing(db) as con:
        con.execute("UPDATE fits SET weight = 99")
    fit_database(db, property_set="style", judges=["coin"], groups=["Code"])
    changed = rows(db, "SELECT DISTINCT judge, group_name, property_set FROM fits WHERE weight <> 99")
    assert changed == [("coin", "Code", "style")]


def test_all_is_fitted_but_not_part_of_overall(fitted):
    db, _ = fitted
    kinds = dict(rows(db, "SELECT DISTINCT group_name, group_kind FROM fit_runs"))
    assert kinds["All"] == "all"
    n_groups = rows(db, """SELECT property_set, n_groups FROM judge_similarity WHERE judge_a = 'lister'
                           AND judge_b = 'coin' AND group_name = 'Overall' ORDER BY 1""")
    assert n_groups == [("paper", 2), ("paper+style", 2), ("style", 2)]  # Code and Others, not All


def test_export_writes_paper_fits_and_all_as_model_all(fitted, tmp_path):
    db, _ = fitted
    files = export_fits(tmp_path / "out", db)
    names = {p.name for p in files}
    groups = rows(db, "SELECT DISTINCT group_name FROM fits WHERE property_set = 'paper'")
    assert len(names) == len(groups) and "model_all_fitted_paras.jsonl" in names
    assert {"model_Code_fitted_paras.jsonl", "model_Others_fitted_paras.jsonl"} < names
    lines = [json.loads(x) for x in (tmp_path / "out" / "model_all_fitted_paras.jsonl").read_text().splitlines()]
    assert {d["model_name"] for d in lines} == {"lister", "coin"}
    assert all(len(d["parameters"]) == N_PROPERTIES for d in lines)


def test_fit_command_takes_a_property_set(planted, tmp_path):
    db = tmp_path / "c.duckdb"
    db.write_bytes(planted.read_bytes())
    runner = CliRunner()
    result = runner.invoke(app, ["fit", "--db", str(db), "--properties", "style", "--group", "All"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "computed the style properties of" in out and "properties: style" in out
    assert "held-out accuracy with the style properties" in out
    result = runner.invoke(app, ["fit", "--db", str(db), "--properties", "colour"])
    assert result.exit_code == 1 and "unknown property set 'colour'" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["fit", "--db", str(db), "--properties", "custom"])
    assert result.exit_code == 1 and "no custom properties" in result.output


def test_custom_set_uses_the_rated_pairs(planted, tmp_path):
    """A custom set's columns come from `properties` (written by `rate`); only pairs with a
    feature for every custom property are used."""
    db = tmp_path / "u.duckdb"
    db.write_bytes(planted.read_bytes())
    with dbmod.writing(db) as con:
        con.execute("INSERT INTO properties VALUES ('custom', 0, 'humour', 'custom', 'compare', 'Funnier?', 'A/B'), "
                    "('custom', 1, 'warmth', 'custom', 'rating', 'Warmer?', 'sign')")
        con.execute("INSERT INTO features SELECT pair_id, 'humour', (pair_id % 3) - 1 FROM pairs WHERE pair_id % 2 = 0")
        con.execute("INSERT INTO features SELECT pair_id, 'warmth', 0 FROM pairs WHERE pair_id % 4 = 0")
    fit_database(db, property_set="custom", groups=["All"])
    got = rows(db, "SELECT judge, n_pairs FROM fit_runs WHERE property_set = 'custom' ORDER BY judge")
    assert got == [("coin", N_PAIRS // 4), ("lister", N_PAIRS // 4)]
    assert rows(db, "SELECT DISTINCT property FROM fits WHERE property_set = 'custom' ORDER BY 1") == \
        [("humour",), ("warmth",)]
    with pytest.raises(FitError, match="unknown property set"):
        fit_database(db, property_set="Style")
