"""pipeline.queries.status: what the database holds, in each state the app meets."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.queries import catalog, dissection, similarity, status


def test_status_of_each_state(app_dbs):
    states = {name: status.status(path) for name, path in app_dbs.items()}
    assert states["missing"].state == "missing" and not states["missing"].exists
    assert states["empty"].state == "empty" and states["empty"].n_pairs == 0
    un = states["unfitted"]
    assert un.state == "unfitted" and un.n_pairs == 5240 and un.n_judges == 12 and un.n_groups == 17  # 16 + All
    assert un.generated and not un.real and not un.has_fits
    fi = states["fitted"]
    assert fi.state == "fitted" and fi.n_fit_rows == 12 * 17 and fi.last_fit is not None


def test_imported_weights_without_pairs(imported_db):
    if imported_db is None:
        pytest.skip("needs ../shared/reference/fitted_paras")
    st = status.status(imported_db)
    assert st.state == "fitted" and st.n_pairs == 0 and st.n_fitted_judges == 33
    assert catalog.default_judges(imported_db) == ["human", "gpt-4-1106-preview"]  # gpt-4-turbo's dated name
    df = dissection.preference_probability(imported_db, "Advice", ["human"])
    assert len(df) == 29 and df["prob_low"].isna().all()  # imports carry no intervals
    assert similarity.similarity(imported_db).shape == (33, 33)


def test_status_of_a_file_without_our_tables(tmp_path):
    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()
    assert status.status(path).state == "no-schema"


def test_status_of_raw_battles_fitted_on_style(tmp_path):
    """Counts the pages print come from here: no paper annotations, so the working set is style."""
    from raw_battles import build

    db = build(tmp_path, {"judge-x": 0.2}, n=60)
    st = status.status(db)
    assert st.n_pairs == 60 and st.n_annotated == 0 and not st.has_paper_annotations
    assert st.fitted_sets == ["style"] and st.working_set == "style"
    assert st.n_properties("style") == 10 and st.n_properties("paper") == 29
    assert st.n_properties("paper+style") == 39 and st.n_properties("custom") == 0
