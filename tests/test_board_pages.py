"""The Leaderboard and What-if pages on a style-only database with a reference model (AppTest):
only controls with data are offered, the What-if default is not the reference, and the "as model"
and "scale" forecasts show the measured win rates beside them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from conftest import ROOT
from pipeline.cli import app

LEADERBOARD = "pages/9_Leaderboard.py"
WHAT_IF = "pages/10_What_if.py"
MODELS = ["short-model", "long-model", "mid-model"]


@pytest.fixture(scope="module")
def reference_db(tmp_path_factory):
    """AlpacaEval's layout: the reference is output_1 of every pair; style features only."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(240):
        model = MODELS[i % 3]
        words = {"short-model": 20, "long-model": 120, "mid-model": 60}[model] + int(rng.integers(0, 10))
        rows.append({"instruction": f"question {i}", "output_1": "ref " * 80, "generator_1": "the-reference",
                     "output_2": "word " * words, "generator_2": model, "annotator": "judge-gpt",
                     "preference": float(rng.choice([1.0, 2.0], p=[0.5, 0.5]))})
    folder = tmp_path_factory.mktemp("ref")
    (folder / "annotations.json").write_text(json.dumps(rows))
    db = folder / "ref.duckdb"
    res = CliRunner().invoke(app, ["load", str(folder / "annotations.json"), "--db", str(db)])
    assert res.exit_code == 0, res.output
    return db


def open_page(page: str, db, monkeypatch, params: dict | None = None) -> AppTest:
    monkeypatch.setenv("PREFDISSECT_DB", str(db))
    at = AppTest.from_file(str(ROOT / page), default_timeout=90)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    return at.run()


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_leaderboard_offers_only_controls_with_data(reference_db, monkeypatch):
    at = open_page(LEADERBOARD, reference_db, monkeypatch)
    clean(at)
    options = at.multiselect(key="lb.new_control").options
    assert "style" in options and "length (tokens)" in options
    assert "paper" not in options and "harmless" not in options          # no paper annotations here
    assert {s.label for s in at.selectbox} >= {"Control form", "Ties", "Interval"}


def test_what_if_defaults_to_a_model_that_is_not_the_reference(reference_db, monkeypatch):
    at = open_page(WHAT_IF, reference_db, monkeypatch)
    clean(at)
    model = at.selectbox(key="wi.model").value
    assert model != "the-reference" and model in MODELS
    assert at.selectbox(key="wi.as").value != "the-reference"
    labels = [m.label for m in at.metric]
    assert "Measured win rate now" in labels and "Forecast" in labels
    assert "Measured win rate of the other model" in labels


def test_what_if_scale_mode_forecasts_longer_answers(reference_db, monkeypatch):
    at = open_page(WHAT_IF, reference_db, monkeypatch, {"mode": "scale", "model": "short-model"})
    clean(at)
    assert at.selectbox(key="wi.measure").value == "tokens"
    assert any(m.label == "Forecast" for m in at.metric)
