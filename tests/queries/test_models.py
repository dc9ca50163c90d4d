"""pipeline.queries.models: battles, win rates, style profiles and two-model comparisons, checked
against the same numbers recomputed in Python from the stored rows."""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from raw_battles import MODELS, build
from scipy.stats import binomtest

from pipeline.queries import models, samples

A, B = MODELS[0], "beta"


@pytest.fixture(scope="module")
def raw_db(tmp_path_factory):
    """160 raw battles of four models, two LLM judges, loaded (not fitted: the queries need no fit)."""
    return build(tmp_path_factory.mktemp("models"), {"judge-x": 0.2, "judge-y": 0.4}, fit=False)


def _df(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).df()


def test_battles_and_win_rates(raw_db):
    pairs = _df(raw_db, "SELECT model_1, model_2 FROM pairs")
    counts = pd.concat([pairs["model_1"], pairs["model_2"]]).value_counts()
    got = models.models(raw_db)
    assert dict(zip(got["model"], got["battles"])) == counts.to_dict()
    assert list(got["battles"]) == sorted(got["battles"], reverse=True)
    toks = _measures(raw_db)
    toks = toks[toks["measure"] == "tokens"].groupby("model")["value"]
    assert got.set_index("model")["median_tokens"].to_dict() == pytest.approx(toks.median().to_dict())
    assert got.set_index("model")["mean_tokens"].to_dict() == pytest.approx(toks.mean().to_dict())
    labels = _df(raw_db, "SELECT l.judge, l.preferred, p.model_1, p.model_2 FROM labels l JOIN pairs p USING (pair_id)")
    mine = labels[(labels["judge"] == "judge-x") & ((labels["model_1"] == A) | (labels["model_2"] == A))]
    wins = ((mine["model_1"] == A) & (mine["preferred"] == 1)) | ((mine["model_2"] == A) & (mine["preferred"] == 2))
    rates = models.win_rates(raw_db, A)
    row = rates[rates["judge"] == "judge-x"].iloc[0]
    assert row["n"] == len(mine) and row["wins"] == wins.sum()
    ci = binomtest(int(wins.sum()), len(mine)).proportion_ci(method="wilson")
    assert row["ci_low"] == pytest.approx(ci.low) and row["ci_high"] == pytest.approx(ci.high)
    assert set(models.win_rates(raw_db)["model"]) == set(MODELS)


def _measures(db) -> pd.DataFrame:
    """Each response's measures with the model that wrote it, recomputed from the stored rows."""
    return _df(db, """SELECT CASE m.side WHEN 1 THEN p.model_1 ELSE p.model_2 END AS model, m.measure, m.value
                      FROM response_measures m JOIN pairs p USING (pair_id)""")


def test_profile_from_the_measures(raw_db):
    prof = models.profile(raw_db, A)
    rows = _measures(raw_db)
    mine = rows[rows["model"] == A]
    assert list(prof["measure"])[:3] == ["tokens", "words", "characters"]  # the measures' fixed order
    assert set(prof["measure"]) == set(mine["measure"])
    for _, row in prof.iterrows():
        v = mine[mine["measure"] == row["measure"]]["value"]
        assert row["n"] == len(v) and row["mean"] == pytest.approx(v.mean())
        assert row["median"] == pytest.approx(v.median()) and row["share"] == pytest.approx((v > 0).mean())
    by = dict(zip(prof["measure"], prof["share"]))
    assert by["headers"] > 0.8 and by["refusals"] == 0  # alpha writes headers, never refuses
    assert models.profile(raw_db, "no such model").empty


def test_compare_from_the_measures(raw_db):
    diff = models.compare(raw_db, A, B)
    rows = _measures(raw_db)
    assert list(diff["measure"])[:3] == ["tokens", "words", "characters"] and len(diff) == 12
    for _, row in diff.iterrows():
        a = rows[(rows["model"] == A) & (rows["measure"] == row["measure"])]["value"]
        b = rows[(rows["model"] == B) & (rows["measure"] == row["measure"])]["value"]
        if row["measure"] in models.LENGTH_MEASURES:  # means, Welch's interval
            assert row["statistic"] == "mean" and row["difference"] == pytest.approx(a.mean() - b.mean())
            se = np.sqrt(a.var() / len(a) + b.var() / len(b))
            assert (row["ci_low"], row["ci_high"]) == pytest.approx(
                (a.mean() - b.mean() - models.Z95 * se, a.mean() - b.mean() + models.Z95 * se))
        else:  # shares with at least one, Newcombe's interval
            pa, pb = (a > 0).mean(), (b > 0).mean()
            assert row["statistic"] == "share" and row["difference"] == pytest.approx(pa - pb)
            assert (row["ci_low"], row["ci_high"]) == pytest.approx(models.newcombe(pa, len(a), pb, len(b)))
        assert row["differs"] == (row["ci_low"] > 0 or row["ci_high"] < 0)
        assert (row["n_a"], row["n_b"]) == (len(a), len(b))
    by = diff.set_index("measure")
    assert by.loc["headers", "differs"] and by.loc["headers", "difference"] > 0
    assert by.loc["questions", "difference"] < 0  # beta asks the user
    assert not by.loc["emoji", "differs"]  # nobody writes emoji
    assert models.compare(raw_db, A, "no such model").empty


