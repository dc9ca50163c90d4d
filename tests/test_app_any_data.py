"""The app on data other than the paper's release (issue 19): raw battles with style properties
only, LLM judges without a human, a single judge, a crowd without model names. The databases are
built here as a user builds them: `python -m pipeline load` on a generated CSV, then
`fit --properties style` (tests/raw_battles.py)."""

from __future__ import annotations

import duckdb
import pytest
from raw_battles import MODELS, build
from test_app_pages import assert_clean, chart_specs, chart_titles, open_page, texts

from pipeline.queries import models, samples


def chart_rows(at) -> list[dict]:
    """The first chart's data rows (Streamlit sends them beside the spec, as Arrow)."""
    import pyarrow as pa

    data = at.get("vega_lite_chart")[0].proto.datasets[0].data.data
    return pa.ipc.open_stream(data).read_all().to_pylist()


@pytest.fixture(scope="module")
def style_db(tmp_path_factory):
    """160 raw battles of four models, two LLM judges (no human), fitted on style only."""
    return build(tmp_path_factory.mktemp("style"), {"gpt-judge": 0.15, "other-judge": 0.45})


@pytest.fixture(scope="module")
def one_judge_db(tmp_path_factory):
    return build(tmp_path_factory.mktemp("one"), {"gpt-judge": 0.2}, n=80)


@pytest.fixture(scope="module")
def crowd_db(tmp_path_factory):
    """A crowd's votes on pairs that name no model (as HH-RLHF)."""
    return build(tmp_path_factory.mktemp("crowd"), {"human": 0.3}, n=60, with_models=False)


def test_home_on_a_style_only_database(style_db, monkeypatch):
    at = open_page("Home.py", style_db, monkeypatch)
    assert_clean(at)
    shown = texts(at)
    assert "29 properties" not in shown and "29 annotated" not in shown
    assert "the 10 style properties" in shown
    code = "\n".join(c.value for c in at.code)
    assert "python -m pipeline fit --properties style" in code
    assert "pipeline fit --db" not in code and not code.rstrip().endswith("pipeline fit")
    judges = at.dataframe[1].value
    assert list(judges["judge"]) == ["gpt-judge", "other-judge"]
    assert judges.notna().any().all()  # no column that is empty for every judge (size, note, consistency)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Judges"] == "2" and metrics["Groups"] == "1" and metrics["Pairs"] == "160"


def test_samples_on_raw_pairs(style_db, monkeypatch):
    at = open_page("pages/3_Samples_and_SHAP.py", style_db, monkeypatch, {"pair": "3"})
    assert_clean(at)
    shown = texts(at)
    assert "29 properties" not in shown and "? words" not in shown
    assert "No errors detected" not in shown and "meets no prerequisite" not in shown
    for what in ("basic ratings", "error checks", "query-specific checks"):
        assert f"Not annotated: raw pairs have no {what}" in shown
    with duckdb.connect(str(style_db), read_only=True) as con:
        words = con.execute("SELECT value FROM response_measures WHERE pair_id = 3 AND side = 1 "
                            "AND measure = 'words'").fetchone()[0]
    assert f"{int(words)} words" in shown  # the raw pair's words: its measure
    feats = next(d.value for d in at.dataframe if "meaning" in d.value.columns)
    assert len(feats) == 10 and set(feats["set"]) == {"style"} and feats["value"].notna().all()
    assert next(iter(feats["property"])) == "length (tokens)"
    assert any(t.startswith("SHAP · gpt-judge") for t in chart_titles(at))  # the style fit explains it


def test_shap_says_the_sets_own_count(style_db, monkeypatch):
    with duckdb.connect(str(style_db), read_only=True) as con:
        same = con.execute("""SELECT pair_id FROM features GROUP BY pair_id
                              HAVING bool_and(value = 0) ORDER BY pair_id LIMIT 1""").fetchone()
    if same is None:
        pytest.skip("every generated pair differs in some style property")
    at = open_page("pages/3_Samples_and_SHAP.py", style_db, monkeypatch, {"pair": str(same[0])})
    assert_clean(at)
    assert "do not differ in any of the 10 properties of the style set" in texts(at)


def test_disagreement_filter_against_a_non_human_judge(style_db, monkeypatch):
    at = open_page("pages/3_Samples_and_SHAP.py", style_db, monkeypatch)
    assert_clean(at)
    assert at.selectbox(key="smp.against").value == "gpt-judge"  # no human here: the first judge
    box = at.multiselect(key="smp.disagree")
    assert not box.disabled and box.options == ["other-judge"]
    box.set_value(["other-judge"]).run()
    assert_clean(at)
    expected = samples.filter_pair_ids(style_db, samples.PairFilter(disagree=("other-judge",), against="gpt-judge"))
    with duckdb.connect(str(style_db), read_only=True) as con:
        truth = [r[0] for r in con.execute(
            """SELECT a.pair_id FROM labels a JOIN labels b USING (pair_id) WHERE a.judge = 'gpt-judge'
               AND b.judge = 'other-judge' AND a.preferred <> b.preferred ORDER BY 1""").fetchall()]
    assert expected == truth and 0 < len(truth) < 160
    assert at.number_input(key="smp.pair").value == truth[0]
    assert f"Pair 1 of {len(truth)} matching the filters" in texts(at)
    choices = next(d.value for d in at.dataframe if "chose" in d.value.columns)
    assert choices["chose"].nunique() == 2 and "agrees with gpt-judge" in choices.columns
    # The other way round: against other-judge, from the URL.
    at = open_page("pages/3_Samples_and_SHAP.py", style_db, monkeypatch,
                   {"against": "other-judge", "disagree": "gpt-judge"})
    assert_clean(at)
    assert at.number_input(key="smp.pair").value == truth[0]


