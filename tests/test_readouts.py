"""Read-outs: preference probability, judge similarity (view and function), per-pair SHAP."""

from itertools import product

import numpy as np
import pytest
from scipy.special import expit, factorial
from scipy.stats import spearmanr

from pipeline import db as dbmod
from pipeline import readouts
from pipeline.demo import generate_records
from pipeline.fitting import fit_database
from pipeline.loader import load_records
from pipeline.properties import N_PROPERTIES, PROPERTY_NAMES, QUERY_GROUPS
from dbquery import rows

SIZES = {"Code": 90, "Advice": 70, "Others": 60}



@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    db = tmp_path_factory.mktemp("readouts") / "r.duckdb"
    load_records(generate_records(seed=3, group_sizes=SIZES), source="readouts-test", db=db)
    fit_database(db, min_labels=20)
    return db


def weights(db, judge, group):
    got = dict(rows(db, "SELECT property, weight FROM fits WHERE judge = ? AND group_name = ?", [judge, group]))
    return np.array([got[p] for p in PROPERTY_NAMES])


# ------------------------------------------------------------------- probability


def test_preference_probability_view(fitted):
    got = rows(fitted, "SELECT weight, probability, prob_low, prob_high FROM preference_probability")
    fits = rows(fitted, "SELECT weight, ci_low, ci_high FROM fits ORDER BY ALL")
    assert len(got) == len(fits)
    for w, p, lo, hi in got:
        assert p == pytest.approx(100 * expit(w)) and lo <= p <= hi
    lows = sorted(lo for _, _, lo, _ in got)
    assert lows == pytest.approx(sorted(100 * expit(c) for _, c, _ in fits))
    df = readouts.preference_probability(fitted, judges=["human"], groups=["Code"])
    assert list(df["property"]) == PROPERTY_NAMES and df["probability"].between(0, 100).all()
    assert readouts.probability(0.0) == 50.0


# -------------------------------------------------------------------- similarity


def test_similarity_view_is_pearson_per_group(fitted):
    a, b = weights(fitted, "human", "Code"), weights(fitted, "gpt-4-turbo", "Code")
    (got,) = rows(fitted, """SELECT similarity FROM judge_similarity
                             WHERE judge_a = 'human' AND judge_b = 'gpt-4-turbo' AND group_name = 'Code'""")
    assert got[0] == pytest.approx(np.corrcoef(a, b)[0, 1])
    diag = rows(fitted, "SELECT DISTINCT round(similarity, 9) FROM judge_similarity WHERE judge_a = judge_b")
    assert diag == [(1.0,)]


def test_overall_is_the_mean_over_scenario_groups_only(fitted):
    scenario = sorted(g for (g,) in rows(fitted, "SELECT DISTINCT group_name FROM fits")
                      if g not in {q.name for q in QUERY_GROUPS})
    assert scenario == sorted(SIZES)
    expected = np.mean([np.corrcoef(weights(fitted, "human", g), weights(fitted, "llama-2-7b", g))[0, 1]
                        for g in scenario])
    (got,) = rows(fitted, """SELECT similarity, n_groups FROM judge_similarity
                             WHERE judge_a = 'human' AND judge_b = 'llama-2-7b' AND group_name = 'Overall'""")
    assert got[0] == pytest.approx(expected) and got[1] == len(scenario)
    with dbmod.reading(fitted) as con:
        assert readouts.scenario_groups(con) == scenario


