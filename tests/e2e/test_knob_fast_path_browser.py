"""The fast path of a re-ranking knob on Recommend, in headless Chromium (issue 9, "Live").

A key press on a knob must rerun only the list's fragment (the list, its breakdown, before/after;
not the page header or the "Recommend for" picker) and the list it sends must hold the re-ranked
values. What is read here is what the browser received over the websocket between the key press
and the end of that run, and the grid it drew. (How long it takes is measured by
benchmarks/bench_browser.py, not here; the server setting that made it fast is checked in
tests/app/test_streamlit_config.py.)
"""
from __future__ import annotations

import math

import pytest

from browser_support import grid_rows, settle
from test_state_browser import _slider, wals_server  # noqa: F401 - a fixture, reused

pytestmark = pytest.mark.e2e

# Keeps the text of every websocket frame the app receives while window.__capture is true, and
# stops capturing when the app root's script state returns to "notRunning" after a run.
CAPTURE = """
window.__frames = [];
window.__capture = false;
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) {
    super(...args);
    const text = new TextDecoder('utf-8', {fatal: false});
    this.addEventListener('message', (m) => {
      if (window.__capture && m.data instanceof ArrayBuffer)
        window.__frames.push(text.decode(new Uint8Array(m.data)));
    });
  }
};
"""

ARM = """
() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__frames = [];
  window.__capture = true;
  window.__done = false;
  const obs = new MutationObserver((records) => {
    const ran = records.some(r => r.oldValue !== null && r.oldValue !== 'notRunning');
    if (ran && app.getAttribute('data-test-script-state') === 'notRunning') {
      window.__capture = false;
      window.__done = true;
      obs.disconnect();
    }
  });
  obs.observe(app, {attributes: true, attributeFilter: ['data-test-script-state'],
                    attributeOldValue: true});
}
"""

# From the page header (pages/5_Recommend.py), drawn by full runs only.
INTRO = "A recommendation is the top of the scored catalogue"


def _impact_done(pg) -> None:
    """Until the metric-impact note is gone (its job and poller reruns are over)."""
    pg.get_by_text("Measuring the knobs' cost").first.wait_for(state="detached", timeout=60_000)
    settle(pg)


def _numbers(rows: list[dict[str, str]], column: str) -> list[float]:
    return [float(r[column]) for r in rows]


def test_knob_press_reruns_only_the_list_fragment_with_the_new_list(
        wals_server, page):  # noqa: F811
    page.add_init_script(CAPTURE)
    page.goto(wals_server.format(page="Recommend"))
    settle(page)
    _impact_done(page)
    before = grid_rows(page, "final")
    assert len(before) == 10 and _numbers(before, "popularity ×") == [1.0] * 10

    thumb = _slider(page, "Popularity penalty").first
    thumb.focus()
    page.evaluate(ARM.strip())
    thumb.press("ArrowRight")  # 0.00 -> 0.05
    page.wait_for_function("window.__done", timeout=30_000, polling=10)
    received = "".join(page.evaluate("window.__frames"))

    # Only the fragment ran: its headings came, the page header and the user picker did not.
    assert "Top 10" in received and "Before and after re-ranking" in received
    assert INTRO not in received
    assert "Recommend for" not in received

    _impact_done(page)
    assert float(thumb.input_value()) == pytest.approx(0.05)
    after = grid_rows(page, "final")
    assert len(after) == 10
    # The grid shows the penalised list: every item divided by n_ratings^0.05, and the final
    # score is the product of its parts ...
    for row in after:
        assert float(row["popularity ×"]) == pytest.approx(
            1.0 / max(float(row["ratings"]), 1.0) ** 0.05, rel=1e-6)
        assert float(row["final"]) == pytest.approx(
            float(row["relevance"]) * float(row["freshness ×"]) * float(row["popularity ×"]),
            rel=1e-6)
    finals = _numbers(after, "final")
    assert finals == sorted(finals, reverse=True)
    assert not math.isclose(finals[0], _numbers(before, "final")[0])
    # ... and those rows arrived with the knob's own (fragment) run.
    assert all(row["title"] in received for row in after)

    # The check above can tell: a change outside the fragment reruns the page, header included.
    page.evaluate(ARM.strip())
    page.get_by_text("Me, as a new user").click()
    page.wait_for_function("window.__done", timeout=30_000, polling=10)
    received = "".join(page.evaluate("window.__frames"))
    assert INTRO in received and "Recommend for" in received


# Records, for every element container that turns stale during a run, its opacity and
# transition right then (the style the browser animates from).
WATCH_STALE = """
() => {
  window.__stale = [];
  const obs = new MutationObserver((records) => {
    for (const r of records) {
      const el = r.target;
      if (el.getAttribute('data-stale') === 'true') {
        const style = getComputedStyle(el);
        window.__stale.push([style.opacity, style.transitionDuration]);
      }
    }
  });
  obs.observe(document.querySelector('[data-testid="stMain"]'),
              {attributes: true, subtree: true, attributeFilter: ['data-stale']});
}
"""


def test_knob_press_does_not_fade_the_list(wals_server, page):  # noqa: F811
    """Streamlit fades each element of a rerunning fragment (opacity 0.33 over 1 s, after 0.5 s):
    on each key press ~45 composited transitions that cost every browser CPU (a loaded classroom
    lost a quarter of its throughput, benchmarks/bench_classroom.py). Recommend keeps them
    steady (ui.page.steady_reruns). Fails if the style no longer matches Streamlit's markup."""
    page.goto(wals_server.format(page="Recommend"))
    settle(page)
    _impact_done(page)
    page.evaluate(WATCH_STALE.strip())
    thumb = _slider(page, "Popularity penalty").first
    thumb.focus()
    for _ in range(3):
        page.evaluate(ARM.strip())
        thumb.press("ArrowRight")
        page.wait_for_function("window.__done", timeout=30_000, polling=10)
        # The next press after the impact poller's reruns: on two busy workers a press sent
        # during them once never produced a rerun (the probe waited 30 s).
        _impact_done(page)
        thumb.focus()
    stale = page.evaluate("window.__stale")
    assert stale, "no element of the list's fragment was marked stale during its reruns"
    assert all(opacity == "1" and duration in ("0s", "0s, 0s") for opacity, duration in stale), \
        stale[:5]
    tick_bars = page.locator('[data-testid="stSliderTickBar"]')
    assert tick_bars.count() > 0
    assert page.evaluate("""() => Array.from(document.querySelectorAll(
        '[data-testid="stSliderTickBar"]')).every(e => getComputedStyle(e).transitionDuration
        .split(',').every(d => d.trim() === '0s'))""")
