"""Manipulation forecasts (pipeline/answers/forecasts.py): predicted win-rate shifts, against re-simulation."""

from __future__ import annotations

import numpy as np
import pytest
from answers_sim import draw_labels, random_battles, write_db
from dbquery import rows as query
from typer.testing import CliRunner

from pipeline.store import db as dbmod
from pipeline.cli import app
from pipeline.model.fitting import fit_database
from pipeline.answers.forecasts import ForecastError, shifts, what_if
from pipeline.properties.paper import PROPERTY_NAMES

MODELS = ["model-m", "model-n", "model-o", "model-p"]
WEIGHTS = {"clear": 0.8, "lengthy": 0.5, "no severe errors": 0.6, "admit limits": -0.4}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    rng = np.random.default_rng(5)
    n = 4000
    X = rng.choice([-1, 0, 0, 1], size=(n, len(PROPERTY_NAMES))).astype(float)
    w = np.array([WEIGHTS.get(p, 0.0) for p in PROPERTY_NAMES])
    m1, m2 = random_battles(rng, MODELS, n)
    db = write_db(tmp_path_factory.mktemp("fc") / "sim.duckdb", m1, m2,
                  features={p: X[:, i] for i, p in enumerate(PROPERTY_NAMES)},
                  labels={"judge": draw_labels(rng, X @ w)})
    fit_database(db, groups=["All"])
    return db, X, w, m1, m2


def _measured_shift(rng, X, w, m1, m2, model, prop, direction, reps=200):
    """Re-simulate the judge's labels with the model's feature changed; the change of its win rate."""
    side = np.where(m1 == model, 1.0, np.where(m2 == model, -1.0, 0.0))
    rows = side != 0
    Xm = X[rows] * side[rows, None]
    j = PROPERTY_NAMES.index(prop)
    changed = Xm.copy()
    changed[:, j] = np.maximum(Xm[:, j], 1) if direction == "better" else np.minimum(Xm[:, j], -1)
    wins = [(draw_labels(rng, np.tile(A @ w, reps)) == 1).mean() for A in (Xm, changed)]
    return wins[1] - wins[0]


def test_forecast_matches_resimulated_labels(sim):
    """Every property both ways: the shift measured by re-simulating the judge's labels (true
    weights, changed features) lies in the forecast's 95% interval, which comes from the fitted
    weights' uncertainty; so about 95% of the 58 cases, and none far outside."""
    db, X, w, m1, m2 = sim
    report = what_if(db, judge="judge", model="model-m", group="All", store=False)
    rng = np.random.default_rng(1)
    inside, worst = 0, 0.0
    for row in report.rows:
        measured = _measured_shift(rng, X, w, m1, m2, "model-m", row.property, row.direction)
        half = (row.ci_high - row.ci_low) / 2
        inside += row.ci_low <= measured <= row.ci_high
        worst = max(worst, abs(measured - (row.ci_low + row.ci_high) / 2) / half)
        if row.property == "clear":  # the largest known weight: a large shift, the right way
            assert abs(row.shift) > 0.1 and (row.shift > 0) == (row.direction == "better")
            assert abs(measured - row.shift) < 1.5 * half
    assert len(report.rows) == 58 and inside >= 52 and worst < 1.7
    assert report.n_pairs == int(((m1 == "model-m") | (m2 == "model-m")).sum())


def test_forecasts_are_stored_and_replaced(sim):
    db, *_ = sim
    what_if(db, judge="judge", model="model-n", group="All")
    what_if(db, judge="judge", model="model-n", group="All")
    (n,), = query(db, "SELECT count(*) FROM forecasts WHERE model = 'model-n'")
    assert n == 29 * 2
    best = query(db, "SELECT property FROM forecasts WHERE model = 'model-n' AND direction = 'better' "
                     "ORDER BY shift DESC LIMIT 1")[0][0]
    worst = query(db, "SELECT property FROM forecasts WHERE model = 'model-n' AND direction = 'worse' "
                      "ORDER BY shift LIMIT 1")[0][0]
    assert best == "clear" and worst == "clear"           # the largest weight moves it most both ways


def test_interval_reflects_weight_uncertainty():
    Xm = np.random.default_rng(0).choice([-1.0, 0.0, 1.0], size=(500, 2))
    _, sure = shifts(Xm, np.array([0.5, 0.0]), np.array([1e-6, 1e-6]))
    _, vague = shifts(Xm, np.array([0.5, 0.0]), np.array([0.3, 0.3]))
    assert np.ptp(sure[(0, "better")]) < 1e-5 < np.ptp(vague[(0, "better")])
    base, none = shifts(Xm, np.array([0.5, 0.0]), None)     # no sd: one draw at the mean
    assert base.shape == (1,) and none[(1, "better")].item() == 0.0


