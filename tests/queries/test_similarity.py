"""pipeline.queries.similarity: the judge x judge matrix (and readouts' similarity, read from the database)."""

from __future__ import annotations

import math
from itertools import product

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from dbquery import rows
from pipeline.properties.paper import QUERY_GROUPS
from pipeline.queries import catalog, similarity
from small_fit import SIZES, fitted, weights  # noqa: F401 - `fitted` is a fixture



def test_similarity_matches_the_view(demo_db_fitted):
    with duckdb.connect(str(demo_db_fitted), read_only=True) as con:
        view = con.execute("SELECT judge_a, judge_b, group_name, similarity FROM judge_similarity").df()
    for group in ("Overall", "Code", "Unclear User Intent"):
        m = similarity.similarity(demo_db_fitted, group)
        assert m.shape == (12, 12)
        assert np.allclose(np.diag(m), 1.0) and np.allclose(m, m.T)
        v = view[view["group_name"] == group].pivot(index="judge_a", columns="judge_b", values="similarity")
        assert np.allclose(m.to_numpy(), v.loc[m.index, m.columns].to_numpy())


def test_similarity_spearman_and_selection(demo_db_fitted):
    m = similarity.similarity(demo_db_fitted, "Advice", "spearman", ["human", "gpt-4-turbo", "no-such-judge"])
    assert list(m.index) == ["human", "gpt-4-turbo"]
    with duckdb.connect(str(demo_db_fitted), read_only=True) as con:
        w = con.execute("SELECT judge, property, weight FROM fits WHERE group_name = 'Advice' "
                        "AND judge IN ('human', 'gpt-4-turbo')").df()
    wide = w.pivot(index="property", columns="judge", values="weight")
    assert math.isclose(m.loc["human", "gpt-4-turbo"], wide["human"].corr(wide["gpt-4-turbo"], method="spearman"))
    with pytest.raises(ValueError):
        similarity.similarity(demo_db_fitted, "Advice", "kendall")


def test_order_judges(demo_db_fitted):
    m = similarity.similarity(demo_db_fitted)
    info = catalog.judges(demo_db_fitted)
    sizes = dict(zip(info["judge"], info["size_b"]))
    by_size = similarity.order_judges(m, "size", sizes)
    assert by_size[0] == "human"
    known = [sizes[j] for j in by_size if not pd.isna(sizes[j])]
    assert known == sorted(known, reverse=True)
    clustered = similarity.order_judges(m, "cluster")
    assert sorted(clustered) == sorted(m.index) and clustered != sorted(m.index)
    row = similarity.similarity_to_others(m, "human")
    assert len(row) == 11 and "human" not in set(row["judge"])


# -------------------------------------------- judge_similarity (moved from tests/test_readouts.py)


def test_overall_is_the_mean_over_scenario_groups_only(fitted):
    scenario = sorted(g for (g,) in rows(fitted, "SELECT DISTINCT group_name FROM fits")
                      if g not in {q.name for q in QUERY_GROUPS} and g != "All")
    assert scenario == sorted(SIZES)
    expected = np.mean([np.corrcoef(weights(fitted, "human", g), weights(fitted, "llama-2-7b", g))[0, 1]
                        for g in scenario])
    (got,) = rows(fitted, """SELECT similarity, n_groups FROM judge_similarity
                             WHERE judge_a = 'human' AND judge_b = 'llama-2-7b' AND group_name = 'Overall'""")
    assert got[0] == pytest.approx(expected) and got[1] == len(scenario)
    assert sorted(g for (g,) in rows(fitted, similarity.SCENARIO_GROUPS)) == scenario
    m = similarity.judge_similarity(fitted, "Overall", judges=["human", "llama-2-7b"])
    assert m.loc["human", "llama-2-7b"] == pytest.approx(expected)


def test_similarity_function_matches_the_view_and_offers_spearman(fitted):
    for group in ("Overall", "Code"):
        m = similarity.judge_similarity(fitted, group)
        assert list(m.index) == list(m.columns) and m.index[0] == "human"  # humans first
        view = {(a, b): s for a, b, s in rows(
            fitted, "SELECT judge_a, judge_b, similarity FROM judge_similarity WHERE group_name = ?", [group])}
        for a, b in product(m.index, m.columns):
            assert m.loc[a, b] == pytest.approx(view[a, b])
    sp = similarity.judge_similarity(fitted, "Code", method="spearman", judges=["human", "gpt-4-turbo"])
    rho = spearmanr(weights(fitted, "human", "Code"), weights(fitted, "gpt-4-turbo", "Code")).statistic
    assert sp.shape == (2, 2) and sp.loc["human", "gpt-4-turbo"] == pytest.approx(rho)
    with pytest.raises(ValueError, match="method"):
        similarity.judge_similarity(fitted, "Code", method="kendall")
    with pytest.raises(ValueError, match="nobody"):
        similarity.judge_similarity(fitted, "Code", judges=["nobody"])
