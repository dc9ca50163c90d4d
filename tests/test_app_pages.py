"""Every dashboard page under streamlit.testing (AppTest): the four database states, controls,
URL state, the SQL page's refusals, and dataset text shown as plain text."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT  # noqa: F401 - also puts the app's `ui` package on sys.path

from ui import navigation

# Every registered page (Home.py runs the default one, the home page).
PAGES = ["Home.py"] + [p.path for p in navigation.available() if not p.default]
STATES = ["missing", "empty", "unfitted", "fitted", "imported"]  # imported: the paper's weights, no pairs
NEEDS_FITS = {"pages/1_Dissection.py", "pages/2_Similarity.py"}
NEEDS_PAIRS = {"pages/3_Samples_and_SHAP.py", "pages/4_Statistics.py"}


def open_page(page: str, db, monkeypatch, params: dict | None = None, run: bool = True) -> AppTest:
    monkeypatch.setenv("PREFDISSECT_DB", str(db))
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=90)
    if page != "Home.py":
        at.switch_page(page)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    return at.run() if run else at


def texts(at: AppTest) -> str:
    """All text the page shows in markdown, captions, alerts, titles and code blocks."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "success", "error",
                 "code", "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def chart_titles(at: AppTest) -> list[str]:
    out = []
    for spec in chart_specs(at):
        title = spec.get("title", {})
        out.append(title.get("text", "") + " | " + " ".join(
            title.get("subtitle", []) if isinstance(title.get("subtitle"), list) else [title.get("subtitle", "")]))
    return out


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# ------------------------------------------------------------------ every page, every state


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_in_every_state(page, state, app_dbs, monkeypatch):
    if app_dbs[state] is None:
        pytest.skip("needs ../shared/reference/fitted_paras")
    at = open_page(page, app_dbs[state], monkeypatch)
    assert_clean(at)
    shown = texts(at)
    if state == "missing":
        assert "No database yet" in shown and "python -m pipeline demo" in shown
    elif state == "empty" and (page in NEEDS_PAIRS or page == "Home.py"):
        assert "No pairs loaded yet" in shown
    elif state == "empty" and page in NEEDS_FITS:
        assert "Nothing to show yet" in shown and "import-fits" in shown
    elif state == "unfitted" and page in NEEDS_FITS:
        assert "Not fitted yet" in shown and "python -m pipeline fit" in shown
    elif state == "fitted" and page in NEEDS_FITS | NEEDS_PAIRS:
        assert chart_specs(at), f"{page} shows no chart on a fitted database"
    elif state == "imported" and page in NEEDS_FITS:
        assert chart_specs(at), f"{page} shows no chart from imported weights"
    elif state == "imported" and page in NEEDS_PAIRS:
        assert "No pairs loaded yet" in shown
    if state in ("unfitted", "fitted"):
        assert "Generated demo data" in shown
    else:
        assert "Generated demo data" not in shown  # the demo is marked as generated on every page


# ------------------------------------------------------------------ Home


def test_home_summarises_the_database(app_dbs, monkeypatch):
    at = open_page("Home.py", app_dbs["fitted"], monkeypatch)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Pairs"] == "5,240" and metrics["Judges"] == "12" and metrics["Groups"] == "17"
    assert metrics["Fits"] == "204"  # 12 judges x (16 groups + All)
    assert "hf:GAIR/preference-dissection" in texts(at)
    assert any("generated" in str(v) for v in at.dataframe[0].value["generated"])


# ------------------------------------------------------------------ Dissection


def test_dissection_group_control_and_url(app_dbs, monkeypatch):
    at = open_page("pages/1_Dissection.py", app_dbs["fitted"], monkeypatch)
    assert at.multiselect(key="dis.judges").value == ["human", "gpt-4-turbo"]  # the default pair
    assert "Advice" in chart_titles(at)[0]
    assert at.query_params["group"] == ["Advice"] or at.query_params["group"] == "Advice"
    at.selectbox(key="dis.group").select("Code").run()
    assert_clean(at)
    assert "Code" in chart_titles(at)[0]
    assert "Code" in str(at.query_params["group"])


