"""A small fitted database shared by the read-out tests (tests/answers/test_readouts.py, tests/queries/):
generated pairs in three scenario groups, every judge fitted, and one judge's weights as an array."""

from __future__ import annotations

import numpy as np
import pytest

from dbquery import rows
from pipeline.demo import generate_records
from pipeline.model.fitting import fit_database
from pipeline.ingest.release_load import load_records
from pipeline.properties.paper import PROPERTY_NAMES

SIZES = {"Code": 90, "Advice": 70, "Others": 60}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """Import it into a test module (`from small_fit import fitted`); built once per module, read only."""
    db = tmp_path_factory.mktemp("readouts") / "r.duckdb"
    load_records(generate_records(seed=3, group_sizes=SIZES), source="readouts-test", db=db)
    fit_database(db, min_labels=20)
    return db


def weights(db, judge, group) -> np.ndarray:
    got = dict(rows(db, "SELECT property, weight FROM fits WHERE judge = ? AND group_name = ?", [judge, group]))
    return np.array([got[p] for p in PROPERTY_NAMES])
