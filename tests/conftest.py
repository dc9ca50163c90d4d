"""Fixtures shared by several test files. Append new ones; don't reshape the ones here."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# In CI every property-based suite replays the same generated cases (derandomized), so a run
# passes or fails for a reason; locally they explore new cases on each run.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
SHARED_REFERENCE = ROOT.parent / "shared" / "reference"  # CI keeps ../shared beside the repo
SHARED_REAL = ROOT.parent / "shared" / "real"  # real judgements (HH-RLHF, AlpacaEval): read, never copied
HH_RLHF = SHARED_REAL / "hh-rlhf" / "harmless-base-test.jsonl.gz"
ALPACA_EVAL = SHARED_REAL / "alpaca-eval"


@pytest.fixture(scope="session")
def shared_real() -> Path:
    """../shared/real, which CI always has; elsewhere the tests that need it are skipped, saying why."""
    if not SHARED_REAL.is_dir():
        pytest.skip(f"needs the real data in {SHARED_REAL} (CI keeps ../shared beside the repo)")
    return SHARED_REAL


@pytest.fixture(scope="session")
def demo_db_template(tmp_path_factory) -> Path:
    """The 5,240-pair demo database, loaded but not fitted, built once per test session (worker).

    Don't write to it: take `demo_db`, a private copy.
    """
    from pipeline.demo import build_demo

    db = tmp_path_factory.mktemp("demo-template") / "demo.duckdb"
    build_demo(db, fit=False)
    return db


@pytest.fixture
def demo_db(demo_db_template, tmp_path) -> Path:
    """A private, writable copy of the demo database (copying is much faster than building)."""
    db = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_db_template, db)
    return db


@pytest.fixture
def openai_stub():
    """A local OpenAI-compatible server on 127.0.0.1 (tests/openai_stub.py: faults, counters, batches)."""
    from openai_stub import OpenAIStub

    with OpenAIStub() as stub:
        yield stub


# ---------------------------------------------------------------- the dashboard's databases
# (tests/test_app_pages.py, tests/queries/, test_sqlguard.py, test_browser.py)

if str(ROOT) not in sys.path:  # the app's `ui` package lives beside Home.py, not in the installed package
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def demo_db_fitted(demo_db_template, tmp_path_factory) -> Path:
    """The demo database, fitted (every judge x group), built once per session. Read-only use."""
    from pipeline.model.fitting import fit_database

    db = tmp_path_factory.mktemp("demo-fitted") / "demo_fitted.duckdb"
    shutil.copyfile(demo_db_template, db)
    fit_database(db)
    return db


@pytest.fixture(scope="session")
def empty_db(tmp_path_factory) -> Path:
    """A database holding the schema and views only: no pairs, no judges, no fits."""
    from pipeline.store import db as dbmod

    db = tmp_path_factory.mktemp("empty") / "empty.duckdb"
    with dbmod.writing(db):
        pass
    return db


@pytest.fixture(scope="session")
def missing_db(tmp_path_factory) -> Path:
    """A path where no database exists."""
    return tmp_path_factory.mktemp("missing") / "nothing_here.duckdb"


@pytest.fixture(scope="session")
def imported_db(tmp_path_factory) -> Path | None:
    """The paper's published weights (reference/fitted_paras) imported into an empty database:
    fits for 33 judges and no pairs. None when the reference folder is not there."""
    folder = SHARED_REFERENCE / "fitted_paras"
    if not folder.is_dir():
        return None
    from pipeline.store import db as dbmod
    from pipeline.model.fitted_paras import import_fits

    db = tmp_path_factory.mktemp("imported") / "imported.duckdb"
    with dbmod.writing(db):
        pass
    import_fits(folder, db=db)
    return db


@pytest.fixture(scope="session")
def app_dbs(missing_db, empty_db, demo_db_template, demo_db_fitted, imported_db) -> dict[str, Path | None]:
    """The database states every page must handle: the four of the issue, and fits without pairs."""
    return {"missing": missing_db, "empty": empty_db, "unfitted": demo_db_template, "fitted": demo_db_fitted,
            "imported": imported_db}


# ---------------------------------------------------------------- the slow marker
# `make test-fast` runs `-m "not slow"`. Besides tests marked @pytest.mark.slow where they
# are written, these kinds are slow wherever they live: the browser, kill -9 runs, and
# anything on the fitted demo (building it fits 12 judges x every group).
SLOW_FIXTURES = {"demo_db_fitted", "app_dbs"}


# `make test` runs two workers, a file to a worker, in the order collected (`--dist loadfile
# --no-loadscope-reorder`): the files that take longest go first, so that neither worker is left
# alone with one of them at the end (the browser's file alone takes over three minutes). The other
# files keep their order.
LONGEST_FIRST = (
    "tests/test_browser.py", "tests/ingest/test_raw_bulk.py", "tests/store/test_concurrency.py",
    "tests/store/test_lake_concurrency.py", "tests/ingest/test_raw_bulk_ultrafeedback_json.py",
    "tests/ingest/test_raw_bulk_generic.py", "tests/store/test_lake.py", "tests/store/test_no_room.py",
    "tests/ingest/test_fuzz_battles.py", "tests/annotation/test_annotation_job.py", "tests/test_app_lake.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if (item.get_closest_marker("browser") or "sigkill" in item.name.lower()
                or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.slow)
    first = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: first.get(item.nodeid.split("::")[0], len(first)))  # stable: the rest keep their order


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server for DuckLake catalogs (tests/lakes.py): CI's, else one started here
    for this session (worker) when the server is installed, else the test is skipped."""
    import lakes

    found = lakes.from_environment()
    if found:
        yield found
        return
    if not lakes.server_installed():
        if os.environ.get("CI"):
            pytest.fail("CI runs the lake tests: .ci/run installs PostgreSQL and sets $PREFDISSECT_TEST_PG")
        pytest.skip("needs PostgreSQL (apt-get install postgresql; .ci/run installs and starts one)")
    server = lakes.start_cluster()
    # A run stopped from outside (SIGTERM, as a CI timeout sends) unwinds like Ctrl-C, so the
    # cluster is stopped below instead of left running.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield server
    finally:
        lakes.stop_cluster(server)
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture
def pg_lake(pg_server, tmp_path) -> tuple[str, Path]:
    """A new, empty lake with a PostgreSQL catalog: (the --db string, its data folder)."""
    return pg_server.lake(tmp_path)
