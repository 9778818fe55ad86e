"""Every page that shows a run, on a saved run of each model kind (AppTest).

One run per trainable kind, trained quickly on the demo catalogue (seed 0) into a temporary
RECSYS_RUNS_DIR with the contract's fast hyperparameters (tests/models/test_contract.py). Each
page runs without an exception and draws its main element; a popularity run has no embeddings
worth a map and an item-kNN run none at all, so the pages that need them say so instead of
drawing another run (the Similarity page shows item-kNN's related items).
"""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys_core.data.demo import make_demo_dataset
from recsys_core.evaluation.metrics import evaluate_model
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import MODEL_REGISTRY, trainable_models
from recsys_core.runs.store import RunStore
from tests.contract import ModelContract
from tests.models import test_contract  # noqa: F401  (defines the contract's classes)

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
KINDS = sorted(trainable_models())
#: Pages that draw a run's embeddings (the run picker leaves popularity runs out of them).
EMBEDDING_PAGES = ("pages/3_Embeddings.py", "pages/4_Similarity.py")
#: Kinds whose models have no embeddings to map or compare (the class says so).
WITHOUT_EMBEDDINGS = [kind for kind in KINDS if not MODEL_REGISTRY[kind].has_embeddings]
#: Kinds whose models name related items, each with the source it ranks them by.
RELATED = [kind for kind in KINDS if MODEL_REGISTRY[kind].related_items_source is not None]


def contract_of(kind: str) -> ModelContract:
    return next(cls for cls in ModelContract.__subclasses__() if cls.kind == kind)()


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    """A run store holding one run per trainable kind, named after the kind, on the demo."""
    dataset = make_demo_dataset(seed=0)
    split = holdout_split(dataset, 0.2, seed=0)
    root = tmp_path_factory.mktemp("runs")
    store = RunStore(root)
    for kind in KINDS:
        model = contract_of(kind).fit(split.train)
        metrics = evaluate_model(model, split.test, k=10, beyond_accuracy=False)
        store.save(model, dataset, name=f"run-{kind}", split=split, metrics=metrics)
    return root


@pytest.fixture
def app(runs_dir, monkeypatch):
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")  # no UMAP compile in the background

    def open_page(page: str, kind: str, **query) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params.update({"data": "demo", "run": f"run-{kind}", "proj": "pca", **query})
        at.run()
        at.switch_page(page).run()
        assert not at.exception, (page, kind, [e.value for e in at.exception])
        assert not at.error, (page, kind, [e.value for e in at.error])
        return at

    return open_page


def _tables(at: AppTest, *columns: str) -> list:
    return [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]


def _chosen_run(at: AppTest) -> str:
    return at.selectbox(key="_w_run").value


@pytest.mark.parametrize("kind", KINDS)
def test_embeddings_page_per_model(app, kind):
    at = app("pages/3_Embeddings.py", kind)
    if kind in WITHOUT_EMBEDDINGS:
        return _assert_says_no_embeddings(at, kind)
    assert _chosen_run(at) == f"run-{kind}"
    assert at.get("plotly_chart")  # the 2-D map (and the norm-vs-popularity scatter)
    assert any(f"run-{kind}" in c.value for c in at.caption)


@pytest.mark.parametrize("kind", KINDS)
def test_similarity_page_per_model(app, kind):
    at = app("pages/4_Similarity.py", kind)
    if kind not in RELATED:  # the popularity baseline: no embeddings, no related items
        return _assert_says_no_embeddings(at, kind)
    assert _chosen_run(at) == f"run-{kind}"
    tables = _tables(at, "title", "score", "norm %")
    if kind in WITHOUT_EMBEDDINGS:  # item-kNN: only the item query, no measures to compare
        assert not tables and not at.radio
        return _assert_says_no_embeddings(at, kind)
    assert len(tables) == 4 and all(len(t) == 10 for t in tables)


