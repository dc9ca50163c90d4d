"""pipeline.queries.samples: filters, paging, one pair's details."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from pipeline.properties.paper import PROPERTY_NAMES
from pipeline.queries import samples, status
from pipeline.queries.samples import PairFilter


def _sql(db, sql, params=()):
    with duckdb.connect(str(db), read_only=True) as con:
        return [r[0] for r in con.execute(sql, list(params)).fetchall()]


def test_filters(demo_db_fitted):
    db = demo_db_fitted
    assert len(samples.filter_pair_ids(db)) == 5240
    code = samples.filter_pair_ids(db, PairFilter(scenarios=("Code",)))
    assert code == _sql(db, "SELECT pair_id FROM pairs WHERE scenario_group = 'Code' ORDER BY 1")
    grp = samples.filter_pair_ids(db, PairFilter(group="Express Feelings or Emotions"))
    assert len(grp) == 121
    model = samples.filter_pair_ids(db, PairFilter(model="gpt-4"))
    assert model == _sql(db, "SELECT pair_id FROM pairs WHERE 'gpt-4' IN (model_1, model_2) ORDER BY 1")
    dis = samples.filter_pair_ids(db, PairFilter(disagree=("gpt-4-turbo", "llama-2-7b")))
    expected = _sql(db, """SELECT h.pair_id FROM labels h JOIN labels a USING (pair_id) JOIN labels b USING (pair_id)
                           WHERE h.judge = 'human' AND a.judge = 'gpt-4-turbo' AND b.judge = 'llama-2-7b'
                             AND a.preferred <> h.preferred AND b.preferred <> h.preferred ORDER BY 1""")
    assert dis == expected and 0 < len(dis) < 5240
    text = samples.filter_pair_ids(db, PairFilter(text="PRIME Numbers"))
    assert text and text == _sql(db, "SELECT pair_id FROM pairs WHERE lower(query || response_1 || response_2) "
                                     "LIKE '%prime numbers%' ORDER BY 1")
    both = samples.filter_pair_ids(db, PairFilter(scenarios=("Code",), text="prime numbers"))
    assert set(both) == set(code) & set(text)


@pytest.mark.parametrize("text", ["x' OR 1=1 --", "%", "_", "'; DROP TABLE pairs; --", "\\"])
def test_text_search_is_bound_not_formatted(demo_db_fitted, text):
    assert samples.filter_pair_ids(demo_db_fitted, PairFilter(text=text)) == []
    assert status.status(demo_db_fitted).n_pairs == 5240


def test_pair_list_and_detail(demo_db_fitted):
    rows = samples.pair_list(demo_db_fitted, [3, 1, 2])
    assert list(rows["pair_id"]) == [1, 2, 3] and rows["human"].str.startswith("response").all()
    d = samples.pair_detail(demo_db_fitted, 1)
    assert d["pair"]["pair_id"] == 1 and d["pair"]["query"]
    assert len(d["labels"]) == 12 and d["labels"]["judge"].iloc[0] == "human"
    assert len(d["ratings"]) == 20 and {"response 1", "response 2"} <= set(d["ratings"].columns)
    assert list(d["ratings"]["property"]) == [p for p in PROPERTY_NAMES if p in set(d["ratings"]["property"])]
    assert d["groups"][:2] == ["All", d["pair"]["scenario_group"]]  # All: every pair
    table = samples.feature_table(d)
    assert list(table["property"][:29]) == PROPERTY_NAMES
    assert samples.pair_detail(demo_db_fitted, 999_999) is None


def test_choices_of_the_judges(demo_db_fitted):
    d = samples.pair_detail(demo_db_fitted, 1)
    human = samples.choice_of(d["labels"], "human")
    table = samples.choices_table(d["labels"])
    assert list(table.columns) == ["judge", "chose", "agrees with human", "kind"]
    assert table["agrees with human"].iloc[0] and table["chose"].iloc[0] == f"response {human}"
    assert samples.choice_of(d["labels"], "nobody") is None
    assert samples.choice_of(pd.DataFrame(), "human") is None
    with_f = samples.with_features(d["ratings"], d["features"])
    assert set(with_f["feature"].dropna()) <= {-1, 0, 1}


def test_paging_and_filter_changes():
    ids = [2, 5, 9, 14]
    assert samples.step(ids, 5, 1) == 9 and samples.step(ids, 5, -1) == 2
    assert samples.step(ids, 6, 1) == 9 and samples.step(ids, 6, -1) == 5  # from a pair outside the filter
    assert samples.step(ids, 14, 1) == 14 and samples.step(ids, 2, -1) == 2  # the ends stay
    many = list(range(0, 300, 3))
    assert samples.page_of(many, 0) == (0, many[:50])
    assert samples.page_of(many, 151) == (50, many[50:100])
    assert samples.page_of(many, 10_000)[0] == 50  # past the end: the last page
    assert samples.after_filter_change(None, "a", ids, 3) is None  # first run
    assert samples.after_filter_change("a", "a", ids, 3) is None  # unchanged
    assert samples.after_filter_change("a", "b", ids, 9) is None  # the pair still matches
    assert samples.after_filter_change("a", "b", ids, 3) == 2
    assert samples.after_filter_change("a", "b", [], 3) is None
    assert samples.position_text(ids, 9, 100) == "Pair 3 of 4 matching the filters (100 in all)."
    assert samples.position_text([], 9, 100) == "No pair matches the filters."
    assert "not one of them" in samples.position_text(ids, 3, 100)
