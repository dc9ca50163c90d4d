"""pipeline.queries.statistics on the measures: coverage, the measure summary and histogram,
model_style and the length effect's interval, against values computed here."""

from __future__ import annotations

import json

import numpy as np
import pytest
from dbquery import rows
from scipy.stats import binomtest

from pipeline.ingest.loader import load_source
from pipeline.properties.measures import MEASURES
from pipeline.queries import statistics


@pytest.fixture(scope="module")
def raw_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stats")
    path = folder / "b.jsonl"
    path.write_text("".join(json.dumps({
        "prompt": f"q{i}", "model_a": "m1", "model_b": "m2" if i % 2 else "",
        "response_a": "word " * (i + 1), "response_b": "- item\n" * (i % 3) + "end",
        "winner": "model_a" if i % 3 else "model_b"}) + "\n" for i in range(40)))
    db = folder / "s.duckdb"
    load_source(str(path), db=db)
    return db


def test_coverage(raw_db):
    got = statistics.coverage(raw_db)
    assert (got["n_pairs"], got["n_annotated"], got["n_with_models"], got["n_measured"]) == (40, 0, 40, 40)
    assert list(got["judges"]) == ["human"]


def test_measure_summary_against_the_rows(raw_db):
    summary = statistics.measure_summary(raw_db).set_index("measure")
    assert list(summary.index) == MEASURES
    for measure in ("tokens", "list_items"):
        values = np.array([v for (v,) in rows(raw_db, "SELECT value FROM response_measures WHERE measure = ?",
                                               [measure])])
        got = summary.loc[measure]
        assert got["responses"] == 80 and got["mean"] == pytest.approx(values.mean())
        assert got["median"] == pytest.approx(np.median(values)) and got["p90"] == pytest.approx(np.quantile(values, 0.9))
        assert got["share_nonzero"] == pytest.approx((values > 0).mean())


def test_measure_histogram_holds_every_response(raw_db):
    hist = statistics.measure_histogram(raw_db, "tokens")
    assert hist["responses"].sum() == 80 and (hist["bin_end"] > hist["bin_start"]).all()
    assert statistics.measure_histogram(raw_db, "no such measure").empty


def test_model_style_leaves_out_responses_without_a_model(raw_db):
    df = statistics.model_style(raw_db).set_index("model")
    assert df.loc["m1", "responses"] == 40 and df.loc["m2", "responses"] == 20 and "" not in df.index
    assert df.loc["m2", "share_lists"] == pytest.approx(np.mean([(i % 3) > 0 for i in range(1, 40, 2)]))


def test_length_effect_interval_is_wilson(raw_db):
    df = statistics.length_effect(raw_db)
    n, rate = int(df["n"].iloc[0]), df["longer_win_rate"].iloc[0]
    ci = binomtest(round(rate * n), n).proportion_ci(0.95, method="wilson")
    assert (df["longer_low"].iloc[0], df["longer_high"].iloc[0]) == pytest.approx((ci.low, ci.high), rel=1e-6)
