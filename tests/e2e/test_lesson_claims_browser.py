"""Issue 20, "Each lesson's claim is shown by an automated browser check on ml-100k": each Home
lesson link followed in headless Chromium, and the lesson's claim read from what the page draws
(table cells, captions, chart data), one assertion per lesson:

* Dot product vs cosine: the mean number of ratings under dot's top 10 (its caption) is several
  times cosine's.
* Norm vs popularity: the Spearman correlation the page prints is above 0.8.
* Folding: with every point of the map selected, the 5 nearest items listed for each share its
  main genre less often under MF objective *observed* than under the default *weighted*.
* Regularization: in the two norm vs popularity charts, regularization 5 shrinks the median norm
  of rarely rated items (bottom quarter of ratings) against popular ones (top quarter) to less
  than half the default run's ratio.
* WALS vs SGD: the training-curve charts against epochs and against seconds each draw both runs.
* Cold start by fold-in: after rating one title, a list of 10 other titles appears.
* Why a scoring model: in the page's comparison table the scoring model's NDCG@10 beats every
  generator's own score.
* What each knob costs: after moving the popularity penalty, the impact table shows the mean
  popularity of the lists going down.

The lessons' runs are trained before the server starts, as the lesson's button trains them (its
settings on the default split): a link opens exactly those (tests/app/test_app_lessons.py checks
that, and each claim through AppTest). One server, one browser context.
"""
from __future__ import annotations

import os
import re

import numpy as np
import pytest

from browser_support import (all_grid_rows, chart_traces, grid_columns, grid_rows, lasso_all,
                             server_with_runs, settle)

pytestmark = pytest.mark.e2e

SPLIT = {"method": "holdout", "test_fraction": 0.2, "seed": 0}


@pytest.fixture(scope="module")
def lessons_server(tmp_path_factory, ml100k, data_dir):
    """A server seeing ml-100k whose run store holds every lesson's runs; yields (base url,
    {lesson slug: the names of its runs})."""
    from ui import lessons, training

    names = {}

    def fill(store):
        previous = os.environ.get("RECSYS_RUNS_DIR")
        os.environ["RECSYS_RUNS_DIR"] = str(store.root)
        try:
            needs = {(n.kind, tuple(sorted(n.settings.items()))): n
                     for lesson in lessons.LESSONS for n in lesson.needs}
            trained = {key: training.train_with_settings(need.kind, need.settings, "ml-100k",
                                                         ml100k, SPLIT).name
                       for key, need in needs.items()}
            for lesson in lessons.LESSONS:
                names[lesson.slug] = [trained[n.kind, tuple(sorted(n.settings.items()))]
                                      for n in lesson.needs]
        finally:
            if previous is None:
                os.environ.pop("RECSYS_RUNS_DIR")
            else:
                os.environ["RECSYS_RUNS_DIR"] = previous

    with server_with_runs(tmp_path_factory, "lessons", fill,
                          extra_env={"RECSYS_DATA_DIR": str(data_dir)}) as (url, _):
        yield url, names


def _follow(pg, url: str, label: str):
    """Open Home, click the lesson's link, wait for its page: the page's main element."""
    pg.goto(f"{url}/?data=ml-100k")
    pg.wait_for_selector('text="Lessons, one click away"', timeout=120_000)
    settle(pg, calm=0.5)
    pg.locator('[data-testid="stPageLink-NavLink"]',
               has_text=re.compile(rf"^{re.escape(label)}$")).first.click()
    assert settle(pg, calm=0.75)
    main = pg.locator('[data-testid="stMain"]')
    assert pg.locator(".st-key-lesson_train").count() == 0  # its runs were found
    return main


def _captions(main, prefix: str) -> list[str]:
    return [t for t in main.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
            if t.startswith(prefix)]


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def test_dot_vs_cosine_dots_top_10_is_rated_more(lessons_server, tab):
    main = _follow(tab, lessons_server[0], "Dot product vs cosine")
    means = [_number(re.search(r"mean ratings ([\d,]+)", c).group(1))
             for c in _captions(main, "mean norm")]  # dot, cosine, euclidean, tempered
    assert len(means) == 4 and means[0] > 3 * means[1], means


def test_norm_vs_popularity_norms_grow_with_ratings(lessons_server, tab):
    main = _follow(tab, lessons_server[0], "Norm vs popularity")
    caption = _captions(main, "Spearman rank correlation")[0]
    assert float(re.search(r"correlation (-?[\d.]+)", caption).group(1)) > 0.8, caption


