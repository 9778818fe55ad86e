"""Fixtures of the browser tests: a streamlit server with an empty temporary run store, Debian's
chromium driven by Playwright, and a 1280 px page. Helpers (settle, count, shot, start_server)
are in browser_support.py so that benchmarks can use them too.

Needs Debian's chromium (/usr/bin/chromium) and the Python playwright package; never downloads a
browser. Skipped when either is missing, except under CI=true where that is a failure.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from browser_support import CHROMIUM, CHROMIUM_FLAGS, start_server, stop_server


def missing(reason: str):
    """Skip a browser test for lack of a browser, or fail under CI=true."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A streamlit server on a free port with an empty temporary run store."""
    runs = tmp_path_factory.mktemp("e2e-runs")
    log = tmp_path_factory.mktemp("e2e-log") / "streamlit.log"
    try:
        url, proc = start_server(runs, log)
    except RuntimeError as e:
        pytest.fail(str(e))
    yield url
    stop_server(proc)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright Python package is not installed")
    if not Path(CHROMIUM).exists():
        missing("Debian's chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def _new_tab(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 2400})
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def page(browser):
    """A fresh 1280 px page (its own browser context) for one test."""
    yield from _new_tab(browser)


@pytest.fixture(scope="module")
def tab(browser):
    """One 1280 px page kept for every test of a module (tests that walk a sequence of pages)."""
    yield from _new_tab(browser)
