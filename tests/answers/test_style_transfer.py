"""Forecasts a model could reach: `whatif --as` / `--scale` (pipeline/answers/style_transfer.py)."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest
from answers_sim import draw_labels, random_battles, write_db
from conftest import ALPACA_EVAL
from dbquery import rows as query
from hypothesis import given, settings, strategies as st
from typer.testing import CliRunner

from pipeline.answers.style_transfer import (TransferError, inverted_cdf, parse_scale, style_board,
                                              style_transfer)
from pipeline.properties.measures import MEASURES
from pipeline.cli import app

JUDGE = "weighted_alpaca_eval_gpt4_turbo"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_parse_scale_accepts_known_measures_with_positive_factors_or_says_why(text):
    try:
        out = parse_scale(text)
    except TransferError as exc:
        assert str(exc).startswith("--scale")
        return
    assert out and all(m in MEASURES and f > 0 and np.isfinite(f) for m, f in out.items())


@pytest.mark.parametrize("scale", ["tokens=0", "tokens=-2", "words2=1.5", "tokens=abc", "tokens=nan"])
def test_bad_scale_gets_one_line_and_writes_nothing(tmp_path, scale):
    rng = np.random.default_rng(0)
    m1, m2 = random_battles(rng, ["a", "b", "c"], 60)
    db = write_db(tmp_path / "s.duckdb", m1, m2, labels={"j": draw_labels(rng, np.zeros(60))})
    before = db.read_bytes()
    res = CliRunner().invoke(app, ["whatif", "--db", str(db), "--judge", "j", "--model", "a", "--scale", scale])
    assert res.exit_code == 1 and res.output.startswith("error: --scale") and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["whatif", "--db", str(db), "--judge", "j", "--model", "a", "--as", "nobody"])
    assert res.exit_code == 1 and "'nobody': that model has no pairs" in res.output
    assert db.read_bytes() == before


@pytest.fixture(scope="module")
def alpaca_db(shared_real, tmp_path_factory):
    """The AlpacaEval sample: the reference, gpt-3.5-turbo-1106 and its two natural experiments."""
    folder = tmp_path_factory.mktemp("alpaca")
    for name in ("gpt-3.5-turbo-1106", "gpt-3.5-turbo-1106_verbose", "gpt-3.5-turbo-1106_concise", "claude-2",
                 "vicuna-7b"):
        with gzip.open(ALPACA_EVAL / f"{name}.annotations.json.gz") as src, \
                open(folder / f"{name}.annotations.json", "wb") as dst:
            shutil.copyfileobj(src, dst)
    db = tmp_path_factory.mktemp("alpaca-db") / "a.duckdb"
    res = CliRunner().invoke(app, ["load", str(folder), "--db", str(db)])
    assert res.exit_code == 0, res.output
    return db


@pytest.mark.parametrize("variant", ["gpt-3.5-turbo-1106_verbose", "gpt-3.5-turbo-1106_concise"])
def test_natural_experiments_land_near_the_measured_win_rate(alpaca_db, variant):
    t = style_transfer(alpaca_db, judge=JUDGE, model="gpt-3.5-turbo-1106", as_model=variant)
    measured_shift = t.observed_as - t.observed
    assert abs(t.forecast - t.observed_as) <= max(0.02, abs(measured_shift) / 2)
    assert np.sign(t.forecast - t.observed) == np.sign(measured_shift)
    assert t.ci_low <= t.forecast <= t.ci_high
    stored = query(alpaca_db, "SELECT forecast, observed_as FROM style_transfers WHERE scenario = ?", [f"as {variant}"])
    assert stored == [(pytest.approx(t.forecast), pytest.approx(t.observed_as))]


def test_longer_answers_forecast_a_higher_win_rate_under_a_length_loving_judge(alpaca_db):
    longer = style_transfer(alpaca_db, judge=JUDGE, model="gpt-3.5-turbo-1106", scale={"tokens": 1.5})
    shorter = style_transfer(alpaca_db, judge=JUDGE, model="gpt-3.5-turbo-1106", scale={"tokens": 0.5})
    assert shorter.forecast < longer.observed < longer.forecast
    assert longer.as_model is None and longer.scenario == "scale tokens=1.5"


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.integers(0, 6).map(float) | st.floats(-1e6, 1e6), min_size=1, max_size=40),
       mine=st.lists(st.integers(0, 5), min_size=1, max_size=60))
def test_the_quantile_mapping_is_numpys_inverted_cdf(values, mine):
    """style_transfer's one-sort quantiles equal numpy's (which partitions at every quantile:
    minutes at a model's 190,000 responses), at the ranks the transfer asks for and at the ends."""
    mine = np.array(mine)
    ranks = (np.argsort(np.argsort(mine, kind="stable"), kind="stable") + 0.5) / len(mine)
    q = np.concatenate([ranks, [0.0, 1.0, 0.5, 1 / 3]])
    assert np.array_equal(inverted_cdf(np.array(values), q), np.quantile(values, q, method="inverted_cdf"))


def test_a_board_fitted_once_gives_every_scenario_what_fitting_each_time_gives(alpaca_db):
    """What the What if page does (`style_board` kept across scenarios) forecasts exactly what a
    forecast that fits its own board forecasts; a board of another judge or form is refused."""
    board = style_board(alpaca_db, JUDGE)
    for scenario in ({"as_model": "gpt-3.5-turbo-1106_verbose"}, {"scale": {"tokens": 1.5}},
                     {"as_model": "claude-2"}):
        for model in ("gpt-3.5-turbo-1106", "vicuna-7b"):
            alone = style_transfer(alpaca_db, judge=JUDGE, model=model, store=False, **scenario)
            reused = style_transfer(alpaca_db, judge=JUDGE, model=model, store=False, board=board, **scenario)
            alone.seconds = reused.seconds = 0.0
            assert reused == alone
    with pytest.raises(ValueError, match="board"):
        style_transfer(alpaca_db, judge=JUDGE, model="vicuna-7b", scale={"tokens": 2.0}, form="sign", store=False,
                       board=board)