def _neighbour_purity(pg, main, groups: dict[str, int]) -> float:
    """Select every point of the map; the share of (item, listed neighbour) pairs with the same
    main genre, over the rows of the selection's table."""
    lasso_all(pg.locator(".st-key-emb_map"))
    assert settle(pg, calm=0.75)
    table = main.locator('[data-testid="stDataFrame"]').filter(
        has=pg.locator("thead th", has_text="nearest neighbours"))
    assert {"name", "nearest neighbours"} <= grid_columns(table)
    same = total = 0
    for row in all_grid_rows(table):
        if not row.get("name"):
            continue
        for title in filter(None, row["nearest neighbours"].split(" · ")):
            same += groups[title] == groups[row["name"]]
            total += 1
    assert total >= 500, total  # the 5 nearest of each of the (first 200) selected items
    return same / total


def test_folding_observed_mf_mixes_genres(lessons_server, tab, ml100k):
    """The page's neighbour lists for both runs (the lesson's run, then its comparison run as
    the page's run); genres from the dataset's item table."""
    url, names = lessons_server
    genres = np.asarray(ml100k.item_genres, dtype=float)
    main_genre = np.where(genres.sum(axis=1) > 0, genres.argmax(axis=1), -1)
    groups = dict(zip(ml100k.items["title"].astype(str), main_genre.tolist()))
    observed, weighted = names["folding"]
    main = _follow(tab, url, "Folding")
    assert f"of run {observed} (mf" in " ".join(_captions(main, ""))
    purity = {observed: _neighbour_purity(tab, main, groups)}
    tab.goto(f"{url}/Embeddings?data=ml-100k&run={weighted}&proj=pca&colour=genre")
    assert settle(tab)
    purity[weighted] = _neighbour_purity(tab, main, groups)
    assert purity[observed] < purity[weighted] - 0.05, purity


def test_regularization_shrinks_rarely_rated_items_most(lessons_server, tab):
    main = _follow(tab, lessons_server[0], "Regularization")
    charts = main.locator('[class*="st-key-norm_pop_"]')
    assert charts.count() == 2  # the default run first, then regularization 5
    ratios = []
    for i in range(2):
        trace = chart_traces(charts.nth(i))[0]
        counts, norms = np.asarray(trace["x"], float), np.asarray(trace["y"], float)
        rare, popular = counts <= np.percentile(counts, 25), counts >= np.percentile(counts, 75)
        assert np.median(norms[popular]) > 0.1  # not collapsed
        ratios.append(np.median(norms[rare]) / np.median(norms[popular]))
    assert ratios[1] < ratios[0] / 2, ratios


def test_wals_vs_sgd_draws_both_curves_against_epochs_and_seconds(lessons_server, tab):
    main = _follow(tab, lessons_server[0], "WALS vs SGD")
    runs = set(lessons_server[1]["wals-vs-sgd"])
    for x in ("epoch", "seconds"):
        traces = chart_traces(main.locator(f".st-key-curves_{x}"))
        assert {t["name"] for t in traces} == runs and all(len(t["x"]) >= 2 for t in traces), \
            traces


def test_cold_start_lists_after_rating_one_title(lessons_server, tab):
    main = _follow(tab, lessons_server[0], "Cold start by fold-in")
    assert "Rate at least one title" in main.inner_text()
    box = tab.locator(".st-key-_w_rate_item_q input")
    box.fill("Star Wars")
    box.press("Enter")
    assert settle(tab, calm=0.75)
    tab.locator(".st-key-add_rating button").click()
    assert settle(tab, calm=0.75)
    rows = grid_rows(tab, "moved by")
    assert len(rows) == 10 and not any(r["title"].startswith("Star Wars") for r in rows), rows


def test_scoring_model_beats_every_generators_own_score(lessons_server, tab):
    _follow(tab, lessons_server[0], "Why a scoring model")
    rows = grid_rows(tab, "ranking by")
    assert rows[0]["ranking by"].startswith("scoring model"), rows
    assert _number(rows[0]["ndcg@10"]) > max(_number(r["ndcg@10"]) for r in rows[1:]), rows


def test_knob_costs_popularity_penalty_lowers_mean_popularity(lessons_server, tab):
    _follow(tab, lessons_server[0], "What each knob costs")
    knob = tab.locator('.st-key-_w_rr_pop input[type="range"]')
    knob.focus()
    for _ in range(10):  # 0 -> 0.5 in steps of 0.05
        knob.press("ArrowRight")
    assert settle(tab, calm=0.75)
    assert float(knob.input_value()) == pytest.approx(0.5)
    table = tab.locator('[data-testid="stDataFrame"]').filter(
        has=tab.locator("thead th", has_text=re.compile("^metric$")))
    table.wait_for(timeout=120_000)  # the impact is measured in the background
    impact = {r["metric"]: r for r in all_grid_rows(table)}
    assert _number(impact["mean_popularity"]["change"]) < 0, impact
