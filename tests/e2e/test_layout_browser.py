"""Layout at 1280 px and 800 px in headless Chromium (issue 20, item 7): a screenshot of every page
at both widths (test-artifacts/screenshots/layout-<width>-<page>.png), and two properties that
only a browser shows:

* no Train hyperparameter label wraps inside a word ("regularization_expo" / "nent"): every word
  of every label is drawn on one line;
* Similarity's four tables keep every column in view (score, norm and popularity percentiles
  first, the title last and cut at its end), where the title used to push the numbers out;
* Recommend's list, scrolled sideways to "because you rated" (its caption says the table is
  wider than the page and what is to the right), keeps rank and title in view (pinned);
* a chart's legend never covers its data or its title: the saved run's loss chart on Train and
  the two training-curve charts on Compare runs (two ml-100k WALS runs with long names, in half
  a page each) keep the legend box outside the plot area box.
"""
from __future__ import annotations

import pytest

from browser_support import grid_columns, settle, shot

pytestmark = pytest.mark.e2e

# Long names, as people name runs: they made the legend beside the curves cover them at 800 px.
RUNS = ("wals-ml100k-regularization-default", "wals-ml100k-regularization-strong")
WIDTHS = (1280, 800)
PAGES = {"home": "/", "data": "/Data", "train": f"/Train?model=wals&run={RUNS[0]}",
         "embeddings": f"/Embeddings?run={RUNS[0]}&proj=pca", "similarity": "/Similarity",
         "recommend": f"/Recommend?run={RUNS[0]}",
         "compare": "/Compare_runs?cmp_view=Training+curves",  # the tab with the curves
         "tune": "/Tune"}

# Every word of every widget label inside ``root`` drawn on more than one line (a word broken).
BROKEN_WORDS = """root => {
  const broken = [];
  for (const label of root.querySelectorAll('[data-testid="stWidgetLabel"]')) {
    const walker = document.createTreeWalker(label, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0)
                              .map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""

# The boxes of a plotly chart: its legend, its plot area (the drag rectangle over the axes) and
# its title, as [left, top, right, bottom].
CHART_BOXES = """el => {
  const box = sel => { const n = el.querySelector(sel); if (!n) return null;
                       const r = n.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {legend: box('g.legend'), plot: box('rect.nsewdrag'), title: box('g.g-gtitle text')};
}"""


def _columns_in_view(pg, n: int) -> set[str]:
    """The columns in view of the page's ``n``-th st.dataframe."""
    return grid_columns(pg.locator('[data-testid="stDataFrame"]').nth(n))


def _overlap(a, b) -> bool:
    return a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1


@pytest.fixture(scope="module")
def layout_server(tmp_path_factory, ml100k, data_dir):
    """A server seeing ml-100k (as CI), whose run store holds two WALS runs with loss curves."""
    from browser_support import server_with_runs, small_wals

    def fill(store):
        for name, iterations in zip(RUNS, (6, 4)):
            model, split = small_wals(ml100k, factors=16, iterations=iterations)
            store.save(model, ml100k, name=name, split=split, exact_name=True)

    with server_with_runs(tmp_path_factory, "layout", fill,
                          extra_env={"RECSYS_DATA_DIR": str(data_dir)}) as (url, _):
        yield url


@pytest.fixture(params=WIDTHS, ids=lambda w: f"{w}px")
def sized_page(request, browser):
    context = browser.new_context(viewport={"width": request.param, "height": 2400})
    pg = context.new_page()
    yield request.param, pg
    context.close()


def _open(pg, url: str) -> None:
    sep = "&" if "?" in url else "?"
    pg.goto(f"{url}{sep}data=ml-100k")
    settle(pg)


def _legend_clear(pg, selector: str) -> None:
    chart = pg.locator(selector)
    chart.locator("g.legend").first.wait_for(timeout=30_000)
    boxes = chart.evaluate(CHART_BOXES)
    assert boxes["legend"] and boxes["plot"], (selector, boxes)
    assert not _overlap(boxes["legend"], boxes["plot"]), (selector, boxes)
    if boxes["title"]:
        assert not _overlap(boxes["legend"], boxes["title"]), (selector, boxes)


def test_every_page_at_1280_and_800_px(layout_server, sized_page):
    width, pg = sized_page
    for name, path in PAGES.items():
        _open(pg, layout_server + path)
        shot(pg, f"layout-{width}-{name}")
        if name == "train":
            hyper = pg.locator('[data-testid="stExpander"]').filter(has_text="Hyperparameters")
            labels = hyper.first.locator('[data-testid="stWidgetLabel"]')
            assert labels.count() >= 10  # WALS's knobs are drawn
            assert hyper.first.get_by_text("regularization exponent", exact=True).count() == 1
            assert hyper.first.evaluate(BROKEN_WORDS) == []
            _legend_clear(pg, ".st-key-run_loss")
        if name == "similarity":  # every column of each measure's table in view
            for n, measure in enumerate(("dot", "cosine", "euclidean", "tempered")):
                assert _columns_in_view(pg, n) == {"score", "norm %", "pop. %", "title"}, \
                    (width, measure)
        if name == "recommend":  # scrolled to its last column, the list still shows titles
            listed = pg.locator('[data-testid="stDataFrame"]').first  # the list
            shown = grid_columns(listed)
            assert "moved by" in shown and "because you rated" not in shown  # off to the right
            listed.locator(".dvn-scroller").first.evaluate(
                "el => { el.scrollLeft = el.scrollWidth; el.dispatchEvent(new Event('scroll')); }")
            pg.wait_for_timeout(500)
            assert {"rank", "title", "because you rated"} <= grid_columns(listed)
        if name == "compare":
            for x in ("epoch", "seconds"):
                _legend_clear(pg, f".st-key-curves_{x}")
