"""pipeline.queries.catalog: judges, groups, property sets and fit runs."""

from __future__ import annotations

from pipeline.queries import catalog, dissection, samples, shap, similarity, statistics


def test_empty_database_gives_empty_frames(empty_db):
    assert catalog.judges(empty_db).empty
    assert catalog.fitted_judges(empty_db) == [] and catalog.fitted_groups(empty_db) == []
    assert dissection.preference_probability(empty_db, "Advice", ["human"]).empty
    assert similarity.similarity(empty_db).empty
    assert samples.filter_pair_ids(empty_db) == []
    assert samples.pair_detail(empty_db, 0) is None
    assert shap.shap_for_pair(empty_db, "human", "Advice", 0) is None
    assert statistics.property_correlation(empty_db).empty
    assert statistics.agreement(empty_db).empty and statistics.length_effect(empty_db).empty
    assert catalog.default_judges(empty_db) == []
    assert catalog.property_sets(empty_db).empty and catalog.groups(empty_db).empty


def test_judges_and_groups(demo_db_fitted):
    j = catalog.judges(demo_db_fitted)
    assert j["judge"].iloc[0] == "human" and len(j) == 12
    assert (j["n_labels"] == 5240).all() and (j["n_groups_fitted"] == 17).all()  # 16 + All
    g = catalog.groups(demo_db_fitted)
    assert list(g["group_name"][:3]) == ["All", "Advice", "Code"] and g["group_kind"].iloc[-1] == "query-specific"
    assert catalog.fitted_groups(demo_db_fitted)[-5:] == list(g["group_name"][-5:])


def test_default_judges(demo_db_fitted):
    assert catalog.default_judges(demo_db_fitted) == ["human", "gpt-4-turbo"]
    # Without gpt-4-turbo: the LLM judge with the best held-out accuracy.
    pool = [j for j in catalog.fitted_judges(demo_db_fitted) if j != "gpt-4-turbo"]
    info = catalog.judges(demo_db_fitted)
    llms = info[(info["kind"] == "llm") & info["judge"].isin(pool)]
    best = llms.sort_values("mean_accuracy", ascending=False)["judge"].iloc[0]
    assert catalog.default_judges(demo_db_fitted, pool) == ["human", best]
    assert catalog.default_judges(demo_db_fitted, ["gpt-4-turbo"]) == ["gpt-4-turbo"]


def test_property_sets_and_fit_runs(demo_db_fitted):
    sets = catalog.property_sets(demo_db_fitted)
    assert sets["property_set"].iloc[0] == "paper" and sets["n_judges"].iloc[0] == 12
    runs = catalog.fit_runs(demo_db_fitted, "human")
    assert set(runs["judge"]) == {"human"} and list(runs["group_name"][:2]) == ["All", "Advice"]
    assert catalog.fitted_judges(demo_db_fitted, property_set="no such set") == []
    assert catalog.fitted_judges(demo_db_fitted, "Overall") == catalog.fitted_judges(demo_db_fitted)


def test_custom_and_all_groups_are_listed_in_their_place(demo_db):
    from pipeline.store import db as dbmod

    with dbmod.writing(demo_db) as con:
        con.execute("INSERT INTO pair_groups SELECT pair_id, 'All', 'all' FROM pairs WHERE pair_id NOT IN "
                    "(SELECT pair_id FROM pair_groups WHERE group_name = 'All')")  # the code keeps the keys
        con.execute("INSERT INTO pair_groups SELECT pair_id, 'short answers', 'custom' FROM pairs "
                    "WHERE num_words_1 < 50")
    g = catalog.groups(demo_db)
    assert g["group_name"].iloc[0] == "All" and g["group_name"].iloc[-1] == "short answers"
    assert dict(zip(g["group_name"], g["group_kind"]))["short answers"] == "custom"
    assert g.loc[g["group_name"] == "All", "n_pairs"].iloc[0] == 5240
    assert catalog.group_kinds(demo_db)["All"] == "all"
    assert "All" in samples.filter_options(demo_db)["groups"]
