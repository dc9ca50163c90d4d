"""Read-outs (pure): preference probability, judge similarity, SHAP values; and the two views.

The read-outs of stored fits moved with their tests to tests/queries/ (test_similarity.py,
test_shap.py, test_dissection.py)."""

import numpy as np
import pytest
from scipy.special import expit, factorial
from scipy.stats import spearmanr

from pipeline.answers import readouts
from pipeline.properties.paper import N_PROPERTIES, PROPERTY_NAMES
from dbquery import rows
from small_fit import fitted, weights  # noqa: F401 - `fitted` is a fixture


# ------------------------------------------------------------------- probability


def test_preference_probability_view(fitted):
    got = rows(fitted, "SELECT weight, probability, prob_low, prob_high FROM preference_probability")
    fits = rows(fitted, "SELECT weight, ci_low, ci_high FROM fits ORDER BY ALL")
    assert len(got) == len(fits)
    for w, p, lo, hi in got:
        assert p == pytest.approx(100 * expit(w)) and lo <= p <= hi
    lows = sorted(lo for _, _, lo, _ in got)
    assert lows == pytest.approx(sorted(100 * expit(c) for _, c, _ in fits))
    assert readouts.probability(0.0) == 50.0


# -------------------------------------------------------------------- similarity


def test_similarity_view_is_pearson_per_group(fitted):
    a, b = weights(fitted, "human", "Code"), weights(fitted, "gpt-4-turbo", "Code")
    (got,) = rows(fitted, """SELECT similarity FROM judge_similarity
                             WHERE judge_a = 'human' AND judge_b = 'gpt-4-turbo' AND group_name = 'Code'""")
    assert got[0] == pytest.approx(np.corrcoef(a, b)[0, 1])
    diag = rows(fitted, "SELECT DISTINCT round(similarity, 9) FROM judge_similarity WHERE judge_a = judge_b")
    assert diag == [(1.0,)]


def test_similarity_matrix_is_the_mean_of_per_group_correlations():
    """Pure: long weights in, square matrix out; Overall-style averaging over groups."""
    import pandas as pd

    rng = np.random.default_rng(0)
    rows_ = [(j, g, p, rng.normal()) for j in ("a", "b", "c") for g in ("G1", "G2") for p in PROPERTY_NAMES]
    w = pd.DataFrame(rows_, columns=["judge", "group_name", "property", "weight"])
    m = readouts.similarity_matrix(w, ["a", "b", "c"])
    per = [np.corrcoef(w[(w.judge == "a") & (w.group_name == g)].weight,
                       w[(w.judge == "b") & (w.group_name == g)].weight)[0, 1] for g in ("G1", "G2")]
    assert m.loc["a", "b"] == pytest.approx(np.mean(per)) and np.allclose(np.diag(m), 1.0)
    assert m.attrs["groups"] == ["G1", "G2"]
    sp = readouts.similarity_matrix(w[w.group_name == "G1"], ["a", "b"], "spearman")
    rho = spearmanr(w[(w.judge == "a") & (w.group_name == "G1")].weight,
                    w[(w.judge == "b") & (w.group_name == "G1")].weight).statistic
    assert sp.loc["a", "b"] == pytest.approx(rho)
    assert readouts.similarity_matrix(w, ["a", "nobody"]).loc["a", "nobody"] != readouts.similarity_matrix(
        w, ["a", "nobody"]).loc["a", "nobody"]  # NaN: no weights for that judge
    with pytest.raises(ValueError, match="method"):
        readouts.check_method("kendall")


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
