"""The dissection net of who wrote the response (`fit --adjust models`): a reference model's
own quality moves to its strength, not to the property it happens to differ on."""

import json

import numpy as np
import pytest
from dbquery import rows
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.model import adjusted, bradley_terry
from pipeline.model.fitting import GroupData, compute
from pipeline.model.posterior import PRIOR_SCALE

STRENGTH = {"ref": 1.5, "a": 0.3, "b": 0.0, "c": -0.3}
LIST_WEIGHT = 0.8


def planted(n=3000, seed=0) -> GroupData:
    """AlpacaEval's layout: 'ref' is response 1 in every pair and writes longer answers. The
    judge likes lists, likes strong models, and does not care about length at all."""
    rng = np.random.default_rng(seed)
    m1 = np.array(["ref"] * n, dtype=object)
    m2 = rng.choice(["a", "b", "c"], n).astype(object)
    length = np.where(rng.random(n) < 0.85, 1.0, rng.choice([-1.0, 0.0], n))  # ref is usually longer
    lists = rng.choice([-1.0, 0.0, 1.0], n)
    eta = LIST_WEIGHT * lists + np.array([STRENGTH[a] - STRENGTH[b] for a, b in zip(m1, m2)])
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    X = np.column_stack([length, lists])
    return GroupData("All", "all", X, y[None], np.ones((1, n), bool), ["judge"], ["length", "lists"], m1, m2)


def weights(fits, prop):
    row = fits.to_pandas().set_index("property").loc[prop]
    return row["weight"], row["ci_low"], row["ci_high"]


def test_adjusting_moves_the_reference_quality_off_the_weights():
    group = planted()
    runs, plain = compute([group])
    runs_adj, adj = compute([group], adjust="models")
    w, lo, hi = weights(plain, "length")
    assert lo > 0.3  # unadjusted: the reference's quality is read as a taste for length
    w, lo, hi = weights(adj, "length")
    assert lo < 0 < hi and abs(w) < 0.15  # at equal models the judge doesn't care
    w, lo, hi = weights(adj, "lists")
    assert abs(w - LIST_WEIGHT) < 0.2
    board = bradley_terry.fit(group.model_1, group.model_2, group.Y[0], group.X, group.properties)
    for k, prop in enumerate(group.properties):  # the leaderboard's control weights, within our intervals
        w, lo, hi = weights(adj, prop)
        assert lo < board.weight[k] < hi
    assert list(adj.column("property").to_pylist()) == ["length", "lists"]  # strengths are not stored as properties
    (run,) = runs_adj
    assert run.adjust == "models" and run.constant_model_1 == "ref" and run.share_response_1 > 0.6
    assert "at equal models" in run.warnings[-1]
    assert run.log_loss < runs[0].log_loss  # the strengths explain the judge better
    assert runs[0].constant_model_1 == "ref" and runs[0].adjust is None


def test_pairs_without_models_are_skipped_with_a_reason():
    group = planted(200)
    group.model_1 = np.array([None] * 200, dtype=object)
    runs, fits = compute([group], adjust="models")
    assert runs[0].status == "skipped" and "no two response models" in runs[0].note and fits.num_rows == 0


def test_design_uses_the_leaderboards_sum_to_zero_strengths():
    X = np.array([[1.0], [0.0], [-1.0], [1.0]])
    d = adjusted.model_design(X, ["a", "b", "a", None], ["b", "c", "a", "c"])
    assert d.models == ["a", "b", "c"]
    assert d.rows.tolist() == [True, True, True, False]
    assert d.X.shape == (3, 1 + 2)
    assert np.allclose(d.X[2, 1:], 0)  # a model against itself: the strengths cancel
    assert d.prior_scale.tolist() == [PRIOR_SCALE, adjusted.STRENGTH_SCALE, adjusted.STRENGTH_SCALE]
    assert adjusted.adjusted_set("style", "models") == "style@models" and adjusted.adjusted_set("style", None) == "style"
    assert adjusted.base_set("style@models") == "style" and adjusted.is_adjusted("style@models")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d", None]), st.sampled_from(["a", "b", "c", "d", None])),
                min_size=1, max_size=30))
