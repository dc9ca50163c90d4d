"""The dashboard's data functions (pipeline/explore.py), on the demo database and edge states."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipeline import explore
from pipeline.explore import PairFilter
from pipeline.properties import PROPERTY_NAMES


# ------------------------------------------------------------------ status


def test_status_of_each_state(app_dbs):
    states = {name: explore.status(path) for name, path in app_dbs.items()}
    assert states["missing"].state == "missing" and not states["missing"].exists
    assert states["empty"].state == "empty" and states["empty"].n_pairs == 0
    un = states["unfitted"]
    assert un.state == "unfitted" and un.n_pairs == 5240 and un.n_judges == 12 and un.n_groups == 16
    assert un.generated and not un.real and not un.has_fits
    fi = states["fitted"]
    assert fi.state == "fitted" and fi.n_fit_rows == 12 * 16 and fi.last_fit is not None


def test_imported_weights_without_pairs(imported_db):
    if imported_db is None:
        pytest.skip("needs ../shared/reference/fitted_paras")
    st = explore.status(imported_db)
    assert st.state == "fitted" and st.n_pairs == 0 and st.n_fitted_judges == 33
    assert explore.default_judges(imported_db) == ["human", "gpt-4-1106-preview"]  # gpt-4-turbo's dated name
    df = explore.preference_probability(imported_db, "Advice", ["human"])
    assert len(df) == 29 and df["prob_low"].isna().all()  # imports carry no intervals
    assert explore.similarity(imported_db).shape == (33, 33)


def test_status_of_a_file_without_our_tables(tmp_path):
    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()
    assert explore.status(path).state == "no-schema"


def test_empty_database_gives_empty_frames(empty_db):
    assert explore.judges(empty_db).empty
    assert explore.fitted_judges(empty_db) == [] and explore.fitted_groups(empty_db) == []
    assert explore.preference_probability(empty_db, "Advice", ["human"]).empty
    assert explore.similarity(empty_db).empty
    assert explore.filter_pair_ids(empty_db) == []
    assert explore.pair_detail(empty_db, 0) is None
    assert explore.pair_shap(empty_db, "human", "Advice", 0) is None
    assert explore.property_correlation(empty_db).empty
    assert explore.agreement(empty_db).empty and explore.length_effect(empty_db).empty
    assert explore.default_judges(empty_db) == []


# ------------------------------------------------------------------ judges and groups


def test_judges_and_groups(demo_db_fitted):
    j = explore.judges(demo_db_fitted)
    assert j["judge"].iloc[0] == "human" and len(j) == 12
    assert (j["n_labels"] == 5240).all() and (j["n_groups_fitted"] == 16).all()
    g = explore.groups(demo_db_fitted)
    assert list(g["group_name"][:2]) == ["Advice", "Code"] and g["group_kind"].iloc[-1] == "query-specific"
    assert explore.fitted_groups(demo_db_fitted)[-5:] == list(g["group_name"][-5:])


def test_default_judges(demo_db_fitted):
    assert explore.default_judges(demo_db_fitted) == ["human", "gpt-4-turbo"]
    # Without gpt-4-turbo: the LLM judge with the best held-out accuracy.
    pool = [j for j in explore.fitted_judges(demo_db_fitted) if j != "gpt-4-turbo"]
    info = explore.judges(demo_db_fitted)
    llms = info[(info["kind"] == "llm") & info["judge"].isin(pool)]
    best = llms.sort_values("mean_accuracy", ascending=False)["judge"].iloc[0]
    assert explore.default_judges(demo_db_fitted, pool) == ["human", best]
    assert explore.default_judges(demo_db_fitted, ["gpt-4-turbo"]) == ["gpt-4-turbo"]


# ------------------------------------------------------------------ dissection


def test_preference_probability_matches_the_view(demo_db_fitted):
    df = explore.preference_probability(demo_db_fitted, "Code", ["human", "gpt-4-turbo"])
    assert len(df) == 2 * 29 and list(df["judge"].unique()) == ["human", "gpt-4-turbo"]
    assert np.allclose(df["probability"], 100 / (1 + np.exp(-df["weight"])))
    assert (df["prob_low"] <= df["probability"]).all() and (df["probability"] <= df["prob_high"]).all()
    with duckdb.connect(str(demo_db_fitted), read_only=True) as con:
        view = con.execute("SELECT judge, property, probability FROM preference_probability "
                           "WHERE group_name = 'Code' AND judge IN ('human', 'gpt-4-turbo')").df()
    merged = df.merge(view, on=["judge", "property"], suffixes=("", "_view"))
    assert len(merged) == 58 and np.allclose(merged["probability"], merged["probability_view"])


def test_sort_properties(demo_db_fitted):
    df = explore.preference_probability(demo_db_fitted, "Advice", ["human", "gpt-4-turbo"])
    by_effect = explore.sort_properties(df, "effect")
    means = df.groupby("property")["probability"].mean()
    assert list(means.loc[by_effect]) == sorted(means, reverse=True)
    assert explore.sort_properties(df, "paper") == PROPERTY_NAMES
    spread = df.groupby("property")["probability"].agg(lambda s: s.max() - s.min())
    assert spread.loc[explore.sort_properties(df, "spread")[0]] == spread.max()


def test_judge_across_groups(demo_db_fitted):
    df = explore.judge_across_groups(demo_db_fitted, "human")
    assert len(df) == 16 * 29 and set(df["group_kind"]) == {"scenario", "query-specific"}


# ------------------------------------------------------------------ similarity


def test_similarity_matches_the_view(demo_db_fitted):
    with duckdb.connect(str(demo_db_fitted), read_only=True) as con:
        view = con.execute("SELECT judge_a, judge_b, group_name, similarity FROM judge_similarity").df()
    for group in ("Overall", "Code", "Unclear User Intent"):
        m = explore.similarity(demo_db_fitted, group)
        assert m.shape == (12, 12)
        assert np.allclose(np.diag(m), 1.0) and np.allclose(m, m.T)
        v = view[view["group_name"] == group].pivot(index="judge_a", columns="judge_b", values="similarity")
        assert np.allclose(m.to_numpy(), v.loc[m.index, m.columns].to_numpy())


def test_similarity_spearman_and_selection(demo_db_fitted):
    m = explore.similarity(demo_db_fitted, "Advice", "spearman", ["human", "gpt-4-turbo", "no-such-judge"])
    assert list(m.index) == ["human", "gpt-4-turbo"]
    with duckdb.connect(str(demo_db_fitted), read_only=True) as con:
        w = con.execute("SELECT judge, property, weight FROM fits WHERE group_name = 'Advice' "
                        "AND judge IN ('human', 'gpt-4-turbo')").df()
    wide = w.pivot(index="property", columns="judge", values="weight")
    assert math.isclose(m.loc["human", "gpt-4-turbo"], wide["human"].corr(wide["gpt-4-turbo"], method="spearman"))
    with pytest.raises(ValueError):
        explore.similarity(demo_db_fitted, "Advice", "kendall")


def test_order_judges(demo_db_fitted):
    m = explore.similarity(demo_db_fitted)
    info = explore.judges(demo_db_fitted)
    sizes = dict(zip(info["judge"], info["size_b"]))
    by_size = explore.order_judges(m, "size", sizes)
    assert by_size[0] == "human"
    known = [sizes[j] for j in by_size if not pd.isna(sizes[j])]
    assert known == sorted(known, reverse=True)
    clustered = explore.order_judges(m, "cluster")
    assert sorted(clustered) == sorted(m.index) and clustered != sorted(m.index)


# ------------------------------------------------------------------ samples


def _sql(db, sql, params=()):
    with duckdb.connect(str(db), read_only=True) as con:
        return [r[0] for r in con.execute(sql, list(params)).fetchall()]


def test_filters(demo_db_fitted):
    db = demo_db_fitted
    assert len(explore.filter_pair_ids(db)) == 5240
    code = explore.filter_pair_ids(db, PairFilter(scenarios=("Code",)))
    assert code == _sql(db, "SELECT pair_id FROM pairs WHERE scenario_group = 'Code' ORDER BY 1")
    grp = explore.filter_pair_ids(db, PairFilter(group="Express Feelings or Emotions"))
    assert len(grp) == 121
    model = explore.filter_pair_ids(db, PairFilter(model="gpt-4"))
    assert model == _sql(db, "SELECT pair_id FROM pairs WHERE 'gpt-4' IN (model_1, model_2) ORDER BY 1")
    dis = explore.filter_pair_ids(db, PairFilter(disagree_with_human=("gpt-4-turbo", "llama-2-7b")))
    expected = _sql(db, """SELECT h.pair_id FROM labels h JOIN labels a USING (pair_id) JOIN labels b USING (pair_id)
                           WHERE h.judge = 'human' AND a.judge = 'gpt-4-turbo' AND b.judge = 'llama-2-7b'
                             AND a.preferred <> h.preferred AND b.preferred <> h.preferred ORDER BY 1""")
    assert dis == expected and 0 < len(dis) < 5240
    text = explore.filter_pair_ids(db, PairFilter(text="PRIME Numbers"))
    assert text and text == _sql(db, "SELECT pair_id FROM pairs WHERE lower(query || response_1 || response_2) "
                                     "LIKE '%prime numbers%' ORDER BY 1")
    both = explore.filter_pair_ids(db, PairFilter(scenarios=("Code",), text="prime numbers"))
    assert set(both) == set(code) & set(text)


@pytest.mark.parametrize("text", ["x' OR 1=1 --", "%", "_", "'; DROP TABLE pairs; --", "\\"])
def test_text_search_is_bound_not_formatted(demo_db_fitted, text):
    assert explore.filter_pair_ids(demo_db_fitted, PairFilter(text=text)) == []
    assert explore.status(demo_db_fitted).n_pairs == 5240


def test_pair_list_and_detail(demo_db_fitted):
    rows = explore.pair_list(demo_db_fitted, [3, 1, 2])
    assert list(rows["pair_id"]) == [1, 2, 3] and rows["human"].str.startswith("response").all()
    d = explore.pair_detail(demo_db_fitted, 1)
    assert d["pair"]["pair_id"] == 1 and d["pair"]["query"]
    assert len(d["labels"]) == 12 and d["labels"]["judge"].iloc[0] == "human"
    assert len(d["ratings"]) == 20 and {"response 1", "response 2"} <= set(d["ratings"].columns)
    assert d["groups"][0] == d["pair"]["scenario_group"]
    table = explore.feature_table(d)
    assert list(table["property"]) == PROPERTY_NAMES
    assert explore.pair_detail(demo_db_fitted, 999_999) is None


# ------------------------------------------------------------------ SHAP


def test_pair_shap_adds_up(demo_db_fitted):
    exp = explore.pair_shap(demo_db_fitted, "human", "Code", 400)
    frame, x = exp["frame"], exp["frame"].set_index("property")
    assert exp["base"] == pytest.approx(0.5)
    assert math.isclose(frame["shap"].sum(), exp["fx"] - exp["base"], abs_tol=1e-6)
    assert (x.loc[x["feature"] == 0, "shap"] == 0).all()
    w = x["weight"].to_numpy()
    assert math.isclose(exp["fx"], 1 / (1 + math.exp(-(x["feature"].to_numpy() @ w))))
    assert explore.pair_shap(demo_db_fitted, "nobody", "Code", 400) is None
    unusable = _sql(demo_db_fitted, "SELECT pair_id FROM pairs WHERE NOT usable LIMIT 1")
    assert explore.pair_shap(demo_db_fitted, "human", "Code", unusable[0]) is None


# ------------------------------------------------------------------ statistics


def test_statistics(demo_db_fitted):
    assert len(explore.property_stats(demo_db_fitted)) == 29
    assert len(explore.prerequisite_counts(demo_db_fitted)) == 5
    corr = explore.property_correlation(demo_db_fitted)
    assert corr.shape == (29, 29) and list(corr.index) == PROPERTY_NAMES
    assert np.allclose(np.diag(corr.fillna(1)), 1)
    agree = explore.agreement(demo_db_fitted)
    assert len(agree) == 12 * 12
    pair = agree[(agree["judge_a"] == "human") & (agree["judge_b"] == "gpt-4-turbo")].iloc[0]
    assert 0 < pair["agreement"] < 1 and -1 <= pair["kappa"] <= 1
    le = explore.length_effect(demo_db_fitted)
    assert len(le) == 12 and le["longer_win_rate"].iloc[0] == le["longer_win_rate"].max()


def test_csv_bytes():
    df = pd.DataFrame({"a": ["<script>", "x,y"]})
    assert explore.csv_bytes(df).decode() == 'a\n<script>\n"x,y"\n'
