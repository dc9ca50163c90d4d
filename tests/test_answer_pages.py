"""The Leaderboard and What-if pages, and the Dissection page's "how two judges differ" section,
under streamlit.testing (AppTest) on the fitted demo."""

from __future__ import annotations

import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from pipeline.answers.forecasts import what_if
from pipeline.answers.leaderboard import build_leaderboard

LEADERBOARD = "pages/9_Leaderboard.py"
WHAT_IF = "pages/10_What_if.py"


@pytest.fixture(scope="module")
def answered_db(demo_db_fitted, tmp_path_factory):
    """The fitted demo with raw and style-controlled leaderboards, and one stored forecast."""
    db = tmp_path_factory.mktemp("answers") / "answers.duckdb"
    shutil.copyfile(demo_db_fitted, db)
    build_leaderboard(db, judges=["human", "gpt-4-turbo"], control="paper")
    what_if(db, judge="human", model="gpt-4", group="All")
    return db


def open_page(page: str, db, monkeypatch, params: dict | None = None) -> AppTest:
    monkeypatch.setenv("PREFDISSECT_DB", str(db))
    at = AppTest.from_file(str(ROOT / page), default_timeout=90)  # the page alone, as st.navigation runs it
    for key, value in (params or {}).items():
        at.query_params[key] = value
    return at.run()