def test_newcombe_and_wilson_match_the_published_values():
    # Newcombe (1998), Statistics in Medicine 17, 873-890, table II, method 10.
    assert models.newcombe(56 / 70, 70, 48 / 80, 80) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    assert models.newcombe(9 / 10, 10, 3 / 10, 10) == pytest.approx((0.1705, 0.8090), abs=5e-5)
    assert models.newcombe(5 / 56, 56, 0.0, 29) == pytest.approx((-0.0381, 0.1926), abs=5e-5)
    low, high = models.wilson(np.array([3.0]), np.array([10.0]))
    ci = binomtest(3, 10).proportion_ci(method="wilson")
    assert (low[0], high[0]) == pytest.approx((ci.low, ci.high))


@settings(max_examples=300, deadline=None)
@given(na=st.integers(1, 500), nb=st.integers(1, 500), ka=st.integers(0, 500), kb=st.integers(0, 500))
def test_newcombe_interval_holds_the_difference(na, nb, ka, kb):
    ka, kb = min(ka, na), min(kb, nb)
    pa, pb = ka / na, kb / nb
    lo, hi = models.newcombe(pa, na, pb, nb)
    assert -1 - 1e-9 <= lo <= pa - pb <= hi <= 1 + 1e-9
    assert hi - lo > 0  # never a point, even at 0 or 1


def test_samples_words_come_from_the_measures(raw_db, tmp_path):
    """A pair's word counts: num_words, else the stored `words` measure, else the text's."""
    db = tmp_path / "words.duckdb"
    shutil.copyfile(raw_db, db)
    pid = int(_df(db, "SELECT min(pair_id) AS p FROM pairs")["p"][0])
    stored = _df(db, f"SELECT value FROM response_measures WHERE pair_id = {pid} AND side = 1 AND measure = 'words'")
    assert samples.pair_detail(db, pid)["pair"]["num_words_1"] == stored["value"][0]
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE pairs SET num_words_1 = NULL, num_words_2 = NULL WHERE pair_id = ?", [pid])
        con.execute("UPDATE response_counts SET words = 1234 WHERE pair_id = ? AND side = 1", [pid])
        con.execute("DELETE FROM response_counts WHERE pair_id = ? AND side = 2", [pid])
    d = samples.pair_detail(db, pid)["pair"]
    assert d["num_words_1"] == 1234 and d["num_words_2"] == len(d["response_2"].split())
    assert samples.pair_list(db, [pid])["num_words_1"][0] == 1234


def test_a_crowd_without_model_names(tmp_path):
    db = build(tmp_path, {"human": 0.3}, n=40, with_models=False, fit=False)
    assert models.models(db).empty and models.win_rates(db).empty
    assert models.compare(db, "a", "b").empty and models.profile(db, "a").empty


JUDGES = ("judge-x", "judge-y")
names = st.one_of(st.sampled_from(MODELS + list(JUDGES)), st.text(max_size=40))


@pytest.mark.slow  # 40 examples, a read of the database each
@settings(max_examples=40, deadline=None)
@given(a=names, b=names)
def test_any_model_names_are_bound_not_formatted(raw_db, a, b):
    """Model names come from the URL: any text is a bound value, and an unknown one gives nothing."""
    diff = models.compare(raw_db, a, b)
    assert diff.empty == (a not in MODELS or b not in MODELS)
    assert ((diff["ci_low"] <= diff["difference"]) & (diff["difference"] <= diff["ci_high"])).all()


@pytest.mark.slow  # 40 examples, a read of the database each
@settings(max_examples=40, deadline=None)
@given(against=names, other=names)
def test_disagreement_filter_with_any_judge_names(raw_db, against, other):
    ids = samples.filter_pair_ids(raw_db, samples.PairFilter(disagree=(other,), against=against))
    if against == other:  # a judge compared with itself is no filter
        assert len(ids) == 160
    elif against in JUDGES and other in JUDGES:
        assert 0 < len(ids) < 160
    else:
        assert ids == []