def test_design_on_any_names(pairs):
    """Rows used: both names known and in one connected set of at least two models; the
    strength columns of a pair are the difference of its two models' basis rows."""
    m1, m2 = [p[0] for p in pairs], [p[1] for p in pairs]
    X = np.arange(len(pairs), dtype=float)[:, None]
    d = adjusted.model_design(X, m1, m2)
    if d is None:
        return
    assert len(d.models) >= 2
    for i, used in enumerate(d.rows):
        if used:
            assert m1[i] in d.models and m2[i] in d.models
    assert not any(d.rows[i] for i in range(len(pairs)) if m1[i] is None or m2[i] is None)
    assert np.array_equal(d.X[:, 0], X[d.rows, 0])
    basis = d.X[:, 1:]
    assert basis.shape[1] == len(d.models) - 1
    same = [m1[i] == m2[i] for i in np.flatnonzero(d.rows)]
    assert np.allclose(basis[same], 0)


# ------------------------------------------------------------------ the command line


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    """40 AlpacaEval-like pairs (a reference against three models), loaded."""
    tmp = tmp_path_factory.mktemp("adjust")
    rng = np.random.default_rng(1)
    src = tmp / "a.json"
    src.write_text(json.dumps([{"instruction": f"q {i}?", "output_1": "long answer " * int(rng.integers(1, 9)),
                                "output_2": f"reply {i}", "generator_1": "ref", "generator_2": f"m{i % 3}",
                                "annotator": "j", "preference": float(rng.choice([1, 2]))} for i in range(40)]))
    db = tmp / "a.duckdb"
    result = CliRunner().invoke(app, ["load", str(src), "--db", str(db), "--format", "alpaca-eval"])
    assert result.exit_code == 0, result.output
    return db


@settings(max_examples=20, deadline=None)
@given(st.text(min_size=1, max_size=20).filter(lambda s: s != "models" and not s.startswith("-")))
def test_unknown_adjust_is_one_line_and_writes_nothing(small_db, value):
    before = small_db.read_bytes()
    result = CliRunner().invoke(app, ["fit", "--db", str(small_db), "--properties", "style", "--adjust", value])
    assert result.exit_code == 1
    assert "unknown --adjust" in result.output and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output and small_db.read_bytes() == before


def test_adjust_without_model_names_writes_nothing(tmp_path):
    """Pairs without model names (HH-RLHF's layout): one line, and not even the style backfill is written."""
    src = tmp_path / "g.jsonl"
    src.write_text("".join(json.dumps({"prompt": f"q{i}", "response_1": "a " * (i % 5 + 1), "response_2": "b",
                                       "preferred": 1 + i % 2}) + "\n" for i in range(40)))
    db = tmp_path / "g.duckdb"
    result = CliRunner().invoke(app, ["load", str(src), "--db", str(db)])
    assert result.exit_code == 0, result.output
    before = db.read_bytes()
    result = CliRunner().invoke(app, ["fit", "--db", str(db), "--properties", "style", "--adjust", "models"])
    assert result.exit_code == 1 and "needs pairs that name the models" in result.output
    assert db.read_bytes() == before


def test_adjusted_fit_with_folds(small_db):
    result = CliRunner().invoke(app, ["fit", "--db", str(small_db), "--properties", "style", "--adjust", "models",
                                      "--folds", "3", "--min-labels", "10"])
    assert result.exit_code == 0, result.output
    assert "adjusted for the response models' strengths" in " ".join(result.output.split())
    assert "response 1 is always ref" in " ".join(result.output.split())
    (acc, base, adjust), = rows(small_db, "SELECT accuracy, baseline_accuracy, adjust FROM fit_runs "
                                          "WHERE property_set = 'style@models'")
    assert adjust == "models" and 0 <= acc <= 1 and 0 <= base <= 1
