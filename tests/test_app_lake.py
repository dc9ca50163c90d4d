"""Every dashboard page on a lake (a PostgreSQL catalog, a local data folder) holding a copy of
the fitted demo: it renders as on the file and shows the same figures; `?at=` pins the pages
to an older snapshot."""

from __future__ import annotations

import pytest

from conftest import ROOT  # noqa: F401 - also puts the app's `ui` package on sys.path
from test_app_pages import NEEDS_FITS, NEEDS_PAIRS, PAGES, assert_clean, chart_specs, open_page, result_frame, \
    run_sql, texts


@pytest.fixture(scope="module")
def side_files(tmp_path_factory):
    """A working folder for the module: a PostgreSQL lake's journals, logs and uploads sit
    under data/lakes/ of the current folder (location.LAKE_STATE), never in the repository."""
    return tmp_path_factory.mktemp("lake-cwd")


@pytest.fixture(scope="module")
def fitted_lake(pg_server, demo_db_fitted, side_files, tmp_path_factory):
    """The fitted demo copied into a new PostgreSQL-catalog lake: (the --db string, its data folder)."""
    from pipeline.store.copying import copy_database

    db, data = pg_server.lake(tmp_path_factory.mktemp("lake"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(side_files)
        mp.setenv("PREFDISSECT_DATA_PATH", str(data))  # only the command that creates a lake needs one
        copy_database(demo_db_fitted, db)
    return db, data


@pytest.fixture
def on_lake(side_files, monkeypatch):
    monkeypatch.chdir(side_files)
    monkeypatch.delenv("PREFDISSECT_DATA_PATH", raising=False)  # the lake remembers its data path


def _same_figures(page: str, lake_at, file_at) -> None:
    """The key figures a page shows on the lake are the ones it shows on the file."""
    assert [m.value for m in lake_at.metric] == [m.value for m in file_at.metric], page
    assert len(chart_specs(lake_at)) == len(chart_specs(file_at)), page
    assert [d.value.shape for d in lake_at.dataframe] == [d.value.shape for d in file_at.dataframe], page


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_a_lake_as_on_the_file(page, fitted_lake, demo_db_fitted, on_lake, monkeypatch):
    lake_db, _ = fitted_lake
    at = open_page(page, lake_db, monkeypatch)
    assert_clean(at)
    shown = texts(at)
    assert "Generated demo data" in shown
    assert "ducklake:postgres:" in at.sidebar.text[0].value  # the sidebar names the lake
    if page in NEEDS_FITS | NEEDS_PAIRS:
        assert chart_specs(at), f"{page} shows no chart on the lake"
    _same_figures(page, at, open_page(page, demo_db_fitted, monkeypatch))


def test_home_counts_on_a_lake(fitted_lake, on_lake, monkeypatch):
    at = open_page("Home.py", fitted_lake[0], monkeypatch)
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Pairs"] == "5,240" and metrics["Judges"] == "12" and metrics["Fits"] == "204"


def test_dissection_on_a_lake_lists_the_judges(fitted_lake, on_lake, monkeypatch):
    at = open_page("pages/1_Dissection.py", fitted_lake[0], monkeypatch)
    assert_clean(at)
    assert at.multiselect(key="dis.judges").value == ["human", "gpt-4-turbo"]
    assert "llama-2-7b" in at.multiselect(key="dis.judges").options
    assert "Advice" in str(chart_specs(at)[0].get("title"))


def test_sql_page_queries_the_lake(fitted_lake, on_lake, monkeypatch):
    at = open_page("pages/7_SQL.py", fitted_lake[0], monkeypatch)
    assert_clean(at)
    assert len(result_frame(at)) == 11  # the default query: pairs per scenario group
    run_sql(at, "SELECT count(*) AS n FROM pairs")
    assert_clean(at)
    assert result_frame(at)["n"][0] == 5240
    run_sql(at, "SELECT judge FROM judges ORDER BY judge")
    assert list(result_frame(at)["judge"])[:2] == ["gpt-3.5-turbo", "gpt-4-turbo"]
    run_sql(at, "DELETE FROM pairs")
    assert "Refused" in " ".join(w.value for w in at.warning)


# ------------------------------------------------------------------ ?at=SNAPSHOT


@pytest.fixture(scope="module")
def two_snapshots(pg_server, demo_db_template, side_files, tmp_path_factory):
    """The unfitted demo in a lake, then one more write (a group): (lake, snapshot before, after)."""
    from pipeline.groups import add_group
    from pipeline.store import lake as lakemod
    from pipeline.store.copying import copy_database
    from pipeline.store.location import locate

    db, data = pg_server.lake(tmp_path_factory.mktemp("lake-at"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(side_files)
        mp.setenv("PREFDISSECT_DATA_PATH", str(data))
        copy_database(demo_db_template, db)
        before = lakemod.history(locate(db), limit=1)[0][0]
        add_group("Long code", "scenario_group = 'Code' AND num_words_1 > 100", db=db)
        after = lakemod.history(locate(db), limit=1)[0][0]
    assert after > before
    return db, before, after


def _group_names(at) -> set[str]:
    return set(at.dataframe[0].value["group"])


def test_at_pins_every_page_to_an_old_snapshot(two_snapshots, on_lake, monkeypatch):
    db, before, after = two_snapshots
    now = open_page("pages/8_Groups.py", db, monkeypatch)
    assert_clean(now)
    assert "Long code" in _group_names(now)
    then = open_page("pages/8_Groups.py", db, monkeypatch, {"at": str(before)})
    assert_clean(then)
    assert "Long code" not in _group_names(then) and "Code" in _group_names(then)
    assert f"Pinned to snapshot {before}" in " ".join(c.value for c in then.sidebar.caption)
    home_then = open_page("Home.py", db, monkeypatch, {"at": str(before)})
    home_now = open_page("Home.py", db, monkeypatch)
    groups = {m.label: m.value for m in home_then.metric}["Groups"], {m.label: m.value for m in home_now.metric}["Groups"]
    assert int(groups[1]) == int(groups[0]) + 1


def test_the_pin_survives_a_page_switch_and_can_be_dropped(two_snapshots, on_lake, monkeypatch):
    db, before, _ = two_snapshots
    at = open_page("pages/8_Groups.py", db, monkeypatch, {"at": str(before)})
    at.query_params.clear()  # as the browser does on a page switch
    at.switch_page("pages/0_Overview.py").run()
    assert_clean(at)
    at.switch_page("pages/8_Groups.py").run()
    assert "Long code" not in _group_names(at)
    next(b for b in at.sidebar.button if b.label == "Show the newest").click().run()
    assert_clean(at)
    assert "Long code" in _group_names(at) and "at" not in at.query_params


@pytest.mark.parametrize("value, says", [("abc", "must be a snapshot number"), ("-3", "must be a snapshot number"),
                                         ("999999", "has no snapshot 999999")])
def test_a_bad_at_shows_one_line(value, says, two_snapshots, on_lake, monkeypatch):
    at = open_page("pages/1_Dissection.py", two_snapshots[0], monkeypatch, {"at": value})
    assert not at.exception, [e.value for e in at.exception]
    lines = [str(e.value) for kind in ("error", "info", "warning") for e in getattr(at, kind)]
    assert len(lines) == 1 and says in lines[0] and "\n" not in lines[0].strip(), lines


def test_at_on_a_single_file_says_it_keeps_no_snapshots(demo_db_template, monkeypatch):
    at = open_page("Home.py", demo_db_template, monkeypatch, {"at": "1"})
    assert not at.exception, [e.value for e in at.exception]
    lines = [str(e.value) for kind in ("error", "info", "warning") for e in getattr(at, kind)]
    assert len(lines) == 1 and "keeps no snapshots" in lines[0], lines
