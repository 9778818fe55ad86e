"""The metric-impact table arrives by a push, not by polling (issue 10, a classroom on one server).

While an impact job was pending, each session's impact fragment used to rerun every 0.75 s
(``st.fragment(run_every=...)``): with eight sessions the server spent its two cores on those
reruns. Now the job's completion reruns the waiting fragment once. In headless Chromium, on
Recommend with a fresh server (so every impact job is computed, not cached): the server never
registers a fragment timer (no ``auto_rerun`` message on the websocket), the table shows the
values the engine computes for the knobs' setting, and once it is drawn nothing reruns.
"""
from __future__ import annotations

import time

import pytest

from browser_support import grid_rows, settle

pytestmark = pytest.mark.e2e

RUN = "e2e-impact"


@pytest.fixture(scope="module")
def impact_server(tmp_path_factory, ml100k):
    """A server whose run store holds one small WALS run (with its holdout split) on ml-100k,
    and that run with its split (to compute the expected table)."""
    from browser_support import server_with_runs, small_wals

    model, split = small_wals(ml100k)
    with server_with_runs(tmp_path_factory, "impact", lambda store: store.save(
            model, ml100k, name=RUN, split=split, exact_name=True)) as (url, store):
        yield url + "/Recommend?data=ml-100k&run=" + RUN, store.load(RUN), split


class ServerMessages:
    """Every ForwardMsg the server sends to the page, by type, with the time it arrived."""

    def __init__(self, pg):
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self.seen: list[tuple[float, str]] = []

        def on_frame(payload):
            if isinstance(payload, (bytes, bytearray)):
                msg = ForwardMsg.FromString(bytes(payload))
                self.seen.append((time.monotonic(), msg.WhichOneof("type")))

        pg.on("websocket", lambda ws: ws.on("framereceived", on_frame))

    def count(self, kind: str, since: float = 0.0) -> int:
        return sum(1 for t, k in self.seen if k == kind and t >= since)


def _impact_rows(pg) -> dict[str, dict[str, str]]:
    return {row["metric"]: row for row in grid_rows(pg, "metric")}


def test_impact_table_is_pushed_once_measured_without_polling(impact_server, page):
    from recsys_core.serving.pipeline import RerankConfig, evaluate_rerank
    from ui.impact import IMPACT_USERS, PENDING_NOTE

    url, run, split = impact_server
    messages = ServerMessages(page)
    page.goto(url)
    settle(page)
    assert messages.count("script_finished") > 0  # the websocket is being read

    thumb = page.locator('[data-testid="stSlider"]').filter(
        has_text="Popularity penalty").locator('input[type="range"]')
    thumb.focus()
    pressed = time.monotonic()
    for _ in range(3):  # 0.15: a setting nobody asked for yet, so its job is pending
        thumb.press("ArrowRight")
    page.get_by_text(PENDING_NOTE).wait_for(state="detached", timeout=60_000)
    settle(page)

    expected = evaluate_rerank(RerankConfig(popularity_penalty=0.15), run.model, split,
                               users=IMPACT_USERS, k=10, seed=0)
    neutral = evaluate_rerank(RerankConfig(), run.model, split, users=IMPACT_USERS, k=10,
                              seed=0)
    rows = _impact_rows(page)  # the rows in view: the grid draws only those
    for metric in ("ndcg@10", "coverage", "novelty"):
        assert float(rows[metric]["re-ranked"]) == pytest.approx(expected[metric], abs=1e-6)
        assert float(rows[metric]["model order"]) == pytest.approx(neutral[metric], abs=1e-6)
    assert expected["novelty"] > neutral["novelty"]  # the knob did something

    # No timer was ever registered for a fragment (the poller's auto_rerun), and once the
    # table is drawn the session is quiet: no rerun in the next 2 s.
    drawn = time.monotonic()
    page.wait_for_timeout(2000)
    assert messages.count("auto_rerun") == 0
    assert messages.count("script_finished", since=drawn) == 0
    # Runs after the key presses: the list's (up to 3, merged when they come fast) and at
    # most one push for each (its setting's job finishing), nothing in between.
    assert messages.count("script_finished", since=pressed) <= 6
