"""Helpers shared by the browser tests (and benchmarks/bench_browser.py): start a streamlit
server on a free loopback port, launch Debian's chromium, wait for the app to settle, take
screenshots. No pytest fixtures here (those live in conftest.py), so a benchmark can import it.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"]


# The benchmarks' latency probe (bench_browser.py, bench_app_scale.py), evaluated in the page
# before an input: a one-shot timer from the next keydown / pointerdown anywhere in the page until
# the app root's script state leaves "running" (or "rerunRequested") and is "notRunning" again.
ARM = """
() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__latency = null;
  let t0 = null;
  const start = () => { t0 = performance.now(); };
  document.addEventListener('keydown', start, {capture: true, once: true});
  document.addEventListener('pointerdown', start, {capture: true, once: true});
  const obs = new MutationObserver((records) => {
    if (t0 === null) return;
    const ran = records.some(r => r.oldValue !== null && r.oldValue !== 'notRunning');
    if (ran && app.getAttribute('data-test-script-state') === 'notRunning') {
      window.__latency = performance.now() - t0;
      obs.disconnect();
    }
  });
  obs.observe(app, {attributes: true, attributeFilter: ['data-test-script-state'],
                    attributeOldValue: true});
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(runs_dir: Path, log_path: Path, extra_env: dict | None = None,
                 timeout: float = 90, script: Path = ROOT / "app.py"
                 ) -> tuple[str, subprocess.Popen]:
    """Start ``streamlit run <script>`` (the app by default) on a free loopback port with
    ``runs_dir`` as its run store.

    Returns (base url, process); raises RuntimeError if the server does not answer its health
    check within ``timeout`` seconds. Stop it with :func:`stop_server`.
    """
    port = free_port()
    # No background UMAP: its numba compile would compete with the browser for the CPU (UMAP's
    # timing is measured by benchmarks/bench_app.py).
    env = {**os.environ, "RECSYS_RUNS_DIR": str(runs_dir), "PYTHONPATH": str(ROOT),
           "RECSYS_PRECOMPUTE_UMAP": "0", **(extra_env or {})}
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script),
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log_file = log  # closed by stop_server
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return url, proc
        except OSError:
            time.sleep(0.5)
    stop_server(proc)
    raise RuntimeError(f"streamlit did not start within {timeout:.0f} s (log: {log_path})")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log = getattr(proc, "log_file", None)
    if log is not None:
        log.close()


@contextmanager
def server_with_runs(tmp_path_factory, label: str, fill, extra_env: dict | None = None):
    """A server whose run store (a fresh temporary folder) holds what ``fill(store)`` saved in
    it; yields (base url, store). For module-scoped pytest fixtures: a server that does not
    start fails the test."""
    import pytest

    from recsys_core.runs.store import RunStore

    store = RunStore(tmp_path_factory.mktemp(f"{label}-runs"))
    fill(store)
    try:
        url, proc = start_server(store.root, tmp_path_factory.mktemp(f"{label}-log")
                                 / "streamlit.log", extra_env=extra_env)
    except RuntimeError as e:
        pytest.fail(str(e))
    try:
        yield url, store
    finally:
        stop_server(proc)


def write_latest_catalogue(folder, data) -> None:
    """``data`` as a MovieLens-latest folder (ratings.csv, movies.csv) the app discovers."""
    import numpy as np
    import pandas as pd

    folder.mkdir()
    coo = data.ratings.tocoo()
    pd.DataFrame({"userId": data.user_ids[coo.row], "movieId": data.item_ids[coo.col],
                  "rating": coo.data, "timestamp": 978_300_000 + np.arange(coo.nnz)}
                 ).to_csv(folder / "ratings.csv", index=False)
    names = np.asarray(data.genre_names, dtype=object)
    genres = ["|".join(names[row]) or "(no genres listed)" for row in data.item_genres > 0]
    pd.DataFrame({"movieId": data.item_ids, "title": data.items["title"].to_numpy(),
                  "genres": genres}).to_csv(folder / "movies.csv", index=False)


def small_wals(dataset, factors: int = 16, iterations: int = 6):
    """A small WALS fitted on a per-user 80/20 holdout of ``dataset`` (seed 0): (model, split)."""
    from recsys_core.evaluation.split import holdout_split
    from recsys_core.models import MODEL_REGISTRY

    split = holdout_split(dataset, 0.2, seed=0)
    return MODEL_REGISTRY["wals"](factors=factors, iterations=iterations).fit(split.train), split


