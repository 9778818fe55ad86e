"""Live mode on the Train page in headless Chromium: toggle Live, step a hyperparameter, the
metrics and the map update with the previous result greyed, nothing is saved until "Save as
run" (issue 13, item 1).

Uses the fixtures of conftest.py (server, browser, page); skipped without chromium/playwright
except under CI=true.
"""
from __future__ import annotations

import pytest

from browser_support import settle

pytestmark = pytest.mark.e2e

#: True once the live caption of fit ``n`` is shown with no refit pending and (from the second
#: fit on) the map and the loss curve show the previous result greyed; then window.__latency
#: holds the milliseconds since window.__t0 (the input's pointerdown). For wait_for_function.
LIVE_DONE = """
(n) => {
  const text = document.querySelector('[data-testid="stMain"]')?.innerText || '';
  if (!text.includes('Live fit #' + n + ':') || text.includes('Refitting on the validation')) {
    return false;
  }
  // From the second fit on, the charts are drawn once they show the previous result too.
  const legends = [...document.querySelectorAll('[data-testid="stPlotlyChart"] .legendtext')]
    .map(e => e.textContent);
  if (n > 1 && !(legends.includes('previous') && legends.some(t => t.endsWith('(previous)')))) {
    return false;
  }
  window.__latency = performance.now() - (window.__t0 || 0);
  return true;
}
"""


def step_live(pg, label: str, up: bool, generation: int, timeout_ms: float = 30_000) -> float:
    """Click a number input's +/- step button and wait for live fit ``generation`` to be drawn;
    returns the milliseconds from the click's pointerdown."""
    box = pg.locator('[data-testid="stNumberInput"]').filter(has_text=label).first
    pg.evaluate("() => { window.__t0 = null; document.addEventListener('pointerdown', "
                "() => { window.__t0 = performance.now(); }, {capture: true, once: true}); }")
    box.locator('[data-testid="stNumberInputStepUp"]' if up
                else '[data-testid="stNumberInputStepDown"]').click()
    pg.wait_for_function(LIVE_DONE, arg=generation, timeout=timeout_ms, polling=10)
    return float(pg.evaluate("window.__latency"))


def switch_live_on(pg) -> None:
    pg.locator('[data-testid="stCheckbox"]').filter(has_text="Live").first.locator(
        "label").first.click()
    pg.wait_for_function(LIVE_DONE, arg=1, timeout=60_000, polling=50)


def test_live_mode_updates_metrics_and_map_and_saves_on_request(server, page):
    page.goto(server + "/Train?data=demo&model=wals&hp_wals_factors=8&hp_wals_iterations=4")
    settle(page)
    assert page.get_by_text("No run yet").count() == 1
    switch_live_on(page)
    step_live(page, "iterations", up=True, generation=2)
    main = page.locator('[data-testid="stMain"]')
    assert "Item embeddings (PCA)" in main.inner_text()
    # The map and the loss curve show the previous settings' result (legend entries).
    legends = page.locator('[data-testid="stPlotlyChart"] .legendtext').all_text_contents()
    assert "previous" in legends and "current" in legends
    assert any(t.endswith("(previous)") for t in legends)
    assert page.get_by_text("No run yet").count() == 1  # nothing saved while live
    page.get_by_role("button", name="Save as run").click()
    settle(page, timeout=120)
    assert page.get_by_text("Saved run").count() >= 1
    assert page.get_by_text("No run yet").count() == 0
