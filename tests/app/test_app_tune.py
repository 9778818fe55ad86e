"""The Tune page under AppTest: a 3-trial WALS sweep on the demo catalogue runs in the background,
saves one run per trial, charts them and opens the best one on the Train page."""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys_core.runs.store import RunStore

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    st.cache_resource.clear()
    st.cache_data.clear()
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")
    yield tmp_path
    st.cache_resource.clear()
    st.cache_data.clear()


def tune_page() -> AppTest:
    """The app opened on the demo catalogue and switched to the Tune page, without errors."""
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["data"] = "demo"
    at.run()
    at.switch_page("pages/7_Tune.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_tune_page_runs_a_three_trial_sweep(runs_dir):
    at = tune_page()
    at.multiselect(key="tune_params_wals").set_value(["regularization"])
    at.number_input(key="tune_trials").set_value(3)
    at.radio(key="tune_strategy").set_value("random")
    at.run()
    at.button(key="tune_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    infos = RunStore(runs_dir).list()
    assert len(infos) == 3
    assert {i.sweep["trial"] for i in infos} == {0, 1, 2}
    assert len({i.sweep["name"] for i in infos}) == 1
    table = at.dataframe[0].value
    assert list(table["trial"]) == [0, 1, 2] and "regularization" in table.columns
    charts = at.get("plotly_chart")
    assert charts, "the sweep's chart is drawn"
    assert any("Best: trial" in s.value for s in at.success)
    at.button(key="tune_open").click().run()
    assert not at.exception, [e.value for e in at.exception]
    best = min(infos, key=lambda i: (-i.sweep["value"], i.sweep["trial"]))
    assert at.session_state["run"] == best.name
    assert at.title[0].value == "Train"  # the best trial opened on the Train page


def test_an_unfinished_sweep_is_resumed_on_the_page(runs_dir):
    import threading

    from recsys_core.data.demo import make_demo_dataset
    from recsys_core.evaluation.split import make_split
    from recsys_core.tuning import Dimension, Sweep
    from ui import splits

    dataset = make_demo_dataset(seed=0)
    split = make_split(dataset, dict(splits.SPLITS["holdout"][1]))
    cancel = threading.Event()
    sweep = Sweep(RunStore(runs_dir), "halfway", "wals",
                  [Dimension("regularization", 0.01, 1.0, log=True)], strategy="random",
                  n_trials=3, fixed_params={"iterations": 3})
    sweep.run(dataset, split, cancel=cancel, on_trial=lambda t: cancel.set())
    assert len(RunStore(runs_dir).list()) == 1  # as if the app had stopped after one trial

    at = tune_page()
    assert "halfway: 1/3 trials" in at.selectbox(key="tune_resume_name").format_func("halfway")
    at.button(key="tune_resume").click().run()
    assert not at.exception, [e.value for e in at.exception]
    infos = RunStore(runs_dir).list()
    assert sorted(i.sweep["trial"] for i in infos) == [0, 1, 2]
    assert list(at.dataframe[0].value["trial"]) == [0, 1, 2]


@pytest.mark.parametrize("strategy, dims, trace", [
    ("random", 1, "scatter"), ("grid", 2, "heatmap"), ("tpe", 2, "scatter"),
    ("random", 3, "parcoords")])
def test_sweep_figure_per_number_of_hyperparameters(tmp_path, strategy, dims, trace):
    from recsys_core.data.demo import make_demo_dataset
    from recsys_core.tuning import Dimension, Sweep
    from ui.tuning import sweep_figure

    space = [Dimension("regularization", 0.01, 1.0, log=True),
             Dimension("unobserved_weight", 0.05, 0.5),
             Dimension("factors", choices=(4, 8))][:dims]
    sweep = Sweep(RunStore(tmp_path), "fig", "wals", space, strategy=strategy, n_trials=4,
                  fixed_params={"iterations": 2}, save_trials=False)
    assert sweep_figure(sweep) is None  # nothing to draw before the first trial
    sweep.run(make_demo_dataset(seed=0))
    fig = sweep_figure(sweep)
    assert fig.data[0].type == trace
    best = sweep.best()
    assert f"trial {best.number}" in fig.layout.title.text
    if dims < 3:  # the best trial is marked with a star
        marker = next(t for t in fig.data if t.name == "best")
        assert marker.marker.symbol == "star"
