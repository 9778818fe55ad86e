"""Undefined values in the app's tables read "—" in the browser, not "None" (issue 10, 2).

Found in a newcomer's tour of Compare runs: a run whose metrics are undefined showed "None" in
grey although the table's format says "—" (the data grid draws its own placeholder for a missing
cell and ignores the format there). The grid is a canvas, and its accessible table holds raw
values, so what is checked is the text the grid actually drew (every ``fillText`` call).
"""
from __future__ import annotations

import pytest

from browser_support import grid_rows, settle

pytestmark = pytest.mark.e2e

# Keeps every string drawn on a 2D canvas (the data grid draws its cells with fillText).
RECORD_CANVAS_TEXT = """
window.__drawn = new Set();
const fillText = CanvasRenderingContext2D.prototype.fillText;
CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
  window.__drawn.add(String(text));
  return fillText.call(this, text, ...rest);
};
"""


@pytest.fixture(scope="module")
def undefined_metric_server(tmp_path_factory, ml100k):
    """A server whose run store holds a run with NDCG@10 0.1 and one whose NDCG@10 is
    undefined (saved as null, as a holdout with no test users gives)."""
    from browser_support import server_with_runs, small_wals

    model, split = small_wals(ml100k, factors=8, iterations=2)

    def fill(store):
        store.save(model, ml100k, name="defined", split=split, metrics={"ndcg@10": 0.1})
        store.save(model, ml100k, name="undefined", split=split, metrics={"ndcg@10": None})

    with server_with_runs(tmp_path_factory, "undefined", fill) as (url, _):
        yield url


def test_compare_runs_shows_an_undefined_metric_as_a_dash(undefined_metric_server, page):
    page.add_init_script(RECORD_CANVAS_TEXT)
    page.goto(undefined_metric_server + "/Compare_runs?data=ml-100k")
    settle(page)
    rows = {r["run"]: r for r in grid_rows(page, "ndcg@10")}
    assert rows["undefined"]["ndcg@10"] == "" and rows["defined"]["ndcg@10"] == "0.1"
    page.wait_for_function("window.__drawn.has('0.1000')")  # the grid has drawn its cells
    drawn = page.evaluate("Array.from(window.__drawn)")
    assert "—" in drawn and "None" not in drawn, sorted(drawn)[:40]