def test_dissection_judges_control(app_dbs, monkeypatch):
    at = open_page("pages/1_Dissection.py", app_dbs["fitted"], monkeypatch)
    before = at.dataframe[0].value
    at.multiselect(key="dis.judges").select("llama-2-7b").run()
    assert_clean(at)
    after = at.dataframe[0].value
    assert len(before) == 2 and list(after["judge"]) == ["human", "gpt-4-turbo", "llama-2-7b"]
    spec = chart_specs(at)[0]
    assert spec["layer"][2]["encoding"]["color"]["sort"] == ["human", "gpt-4-turbo", "llama-2-7b"]


def test_dissection_selection_from_url(app_dbs, monkeypatch):
    at = open_page("pages/1_Dissection.py", app_dbs["fitted"], monkeypatch,
                   {"group": "Unclear User Intent", "judges": ["human", "llama-2-7b"], "sort": "paper"})
    assert_clean(at)
    assert at.selectbox(key="dis.group").value == "Unclear User Intent"
    assert at.multiselect(key="dis.judges").value == ["human", "llama-2-7b"]
    # An unknown value in the URL falls back to the default instead of failing.
    at = open_page("pages/1_Dissection.py", app_dbs["fitted"], monkeypatch, {"group": "No such group"})
    assert_clean(at)
    assert at.selectbox(key="dis.group").value == "Advice"


def test_selection_survives_a_page_switch(app_dbs, monkeypatch):
    at = open_page("pages/1_Dissection.py", app_dbs["fitted"], monkeypatch)
    at.selectbox(key="dis.group").select("Code").run()
    at.query_params.clear()  # as the browser does on a page switch
    at.switch_page("pages/2_Similarity.py").run()
    assert_clean(at)
    assert at.selectbox(key="sim.group").value == "Overall"
    at.query_params.clear()
    at.switch_page("pages/1_Dissection.py").run()
    assert at.selectbox(key="dis.group").value == "Code"  # restored from the session


def test_dissection_one_judge_across_groups(app_dbs, monkeypatch):
    at = open_page("pages/1_Dissection.py", app_dbs["fitted"], monkeypatch, {"view": "across", "judge": "human"})
    assert_clean(at)
    assert chart_titles(at)[0].startswith("human across groups")
    at.selectbox(key="dis.judge").select("llama-2-7b").run()
    assert chart_titles(at)[0].startswith("llama-2-7b across groups")


# ------------------------------------------------------------------ Similarity


def test_similarity_controls(app_dbs, monkeypatch):
    at = open_page("pages/2_Similarity.py", app_dbs["fitted"], monkeypatch)
    assert_clean(at)
    first = chart_titles(at)[0]
    assert "Overall" in first and "Pearson" in first

    def y_order(at):  # judge names (ordered by size, the label also carries the size: 'name · 7B')
        layer = chart_specs(at)[0]["layer"][0]
        return [j.split(" · ")[0] for j in layer["encoding"]["y"]["sort"]]

    by_size = y_order(at)
    assert by_size[0] == "human"
    at.button_group(key="sim.method").set_value("spearman").run()
    assert "Spearman" in chart_titles(at)[0]
    at.button_group(key="sim.order").set_value("cluster").run()
    assert_clean(at)
    assert sorted(y_order(at)) == sorted(by_size) and y_order(at) != by_size
    at.selectbox(key="sim.group").select("Code").run()
    assert "Code" in chart_titles(at)[0]
    at.multiselect(key="sim.judges").set_value(["human", "gpt-4-turbo", "llama-2-7b"]).run()
    assert_clean(at)
    assert sorted(y_order(at)) == ["gpt-4-turbo", "human", "llama-2-7b"]


