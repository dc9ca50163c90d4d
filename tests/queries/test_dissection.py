"""pipeline.queries.dissection: probability of preferred, one group or one judge across groups."""

from __future__ import annotations

import duckdb
import numpy as np

from pipeline.properties.paper import PROPERTY_NAMES
from pipeline.queries import dissection
from pipeline.queries.ordering import sort_properties


def test_preference_probability_matches_the_view(demo_db_fitted):
    df = dissection.preference_probability(demo_db_fitted, "Code", ["human", "gpt-4-turbo"])
    assert len(df) == 2 * 29 and list(df["judge"].unique()) == ["human", "gpt-4-turbo"]
    assert np.allclose(df["probability"], 100 / (1 + np.exp(-df["weight"])))
    assert (df["prob_low"] <= df["probability"]).all() and (df["probability"] <= df["prob_high"]).all()
    with duckdb.connect(str(demo_db_fitted), read_only=True) as con:
        view = con.execute("SELECT judge, property, probability FROM preference_probability "
                           "WHERE group_name = 'Code' AND judge IN ('human', 'gpt-4-turbo')").df()
    merged = df.merge(view, on=["judge", "property"], suffixes=("", "_view"))
    assert len(merged) == 58 and np.allclose(merged["probability"], merged["probability_view"])
    one = dissection.preference_probability(demo_db_fitted, "Code", ["human"])  # was readouts' test
    assert list(one["property"]) == PROPERTY_NAMES and one["probability"].between(0, 100).all()


def test_sort_properties(demo_db_fitted):
    df = dissection.preference_probability(demo_db_fitted, "Advice", ["human", "gpt-4-turbo"])
    by_effect = sort_properties(df, "effect")
    means = df.groupby("property")["probability"].mean()
    assert list(means.loc[by_effect]) == sorted(means, reverse=True)
    assert sort_properties(df, "paper") == PROPERTY_NAMES
    spread = df.groupby("property")["probability"].agg(lambda s: s.max() - s.min())
    assert spread.loc[sort_properties(df, "spread")[0]] == spread.max()


def test_judge_across_groups(demo_db_fitted):
    df = dissection.judge_across_groups(demo_db_fitted, "human")
    assert len(df) == 17 * 29 and set(df["group_kind"]) == {"all", "scenario", "query-specific"}  # 16 + All
    assert dissection.group_order(df)[:2] == ["All", "Advice"] and dissection.property_order(df) == PROPERTY_NAMES
    wide = dissection.wide_table(df, columns="group_name", order=PROPERTY_NAMES,
                                 column_order=dissection.group_order(df))
    assert wide.shape == (29, 17) and list(wide.index) == PROPERTY_NAMES


def test_fit_summary_leaves_out_empty_columns(demo_db_fitted):
    df = dissection.preference_probability(demo_db_fitted, "Code", ["human", "gpt-4-turbo"])
    assert list(dissection.fit_summary(df).columns) == ["judge", "n_pairs", "accuracy", "source"]
    imported = df.assign(n_pairs=None, accuracy=None)
    assert list(dissection.fit_summary(imported).columns) == ["judge", "source"]