def test_imported_fits_forecast_without_interval(sim, tmp_path):
    db, *_ = sim
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(db.read_bytes())
    with dbmod.writing(copy) as con:
        con.execute("UPDATE fits SET sd = NULL, source = 'fitted_paras:x'")
    report = what_if(copy, judge="judge", model="model-m", group="All", properties=["clear"])
    assert [r.direction for r in report.rows] == ["better", "worse"]
    assert all(r.ci_low is None and r.ci_high is None for r in report.rows)


@pytest.mark.parametrize("kwargs, words", [
    ({"judge": "nobody", "model": "model-m"}, "has no fits"),
    ({"judge": "judge", "model": "unknown-model"}, "unknown response model"),
    ({"judge": "judge", "model": "model-m", "group": "Code"}, "no fit in group 'Code'"),
    ({"judge": "judge", "model": "model-m", "properties": ["not-one"]}, "not in property set"),
])
def test_bad_requests_say_why(sim, kwargs, words):
    with pytest.raises(ForecastError, match=words):
        what_if(sim[0], **kwargs)


def test_cli_whatif(sim):
    db, *_ = sim
    out = CliRunner().invoke(app, ["whatif", "--db", str(db), "--judge", "judge", "--model", "model-o", "--top", "3"])
    assert out.exit_code == 0, out.output
    flat = " ".join(out.output.split())  # Rich wraps lines at the terminal width
    assert "clear" in flat and "an upper bound" in flat and "not a measured run" in flat
    bad = CliRunner().invoke(app, ["whatif", "--db", str(db), "--judge", "judge", "--model", "[red]x"])
    assert bad.exit_code == 1 and "[red]x" in bad.output and "Traceback" not in bad.output


def _shifts_per_pair(Xm, mean, sd, draws=400, seed=0):
    """The forecast written out pair by pair (the definition), to check the fast version against."""
    from scipy.special import expit

    W = mean + np.random.default_rng(seed).standard_normal((draws, len(mean))) * sd
    logits = Xm @ W.T
    base = expit(logits)
    out = {}
    for j in range(Xm.shape[1]):
        for direction in ("better", "worse"):
            v = Xm[:, j]
            target = np.maximum(v, 1.0) if direction == "better" else np.minimum(v, -1.0)
            out[(j, direction)] = (expit(logits + (target - v)[:, None] * W[None, :, j]) - base).mean(0)
    return base.mean(0), out


@pytest.mark.parametrize("kind", ["distinct rows", "repeated rows", "a rating column", "large weights"])
def test_shifts_equal_the_per_pair_definition(kind):
    """Rows are merged and computed in blocks; the draws must still equal the pair-by-pair sum."""
    rng = np.random.default_rng(11)
    X = rng.choice([-1.0, 0.0, 1.0], size=(1500, 6))
    if kind == "repeated rows":
        X = X[rng.integers(0, 40, 3000)]
    elif kind == "a rating column":
        X[:, 2] = rng.normal(size=len(X)) * 2
    mean, sd = rng.normal(size=6) * 0.5, np.abs(rng.normal(size=6)) * 0.2 + 0.01
    if kind == "large weights":
        mean *= 400  # sigmoids saturate at 0 and 1: no inf * 0
    base, got = shifts(X, mean, sd)
    want_base, want = _shifts_per_pair(X, mean, sd)
    assert np.allclose(base, want_base, rtol=0, atol=1e-12)
    assert got.keys() == want.keys()
    assert max(np.abs(got[k] - want[k]).max() for k in want) < 1e-12


def test_matrix_turns_features_to_the_model_side_and_drops_incomplete_pairs():
    from pipeline.answers.forecasts import _matrix

    feats = {"pair_id": np.array([9, 4, 4, 9, 7]), "side": np.array([-1.0, 1.0, 1.0, -1.0, 1.0]),
             "col": np.array([1, 0, 1, 0, 0]), "value": np.array([1.0, -1.0, 0.0, 1.0, 1.0])}
    X = _matrix(feats, 2)  # pair 7 lacks property 1: left out; pair 9 is seen from response 2
    assert X.tolist() == [[-1.0, 0.0], [-1.0, -1.0]]