def test_similarity_of_the_papers_33_judges(app_dbs, monkeypatch):
    """The published weights: 33 judges fit the page, the colours span the values present, the
    sizes are shown when ordering by size, and the default (all judges) stays out of the URL."""
    if app_dbs["imported"] is None:
        pytest.skip("needs ../shared/reference/fitted_paras")
    at = open_page("pages/2_Similarity.py", app_dbs["imported"], monkeypatch)
    assert_clean(at)
    spec = chart_specs(at)[0]
    rect, text = spec["layer"][0], spec["layer"][1]
    labels = rect["encoding"]["y"]["sort"]
    assert len(labels) == 33 and labels[0] == "human"
    assert any(lab.endswith(" · 70B") for lab in labels)  # the size column, in the label
    scale = rect["encoding"]["color"]["scale"]
    assert scale["domain"][0] > -1 and scale["domain"][1] == 1  # not a fixed [-1, 1]: real values are ~0.2-1
    assert spec["width"]["step"] * 33 <= 800  # fits beside the sidebar at 1440 px
    assert text["encoding"]["text"]["field"] == "_label"  # compact '.83' labels in small cells
    assert "judges" not in at.query_params  # all judges = the default: short links
    at.multiselect(key="sim.judges").set_value(["human", "gpt-4-1106-preview", "yi-34b"]).run()
    assert_clean(at)
    assert list(at.query_params["judges"]) == ["human", "gpt-4-1106-preview", "yi-34b"]
    at = open_page("pages/2_Similarity.py", app_dbs["imported"], monkeypatch,
                   {"judges": ["human", "yi-34b"], "order": "name"})
    assert_clean(at)
    assert chart_specs(at)[0]["layer"][0]["encoding"]["y"]["sort"] == ["human", "yi-34b"]


def test_home_and_dissection_with_imported_weights(app_dbs, monkeypatch):
    if app_dbs["imported"] is None:
        pytest.skip("needs ../shared/reference/fitted_paras")
    at = open_page("Home.py", app_dbs["imported"], monkeypatch)
    assert_clean(at)
    shown = texts(at)
    assert "Published weights loaded" in shown and "No pairs loaded yet" not in shown
    assert "Weights imported" in shown and "Last fit" not in shown
    at = open_page("pages/1_Dissection.py", app_dbs["imported"], monkeypatch)
    assert_clean(at)
    assert at.multiselect(key="dis.judges").value == ["human", "gpt-4-1106-preview"]
    runs = at.dataframe[0].value
    assert list(runs.columns) == ["judge", "source"]  # no empty 'pairs fitted' / 'accuracy' columns
    assert "Imported weights" in texts(at)
    at = open_page("pages/1_Dissection.py", app_dbs["imported"], monkeypatch, {"view": "across", "judge": "human"})
    assert_clean(at)
    domain = chart_specs(at)[0]["layer"][0]["encoding"]["color"]["scale"]["domain"]
    assert domain[0] > 0 and domain[1] < 100 and domain[0] + domain[1] == 100  # spread around 50


def test_shap_when_the_responses_do_not_differ(tmp_path, monkeypatch):
    from pipeline.model.fitting import fit_database
    from pipeline.ingest.release_load import load_records
    from records_factory import make_record

    db = tmp_path / "same.duckdb"
    recs = [make_record(i, r1={"harmless": 3} if i % 2 else {}, r2={"clear": 3} if i % 3 else {},
                        preference_labels={"human": "response_1" if i % 2 else "response_2"})
            for i in range(40)]
    load_records(recs, source="same test", db=db)
    fit_database(db)
    at = open_page("pages/3_Samples_and_SHAP.py", db, monkeypatch, {"pair": "0"})  # record 0: no difference
    assert_clean(at)
    assert "do not differ in any of the 29 properties" in texts(at)
    assert not any(t.startswith("SHAP") for t in chart_titles(at))
    assert "Model predicts" not in [m.label for m in at.metric]


# ------------------------------------------------------------------ Samples & SHAP


def test_samples_navigation_and_filters(app_dbs, monkeypatch):
    at = open_page("pages/3_Samples_and_SHAP.py", app_dbs["fitted"], monkeypatch)
    assert_clean(at)
    assert at.number_input(key="smp.pair").value == 0
    at.button(key="smp.next").click().run()
    assert at.number_input(key="smp.pair").value == 1
    assert "Pair 1" in texts(at)
    at.button(key="smp.prev").click().run()
    assert at.number_input(key="smp.pair").value == 0
    at.multiselect(key="smp.scenario").set_value(["Code"]).run()
    assert_clean(at)
    assert at.number_input(key="smp.pair").value == 400  # the first Code pair
    at.text_input(key="smp.q").input("zzzz no such text").run()
    assert "No pair matches the filters" in texts(at)


