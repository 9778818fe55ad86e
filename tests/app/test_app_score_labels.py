"""Honest scores in the app (issue 19, item 5): a model's own values are called a "predicted
rating" only when they estimate ratings, a score otherwise, and a run without RMSE says why."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from recsys_core.data.demo import make_demo_dataset
from recsys_core.evaluation.metrics import evaluate_model
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import MODEL_REGISTRY
from recsys_core.runs.store import RunStore

APP = str(Path(__file__).resolve().parents[2] / "app.py")
NOT_RATINGS = "scores rank items but are not rating estimates"


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    """A WALS run (scores that rank) and an MF run on the observed objective (rating estimates)
    on the demo catalogue, each evaluated on its holdout like the Train page does."""
    dataset = make_demo_dataset(seed=0)
    split = holdout_split(dataset, 0.2, seed=0)
    store = RunStore(tmp_path_factory.mktemp("runs"))
    for name, kind, params in (("wals", "wals", dict(factors=8, iterations=3)),
                               ("mf-observed", "mf", dict(objective="observed", factors=8,
                                                          epochs=5))):
        model = MODEL_REGISTRY[kind](**params).fit(split.train)
        metrics = evaluate_model(model, split.test, k=10, beyond_accuracy=False)
        store.save(model, dataset, name=name, split=split, metrics=metrics)
    return store.root


@pytest.fixture
def page(runs_dir, monkeypatch):
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")

    def open_page(path: str, **query) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        for key, value in {"data": "demo", **query}.items():
            at.query_params[key] = value
        at.run()
        at.switch_page(path).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_page


def _recommendations(at: AppTest):
    return next(d.value for d in at.dataframe if {"rank", "title", "final"} <= set(d.value.columns))


def test_a_wals_list_shows_scores_not_ratings(page):
    at = page("pages/5_Recommend.py", run="wals")
    listed = _recommendations(at)
    assert "base score" in listed.columns and "predicted rating" not in listed.columns
    assert listed["base score"].max() < 2  # nowhere near the 1-5 ratings of the items it lists
    assert any(NOT_RATINGS in c.value for c in at.caption)


def test_an_observed_objective_mf_list_shows_predicted_ratings(page):
    at = page("pages/5_Recommend.py", run="mf-observed")
    listed = _recommendations(at)
    assert "predicted rating" in listed.columns and "base score" not in listed.columns
    predicted = listed["predicted rating"].to_numpy()
    assert np.all(predicted > 3) and np.all(predicted < 5.5)  # the top of the 1-5 scale
    assert np.all(np.diff(predicted) <= 1e-6)  # no knob moved anything: best first
    assert not any(NOT_RATINGS in c.value for c in at.caption)
    # Ranked by cosine similarity instead, the values are no ratings.
    at.selectbox(key="_w_measure").set_value("cosine").run()
    assert "predicted rating" not in _recommendations(at).columns


def test_a_folded_in_user_of_a_biased_model_gets_scores(page):
    """Fold-in gives the new user's embedding, not their bias: the MF's values for them are off
    their rating estimates by that bias, so they are scores."""
    at = page("pages/5_Recommend.py", run="mf-observed", who="new")
    at.text_input(key="_w_rate_item_q").set_value(
        make_demo_dataset(seed=0).items["title"].iloc[5]).run()
    at.button(key="add_rating").click().run()
    assert not at.exception, [e.value for e in at.exception]
    listed = _recommendations(at)
    assert "base score" in listed.columns and "predicted rating" not in listed.columns


@pytest.mark.parametrize("run, says_why", [("wals", True), ("mf-observed", False)])
def test_the_train_page_says_why_a_run_has_no_rmse(page, run, says_why):
    at = page("pages/2_Train.py", run=run)
    metrics = next(d.value for d in at.dataframe if {"metric", "value"} <= set(d.value.columns))
    assert ("rmse" in set(metrics["metric"])) is not says_why
    assert any("No RMSE or MAE: this run's " + NOT_RATINGS in c.value
               for c in at.caption) is says_why
