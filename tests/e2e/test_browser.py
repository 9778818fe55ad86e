"""End to end in headless Chromium: start `streamlit run app.py`, visit every page, train a small
model, move a re-ranking slider and check the list changes; screenshots of each page go to
test-artifacts/screenshots/. With RECSYS_UPDATE_SCREENSHOTS=1 they are also copied to
docs/screenshots/ for the README (opt-in, so a test run does not modify tracked files).

Needs Debian's chromium (/usr/bin/chromium) and the Python playwright package; never downloads a
browser. Skipped when either is missing, except under CI=true where that is a failure.
"""
from __future__ import annotations

import pytest

from browser_support import count as _count
from browser_support import settle as _settle
from browser_support import shot as _shot

pytestmark = pytest.mark.e2e


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
    # The two runs' paired differences with their intervals (an SVG forest plot).
    assert _count(page, ".st-key-cmp_forest svg circle", 1) >= 1
    _shot(page, "7-compare-runs")
    page.goto(server + "/Compare_runs?cmp_view=Saved+metrics")
    _settle(page)
    assert _count(page, '[data-testid="stPlotlyChart"]', 1) >= 1  # metric bars of the two runs