def test_samples_pair_from_url_and_shap(app_dbs, monkeypatch):
    import duckdb

    with duckdb.connect(str(app_dbs["fitted"]), read_only=True) as con:
        usable = con.execute("SELECT min(pair_id) FROM pairs WHERE usable AND pair_id > 100").fetchone()[0]
        unusable = con.execute("SELECT min(pair_id) FROM pairs WHERE NOT usable").fetchone()[0]
    at = open_page("pages/3_Samples_and_SHAP.py", app_dbs["fitted"], monkeypatch, {"pair": str(usable)})
    assert_clean(at)
    assert at.number_input(key="smp.pair").value == usable and f"Pair {usable}" in texts(at)
    titles = chart_titles(at)
    assert any(t.startswith("SHAP · human") for t in titles), titles
    at.selectbox(key="smp.sjudge").select("gpt-4-turbo").run()
    assert any(t.startswith("SHAP · gpt-4-turbo") for t in chart_titles(at))
    assert at.metric[0].label == "The judge chose"
    at = open_page("pages/3_Samples_and_SHAP.py", app_dbs["fitted"], monkeypatch, {"pair": str(unusable)})
    assert_clean(at)
    assert "not used for fitting" in texts(at) and not chart_specs(at)


def test_samples_disagreement_filter(app_dbs, monkeypatch):
    at = open_page("pages/3_Samples_and_SHAP.py", app_dbs["fitted"], monkeypatch,
                   {"disagree": ["gpt-4-turbo"]})
    assert_clean(at)
    labels = [d.value for d in at.dataframe if "chose" in d.value.columns][0]  # judges' choices
    human = labels.loc[labels["judge"] == "human", "chose"].iloc[0]
    gpt = labels.loc[labels["judge"] == "gpt-4-turbo", "chose"].iloc[0]
    assert human != gpt


HOSTILE_QUERY = "<script>alert('q')</script> **bold** [link](http://example.com) :red[x] $x^2$"
HOSTILE_RESPONSE = "<img src=x onerror=alert(1)> <b>bold?</b>\n# heading?"


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory):
    from pipeline.ingest.release_load import load_records
    from records_factory import make_record

    db = tmp_path_factory.mktemp("hostile") / "hostile.duckdb"
    rec = make_record(0, query=HOSTILE_QUERY,
                      response_1={"content": HOSTILE_RESPONSE, "model": "<i>model</i>**x**", "num_words": 5},
                      gpt_4_turbo_reference="unused")
    rec["gpt-4-turbo_reference"] = "<script>ref()</script>"
    load_records([rec, make_record(1)], source="hostile test", db=db)
    return db


def test_dataset_text_is_plain_text(hostile_db, monkeypatch):
    at = open_page("pages/3_Samples_and_SHAP.py", hostile_db, monkeypatch)
    assert_clean(at)
    code = [c.value for c in at.code]
    assert HOSTILE_QUERY in code and HOSTILE_RESPONSE in code and "<script>ref()</script>" in code
    for kind in ("markdown", "caption", "title", "subheader", "info"):
        for e in getattr(at, kind):
            v = str(e.value)
            assert "<script" not in v and "<img" not in v and "<i>" not in v, (kind, v)
    assert "Generated demo data" not in texts(at)  # real (loaded) data carries no demo banner


# ------------------------------------------------------------------ Statistics


@pytest.mark.parametrize("view", ["properties", "prerequisites", "correlation", "agreement", "length"])
def test_statistics_views(view, app_dbs, monkeypatch):
    at = open_page("pages/4_Statistics.py", app_dbs["fitted"], monkeypatch, {"view": view})
    assert_clean(at)
    assert at.button_group(key="stats.view").value == view
    assert chart_specs(at)


def test_statistics_agreement_measure(app_dbs, monkeypatch):
    at = open_page("pages/4_Statistics.py", app_dbs["unfitted"], monkeypatch, {"view": "agreement"})
    assert "share of same choices" in chart_titles(at)[0]
    at.button_group(key="stats.metric").set_value("kappa").run()
    assert "kappa" in chart_titles(at)[0]


# ------------------------------------------------------------------ SQL


