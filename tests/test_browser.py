"""The running app in a real browser: headless Chromium (Debian's package) driven by Playwright.

Starts `streamlit run Home.py` on a free 127.0.0.1 port over the fitted demo database,
opens every page, checks that no error box or exception is shown, and saves a screenshot
of each page under tests/screenshots/ (git-ignored). Skips only when Chromium is not
installed (`apt-get install chromium`; `make browser-deps` does it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
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


@pytest.fixture(scope="module")
def app_url(demo_db_fitted, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    env = dict(os.environ, PREFDISSECT_DB=str(demo_db_fitted))
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
    if charts:
        page.wait_for_selector(".vega-embed canvas, .vega-embed svg", timeout=timeout_ms)
        page.wait_for_timeout(500)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_every_page_in_chromium(app_url):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
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
