"""pipeline.queries.fit_checks and the Dissection page on an AlpacaEval-like layout: a
reference model is response 1 in every pair and wins most of them. The page shows the
weights at equal models by default, says why, shows the baselines, warns, and a toggle
shows the plain weights."""

import json

import numpy as np
import pytest
from conftest import ROOT
from dbquery import rows
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.queries import catalog, dissection, fit_checks

runner = CliRunner()
JUDGE = "planted_judge"


def record(rng, i, model):
    """The reference writes longer answers and is stronger; the judge likes the stronger model only."""
    long = rng.random() < 0.85
    ref = " ".join(["word"] * (120 if long else 30)) + f" answer {i}"
    other = " ".join(["word"] * (30 if long else 120)) + f" reply {i}"
    p_ref = 1 / (1 + np.exp(-(1.8 - {"a": 0.4, "b": 0.0, "c": -0.4}[model])))
    return {"instruction": f"question {i}?", "output_1": ref, "generator_1": "ref", "output_2": other,
            "generator_2": model, "annotator": JUDGE, "preference": 1.0 if rng.random() < p_ref else 2.0,
            "dataset": "planted"}


@pytest.fixture(scope="module")
def reference_layout(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    rng = np.random.default_rng(3)
    src = tmp / "planted.json"
    src.write_text(json.dumps([record(rng, i, m) for i, m in enumerate(rng.choice(["a", "b", "c"], 900))]))
    db = tmp / "ref.duckdb"
    for args in (["load", src, "--format", "alpaca-eval"], ["fit", "--properties", "style"],
                 ["fit", "--properties", "style", "--adjust", "models"]):
        result = runner.invoke(app, [str(a) for a in args] + ["--db", str(db)])
        assert result.exit_code == 0, result.output
    return db


def test_checks_read_both_fits_and_their_facts(reference_layout):
    df = fit_checks.checks(reference_layout, "All", [JUDGE], "style")
    assert sorted(df["property_set"]) == ["style", "style@models"]
    share = rows(reference_layout, "SELECT avg((preferred = 1)::DOUBLE) FROM labels")[0][0]
    assert df["share_response_1"].tolist() == pytest.approx([share, share])
    assert set(df["constant_model_1"]) == {"ref"}
    assert fit_checks.has_adjusted(df, "style") and fit_checks.calls_for_adjusting(df, "style")
    assert "response 1 is always ref" in fit_checks.why_adjusted(df, "style")
    table = fit_checks.run_table(df, "style@models")
    assert table.loc[0, "baseline"] == "always-'response 1'" and table.loc[0, "baseline_accuracy"] == pytest.approx(share)
    assert any("at equal models" in w for _, w in fit_checks.warnings(df, "style@models"))
    assert any("--adjust models" in w for _, w in fit_checks.warnings(df, "style"))


def test_default_reads_stay_unadjusted(reference_layout):
    assert list(catalog.property_sets(reference_layout)["property_set"]) == ["style"]
    judges = catalog.judges(reference_layout, "style").set_index("judge")
    share = rows(reference_layout, "SELECT avg((preferred = 1)::DOUBLE) FROM labels")[0][0]
    assert judges.loc[JUDGE, "mean_baseline_accuracy"] == pytest.approx(share)  # Home's judges table
    plain = dissection.preference_probability(reference_layout, "All", [JUDGE], "style")
    adjusted = dissection.preference_probability(reference_layout, "All", [JUDGE], "style@models")
    assert len(plain) == len(adjusted) == 10 and set(plain["property_set"]) == {"style"}
    length = {df["property_set"].iloc[0]: df.set_index("property").loc["length (tokens)"]
              for df in (plain, adjusted)}
    # the planted judge does not care about length: only the plain fit reads the reference's strength as it
    assert length["style"]["prob_low"] > 55 and length["style@models"]["prob_low"] < 50 < length["style@models"]["prob_high"]


def page(db, monkeypatch, params):
    monkeypatch.setenv("PREFDISSECT_DB", str(db))
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=90)
    at.switch_page("pages/1_Dissection.py")
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def test_page_shows_the_adjusted_weights_and_says_why(reference_layout, monkeypatch):
    at = page(reference_layout, monkeypatch, {"properties": "style", "group": "All", "judges": JUDGE})
    assert not at.exception
    (toggle,) = [t for t in at.toggle if t.label == "Weights at equal models"]
    assert toggle.value is True
    captions = " ".join(c.value for c in at.caption)
    assert "Showing the weights at equal models because response 1 is always ref" in captions
    warnings = " ".join(w.value for w in at.warning)
    assert "at equal models" in warnings
    tables = [df.value for df in at.dataframe]
    assert any("baseline_accuracy" in t.columns for t in tables)
    toggle.set_value(False).run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "adjust models fits the models" in warnings and "response 1 wins" in warnings


def test_checks_of_unknown_judges_are_empty(reference_layout):
    """A judge without fits adds no row (the order of several judges: tests/test_app_pages.py's
    test_dissection_judges_control, on the demo)."""
    df = fit_checks.checks(reference_layout, "All", [JUDGE, "nobody"], "style")
    assert list(df["judge"]) == [JUDGE, JUDGE] and list(df["property_set"]) == ["style", "style@models"]
    assert fit_checks.checks(reference_layout, "All", ["nobody"], "style").empty