def result_frame(at: AppTest):
    """The query result (the schema tables beside it have the columns column, type)."""
    return [d.value for d in at.dataframe if list(d.value.columns) != ["column", "type"]][-1]


def run_sql(at: AppTest, sql: str) -> AppTest:
    at.text_area(key="sql.sql").input(sql)
    [b for b in at.button if b.label == "Run"][0].click()
    return at.run()


def test_sql_page_runs_a_query(app_dbs, monkeypatch):
    at = open_page("pages/7_SQL.py", app_dbs["unfitted"], monkeypatch)
    assert_clean(at)
    assert len(result_frame(at)) == 11  # the default query: pairs per scenario group
    run_sql(at, "SELECT judge FROM judges ORDER BY judge")
    assert_clean(at)
    assert list(result_frame(at)["judge"])[:2] == ["gpt-3.5-turbo", "gpt-4-turbo"]
    assert "judges" in str(at.query_params["sql"])


@pytest.mark.parametrize("sql, says", [
    ("DROP TABLE pairs", "DROP"),
    ("INSERT INTO judges (judge) VALUES ('x')", "INSERT"),
    ("COPY pairs TO '/tmp/pairs.csv'", "COPY"),
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("ATTACH '/tmp/x.duckdb' AS x", "ATTACH"),
    ("SELECT 1; DROP TABLE pairs", "2 statements"),
])
def test_sql_page_refuses(sql, says, app_dbs, monkeypatch):
    at = open_page("pages/7_SQL.py", app_dbs["unfitted"], monkeypatch)
    run_sql(at, sql)
    assert_clean(at)
    warnings = " ".join(w.value for w in at.warning).replace("\\", "")  # markdown escapes
    assert "Refused" in warnings and says in warnings
    at = open_page("pages/7_SQL.py", app_dbs["unfitted"], monkeypatch, {"sql": "SELECT count(*) AS n FROM pairs"})
    [b for b in at.button if b.label == "Run"][0].click().run()  # a query from a link runs when asked (H3)
    assert result_frame(at)["n"][0] == 5240  # nothing was dropped or changed


def test_heatmap_cell_labels():
    import pandas as pd

    from ui import charts

    assert charts.compact_number(0.834) == ".83" and charts.compact_number(-0.12) == "-.12"
    assert charts.compact_number(1.0) == "1.00" and charts.compact_number(float("nan")) == ""
    v = pd.Series([0.2, 0.5, 0.95])
    assert list(charts.text_is_dark_bg(v, 0.2, 1.0, None, sequential=True)) == [False, False, True]
    assert list(charts.text_is_dark_bg(pd.Series([-0.9, 0.0, 0.9]), -1, 1, 0, sequential=False)) == \
        [True, False, True]


def test_csv_bytes():
    import pandas as pd

    from ui import layout

    df = pd.DataFrame({"a": ["<script>", "x,y"]})
    assert layout.csv_bytes(df).decode() == 'a\n<script>\n"x,y"\n'


# ------------------------------------------------------------------ registry, property sets, warm imports


def test_every_page_file_is_registered_once():
    paths = [p.path for p in navigation.PAGES]
    assert len(paths) == len(set(paths)) and sum(p.default for p in navigation.PAGES) == 1
    on_disk = {f"pages/{f.name}" for f in (ROOT / "pages").glob("*.py")}
    assert on_disk <= set(paths), on_disk - set(paths)  # a page file that is not in the menu
    assert {"pages/8_Groups.py", "pages/9_Leaderboard.py", "pages/10_What_if.py"} <= set(paths)
    assert [p.path for p in navigation.available()] == [p for p in paths if (ROOT / p).exists()]
    assert navigation.spec_for(ROOT / "pages" / "1_Dissection.py").title == "Dissection"


def test_home_guide_lists_the_registry(app_dbs, monkeypatch):
    at = open_page("Home.py", app_dbs["fitted"], monkeypatch)
    assert_clean(at)
    links = [e.proto.label for e in at.get("page_link")]
    assert sorted(links) == sorted(p.title for p in navigation.available() if not p.default)  # two columns


