"""pipeline.queries.statistics: the Statistics page's data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.properties.paper import PROPERTY_NAMES
from pipeline.queries import statistics


def test_statistics(demo_db_fitted):
    assert len(statistics.property_stats(demo_db_fitted)) == 29
    assert len(statistics.prerequisite_counts(demo_db_fitted)) == 5
    corr = statistics.property_correlation(demo_db_fitted)
    assert corr.shape == (29, 29) and list(corr.index) == PROPERTY_NAMES
    assert np.allclose(np.diag(corr.fillna(1)), 1)
    agree = statistics.agreement(demo_db_fitted)
    assert len(agree) == 12 * 12
    pair = agree[(agree["judge_a"] == "human") & (agree["judge_b"] == "gpt-4-turbo")].iloc[0]
    assert 0 < pair["agreement"] < 1 and -1 <= pair["kappa"] <= 1
    le = statistics.length_effect(demo_db_fitted)
    assert len(le) == 12 and le["longer_win_rate"].iloc[0] == le["longer_win_rate"].max()
    assert statistics.agreement_order(agree)[0] == "human"


def test_property_correlation_agrees_with_pandas(demo_db_fitted):
    """polars pivot + numpy against the plain pandas computation, both methods."""
    from dbquery import rows

    feats = pd.DataFrame(rows(demo_db_fitted, "SELECT pair_id, property, value FROM features WHERE property IN "
                                              "(SELECT property FROM properties WHERE property_set = 'paper')"),
                         columns=["pair_id", "property", "value"])
    wide = feats.pivot_table(index="pair_id", columns="property", values="value", aggfunc="first").fillna(0)
    wide = wide[[p for p in PROPERTY_NAMES if p in wide.columns]]
    for method in ("pearson", "spearman"):
        ours = statistics.property_correlation(demo_db_fitted, method)
        theirs = wide.corr(method=method)
        assert np.allclose(ours.to_numpy(), theirs.to_numpy(), equal_nan=True, atol=1e-9)


def test_long_matrix():
    m = pd.DataFrame([[1.0, 0.123], [0.123, 1.0]], index=["a", "b"], columns=["a", "b"])
    long = statistics.long_matrix(m, "x", "y", "v")
    assert list(long.columns) == ["x", "y", "v"] and len(long) == 4 and long["v"].iloc[1] == 0.12


def test_agreement_equals_the_view(demo_db_fitted):
    from dbquery import rows

    view = pd.DataFrame(rows(demo_db_fitted, "SELECT judge_a, judge_b, n, agreement, kappa FROM judge_agreement"),
                        columns=["judge_a", "judge_b", "n", "agreement", "kappa"])
    ours = statistics.agreement(demo_db_fitted)
    merged = view.merge(ours, on=["judge_a", "judge_b"], suffixes=("_view", ""))
    assert len(merged) == len(view) == 12 * 11 and len(ours) == 12 * 12
    assert (merged["n"] == merged["n_view"]).all()
    assert np.allclose(merged["agreement"], merged["agreement_view"])
    assert np.allclose(merged["kappa"], merged["kappa_view"], equal_nan=True)
    diag = ours[ours["judge_a"] == ours["judge_b"]]
    assert (diag["agreement"] == 1).all() and (diag["n"] == 5240).all()
    mine = statistics.agreement_with(ours, "human")
    assert len(mine) == 11 and mine["agreement"].is_monotonic_decreasing
    assert set(statistics.agreement(demo_db_fitted, ["human", "gpt-4-turbo"])["judge_a"]) == {"human", "gpt-4-turbo"}


def test_agreement_intervals_equal_the_view(demo_db_fitted):
    from dbquery import rows

    cols = statistics.AGREEMENT_COLUMNS
    view = pd.DataFrame(rows(demo_db_fitted, f"SELECT {', '.join(cols)} FROM judge_agreement"), columns=cols)
    ours = statistics.agreement(demo_db_fitted)
    merged = view.merge(ours, on=["judge_a", "judge_b"], suffixes=("_view", ""))
    for c in cols[2:]:
        assert np.allclose(merged[c].astype(float), merged[f"{c}_view"].astype(float), equal_nan=True), c
    diag = ours[ours["judge_a"] == ours["judge_b"]]
    assert (diag["kappa_position"] == 1).all() and diag["kappa_low"].isna().all()