def test_similarity_with_one_judge(one_judge_db, monkeypatch):
    at = open_page("pages/2_Similarity.py", one_judge_db, monkeypatch)
    assert_clean(at)
    shown = texts(at)
    assert "Similarity compares the weights of two judges with fits, and this database has 1" in shown
    assert "Pick at least two judges" not in shown and "0 with a fit" not in shown
    assert not chart_specs(at) and not at.multiselect


def test_similarity_on_raw_pairs_defaults_to_a_group_with_two_judges(style_db, monkeypatch):
    at = open_page("pages/2_Similarity.py", style_db, monkeypatch)
    assert_clean(at)
    assert at.selectbox(key="sim.group").value == "All"  # no scenario groups, so no Overall
    spec = chart_specs(at)[0]
    assert spec["layer"][0]["encoding"]["y"]["axis"]["labelLimit"] == 0  # judge names show whole


def test_add_judge_compare_with_one_judge(one_judge_db, monkeypatch):
    at = open_page("pages/5_Add_judge.py", one_judge_db, monkeypatch)
    assert_clean(at)
    assert "Compare a judge with the others" in [s.value for s in at.subheader]
    assert "gpt\\-judge is the only judge with a fit of the style set" in texts(at)


def test_add_judge_compare_on_raw_pairs(style_db, monkeypatch):
    at = open_page("pages/5_Add_judge.py", style_db, monkeypatch)
    assert_clean(at)
    assert any("to the other judges (All)" in t for t in chart_titles(at))


def test_dissection_heatmap_marks_intervals_and_shows_names(style_db, monkeypatch):
    at = open_page("pages/1_Dissection.py", style_db, monkeypatch, {"view": "across", "judge": "gpt-judge"})
    assert_clean(at)
    spec = chart_specs(at)[0]
    rect = spec["layer"][0]
    assert rect["encoding"]["opacity"]["condition"]["test"] == "datum['spans_50']"
    titles = [t.get("title") for t in rect["encoding"]["tooltip"]]
    assert "95% interval %" in titles and "pairs fitted" in titles
    assert rect["encoding"]["x"]["axis"]["labelLimit"] == 0 and rect["encoding"]["y"]["axis"]["labelLimit"] == 0
    values = chart_rows(at)
    for cell in values:  # pale exactly where the interval holds 50
        lo, hi = (float(x) for x in cell["interval"].split(" – "))
        assert cell["spans_50"] == (lo <= 50 <= hi)
    assert any(c["spans_50"] for c in values) and any(not c["spans_50"] for c in values)
    assert "pale cells" in chart_titles(at)[0]
    at = open_page("pages/1_Dissection.py", style_db, monkeypatch)
    dots = chart_specs(at)[0]["layer"][2]
    assert dots["encoding"]["y"]["axis"]["labelLimit"] == 0
    assert dots["encoding"]["color"]["legend"]["labelLimit"] == 0


def test_models_page_compares_two_models(style_db, monkeypatch):
    at = open_page("pages/11_Models.py", style_db, monkeypatch)
    assert_clean(at)
    overview = at.dataframe[0].value
    assert set(overview["model"]) == set(MODELS)
    assert {"win rate · gpt-judge", "win rate · other-judge"} <= set(overview.columns)
    at.selectbox(key="mod.a").select(MODELS[0]).run()
    at.selectbox(key="mod.b").select("beta").run()
    assert_clean(at)
    assert any(t.startswith(f"{MODELS[0]} minus beta") for t in chart_titles(at))
    table = at.dataframe[-1].value
    expected = models.compare(style_db, MODELS[0], "beta")
    assert list(table["measure"]) == list(expected["measure"])
    assert table["difference"].tolist() == pytest.approx(expected["difference"].tolist())
    assert "beta" in str(at.query_params["b"])
    at.selectbox(key="mod.model").select("gamma").run()
    assert_clean(at)
    profile = at.dataframe[2].value
    assert dict(zip(profile["measure"], profile["share"]))["refusals"] > 0.8  # gamma refuses


def test_models_page_without_model_names(crowd_db, monkeypatch):
    at = open_page("pages/11_Models.py", crowd_db, monkeypatch)
    assert_clean(at)
    assert "No pair here names the models that wrote its responses" in texts(at)
    at = open_page("Home.py", crowd_db, monkeypatch)
    assert_clean(at)
    assert "29" not in " ".join(c.value for c in at.caption if "explained by" in c.value)