def texts(at: AppTest) -> str:
    parts = []
    for kind in ("title", "markdown", "caption", "info", "warning", "success", "subheader", "code"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_leaderboard_raw_next_to_controlled(answered_db, monkeypatch):
    at = open_page(LEADERBOARD, answered_db, monkeypatch,
                   {"judge": "human", "group": "All", "control": "paper"})
    clean(at)
    table = at.dataframe[0].value
    assert {"raw_rank", "rank_change", "model"} <= set(table.columns) and len(table) == 18
    assert "change place under the control" in texts(at)
    assert "The control's own weights" in texts(at)
    titles = [s.get("title", {}).get("text", "") for s in specs(at)]
    assert any("raw vs controlled for paper" in t for t in titles)


def test_leaderboard_raw_board_and_the_fit_form(answered_db, monkeypatch):
    at = open_page(LEADERBOARD, answered_db, monkeypatch, {"judge": "gpt-4-turbo", "control": "none"})
    clean(at)
    assert "rank_change" not in at.dataframe[0].value.columns
    assert at.button(key="lb.fit") is not None


def test_leaderboard_fits_from_the_page(demo_db_fitted, tmp_path, monkeypatch):
    db = tmp_path / "fresh.duckdb"
    shutil.copyfile(demo_db_fitted, db)
    at = open_page(LEADERBOARD, db, monkeypatch)
    clean(at)
    assert "No leaderboard stored yet" in texts(at)
    at.selectbox(key="lb.new_judge").set_value("gpt-4-turbo")
    at.multiselect(key="lb.new_control").set_value(["lengthy"])
    at.button(key="lb.fit").click().run()
    clean(at)
    assert at.dataframe[0].value["model"].nunique() == 18
    assert "lengthy" in at.session_state["lb.control"]


def test_leaderboard_without_labels_says_what_to_do(empty_db, monkeypatch):
    at = open_page(LEADERBOARD, empty_db, monkeypatch)
    clean(at)
    assert "python -m pipeline" in texts(at)


def test_what_if_shows_the_biggest_movers_both_ways(answered_db, monkeypatch):
    at = open_page(WHAT_IF, answered_db, monkeypatch, {"judge": "human", "model": "gpt-4", "mode": "upper bound"})
    clean(at)
    shown = texts(at)
    assert "An upper bound, not a forecast a model could reach" in shown and "Read from the forecasts table" in shown
    titles = [s.get("title", {}).get("text", "") for s in specs(at)]
    assert any("more of" in t for t in titles) and any("less of" in t for t in titles)
    every = at.dataframe[0].value
    best = every[every["direction"] == "better"].sort_values("points", ascending=False)["property"].iloc[0]
    assert best in {"contain rich info", "lengthy", "support stances"}  # the human's top weights


def test_what_if_computes_when_nothing_is_stored(answered_db, monkeypatch):
    at = open_page(WHAT_IF, answered_db, monkeypatch, {"judge": "gpt-4-turbo", "model": "vicuna-13b",
                                                       "mode": "upper bound"})
    clean(at)
    assert "Computed now, not stored" in texts(at)


def test_what_if_without_fits_says_what_to_do(demo_db_template, monkeypatch):
    at = open_page(WHAT_IF, demo_db_template, monkeypatch, {"mode": "upper bound"})
    clean(at)
    assert "python -m pipeline fit" in texts(at)


def test_dissection_shows_how_two_judges_differ(answered_db, monkeypatch):
    at = open_page("pages/1_Dissection.py", answered_db, monkeypatch, {"group": "All"})
    clean(at)
    shown = texts(at)
    assert "How two judges differ" in shown and "They differ most on" in shown
    titles = [s.get("title", {}).get("text", "") for s in specs(at)]
    assert "human vs gpt-4-turbo" in titles
    every = next(d.value for d in at.dataframe if "prob_first" in d.value.columns)
    assert len(every) == 29 and list(every["rank"]) == list(range(1, 30))


def test_dissection_differences_of_imported_weights(imported_db, monkeypatch):
    if imported_db is None:
        pytest.skip("needs ../shared/reference/fitted_paras")
    at = open_page("pages/1_Dissection.py", imported_db, monkeypatch, {"group": "Knowledge-aware"})
    clean(at)
    assert "Imported weights have no sd" in texts(at)


@pytest.mark.parametrize("state", ["missing", "empty", "unfitted", "fitted", "imported"])
@pytest.mark.parametrize("page", [LEADERBOARD, WHAT_IF])
def test_pages_render_in_every_database_state(page, state, app_dbs, monkeypatch):
    if app_dbs[state] is None:
        pytest.skip("needs ../shared/reference/fitted_paras")
    at = open_page(page, app_dbs[state], monkeypatch)
    clean(at)
    shown = texts(at)
    if state == "missing":
        assert "python -m pipeline demo" in shown
    if state == "fitted" and page == LEADERBOARD:
        assert "No leaderboard stored yet" in shown          # fitted, but no board yet: the form is open
    if state == "imported" and page == WHAT_IF:
        assert "No pairs loaded yet" in shown                # weights without pairs: nothing to forecast



def test_row_charts_get_a_height_per_row(answered_db, tmp_path, monkeypatch):
    """A fixed total height also has to hold the title and the axis: with 18 models or 8 properties
    the rows were squeezed until Vega dropped every other label (What if: 2 of 8 names shown).
    Each row chart's height is a step per row instead; a control property without a weight is
    named in a caption, not drawn as an empty row."""
    db = tmp_path / "style.duckdb"
    shutil.copyfile(answered_db, db)
    build_leaderboard(db, judges=["human"], control="style")  # in the demo only length differs
    at = open_page(LEADERBOARD, db, monkeypatch, {"judge": "human", "group": "All", "control": "style"})
    clean(at)
    charts = specs(at)
    assert len(charts) == 2 and all(c.get("height") == {"step": 24} for c in charts), [c.get("height") for c in charts]
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT property, weight FROM leaderboard_controls WHERE judge = 'human' "
                           "AND group_name = 'All' AND control = 'style'").fetchall()
        dropped = con.execute("SELECT controls_dropped FROM leaderboard_runs WHERE judge = 'human' "
                              "AND group_name = 'All' AND control = 'style'").fetchone()[0]
    weighted = {p for p, w in rows if w is not None}
    assert weighted and dropped  # the demo's responses differ on some style counts only: the others are left out
    assert set(charts[1]["layer"][0]["encoding"]["y"]["sort"]) == weighted
    from ui.text import md_escape  # the warning is markdown: names are escaped in it

    assert md_escape(dropped) in texts(at).split("Controls left out or merged: ")[1]
    at = open_page(WHAT_IF, answered_db, monkeypatch, {"judge": "human", "model": "gpt-4", "mode": "upper bound"})
    clean(at)
    assert [c.get("height") for c in specs(at)] == [{"step": 24}] * 2
    at = open_page("pages/1_Dissection.py", answered_db, monkeypatch, {"group": "All"})
    clean(at)
    differ = [s for s in specs(at) if s.get("title", {}).get("text") == "human vs gpt-4-turbo"]
    assert len(differ) == 1 and differ[0].get("height") == {"step": 24}
