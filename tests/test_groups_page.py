"""The Groups page (pages/8_Groups.py) under streamlit.testing: list, preview, add, refuse, fit, remove."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from dbquery import rows, scalar

PAGE = "pages/8_Groups.py"


def open_page(db, monkeypatch) -> AppTest:
    monkeypatch.setenv("PREFDISSECT_DB", str(db))
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=90)   # through the app's navigation
    at.switch_page(PAGE)
    return at.run()


def shown(at: AppTest) -> str:
    parts = []
    for kind in ("title", "markdown", "caption", "info", "warning", "success", "error", "code"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts).replace("\\", "")  # our markdown escapes dataset values


def fill(at: AppTest, name: str, condition: str, note: str = "") -> None:
    at.text_input(key="groups.name").set_value(name)
    at.text_input(key="groups.note").set_value(note)
    at.text_area(key="groups.condition").set_value(condition)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_the_page_is_registered_and_lists_every_group(demo_db, monkeypatch):
    from ui import navigation

    assert any(p.path == PAGE for p in navigation.available())
    at = open_page(demo_db, monkeypatch)
    assert not at.exception
    table = at.dataframe[0].value
    assert {"Code", "Unclear User Intent"} <= set(table["group"])
    assert set(table["kind"]) >= {"scenario", "query-specific"}


def test_preview_add_and_the_condition_shown_as_plain_text(demo_db, monkeypatch):
    at = open_page(demo_db, monkeypatch)
    fill(at, "Long code", "scenario_group = 'Code' AND num_words_1 > 100", note="<b>mine</b> **bold**")
    button(at, "Preview").click()
    at.run()
    assert not at.exception
    n = scalar(demo_db, "SELECT count(*) FROM pairs WHERE scenario_group = 'Code' AND num_words_1 > 100")
    assert f"{n:,} of 5,240 pairs match" in shown(at)
    assert scalar(demo_db, "SELECT count(*) FROM custom_groups") == 0       # a preview writes nothing
    button(at, "Add group").click()
    at.run()
    assert not at.exception
    assert rows(demo_db, "SELECT group_name, note FROM custom_groups") == [("Long code", "<b>mine</b> **bold**")]
    assert f"with {n:,} pairs" in shown(at)
    table = at.dataframe[0].value
    row = table[table["group"] == "Long code"].iloc[0]
    assert (row["kind"], row["pairs"], row["note"]) == ("custom", n, "<b>mine</b> **bold**")
    assert "<b>mine</b>" not in "\n".join(str(m.value) for m in at.markdown)   # never as markdown or HTML


@pytest.mark.parametrize("condition, why", [
    ("read_csv('/etc/passwd') IS NOT NULL", "read_csv"),
    ("num_words_1 > ", "Refused condition"),
    ("nope = 1", "nope"),
])
def test_a_bad_condition_is_refused_and_nothing_is_added(demo_db, monkeypatch, condition, why):
    at = open_page(demo_db, monkeypatch)
    fill(at, "Bad", condition)
    button(at, "Add group").click()
    at.run()
    assert not at.exception
    assert at.error and why in at.error[0].value.replace("\\", "")
    assert scalar(demo_db, "SELECT count(*) FROM custom_groups") == 0


def test_fit_and_remove_a_custom_group(demo_db, monkeypatch):
    from pipeline import groups

    groups.add_group("Long ones", "num_words_1 > 250", db=demo_db)
    at = open_page(demo_db, monkeypatch)
    at.selectbox(key="groups.set").set_value("paper")
    button(at, "Fit").click()
    at.run()
    assert not at.exception, at.exception
    assert scalar(demo_db, "SELECT count(*) FROM fit_runs WHERE group_name = 'Long ones' AND status = 'fitted'") > 0
    assert "fitted" in shown(at)
    assert button(at, "Remove").disabled
    at.checkbox(key="groups.sure").check()
    at.run()
    button(at, "Remove").click()
    at.run()
    assert not at.exception, at.exception
    assert scalar(demo_db, "SELECT count(*) FROM custom_groups") == 0
    assert scalar(demo_db, "SELECT count(*) FROM fits WHERE group_name = 'Long ones'") == 0
    assert "Removed the group Long ones" in shown(at)


def test_without_a_database_the_page_says_what_to_run(missing_db, monkeypatch):
    at = open_page(missing_db, monkeypatch)
    assert not at.exception
    assert "No database yet" in shown(at)
