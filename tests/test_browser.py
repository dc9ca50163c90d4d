"""The running app in a real browser: headless Chromium (Debian's package) driven by Playwright.

Starts `streamlit run Home.py` on a free 127.0.0.1 port over the fitted demo database,
opens every page, checks that no error box or exception is shown, and saves a screenshot
of each page under tests/screenshots/ (git-ignored). Skips only when Chromium is not
installed (`apt-get install chromium`; `make browser-deps` does it).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "tests" / "screenshots"

# url path -> (file stem for the screenshot, what must be on the page once it has rendered)
PAGES = {
    "": ("0_home", "What is loaded"),
    "Dissection": ("1_dissection", "Probability of preferred"),
    "Similarity": ("2_similarity", "Correlation"),
    "Samples_and_SHAP": ("3_samples_and_shap", "Why did the judge choose this?"),
    "Statistics": ("4_statistics", "Property scores"),
    "Add_judge": ("5_add_judge", "Add judge"),
    "Annotate": ("6_annotate", "Annotate"),
    "SQL": ("7_sql", "Tables and views"),
    "Groups": ("8_groups", "Add a group"),
    "Leaderboard": ("9_leaderboard", "No leaderboard stored yet"),      # says what to run
    "What_if": ("10_what_if", "Measured win rate now"),
}
CHART_PAGES = {"Dissection", "Similarity", "Samples_and_SHAP", "Statistics"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError("streamlit did not become healthy")


@contextmanager
def serve(db: Path, log: Path, **env_extra: str):
    """`streamlit run Home.py` on a free 127.0.0.1 port over `db`; yields its URL."""
    port = _free_port()
    env = dict(os.environ, PREFDISSECT_DB=str(db), **env_extra)
    cmd = [sys.executable, "-m", "streamlit", "run", "Home.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def app_url(demo_db_fitted, tmp_path_factory):
    with serve(demo_db_fitted, tmp_path_factory.mktemp("streamlit") / "streamlit.log") as url:
        yield url


def _launch(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def _settle(page, must_see: str, charts: bool, timeout_ms: int = 60_000) -> None:
    """Wait until the script run is over and the page shows what it should."""
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=timeout_ms)
    page.get_by_text(must_see).first.wait_for(timeout=timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    quiet_since = None
    while time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        if running:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 1.0:
            break
        time.sleep(0.2)
    # Tables, code blocks and page links load their code lazily and show grey placeholders
    # meanwhile: a screenshot taken then (the first page visited) showed empty boxes.
    while page.locator('[data-testid="stSkeleton"]').count() and time.monotonic() < deadline:
        time.sleep(0.2)
    if charts:
        page.wait_for_selector(".vega-embed canvas, .vega-embed svg", timeout=timeout_ms)
        page.wait_for_timeout(500)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_every_page_in_chromium(app_url):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 2200})
            console_errors = []
            page.on("pageerror", lambda exc: console_errors.append(str(exc)))
            for path, (stem, must_see) in PAGES.items():
                if path and not list((ROOT / "pages").glob(f"*_{path}.py")):
                    continue
                page.goto(f"{app_url}/{path}", wait_until="domcontentloaded")
                _settle(page, must_see, charts=path in CHART_PAGES)
                page.screenshot(path=str(SCREENSHOTS / f"{stem}.png"), full_page=True)
                n_exc = page.locator('[data-testid="stException"]').count()
                n_err = page.locator('[data-testid="stAlertContentError"]').count()
                if n_exc or n_err:
                    problems.append(f"/{path}: {n_exc} exception(s), {n_err} error box(es): "
                                    + page.locator('[data-testid="stException"], '
                                                   '[data-testid="stAlertContentError"]').first.inner_text()[:500])
                if "Generated demo data" not in page.inner_text("body"):
                    problems.append(f"/{path}: the demo data is not marked as generated")
            assert not console_errors, console_errors
        finally:
            browser.close()
    assert not problems, problems


def _errors_on(page) -> list[str]:
    loc = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    return [loc.nth(i).inner_text()[:500] for i in range(loc.count())]


# The answer pages with something to show: url (with its selection) -> (screenshot stem, text that must show)
ANSWER_VISITS = {
    "Leaderboard?judge=human&group=All&control=style": ("9b_leaderboard_style", "The control's own weights"),
    "What_if?judge=human&model=gpt-4&mode=upper+bound": ("10b_what_if_stored", "Read from the forecasts table"),
    "Dissection?group=All&properties=style": ("1b_dissection_style_differ", "How two judges differ"),
    "Groups": ("8b_groups_custom", "Fit or remove a custom group"),
}


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_answer_pages_and_the_property_set_in_chromium(demo_db_fitted, tmp_path):
    """Leaderboard (style control), What if (stored), Dissection's "How two judges differ" on the
    style set chosen in the sidebar, and Groups with a custom group: rendered, no error, screenshots."""
    from playwright.sync_api import sync_playwright

    from pipeline.model.fitting import fit_database
    from pipeline.answers.forecasts import what_if
    from pipeline.groups import add_group
    from pipeline.answers.leaderboard import build_leaderboard

    db = tmp_path / "answers.duckdb"
    shutil.copyfile(demo_db_fitted, db)
    fit_database(db, property_set="style")
    build_leaderboard(db, judges=["human"], control="style")
    what_if(db, judge="human", model="gpt-4", group="All")
    add_group("Long first", "num_words_1 > 300", db=db)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    with serve(db, tmp_path / "streamlit.log") as url, sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 2200})
            console_errors = []
            page.on("pageerror", lambda exc: console_errors.append(str(exc)))
            for path, (stem, must_see) in ANSWER_VISITS.items():
                page.goto(f"{url}/{path}", wait_until="domcontentloaded")
                _settle(page, must_see, charts=not path.startswith("Groups"))
                page.screenshot(path=str(SCREENSHOTS / f"{stem}.png"), full_page=True)
                problems += [f"/{path}: {e}" for e in _errors_on(page)]
                # The first request of this fresh server is a link straight to a page: the menu must
                # still be the registry's (ui/navigation.py), not Streamlit's listing of pages/.
                menu = page.locator('[data-testid="stSidebarNav"]').inner_text()
                if "Overview" in menu or "Samples & SHAP" not in menu:
                    problems.append(f"/{path}: the menu is the pages/ folder's: {' '.join(menu.split())}")
            # the sidebar's property set: a choice now (paper and style have fits), kept from the URL
            sidebar = page.locator('[data-testid="stSidebar"]')
            page.goto(f"{url}/Dissection?properties=style", wait_until="domcontentloaded")
            _settle(page, "How two judges differ", charts=True)
            sidebar.screenshot(path=str(SCREENSHOTS / "1c_property_set_selector.png"))
            chosen = sidebar.locator('[data-testid="stSelectbox"]').filter(has_text="Property set")
            assert chosen.locator("input").input_value() == "style"
            assert chosen.locator("input").is_enabled()
            assert not console_errors, console_errors
        finally:
            browser.close()
    assert not problems, problems


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_add_judge_and_annotate_in_chromium(demo_db_fitted, tmp_path, openai_stub):
    """The two pages that write: upload labels -> judge added and fitted; upload raw pairs -> a
    background annotation job (against the local OpenAI stub) runs while the app keeps working."""
    from playwright.sync_api import sync_playwright

    from pipeline.queries import catalog, status

    db = tmp_path / "app.duckdb"
    shutil.copyfile(demo_db_fitted, db)
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        choices = [r[0] for r in con.execute("SELECT CASE preferred WHEN 1 THEN 'B' ELSE 'A' END FROM labels "
                                             "WHERE judge = 'human' ORDER BY pair_id").fetchall()]
    labels = tmp_path / "contrarians.json"
    labels.write_text(json.dumps(choices))  # the human's choices, reversed: a judge of its own
    pairs = tmp_path / "new_pairs.jsonl"
    pairs.write_text("".join(json.dumps({
        "prompt": f"How do I boil an egg, take {i}?", "response_a": f"Boil it for {i + 6} minutes.",
        "response_b": "Put it in water.", "model_a": "model-a", "model_b": "model-b", "winner": "model_a",
    }) + "\n" for i in range(2)))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve(db, tmp_path / "streamlit.log", OPENAI_BASE_URL=openai_stub.url, OPENAI_API_KEY="sk-test") as url, \
            sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 2200})
            page.goto(f"{url}/Add_judge", wait_until="domcontentloaded")
            _settle(page, "Labels file", charts=False)
            page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(labels))
            page.get_by_text("Valid:").first.wait_for(timeout=60_000)
            page.get_by_role("button", name="Add and fit").click()
            page.get_by_text("judge 'contrarians' added").first.wait_for(timeout=120_000)
            _settle(page, "Compare a judge with the others", charts=True)
            page.screenshot(path=str(SCREENSHOTS / "5b_add_judge_done.png"), full_page=True)
            assert not _errors_on(page)
            assert "contrarians" in catalog.fitted_judges(db)

            page.goto(f"{url}/Annotate", wait_until="domcontentloaded")
            _settle(page, "New job", charts=False)
            page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(pairs))
            page.get_by_text("Pairs to annotate").first.wait_for(timeout=60_000)
            page.get_by_role("button", name="Start annotating").click()
            page.get_by_text("finished").first.wait_for(timeout=120_000)
            page.screenshot(path=str(SCREENSHOTS / "6b_annotate_done.png"), full_page=True)
            assert not _errors_on(page)
        finally:
            browser.close()
    assert status.status(db).n_pairs == 5240 + 2
    assert openai_stub.requests > 0


# ------------------------------------------------------------------ real data (issue 19)
# Two databases built from ../shared/real, as a new user would have them: the AlpacaEval sample
# (GPT-4-Turbo judging models against a reference) fitted on style, with boards; HH-RLHF's
# single-turn pairs (a crowd, no model names) fitted on style. No pair has the paper's annotations.

CONTENT = ('.vega-embed, [data-testid="stDataFrame"], [data-testid="stTable"], [data-testid="stMetric"], '
           '[data-testid="stCode"], [data-testid="stAlert"], [data-testid="stFileUploader"], '
           '[data-testid="stTextArea"], [data-testid="stPageLink"]')


def _gunzip_into(files: list[Path], folder: Path) -> Path:
    """Until the loader reads .gz itself: plain copies in a temporary folder."""
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        with gzip.open(f, "rb") as src, open(folder / f.name.removesuffix(".gz"), "wb") as dst:
            shutil.copyfileobj(src, dst)
    return folder


@pytest.fixture(scope="module")
def real_dbs(shared_real, tmp_path_factory) -> dict[str, Path]:
    from conftest import ALPACA_EVAL, HH_RLHF
    from pipeline.answers.leaderboard import build_leaderboard
    from pipeline.ingest.loader import load_source
    from pipeline.model.fitting import fit_database

    tmp = tmp_path_factory.mktemp("real")
    alpaca = tmp / "alpaca.duckdb"
    load_source(str(_gunzip_into(sorted(ALPACA_EVAL.glob("*.annotations.json.gz")), tmp / "alpaca")), db=alpaca,
                name="alpaca-eval")
    fit_database(alpaca, property_set="style")
    build_leaderboard(alpaca, group="All", control="style")
    hh = tmp / "hh.duckdb"
    load_source(str(_gunzip_into([HH_RLHF], tmp / "hh") / HH_RLHF.name.removesuffix(".gz")), db=hh,
                name="hh-rlhf")
    fit_database(hh, property_set="style")
    return {"alpaca": alpaca, "hh": hh}


def _url_path(spec) -> str:
    """The path st.navigation gives a page: its file name without the number prefix ('' for home)."""
    import re

    return "" if spec.default else re.sub(r"^\d+_", "", Path(spec.path).stem)


def _settle_page(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_selector('[data-testid="stMain"] h1', timeout=timeout_ms)
    _settle(page, "", charts=False, timeout_ms=timeout_ms)


def _main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def _walk_every_page(page, url: str, name: str) -> list[str]:
    """Each page: no exception or error box, no claim of 29 properties, content or its reason."""
    from ui import navigation

    problems = []
    for spec in navigation.available():
        path = _url_path(spec)
        page.goto(f"{url}/{path}", wait_until="domcontentloaded")
        _settle_page(page)
        page.screenshot(path=str(SCREENSHOTS / f"real_{name}_{path or 'home'}.png"), full_page=True)
        problems += [f"{name} /{path}: {e}" for e in _errors_on(page)]
        text = _main_text(page)
        # "not annotated with the paper's 29 properties yet" is true here; any other mention is not
        claims = [ln for ln in text.splitlines() if "29 properties" in ln and "not annotated" not in ln]
        if claims:
            problems.append(f"{name} /{path}: says '29 properties' with no annotated pair: {claims[0][:200]}")
        if not page.locator('[data-testid="stMain"]').locator(CONTENT).count():
            problems.append(f"{name} /{path}: neither content nor a reason: {' '.join(text.split())[:300]}")
    return problems


def _pick_segment(page, label: str) -> None:
    """Click a segmented control's option and wait for the rerun."""
    page.locator('[data-testid="stMain"] [data-testid="stButtonGroup"] button').filter(has_text=label).first.click()
    page.wait_for_timeout(300)
    _settle_page(page)


