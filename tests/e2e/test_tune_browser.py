"""The Tune page in headless Chromium: a 3-trial WALS sweep on the demo catalogue draws its chart
and table, and the best trial opens on the Train page (issue 13).

Uses the fixtures of conftest.py (server, browser, page); skipped without chromium/playwright
except under CI=true.
"""
from __future__ import annotations

import pytest

from browser_support import count, settle

pytestmark = pytest.mark.e2e


def test_a_small_sweep_runs_and_opens_its_best_trial(server, page):
    page.goto(server + "/Tune?data=demo")
    settle(page)
    assert "Tune" in page.locator('[data-testid="stMain"] h1').first.inner_text()
    trials = page.get_by_label("Trials", exact=True)
    trials.fill("3")
    trials.press("Enter")
    settle(page)
    page.get_by_role("button", name="Start sweep").click()
    settle(page)
    page.get_by_text("Best: trial").wait_for(timeout=120_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    count(page, '[data-testid="stPlotlyChart"]', 1)
    assert "saved as run" in page.get_by_text("Best: trial").inner_text()
    page.get_by_role("button", name="Open the best trial's run").click()
    settle(page)
    assert "Train" in page.locator('[data-testid="stMain"] h1').first.inner_text()
    assert "run=sweep-wals-" in page.url


def test_cancel_stops_a_sweep_and_keeps_its_finished_trials(server, page):
    page.goto(server + "/Tune?data=demo")
    settle(page)
    trials = page.get_by_label("Trials", exact=True)
    trials.fill("200")
    trials.press("Enter")
    settle(page)
    page.get_by_role("button", name="Start sweep").click()
    count(page, '[data-testid="stPlotlyChart"]', 1, timeout=120)  # a first trial is drawn
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("Best: trial").wait_for(timeout=120_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    caption = page.get_by_text("trials finished").inner_text()
    finished = int(caption.split(" of ")[0])
    assert 1 <= finished < 200 and "stopped" in caption