@pytest.mark.parametrize("kind", RELATED)
def test_similarity_page_item_view_names_the_models_source(app, kind):
    """An item query lists the run's related items (its model's related_items, the item left
    out) and says in one sentence where they come from; models with embeddings still compare
    the item's embedding under every measure."""
    dataset = make_demo_dataset(seed=0)
    item = int(dataset.item_popularity.argmax())
    title = dataset.titles([item])[0]
    at = app("pages/4_Similarity.py", kind, query="item", item_q=title.split(" (")[0])
    related = _tables(at, "title", "score", "ratings")
    assert len(related) == 1 and len(related[0]) == 10 and title not in set(related[0]["title"])
    source = MODEL_REGISTRY[kind].related_items_source
    assert [c.value for c in at.caption if source in c.value] == \
        [f"Related items of this {kind} run come from {source}."]
    measures = _tables(at, "title", "score", "norm %")
    assert len(measures) == (0 if kind in WITHOUT_EMBEDDINGS else 4)


@pytest.mark.parametrize("kind", KINDS)
def test_recommend_page_per_model(app, kind):
    at = app("pages/5_Recommend.py", kind)
    assert _chosen_run(at) == f"run-{kind}"
    listed = _tables(at, "rank", "title", "moved by")
    assert listed and len(listed[0]) == 10


@pytest.mark.parametrize("kind", ["popularity", "ease", "item_knn"])
def test_recommend_page_pipeline_per_model(app, kind):
    """The serving pipeline's generators (the run's model, popularity, trending) and scoring
    model, on a run that is itself the popularity baseline, on one without low-rank
    embeddings, and on one without embeddings."""
    at = app("pages/5_Recommend.py", kind, cand="pipeline")
    listed = _tables(at, "rank", "title", "nominated by")
    assert listed and len(listed[0]) == 10


@pytest.mark.parametrize("kind", KINDS)
def test_compare_runs_page_per_model(app, kind):
    at = app("pages/6_Compare_runs.py", kind, cmp_view="Lists for one user")
    runs_table = _tables(at, "run", "model", "hyperparameters")[0]
    assert f"run-{kind}" in set(runs_table["run"])
    at.multiselect(key="_w_cmp").set_value([f"run-{kind}", "run-wals" if kind != "wals"
                                            else "run-svd"]).run()
    assert not at.exception, [e.value for e in at.exception]
    lists = _tables(at, "title", "ratings")
    assert len(lists) >= 2 and all(len(t) == 10 for t in lists[-2:])
    # Both runs share the demo's split: compared user by user, with an interval.
    diffs = _tables(at, "run", "metric", "difference", "95% interval")
    assert diffs and len(diffs[0]) > 0


@pytest.mark.parametrize("kind", KINDS)
def test_train_page_inspects_a_run_per_model(app, kind):
    at = app("pages/2_Train.py", kind)
    assert _chosen_run(at) == f"run-{kind}"
    metrics = _tables(at, "metric", "value")[0]
    assert "ndcg@10" in set(metrics["metric"])
    if MODEL_REGISTRY[kind].fit_stages:  # one closed-form solve: its loss terms, no curve
        objective = _tables(at, "component", "value")
        assert objective and {"observed", "total"} <= set(objective[0]["component"])
        assert not at.get("plotly_chart")
    else:
        assert at.get("plotly_chart") or any("no iterative training" in c.value
                                             for c in at.caption)


def test_pages_needing_embeddings_with_only_a_popularity_run(runs_dir, tmp_path, monkeypatch):
    import shutil

    shutil.copytree(Path(runs_dir) / "run-popularity", tmp_path / "run-popularity")
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(tmp_path))
    for page in EMBEDDING_PAGES:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["data"] = "demo"
        at.run()
        at.switch_page(page).run()
        assert not at.exception
        assert any("No trained run with embeddings" in i.value for i in at.info), page


def _assert_says_no_embeddings(at: AppTest, kind: str):
    texts = [m.value for m in [*at.info, *at.warning, *at.caption]]
    assert any(kind in t and "no embeddings" in t for t in texts), texts
