"""pipeline.queries.shap: SHAP of stored pairs (moved from tests/test_explore.py and test_readouts.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dbquery import rows
from pipeline.properties.paper import PROPERTY_NAMES
from pipeline.queries import shap
from small_fit import fitted, weights  # noqa: F401 - `fitted` is a fixture



def test_pair_shap_adds_up(demo_db_fitted):
    exp = shap.shap_for_pair(demo_db_fitted, "human", "Code", 400)
    frame, x = exp["frame"], exp["frame"].set_index("property")
    assert exp["base"] == pytest.approx(0.5)
    assert math.isclose(frame["shap"].sum(), exp["fx"] - exp["base"], abs_tol=1e-6)
    assert (x.loc[x["feature"] == 0, "shap"] == 0).all()
    w = x["weight"].to_numpy()
    assert math.isclose(exp["fx"], 1 / (1 + math.exp(-(x["feature"].to_numpy() @ w))))
    assert shap.shap_for_pair(demo_db_fitted, "nobody", "Code", 400) is None
    unusable = rows(demo_db_fitted, "SELECT pair_id FROM pairs WHERE NOT usable LIMIT 1")
    assert shap.shap_for_pair(demo_db_fitted, "human", "Code", unusable[0][0]) is None
    assert shap.shap_groups(demo_db_fitted, "human", ["Unclear User Intent", "Code", "nowhere"]) == \
        ["Code", "Unclear User Intent"]


def test_pair_shap_from_the_database(fitted):
    pair_id, = rows(fitted, """SELECT pair_id FROM features JOIN pair_groups USING (pair_id)
                               WHERE group_name = 'Code' AND value <> 0
                               GROUP BY pair_id HAVING count(*) BETWEEN 6 AND 12
                               ORDER BY pair_id LIMIT 1""")[0]
    e = shap.pair_shap(fitted, judge="human", group="Code", pair_id=pair_id)
    x = np.array([dict(rows(fitted, "SELECT property, value FROM features WHERE pair_id = ?", [pair_id]))[p]
                  for p in PROPERTY_NAMES], dtype=float)
    assert np.array_equal(e.features, x) and np.array_equal(e.weights, weights(fitted, "human", "Code"))
    assert e.values.sum() == pytest.approx(e.fx - 0.5, abs=1e-12) and np.all(e.values[x == 0] == 0)
    assert e.source == "fit" and e.as_dict()["fx"] == e.fx
    with pytest.raises(ValueError, match="no fit"):
        shap.pair_shap(fitted, judge="nobody", group="Code", pair_id=pair_id)
    with pytest.raises(ValueError, match="no features"):
        shap.pair_shap(fitted, judge="human", group="Code", pair_id=10**6)