def test_property_set_selector(app_dbs, monkeypatch):
    """The sidebar lists the sets that have fits; the choice goes to the URL and to every page's reads."""
    import shutil

    from pipeline.store import db as dbmod

    db = app_dbs["fitted"].parent / "two_sets.duckdb"
    shutil.copyfile(app_dbs["fitted"], db)
    with dbmod.writing(db) as con:  # a second set: the paper fits of two judges, renamed
        con.execute("INSERT INTO fits SELECT judge, group_name, 'style', property, -weight, sd, -ci_high, "
                    "-ci_low, source FROM fits WHERE property_set = 'paper' AND judge IN ('human', 'gpt-4-turbo')")
        con.execute("INSERT INTO fit_runs (judge, group_name, property_set, status, n_pairs, accuracy, method, "
                    "group_kind) SELECT judge, group_name, 'style', status, n_pairs, accuracy, method, group_kind "
                    "FROM fit_runs WHERE property_set = 'paper' AND judge IN ('human', 'gpt-4-turbo')")
    at = open_page("pages/1_Dissection.py", db, monkeypatch)
    assert_clean(at)
    box = at.sidebar.selectbox(key="app.properties")
    assert box.options == ["paper", "style"] and box.value == "paper"
    paper = at.dataframe[0].value
    box.select("style").run()
    assert_clean(at)
    assert "style" in str(at.query_params["properties"])
    assert list(at.multiselect(key="dis.judges").options) == ["human", "gpt-4-turbo"]
    at = open_page("pages/2_Similarity.py", db, monkeypatch, {"properties": "style"})
    assert_clean(at)
    assert at.sidebar.selectbox(key="app.properties").value == "style"
    assert len(chart_specs(at)[0]["layer"][0]["encoding"]["y"]["sort"]) == 2
    assert len(paper) == 2


def test_heavy_imports_start_in_the_background():
    import sys

    from ui import warmup

    warmup.start()
    warmup.start()  # once per process
    assert warmup.wait(120)
    assert "shap" in sys.modules and "openai" in sys.modules


def test_dissection_chart_gets_a_height_per_property_row():
    """The total height also holds the title, legend and axis: with a fixed total the style set's 10
    properties were squeezed into a sliver that showed 2 of their names. A step per judge's sub-row
    (the chart's yOffset) instead, smaller when 29 properties x 12 judges would pass 2000 px."""
    import pandas as pd

    from ui import charts

    def chart(n_props: int, judges: list[str]) -> dict:
        props = [f"p{i}" for i in range(n_props)]
        df = pd.DataFrame([{"judge": j, "property": p, "probability": 55.0, "prob_low": 50.0, "prob_high": 60.0,
                            "weight": 0.2, "description": p, "n_pairs": 100} for j in judges for p in props])
        return charts.dissection_dots(df, props, judges, title="t").to_dict()

    two = chart(10, ["human", "gpt-4-turbo"])
    assert two["height"] == {"step": 12}  # each judge's sub-row in each of the 10 property rows
    assert chart(10, ["human"])["height"] == {"step": 24}  # one judge: a property row is still 24 px
    many = chart(29, [f"j{i}" for i in range(12)])
    assert 5 <= many["height"]["step"] and many["height"]["step"] * 29 * 12 <= 2000


def test_samples_says_a_raw_pair_is_not_annotated_yet(tmp_path, monkeypatch):
    """A raw labelled pair (pairs.annotated = FALSE) is fitted on its style properties; the page said
    "not usable for fitting (an error check was not applicable)", which was wrong on both counts."""
    from pipeline.ingest.loader import load_source

    rows = [{"question_id": f"q{i}", "model_a": "m1", "model_b": "m2", "winner": "model_a",
             "conversation_a": [{"role": "user", "content": f"<b>q</b> {i}"}, {"role": "assistant", "content": "a"}],
             "conversation_b": [{"role": "user", "content": f"<b>q</b> {i}"}, {"role": "assistant", "content": "b"}]}
            for i in range(3)]
    src = tmp_path / "arena.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    db = tmp_path / "raw.duckdb"
    load_source(str(src), db=db)
    at = open_page("pages/3_Samples_and_SHAP.py", db, monkeypatch)
    assert_clean(at)
    shown = texts(at)
    assert "not annotated yet: style properties only" in shown and "29 properties" not in shown
    assert "an error check was not applicable" not in shown