def _active_segments(page) -> list[str]:
    loc = page.locator('[data-testid="stMain"] [data-testid="stButtonGroup"] button[aria-checked="true"]')
    return [loc.nth(i).inner_text().strip() for i in range(loc.count())]


def _go_by_menu(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
    page.wait_for_timeout(300)
    _settle_page(page)


def _back_restores(page, url: str, second: str, second_change: str | None) -> list[str]:
    """Statistics: change the view; go to `second` by the menu (and change a selection there);
    one Back returns to Statistics with the changed view, from its own URL; Forward to `second`
    with its own change."""
    from urllib.parse import parse_qs, urlparse

    problems = []
    page.goto(f"{url}/Statistics", wait_until="domcontentloaded")
    _settle_page(page)
    start = page.evaluate("history.length")
    _pick_segment(page, "Length effect")
    first_url = page.url
    if parse_qs(urlparse(first_url).query).get("view") != ["length"]:
        problems.append(f"the changed view is not in the URL: {first_url}")
    if page.evaluate("history.length") != start:
        problems.append(f"a selection change added {page.evaluate('history.length') - start} history entries")
    _go_by_menu(page, second)
    if second_change:
        _pick_segment(page, second_change)
    second_url = page.url
    if page.evaluate("history.length") != start + 1:
        problems.append(f"a page switch (and a change there) left {page.evaluate('history.length') - start} "
                        "entries instead of 1")
    page.go_back()
    page.wait_for_timeout(500)
    _settle_page(page)
    if urlparse(page.url).path != "/Statistics" or page.url != first_url:
        problems.append(f"Back went to {page.url}, not {first_url}")
    if _active_segments(page)[:1] != ["Length effect"]:
        problems.append(f"Back restored the view {_active_segments(page)}, not 'Length effect'")
    if "Length effect" not in _main_text(page):
        problems.append("Back: the length effect is not shown")
    page.go_forward()
    page.wait_for_timeout(500)
    _settle_page(page)
    if page.url != second_url:
        problems.append(f"Forward went to {page.url}, not {second_url}")
    if second_change and second_change not in _active_segments(page):
        problems.append(f"Forward: {second} shows {_active_segments(page)}, not {second_change}")
    return problems


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_every_page_on_real_data(real_dbs, tmp_path):
    """AlpacaEval (one LLM judge, a reference model, style fit, boards) and HH-RLHF (a crowd, no
    model names): every page, then Back and Forward across a page switch."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems, console_errors = [], []
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            for name, db in real_dbs.items():
                with serve(db, tmp_path / f"{name}.log") as url:
                    page = browser.new_page(viewport={"width": 1440, "height": 2000})
                    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
                    problems += _walk_every_page(page, url, name)
                    page.close()
                    page = browser.new_page(viewport={"width": 1440, "height": 2000})  # a fresh history
                    second, change = ("Leaderboard", "log-odds") if name == "alpaca" else ("SQL", None)
                    problems += [f"{name} history: {p}" for p in _back_restores(page, url, second, change)]
                    page.close()
        finally:
            browser.close()
    assert not console_errors, console_errors
    assert not problems, "\n".join(problems)
