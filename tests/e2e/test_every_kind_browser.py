"""Issue 20, "No page hangs on any model kind or catalogue size", the CI's share: a run of every
trainable model kind on a generated catalogue of 2,000 items (300 users), and each page that
shows a run (Train, Embeddings, Similarity, Recommend) opened on each kind's run in headless
Chromium: no exception, the page settles, and its main element is drawn (the run in the picker and its
loss curve, or its closed-form objective, on Train; the map and the norm chart on Embeddings; the four measures' tables on
Similarity, or for a model without embeddings the note saying so; the list on Recommend).

The models are trained small (16 factors, 2 to 3 epochs) to keep the whole file near a minute
on 2 cores; benchmarks/bench_every_page.py opens every page on every kind's defaults on a 10k-item
catalogue and times them. Embeddings opens with PCA: UMAP's first call compiles for tens of
seconds, which the benchmark measures.
"""
from __future__ import annotations

import pytest

from browser_support import grid_rows, settle, write_latest_catalogue

pytestmark = pytest.mark.e2e

CATALOGUE = "kinds-2k"  # the generated catalogue's folder: its dataset name in the app
#: Small settings per kind (the others train with their defaults).
SMALL = {"wals": {"factors": 16, "iterations": 3}, "mf": {"factors": 16, "epochs": 2},
         "softmax": {"factors": 16, "epochs": 2}, "two-tower": {"factors": 16, "epochs": 2},
         "svd": {"factors": 16}}
#: Kinds trained by epochs (or iterations): Train draws their loss curve.
EPOCHS = {kind for kind, settings in SMALL.items() if {"epochs", "iterations"} & set(settings)}


def _kinds() -> list[str]:
    from recsys_core.models import trainable_models

    return list(trainable_models())


@pytest.fixture(scope="module")
def kinds_server(tmp_path_factory):
    """A server seeing the 300 x 2,000 catalogue, with one run per kind named after it; yields
    (base url, {kind: whether its model has embeddings})."""
    from browser_support import server_with_runs
    from recsys_core.data.demo import make_demo_dataset
    from recsys_core.data.discovery import load_dataset
    from recsys_core.evaluation.split import holdout_split
    from recsys_core.models import trainable_models

    root = tmp_path_factory.mktemp("kinds-data")
    write_latest_catalogue(root / CATALOGUE, make_demo_dataset(
        seed=0, n_users=300, n_items=2000, mean_ratings_per_user=40))
    dataset = load_dataset(root / CATALOGUE, cache=False)  # as the app loads it
    split = holdout_split(dataset, 0.2, seed=0)
    embeddings = {}

    def fill(store):
        for kind, cls in trainable_models().items():
            model = cls(**SMALL.get(kind, {})).fit(split.train)
            embeddings[kind] = model.has_embeddings
            store.save(model, dataset, name=kind, split=split, exact_name=True)

    with server_with_runs(tmp_path_factory, "kinds", fill,
                          extra_env={"RECSYS_DATA_DIR": str(root)}) as (url, _):
        yield url, embeddings


def _open(pg, url: str) -> None:
    pg.goto(url)
    assert settle(pg, calm=0.5), f"{url} did not settle"


def _info_text(pg) -> str:
    return " ".join(pg.locator('[data-testid="stAlertContentInfo"]').all_inner_texts())


@pytest.mark.parametrize("kind", _kinds())
def test_every_page_with_a_run_opens_on_every_kind(kinds_server, tab, kind):
    url, embeddings = kinds_server
    page = tab
    query = f"data={CATALOGUE}&run={kind}"
    main = page.locator('[data-testid="stMain"]')

    _open(page, f"{url}/Train?{query}&model={kind}")
    assert page.locator(".st-key-_w_run input").input_value().startswith(f"{kind} (")
    # Its loss curve (every kind trained by epochs has one), or the closed form's objective,
    # or a note that there is nothing iterative to draw.
    curve = page.locator(".st-key-run_loss .js-plotly-plot").count() == 1
    text = main.inner_text()
    assert curve or "Objective of the closed-form solution" in text \
        or "no iterative training" in text
    assert curve or kind not in EPOCHS

    _open(page, f"{url}/Embeddings?{query}&proj=pca")
    if embeddings[kind]:
        assert page.locator(".st-key-emb_map .js-plotly-plot").count() == 1
        assert page.locator(f".st-key-norm_pop_{kind} .js-plotly-plot").count() == 1
    else:  # said so, and another run's map is drawn
        assert f"Run {kind}" in _info_text(page) and "has no embeddings" in _info_text(page)
        assert page.locator(".st-key-emb_map .js-plotly-plot").count() == 1

    _open(page, f"{url}/Similarity?{query}")
    if embeddings[kind]:
        tables = main.locator('[data-testid="stDataFrame"]').filter(
            has=page.locator("thead th", has_text="norm %"))
        tables.first.wait_for(state="attached", timeout=30_000)
        assert tables.count() == 4  # dot, cosine, euclidean, tempered
    else:
        assert "has no embeddings" in _info_text(page), _info_text(page)
        assert main.locator('[data-testid="stPlotlyChart"], [data-testid="stDataFrame"]'
                            ).count() >= 1  # the toy example at the bottom

    _open(page, f"{url}/Recommend?{query}")
    rows = grid_rows(page, "moved by")
    assert len(rows) == 10 and all(r["title"] for r in rows), rows