def test_similarity_function_matches_the_view_and_offers_spearman(fitted):
    for group in ("Overall", "Code"):
        m = readouts.judge_similarity(fitted, group)
        assert list(m.index) == list(m.columns) and m.index[0] == "human"  # humans first
        view = {(a, b): s for a, b, s in rows(
            fitted, "SELECT judge_a, judge_b, similarity FROM judge_similarity WHERE group_name = ?", [group])}
        for a, b in product(m.index, m.columns):
            assert m.loc[a, b] == pytest.approx(view[a, b])
    sp = readouts.judge_similarity(fitted, "Code", method="spearman", judges=["human", "gpt-4-turbo"])
    rho = spearmanr(weights(fitted, "human", "Code"), weights(fitted, "gpt-4-turbo", "Code")).statistic
    assert sp.shape == (2, 2) and sp.loc["human", "gpt-4-turbo"] == pytest.approx(rho)
    with pytest.raises(ValueError, match="method"):
        readouts.judge_similarity(fitted, "Code", method="kendall")
    with pytest.raises(ValueError, match="nobody"):
        readouts.judge_similarity(fitted, "Code", judges=["nobody"])


# -------------------------------------------------------------------------- SHAP


def exact_shapley(x, w):
    """Brute force over all 2^k coalitions of the k differing properties (background 0)."""
    idx = np.flatnonzero(x)
    k = len(idx)
    codes = np.arange(2 ** k)
    members = (codes[:, None] >> np.arange(k)) & 1          # bit j: property idx[j] is present
    value = expit(members @ (x * w)[idx])
    size = members.sum(1)
    coef = factorial(size) * factorial(k - size - 1) / factorial(k)
    phi = np.zeros(N_PROPERTIES)
    for j in range(k):
        without = codes[(codes >> j) & 1 == 0]
        phi[idx[j]] = np.sum(coef[without] * (value[without | (1 << j)] - value[without]))
    return phi


@pytest.mark.parametrize("k", [8, 18])
def test_shap_adds_up_and_ignores_properties_that_do_not_differ(k):
    """k=8: every coalition is enumerated (exact); k=18: coalitions are sampled. Both are
    checked against a brute-force Shapley computation of sigmoid(x.w), background zero."""
    rng = np.random.default_rng(k)
    w = rng.normal(0, 0.6, N_PROPERTIES)
    x = np.zeros(N_PROPERTIES)
    on = rng.choice(N_PROPERTIES, size=k, replace=False)
    x[on] = rng.choice([-1.0, 1.0], size=k)
    e = readouts.explain_vector(x, w)
    assert e.exact == (k <= readouts.EXACT_MAX_DIFFERING)
    assert e.base_value == pytest.approx(0.5)
    assert e.fx == pytest.approx(expit(x @ w))
    assert e.values.sum() == pytest.approx(e.fx - e.base_value, abs=1e-12)
    assert np.all(e.values[x == 0] == 0)
    assert e.values == pytest.approx(exact_shapley(x, w), abs=1e-9 if e.exact else 5e-3)
    frame = e.frame()
    assert list(frame.columns) == ["property", "feature", "weight", "shap"] and len(frame) == N_PROPERTIES


def test_pair_shap_from_the_database(fitted):
    pair_id, = rows(fitted, """SELECT pair_id FROM features JOIN pair_groups USING (pair_id)
                               WHERE group_name = 'Code' AND value <> 0
                               GROUP BY pair_id HAVING count(*) BETWEEN 6 AND 12
                               ORDER BY pair_id LIMIT 1""")[0]
    e = readouts.pair_shap(fitted, judge="human", group="Code", pair_id=pair_id)
    x = np.array([dict(rows(fitted, "SELECT property, value FROM features WHERE pair_id = ?", [pair_id]))[p]
                  for p in PROPERTY_NAMES], dtype=float)
    assert np.array_equal(e.features, x) and np.array_equal(e.weights, weights(fitted, "human", "Code"))
    assert e.values.sum() == pytest.approx(e.fx - 0.5, abs=1e-12) and np.all(e.values[x == 0] == 0)
    assert e.source == "fit" and e.as_dict()["fx"] == e.fx
    with pytest.raises(ValueError, match="no fit"):
        readouts.pair_shap(fitted, judge="nobody", group="Code", pair_id=pair_id)
    with pytest.raises(ValueError, match="no features"):
        readouts.pair_shap(fitted, judge="human", group="Code", pair_id=10**6)
