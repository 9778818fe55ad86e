"""End to end in headless Chromium: start `streamlit run app.py`, visit every page, train a small
model, move a re-ranking slider and check the list changes; screenshots of each page go to
test-artifacts/screenshots/. With RECSYS_UPDATE_SCREENSHOTS=1 they are also copied to
docs/screenshots/ for the README (opt-in, so a test run does not modify tracked files).

Needs Debian's chromium (/usr/bin/chromium) and the Python playwright package; never downloads a
browser. Skipped when either is missing, except under CI=true where that is a failure.
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

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"]


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A streamlit server on a free port with an empty temporary run store."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runs = tmp_path_factory.mktemp("e2e-runs")
    # No background UMAP: its numba compile would compete with the browser for the CPU (UMAP's
    # timing is measured by benchmarks/bench_app.py).
    env = {**os.environ, "RECSYS_RUNS_DIR": str(runs), "PYTHONPATH": str(ROOT),
           "RECSYS_PRECOMPUTE_UMAP": "0"}
    log = open(tmp_path_factory.mktemp("e2e-log") / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("streamlit did not start within 90 s")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright Python package is not installed")
    if not Path(CHROMIUM).exists():
        _missing("Debian's chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 2400})
    pg = context.new_page()
    yield pg
    context.close()


def _settle(pg, timeout: float = 120):
    """Wait until the app has drawn and its script is no longer running."""
    pg.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    pg.wait_for_selector('[data-testid="stMain"] h1', timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        # Running script, widgets still drawn as skeletons, or elements greyed out as stale.
        running = (pg.locator('[data-testid="stStatusWidget"]').count() > 0
                   or pg.locator('[data-testid="stSkeleton"]').count() > 0
                   or pg.locator('[data-stale="true"]').count() > 0)
        if running:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 1.5:
            break
        time.sleep(0.25)
    assert pg.locator('[data-testid="stException"]').count() == 0, \
        pg.locator('[data-testid="stException"]').first.inner_text()


def _count(pg, selector: str, at_least: int, timeout: float = 60) -> int:
    """Number of elements matching ``selector`` once at least ``at_least`` have rendered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = pg.locator(selector).count()
        if n >= at_least:
            return n
        time.sleep(0.25)
    return pg.locator(selector).count()


def _shot(pg, name: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    if os.environ.get("RECSYS_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS / path.name)


def test_every_page_trains_and_reranks_in_a_browser(server, page):
    page.goto(server + "/")
    _settle(page)
    assert "recsys-studio" in page.locator("h1").first.inner_text()
    _shot(page, "1-home")

    page.goto(server + "/Data")
    _settle(page)
    assert _count(page, '[data-testid="stPlotlyChart"]', 3) >= 3
    _shot(page, "2-data")

    # Train a small WALS model through the form.
    page.goto(server + "/Train?model=wals")
    _settle(page)
    for label, value in (("factors", "8"), ("iterations", "4")):
        box = page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Enter")
        _settle(page)
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=180_000)
    _settle(page)
    assert "Saved run" in page.locator('[data-testid="stAlertContentSuccess"]').first.inner_text()
    _shot(page, "3-train")
    # A second, instant run (popularity) so that Compare runs has two to compare.
    page.goto(server + "/Train?model=popularity")
    _settle(page)
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=180_000)
    _settle(page)

    page.goto(server + "/Embeddings?proj=pca")
    _settle(page)
    assert _count(page, '[data-testid="stPlotlyChart"]', 2) >= 2
    _shot(page, "4-embeddings")

    page.goto(server + "/Similarity")
    _settle(page)
    assert page.get_by_text("Toy example").count() == 1
    _shot(page, "5-similarity")

    # Move the popularity-penalty slider: the recommendation list must change.
    page.goto(server + "/Recommend")
    _settle(page)
    table = page.locator('[data-testid="stDataFrame"]').first
    before = table.screenshot()
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Popularity penalty")
    thumb = slider.get_by_role("slider")
    thumb.focus()
    for _ in range(10):
        thumb.press("ArrowRight")
    _settle(page)
    assert "rr_pop=0.5" in page.url
    after = page.locator('[data-testid="stDataFrame"]').first.screenshot()
    assert after != before
    _shot(page, "6-recommend")

    page.goto(server + "/Compare_runs")
    _settle(page)
    assert _count(page, '[data-testid="stPlotlyChart"]', 1) >= 1  # metric bars of the two runs
    _shot(page, "7-compare-runs")
