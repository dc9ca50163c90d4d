"""The Statistics page (AppTest) on raw pairs and on the demo: measures, the per-model style
profile, length effect from the measures, agreement with the position-adjusted kappa and
intervals, and the paper's tables only where paper annotations exist (else one sentence why)."""

from __future__ import annotations

import gzip

import pytest
from test_app_pages import assert_clean, chart_specs, chart_titles, open_page, texts

pytestmark = pytest.mark.slow  # AppTest runs of whole pages on loaded databases, as tests/test_app_pages.py

PAGE = "pages/4_Statistics.py"
VIEWS = ["measures", "models", "length", "agreement", "correlation", "properties", "prerequisites"]


@pytest.fixture(scope="module")
def alpaca_db(shared_real, tmp_path_factory):
    """Raw AlpacaEval pairs of three models: one LLM judge, model names, no paper annotations."""
    from pipeline.ingest.loader import load_source

    folder = tmp_path_factory.mktemp("alpaca")
    db = folder / "alpaca.duckdb"
    for name in ("gpt-3.5-turbo-1106_verbose", "gpt-3.5-turbo-1106_concise", "claude-2"):
        path = folder / f"{name}.annotations.json"
        path.write_bytes(gzip.decompress((shared_real / "alpaca-eval" / f"{name}.annotations.json.gz").read_bytes()))
        load_source(str(path), db=db)
    return db


@pytest.fixture(scope="module")
def hh_db(shared_real, tmp_path_factory):
    """Raw HH-RLHF pairs: human crowd as the only judge, no model names."""
    from pipeline.ingest.loader import load_source

    folder = tmp_path_factory.mktemp("hh")
    path = folder / "hh.jsonl"
    path.write_bytes(gzip.decompress((shared_real / "hh-rlhf" / "harmless-base-test.jsonl.gz").read_bytes()))
    db = folder / "hh.duckdb"
    load_source(str(path), db=db)
    return db


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_on_raw_pairs_shows_content_or_says_why(view, alpaca_db, monkeypatch):
    at = open_page(PAGE, alpaca_db, monkeypatch, {"view": view})
    assert_clean(at)
    shown = texts(at)
    assert "29 properties" not in shown and "None" not in shown
    if view in ("properties", "prerequisites"):
        assert "No pair here has the paper's annotations" in shown and "pipeline annotate" in shown
        assert not chart_specs(at)
    elif view == "correlation":
        assert chart_specs(at) or "No pair has features of the property set" in shown
    elif view == "agreement":  # one judge: tests below
        assert "nothing to compare" in shown
    else:
        assert chart_specs(at), view


def test_measures_view_switches_measure(alpaca_db, monkeypatch):
    at = open_page(PAGE, alpaca_db, monkeypatch, {"view": "measures"})
    assert "Distribution of tokens" in chart_titles(at)[0]
    summary = at.dataframe[0].value
    assert list(summary["measure"][:3]) == ["tokens", "words", "characters"] and (summary["responses"] > 4000).all()
    at.selectbox(key="stats.measure").set_value("list_items").run()
    assert "Distribution of list_items" in chart_titles(at)[0]


def test_models_view_has_the_verbose_variant_longer(alpaca_db, monkeypatch):
    at = open_page(PAGE, alpaca_db, monkeypatch, {"view": "models"})
    assert_clean(at)
    df = at.dataframe[0].value.set_index("model")
    assert df.loc["gpt-3.5-turbo-1106_verbose", "median_tokens"] > df.loc["gpt-3.5-turbo-1106_concise", "median_tokens"]
    assert {"gpt4_1106_preview", "claude-2"} <= set(df.index)
    assert df["share_lists"].between(0, 100).all() and df["share_lists"].max() > 1  # shown in percent


def test_one_judge_gets_one_sentence_instead_of_a_matrix(alpaca_db, monkeypatch):
    at = open_page(PAGE, alpaca_db, monkeypatch, {"view": "agreement"})
    assert_clean(at)
    shown = texts(at).replace("\\", "")  # markdown escapes of the name
    assert "Only one judge (weighted_alpaca_eval_gpt4_turbo) has labels here, so there is nothing to compare" in shown
    assert not chart_specs(at)


def test_length_effect_counts_raw_pairs(alpaca_db, monkeypatch):
    at = open_page(PAGE, alpaca_db, monkeypatch, {"view": "length"})
    df = at.dataframe[0].value
    assert len(df) == 1 and df["n"].iloc[0] > 2000
    assert df["longer_low"].iloc[0] < df["longer_win_rate"].iloc[0] < df["longer_high"].iloc[0]


def test_pairs_without_model_names_say_why_there_is_no_profile(hh_db, monkeypatch):
    at = open_page(PAGE, hh_db, monkeypatch, {"view": "models"})
    assert_clean(at)
    assert "name no response model" in texts(at) and not chart_specs(at)
    at = open_page(PAGE, hh_db, monkeypatch, {"view": "length"})
    assert chart_specs(at) and at.dataframe[0].value["n"].iloc[0] > 500


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_on_the_demo(view, demo_db_template, monkeypatch):
    at = open_page(PAGE, demo_db_template, monkeypatch, {"view": view})
    assert_clean(at)
    assert chart_specs(at), view
    assert "No pair here has the paper's annotations" not in texts(at)


def test_agreement_on_the_demo_offers_the_position_adjusted_kappa_with_intervals(demo_db_template, monkeypatch):
    at = open_page(PAGE, demo_db_template, monkeypatch, {"view": "agreement"})
    at.button_group(key="stats.metric").set_value("kappa_position").run()
    assert_clean(at)
    assert "position-adjusted kappa" in chart_titles(at)[0]
    pairs = at.dataframe[0].value
    assert len(pairs) == 12 * 11 // 2
    assert (pairs["kappa_position_low"] <= pairs["kappa_position"]).all()
    assert (pairs["agreement_low"] <= pairs["agreement"]).all() and (pairs["agreement"] <= pairs["agreement_high"]).all()