def settle(pg, timeout: float = 120, calm: float = 1.5) -> bool:
    """Wait until the app has drawn and its script has not been running for ``calm`` seconds;
    whether it got there within ``timeout`` seconds (asserts that no exception is shown)."""
    pg.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    pg.wait_for_selector('[data-testid="stMain"] h1', timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    quiet_since = None
    settled = False
    while time.monotonic() < deadline:
        # Running script (the app root's script state, or its status widget, which shows only
        # after a moment), widgets still drawn as skeletons, or elements greyed out as stale.
        running = (pg.locator('[data-testid="stApp"]:not([data-test-script-state="notRunning"])')
                   .count() > 0
                   or pg.locator('[data-testid="stStatusWidget"]').count() > 0
                   or pg.locator('[data-testid="stSkeleton"]').count() > 0
                   or pg.locator('[data-stale="true"]').count() > 0)
        if running:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > calm:
            settled = True
            break
        time.sleep(0.25)
    assert pg.locator('[data-testid="stException"]').count() == 0, \
        pg.locator('[data-testid="stException"]').first.inner_text()
    return settled


def count(pg, selector: str, at_least: int, timeout: float = 60) -> int:
    """Number of elements matching ``selector`` once at least ``at_least`` have rendered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = pg.locator(selector).count()
        if n >= at_least:
            return n
        time.sleep(0.25)
    return pg.locator(selector).count()


def shot(pg, name: str):
    """Full-page screenshot to test-artifacts/ (and docs/ with RECSYS_UPDATE_SCREENSHOTS=1)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    if os.environ.get("RECSYS_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS / path.name)


def grid_rows(pg, column: str, timeout: float = 30) -> list[dict[str, str]]:
    """The rows of the first ``st.dataframe`` on the page with a column titled ``column``, as
    {column title: cell text}.

    The grid is drawn on a canvas; its cells are read from the accessible table the data grid
    keeps inside it (``table[role=grid]``: a ``th`` per column, ``td`` cells with
    ``aria-colindex`` holding the raw value, not the column's display format). It holds only the
    rows and columns in view: give the page a tall, wide viewport.
    """
    grid = pg.locator('[data-testid="stDataFrame"] table[role="grid"]').filter(
        has=pg.locator("thead th", has_text=re.compile(rf"^{re.escape(column)}$"))).first
    grid.wait_for(state="attached", timeout=timeout * 1000)
    return grid.evaluate("""table => {
        const titles = {};
        for (const th of table.querySelectorAll('thead th'))
            titles[th.getAttribute('aria-colindex')] = th.textContent.trim();
        return [...table.querySelectorAll('tbody tr')].map(tr => Object.fromEntries(
            [...tr.querySelectorAll('td')].map(td => [
                titles[td.getAttribute('aria-colindex')], td.textContent.trim()])));
    }""")


def legend_colours(chart) -> dict[str, str]:
    """{legend entry text: line colour} of a plotly chart (a Playwright locator around it), read
    from its SVG legend."""
    chart.locator("g.legend g.traces").first.wait_for(timeout=30_000)
    return chart.evaluate("""el => Object.fromEntries(
        [...el.querySelectorAll('g.legend g.traces')].map(g => [
            g.querySelector('text.legendtext').textContent.trim(),
            getComputedStyle(g.querySelector('path.js-line')).stroke]))""")


def grid_columns(frame) -> set[str]:
    """Titles of the columns an st.dataframe (a locator) draws in view (its accessible grid
    holds only those; a column scrolled out of sight is not in it)."""
    grid = frame.locator("table[role=grid]")
    grid.wait_for(state="attached", timeout=30_000)
    return set(grid.evaluate(
        "t => [...t.querySelectorAll('thead th')].map(th => th.textContent.trim())"))


FIRST_ROW = "t => t.querySelector('tbody tr')?.getAttribute('aria-rowindex') ?? null"


def all_grid_rows(frame, timeout: float = 30) -> list[dict[str, str]]:
    """Every row of an st.dataframe (a locator), as {column title: cell text}: its accessible
    grid holds only the rows in view, so the grid is scrolled down a view at a time and the
    rows are gathered by their row index."""
    grid = frame.locator("table[role=grid]")
    grid.wait_for(state="attached", timeout=timeout * 1000)
    scroller = frame.locator(".dvn-scroller").first
    rows: dict[str, dict[str, str]] = {}
    first = None  # the index of the first row in view before the last scroll
    while True:
        # The grid redraws its rows a moment after a scroll: wait until its first row changed.
        deadline = time.monotonic() + 10
        while first is not None and grid.evaluate(FIRST_ROW) == first \
                and time.monotonic() < deadline:
            frame.page.wait_for_timeout(100)
        first = grid.evaluate(FIRST_ROW)
        seen = grid.evaluate("""table => {
            const titles = {};
            for (const th of table.querySelectorAll('thead th'))
                titles[th.getAttribute('aria-colindex')] = th.textContent.trim();
            return [...table.querySelectorAll('tbody tr')].map(tr => [
                tr.getAttribute('aria-rowindex'), Object.fromEntries(
                    [...tr.querySelectorAll('td')].map(td => [
                        titles[td.getAttribute('aria-colindex')], td.textContent.trim()]))]);
        }""")
        rows.update(dict(seen))
        at_end = scroller.evaluate("""el => {
            const end = el.scrollTop + el.clientHeight >= el.scrollHeight - 1;
            el.scrollTop += el.clientHeight - 40; el.dispatchEvent(new Event('scroll'));
            return end; }""")
        if at_end:
            return [rows[i] for i in sorted(rows, key=int)]


def chart_traces(chart) -> list[dict]:
    """The traces a plotly chart (a Playwright locator around it) draws, as plotly.js holds
    them once drawn (decoded: the figure's arrays arrive base64-encoded): [{"name", "x", "y"}]
    with plain lists."""
    plot = chart.locator(".js-plotly-plot").first
    plot.wait_for(timeout=30_000)
    return plot.evaluate("""el => el._fullData.map(t => ({name: t.name || '',
        x: Array.from(t.x || []), y: Array.from(t.y || [])}))""")


def lasso_all(chart) -> None:
    """Lasso-select every point of a plotly chart (a locator around it): a loop along the
    inside of its plot area."""
    area = chart.locator("rect.nsewdrag").first
    area.wait_for(timeout=30_000)
    box = area.bounding_box()
    left, top = box["x"] + 2, box["y"] + 2
    right, bottom = box["x"] + box["width"] - 2, box["y"] + box["height"] - 2
    mouse = chart.page.mouse
    mouse.move(left, top)
    mouse.down()
    for x, y in ((right, top), (right, bottom), (left, bottom), (left, top + 4)):
        mouse.move(x, y, steps=8)
    mouse.up()
