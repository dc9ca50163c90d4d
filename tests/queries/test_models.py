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
    labels = _df(raw_db, "SELECT l.judge, l.preferred, p.model_1, p.model_2 FROM labels l JOIN pairs p USING (pair_id)")
    mine = labels[(labels["judge"] == "judge-x") & ((labels["model_1"] == A) | (labels["model_2"] == A))]
    wins = ((mine["model_1"] == A) & (mine["preferred"] == 1)) | ((mine["model_2"] == A) & (mine["preferred"] == 2))
    rates = models.win_rates(raw_db, A)
    row = rates[rates["judge"] == "judge-x"].iloc[0]
    assert row["n"] == len(mine) and row["wins"] == wins.sum()
    ci = binomtest(int(wins.sum()), len(mine)).proportion_ci(method="wilson")
    assert row["ci_low"] == pytest.approx(ci.low) and row["ci_high"] == pytest.approx(ci.high)
    assert set(models.win_rates(raw_db)["model"]) == set(MODELS)


def _signed_features(db) -> pd.DataFrame:
    """Each model's side of each style feature, recomputed from the stored features."""
    f = _df(db, """SELECT f.pair_id, f.property, f.value, p.model_1, p.model_2 FROM features f
                   JOIN pairs p USING (pair_id) JOIN properties q USING (property) WHERE q.property_set = 'style'""")
    one = f.assign(model=f["model_1"], more=f["value"])
    two = f.assign(model=f["model_2"], more=-f["value"])
    return pd.concat([one, two])[["model", "property", "more"]]


def test_profile_from_style_features(raw_db):
    prof, origin = models.profile(raw_db, A)
    assert origin == "features" and models.source(raw_db) == "features"
    s = _signed_features(raw_db)
    s = s[s["model"] == A]
    for _, row in prof.iterrows():
        mine = s[s["property"] == row["measure"]]["more"]
        assert row["n"] == len(mine)
        assert row["share"] == pytest.approx((mine == 1).mean()) and row["share_less"] == pytest.approx((mine == -1).mean())
    by = dict(zip(prof["measure"], prof["share"]))
    assert by["markdown headers"] > 0.3 and by["refusals & apologies"] == 0  # alpha writes headers, never refuses
    assert list(prof["measure"])[0] == "length (tokens)"  # the set's own order


def test_compare_from_style_features(raw_db):
    diff, origin = models.compare(raw_db, A, B)
    assert origin == "features" and len(diff) == 10
    s = _signed_features(raw_db)
    for _, row in diff.iterrows():
        a = s[(s["model"] == A) & (s["property"] == row["measure"])]["more"].eq(1)
        b = s[(s["model"] == B) & (s["property"] == row["measure"])]["more"].eq(1)
        assert row["difference"] == pytest.approx(a.mean() - b.mean())
        lo, hi = models.newcombe(a.mean(), len(a), b.mean(), len(b))
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi))
        assert row["differs"] == (lo > 0 or hi < 0)
    by = diff.set_index("measure")
    assert by.loc["markdown headers", "differs"] and by.loc["markdown headers", "difference"] > 0
    assert by.loc["questions to the user", "difference"] < 0  # beta asks the user
    assert not by.loc["emoji", "differs"]  # nobody writes emoji
    assert models.compare(raw_db, A, "no such model")[0].empty


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


def test_profile_and_compare_from_measures(raw_db, tmp_path):
    """Where the schema has response_measures, the profile and comparison read it: lengths by their
    mean (Welch interval), counts by the share of responses with at least one."""
    db = tmp_path / "measures.duckdb"
    shutil.copyfile(raw_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE response_measures (pair_id BIGINT, side TINYINT, measure VARCHAR, value DOUBLE)")
        con.execute("""INSERT INTO response_measures
            SELECT pair_id, s.side, 'words', len(regexp_extract_all(CASE s.side WHEN 1 THEN response_1 ELSE response_2 END, '\\S+'))
            FROM pairs, (VALUES (1), (2)) s(side)""")
        con.execute("""INSERT INTO response_measures
            SELECT pair_id, s.side, 'headers', len(regexp_extract_all(CASE s.side WHEN 1 THEN response_1 ELSE response_2 END, '(?m)^# '))
            FROM pairs, (VALUES (1), (2)) s(side)""")
    assert models.source(db) == "measures"
    rows = _df(db, """SELECT CASE m.side WHEN 1 THEN p.model_1 ELSE p.model_2 END AS model, m.measure, m.value
                      FROM response_measures m JOIN pairs p USING (pair_id)""")
    prof, origin = models.profile(db, A)
    assert origin == "measures" and set(prof["measure"]) == {"words", "headers"}
    words_a = rows[(rows["model"] == A) & (rows["measure"] == "words")]["value"]
    words_b = rows[(rows["model"] == B) & (rows["measure"] == "words")]["value"]
    w = prof.set_index("measure").loc["words"]
    assert w["mean"] == pytest.approx(words_a.mean()) and w["median"] == pytest.approx(words_a.median())
    diff = models.compare(db, A, B)[0].set_index("measure")
    assert diff.loc["words", "statistic"] == "mean"
    assert diff.loc["words", "difference"] == pytest.approx(words_a.mean() - words_b.mean())
    se = np.sqrt(words_a.var() / len(words_a) + words_b.var() / len(words_b))
    assert diff.loc["words", "ci_high"] == pytest.approx(words_a.mean() - words_b.mean() + models.Z95 * se)
    heads_a = rows[(rows["model"] == A) & (rows["measure"] == "headers")]["value"]
    assert diff.loc["headers", "statistic"] == "share" and diff.loc["headers", "a"] == pytest.approx((heads_a > 0).mean())
    assert diff.loc["headers", "a"] > 0.8  # alpha writes headers but in its plain answers
    assert diff.loc["headers", "b"] == 0.0 and diff.loc["headers", "differs"]
    # The Samples page reads a raw pair's words from the measures (the text count where none).
    pid = int(_df(db, "SELECT min(pair_id) AS p FROM pairs")["p"][0])
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE response_measures SET value = 1234 WHERE pair_id = ? AND side = 1 AND measure = 'words'",
                    [pid])
    assert samples.pair_detail(db, pid)["pair"]["num_words_1"] == 1234
    text_words = len(samples.pair_detail(raw_db, pid)["pair"]["response_1"].split())
    assert samples.pair_detail(raw_db, pid)["pair"]["num_words_1"] == text_words
    assert samples.pair_list(db, [pid])["num_words_1"][0] == 1234


def test_a_crowd_without_model_names(tmp_path):
    db = build(tmp_path, {"human": 0.3}, n=40, with_models=False, fit=False)
    assert models.models(db).empty and models.win_rates(db).empty
    assert models.compare(db, "a", "b")[0].empty
