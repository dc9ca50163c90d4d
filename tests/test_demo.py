"""The generated demo: the release's shape, deterministic, loaded through the real loader."""

from collections import Counter
from statistics import mean

import pytest

from pipeline.store import db as dbmod
from pipeline.demo import DEMO_SOURCE, GROUP_SIZES, MEAN_RATING, PREREQUISITE_COUNTS, PROFILES, DemoRefused, build_demo, generate_records
from pipeline.ingest.release_load import load_records
from pipeline.properties.paper import BASIC, SCENARIO_GROUPS
from records_factory import make_record


@pytest.fixture(scope="module")
def records():
    return generate_records()


def test_shape_of_the_release(records):
    assert len(records) == 5240
    assert Counter(r["scenario_group"] for r in records) == GROUP_SIZES
    assert set(GROUP_SIZES) == set(SCENARIO_GROUPS)
    assert GROUP_SIZES["Knowledge-aware"] == GROUP_SIZES["Others"] == 820
    assert sum(r["clear intent"] == "No" for r in records) == PREREQUISITE_COUNTS["unclear"] == 459
    assert sum(r["explicitly express feelings"] == "Yes" for r in records) == 121
    assert sum(bool(r["explicit constraints"]) for r in records) == 1418
    assert sum(bool(r["explicit subjective stances"]) for r in records) == 388
    assert sum(bool(r["explicit mistakes or biases"]) for r in records) == 401


def test_ratings_and_lengths_near_the_dataset_card(records):
    for p in BASIC:
        got = mean(r[f"basic_response_{k}"][p.source_key] for r in records for k in (1, 2))
        assert got == pytest.approx(MEAN_RATING[p.name], abs=0.2), p.name
    words = [r[f"response_{k}"]["num_words"] for r in records for k in (1, 2)]
    assert 120 < mean(words) < 210
    assert min(words) >= 1


def test_every_judge_labels_every_pair_and_profiles_are_distinct(records):
    assert len(PROFILES) >= 10
    kinds = {p.kind for p in PROFILES}
    assert {"human", "llm"} <= kinds
    for r in records[:50]:
        assert set(r["preference_labels"]) == {p.name for p in PROFILES}
    human = [r["preference_labels"]["human"] for r in records]
    longer = [r["preference_labels"]["length-reward-model"] for r in records]
    assert human != longer


def test_labels_follow_the_profile(records):
    """The length-loving reward model picks the clearly longer response far more often."""
    from pipeline.properties.paper_rules import compare_length

    picks = [r["preference_labels"]["length-reward-model"] == "response_1"
             for r in records if compare_length(r["response_1"]["num_words"], r["response_2"]["num_words"]) == 1]
    assert mean(picks) > 0.7


def test_generation_is_deterministic():
    small = {"Code": 30, "Advice": 20}
    assert generate_records(seed=3, group_sizes=small) == generate_records(seed=3, group_sizes=small)
    assert generate_records(seed=3, group_sizes=small) != generate_records(seed=4, group_sizes=small)


def test_build_demo_loads_generated_data_marked_as_such(tmp_path):
    db = tmp_path / "demo.duckdb"
    result = build_demo(db, fit=False)
    assert result["pairs"] == 5240
    with dbmod.reading(db) as con:
        assert con.execute("SELECT source, kind, generated FROM sources").fetchall() == [(DEMO_SOURCE, "generated", True)]
        assert con.execute("SELECT count(*) FROM pairs").fetchone()[0] == 5240
        notes = con.execute("SELECT note FROM judges").fetchall()
        assert all(n[0].startswith("generated demo judge") for n in notes)
        size = con.execute("SELECT size_b FROM judges WHERE judge = 'llama-2-70b-chat'").fetchone()[0]
        assert size == 70
    # a rebuild replaces the demo without asking
    build_demo(db, fit=False)


def test_build_demo_refuses_to_overwrite_real_data(tmp_path):
    db = tmp_path / "real.duckdb"
    load_records([make_record(0)], source="mine", db=db)
    with pytest.raises(DemoRefused, match="non-generated"):
        build_demo(db, fit=False)


@pytest.mark.slow
def test_fit_demo_stores_what_every_page_reads(demo_db, monkeypatch):
    """`pipeline demo` fits paper and style, and stores the crowd's raw and style-controlled
    boards and a what-if, so the Leaderboard and What if pages open with content."""
    from pipeline.demo import BOARD_JUDGE, fit_demo, what_if_model

    seconds = fit_demo(demo_db)
    assert set(seconds) == {"fit", "fit_style", "boards", "what_if"}
    with dbmod.reading(demo_db) as con:
        sets = {r[0] for r in con.execute("SELECT DISTINCT property_set FROM fits").fetchall()}
        assert sets == {"paper", "style"}
        n_judges = con.execute("SELECT count(DISTINCT judge) FROM fits WHERE property_set = 'style'").fetchone()[0]
        assert n_judges == len(PROFILES)
        controls = {r[0] for r in con.execute("SELECT DISTINCT control FROM leaderboard WHERE judge = ?",
                                              [BOARD_JUDGE]).fetchall()}
        assert controls == {"none", "style"}
        models = con.execute("SELECT DISTINCT judge, model, property_set FROM forecasts").fetchall()
        assert models == [(BOARD_JUDGE, what_if_model(demo_db), "paper")]
        top = con.execute("SELECT model_1, count(*) AS n FROM (SELECT model_1 FROM pairs UNION ALL "
                          "SELECT model_2 FROM pairs) GROUP BY ALL ORDER BY n DESC, model_1 LIMIT 1").fetchone()[0]
        assert what_if_model(demo_db) == top  # the most frequent model: the What-if page's first
    # the two answer pages open on what was stored, not on "run this first"
    from streamlit.testing.v1 import AppTest

    from conftest import ROOT

    monkeypatch.setenv("PREFDISSECT_DB", str(demo_db))
    for page, stored_text in (("pages/10_What_if.py", "Read from the forecasts table"),
                              ("pages/9_Leaderboard.py", "The control's own weights")):
        at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=90)
        at.switch_page(page)
        if page == "pages/10_What_if.py":  # the stored what-if is the upper-bound table
            at.query_params["mode"] = "upper bound"
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        shown = "\n".join(str(e.value) for kind in ("caption", "markdown", "subheader", "info")
                          for e in getattr(at, kind))
        assert stored_text in shown, (page, shown[:500])
