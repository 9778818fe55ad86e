"""Live mode of the Train page (ui/live.py): the background trainer's latest-settings-win logic
without streamlit, the fit it runs, and the page under AppTest (toggle, change a setting, the
result updates, nothing saved until "Save as run")."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys_core.data.demo import make_demo_dataset
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import WALS
from recsys_core.runs.store import RunStore
from ui import live

from .test_app_pages import APP


# ---------------------------------------------------------------------------- the trainer
def test_latest_settings_win_and_stale_fits_are_dropped():
    """Settings submitted while a fit runs replace each other; the running fit's result is
    dropped, the middle settings are never fitted, the last ones are."""
    release, started = threading.Event(), threading.Event()
    fitted = []

    def work(params, is_stale):
        fitted.append(params["x"])
        if params["x"] == 1:
            started.set()
            release.wait(10)  # a closed-form fit: no callback, runs to its end
        return {"metrics": {"ndcg@10": params["x"] / 10}}

    trainer = live.LiveTrainer(work)
    trainer.submit({"x": 1})
    assert started.wait(10)
    for x in (2, 3, 4):
        trainer.submit({"x": x})
    assert trainer.pending
    release.set()
    assert trainer.wait(10)
    assert trainer.result.params == {"x": 4} and trainer.result.metrics == {"ndcg@10": 0.4}
    assert fitted == [1, 4]
    assert trainer.discarded == 1 and trainer.previous is None and not trainer.pending
    # The same settings again: nothing to do; new ones: the old result becomes "previous".
    trainer.submit({"x": 4})
    assert not trainer.pending
    trainer.submit({"x": 5})
    assert trainer.wait(10)
    assert trainer.previous.params == {"x": 4} and trainer.result.params == {"x": 5}


def test_a_running_fit_is_stopped_through_its_progress_callback():
    epochs_run = {}
    started = threading.Event()

    def work(params, is_stale):
        for epoch in range(1, 10_001):
            if is_stale():
                epochs_run[params["x"]] = epoch
                raise live.Stale
            started.set()
            threading.Event().wait(0.001)
        epochs_run[params["x"]] = epoch
        return {"metrics": {}}

    trainer = live.LiveTrainer(work)
    trainer.submit({"x": 1})
    assert started.wait(10)
    trainer.submit({"x": 2})
    started.clear()
    trainer.submit({"x": 3})
    # x=3 runs its 10 000 short epochs; x=1 was stopped long before its end.
    assert trainer.wait(60)
    assert epochs_run[1] < 10_000 and 2 not in epochs_run and epochs_run[3] == 10_000
    assert trainer.result.params == {"x": 3}


def test_an_error_is_reported_for_the_latest_settings_only():
    def work(params, is_stale):
        if params["x"] < 0:
            raise ValueError("negative")
        return {"metrics": {"m": params["x"]}}

    trainer = live.LiveTrainer(work)
    trainer.submit({"x": -1})
    assert trainer.wait(10) and isinstance(trainer.error, ValueError)
    trainer.submit({"x": 1})
    assert trainer.wait(10) and trainer.error is None and trainer.result.metrics == {"m": 1}


def test_fit_and_measure_scores_a_validation_split_and_maps_the_items():
    dataset = make_demo_dataset(seed=0, n_users=400, n_items=300)
    inner = holdout_split(holdout_split(dataset, 0.2, seed=0).train, 0.2, seed=1)
    out = live.fit_and_measure(WALS, inner)({"factors": 8, "iterations": 3}, lambda: False)
    assert len(out["history"]) == 3 and out["metrics"]["ndcg@10"] > 0.1
    assert out["coords"].shape == (300, 2)
    # A fit whose settings are already replaced stops at its first epoch and is dropped.
    with pytest.raises(live.Stale):
        live.fit_and_measure(WALS, inner)({"factors": 8, "iterations": 50}, lambda: True)


def test_fit_estimates_offer_live_mode_only_for_short_fits():
    ml = dict(n_ratings=100_000, n_items=1682)
    assert live.estimate_fit_seconds("wals", {"factors": 64, "iterations": 15}, **ml) < 1.0
    assert live.estimate_fit_seconds("ease", {}, **ml) < 1.0
    assert live.estimate_fit_seconds("wals", {"factors": 512, "iterations": 30}, **ml) > 1.5
    assert live.estimate_fit_seconds("two-tower", {}, **ml) is None


# ---------------------------------------------------------------------------- the page
@pytest.fixture
def runs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield tmp_path
    st.cache_resource.clear()
    st.cache_data.clear()


def _settle(at: AppTest) -> AppTest:
    """Wait for the live fit, then rerun (AppTest does not run the poller's timer)."""
    assert at.session_state["_live_trainer"][1].wait(60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _live_charts(at: AppTest) -> dict:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {"names": [t.get("name") for s in specs for t in s["data"]]}


def test_live_mode_refits_on_change_and_saves_only_on_request(runs_root):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["data"] = "demo"
    at.run()
    at.switch_page("pages/2_Train.py").run()
    at.selectbox(key="_w_model").set_value("wals").run()
    at.number_input(key="_w_hp_wals_factors").set_value(8).run()
    at.number_input(key="_w_hp_wals_iterations").set_value(4).run()
    at.toggle(key="live").set_value(True).run()
    _settle(at)
    assert any(c.value.startswith("Live fit #1") for c in at.caption)
    first = at.session_state["_live_trainer"][1].result
    assert len(first.history) == 4 and first.params["factors"] == 8

    at.number_input(key="_w_hp_wals_iterations").set_value(6).run()
    _settle(at)
    trainer = at.session_state["_live_trainer"][1]
    assert trainer.result.params["iterations"] == 6 and len(trainer.result.history) == 6
    assert trainer.previous.params["iterations"] == 4
    assert any(c.value.startswith("Live fit #2") for c in at.caption)
    table = [d.value for d in at.dataframe if "previous" in d.value.columns][0]
    assert "ndcg@10" in set(table["metric"])
    names = _live_charts(at)["names"]
    assert "previous" in names and "current" in names  # the map, previous greyed
    assert any(str(n).endswith("(previous)") for n in names)  # the loss curve
    assert RunStore(runs_root).list() == []  # nothing saved while live

    at.button(key="live_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    saved = RunStore(runs_root).list()
    assert len(saved) == 1 and saved[0].params["iterations"] == 6
    assert any(s.value.startswith("Saved run") for s in at.success)
