"""The SQL page under streamlit.testing: a query from the link waits for Run, and bounds show as warnings."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from conftest import ROOT


def open_sql(db, monkeypatch, params: dict | None = None) -> AppTest:
    monkeypatch.setenv("PREFDISSECT_DB", str(db))
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=90)
    at.switch_page("pages/7_SQL.py")
    for key, value in (params or {}).items():
        at.query_params[key] = value
    return at.run()


def results(at: AppTest) -> list:
    return [d.value for d in at.dataframe if list(d.value.columns) != ["column", "type"]]


def click_run(at: AppTest) -> AppTest:
    [b for b in at.button if b.label == "Run"][0].click()
    return at.run()


def test_a_query_from_the_link_waits_for_a_click(app_dbs, monkeypatch):
    at = open_sql(app_dbs["unfitted"], monkeypatch, {"sql": "SELECT count(*) AS n FROM pairs"})
    assert not at.exception
    assert results(at) == []
    assert any("has not run yet" in i.value for i in at.info)
    assert at.text_area(key="sql.sql").value == "SELECT count(*) AS n FROM pairs"
    at = click_run(at)
    assert results(at)[-1]["n"][0] == 5240


def test_the_hostile_link_does_nothing_until_run_then_is_stopped(app_dbs, monkeypatch):
    hostile = "SELECT repeat('x', 1000000) AS s FROM range(1000)"
    at = open_sql(app_dbs["unfitted"], monkeypatch, {"sql": hostile})
    assert results(at) == [] and not at.warning
    at = click_run(at)
    assert not at.exception and not at.error
    # stopped: by the memory bound, or on a busy machine by the time limit or the worker's start-up
    # limit first (sqlguard's own tests check each bound alone)
    shown = " ".join(w.value.replace("\\", "") for w in at.warning)
    stops = ("Stopped: the query needed more memory", "Stopped: the query ran longer than",
             "The query worker did not start within")
    assert any(stop in shown for stop in stops), shown


def test_the_default_query_runs_on_open(app_dbs, monkeypatch):
    at = open_sql(app_dbs["unfitted"], monkeypatch)
    assert len(results(at)[-1]) == 11


def test_unknown_statement_kind_is_a_warning_without_paths(app_dbs, monkeypatch):
    at = open_sql(app_dbs["unfitted"], monkeypatch, {"sql": "UPDATE EXTENSIONS"})
    at = click_run(at)
    assert not at.exception and not at.error
    shown = " ".join(w.value for w in at.warning).replace("\\", "")
    assert "UPDATE EXTENSIONS statement" in shown and str(ROOT) not in shown
