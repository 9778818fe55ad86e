"""The app at ml-25m's size (issue 11), on small data with the thresholds lowered: the Train job
reports every stage (data preparation and evaluation included), big data is evaluated on a fixed,
stated sample of test users, softmax and two-tower say what a fit costs before it starts, and the
Embeddings page shows a sampled map at once and the full map when it is ready."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from recsys_core.data.demo import make_demo_dataset
from recsys_core.evaluation.metrics import EVALUATED_USERS, TEST_USERS
from recsys_core.evaluation.projection import project
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import MODEL_REGISTRY
from recsys_core.runs.store import RunStore

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")
    return tmp_path


def _open(page: str, **query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["data"] = "demo"
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# ---------------------------------------------------------------------------- the Train job
def test_training_job_reports_preparation_training_evaluation_and_saving(runs_dir, monkeypatch):
    from ui import training

    monkeypatch.setattr(training, "EVALUATION_SAMPLE_USERS", 400)
    reports = []
    original = training.TrainingJob.report

    def record(self, stage, fraction=None, note=""):
        original(self, stage, fraction, note)
        reports.append((stage, fraction, note, self.describe()))

    monkeypatch.setattr(training.TrainingJob, "report", record)
    data = make_demo_dataset(seed=0)
    model = MODEL_REGISTRY["wals"](factors=4, iterations=2)
    job = training.start_local_job(model, "wals", "demo", data,
                                   {"method": "holdout", "test_fraction": 0.2, "seed": 0})
    assert job.finished.wait(120) and job.error is None
    stages = [r[0] for r in reports]
    assert stages[0] == "preparing the data" and stages[1] == "training"
    assert stages[-1] == "saving the run"
    evaluating = [r for r in reports if r[0] == "evaluating" and r[1] is not None]
    assert evaluating[0][1] == 0.0 and evaluating[-1][1] == 1.0
    assert "a fixed sample of 400 of the" in evaluating[0][2]
    assert "step 3/4 · evaluating (100%) · on a fixed sample" in evaluating[-1][3]
    info = job.result
    assert info.metrics[EVALUATED_USERS] == 400
    assert info.metrics[TEST_USERS] == int(np.count_nonzero(
        holdout_split(data, 0.2, seed=0).test.user_activity))
    # The same settings again: the saved run is found after the split, nothing is fitted.
    again = training.start_local_job(MODEL_REGISTRY["wals"](factors=4, iterations=2), "wals",
                                     "demo", data, {"method": "holdout", "test_fraction": 0.2,
                                                    "seed": 0})
    assert again.finished.wait(60) and again.reused and again.result.name == info.name
    assert not again.progress


def test_train_page_states_the_evaluation_sample(runs_dir, monkeypatch):
    from ui import training

    monkeypatch.setattr(training, "EVALUATION_SAMPLE_USERS", 500)
    at = _open("pages/2_Train.py")
    at.selectbox(key="_w_model").set_value("wals").run()
    at.number_input(key="_w_hp_wals_factors").set_value(4).run()
    at.number_input(key="_w_hp_wals_iterations").set_value(2).run()
    at.button(key="train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(s.value.startswith("Saved run") for s in at.success)
    assert any("Averaged over a fixed sample of 500 of the" in c.value for c in at.caption)
    # The counts are said in the caption, not listed as metrics.
    table = [d.value for d in at.dataframe if "metric" in d.value.columns][0]
    assert EVALUATED_USERS not in set(table["metric"]) and "ndcg@10" in set(table["metric"])
    info = RunStore(runs_dir).list()[0]
    assert info.metrics[EVALUATED_USERS] == 500


@pytest.mark.parametrize("kind", ["softmax", "two-tower"])
def test_neural_models_say_what_a_fit_costs_before_it_starts(runs_dir, kind):
    at = _open("pages/2_Train.py")
    at.selectbox(key="_w_model").set_value(kind).run()
    assert not at.exception, [e.value for e in at.exception]
    notes = [i.value for i in at.info if "Expected cost" in i.value]
    assert notes and "per epoch" in notes[0] and "3,000 users × 1,500 items" in notes[0]
    assert not RunStore(runs_dir).list()  # nothing was trained to say it
    at.selectbox(key="_w_model").set_value("wals").run()
    assert not [i for i in at.info if "Expected cost" in i.value]


def test_neural_cost_estimate_grows_with_the_data_and_the_item_side():
    from recsys_core.models.neural.softmax import SoftmaxModel
    from recsys_core.models.neural.two_tower import TwoTowerModel

    small = SoftmaxModel().estimate_epoch_seconds(943, 1682, 80_000)
    big = SoftmaxModel().estimate_epoch_seconds(162_541, 59_047, 18_300_000)
    assert small < 5 and 60 < big < 3600  # ml-100k: seconds; ml-25m: minutes, not hours
    assert TwoTowerModel().estimate_epoch_seconds(162_541, 59_047, 18_300_000) < 3600
    full = SoftmaxModel(loss="full").estimate_epoch_seconds(162_541, 59_047, 18_300_000)
    assert full > big
    assert SoftmaxModel(epochs=10).estimate_fit_seconds(943, 1682, 80_000) == pytest.approx(
        10 * SoftmaxModel().estimate_epoch_seconds(943, 1682, 80_000))


# ---------------------------------------------------------------------------- Embeddings
@pytest.fixture
def one_run(runs_dir):
    data = make_demo_dataset(seed=0)
    split = holdout_split(data, 0.2, seed=0)
    model = MODEL_REGISTRY["wals"](factors=8, iterations=2).fit(split.train)
    RunStore(runs_dir).save(model, data, name="wals-big", split=split, metrics={})
    return data


def _map_titles_and_sizes(at: AppTest) -> list[tuple[str, int]]:
    out = []
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec["layout"].get("title", {}).get("text", "")
        if spec["data"] and spec["data"][0].get("type") == "scattergl":
            x = spec["data"][0]["x"]
            n = len(x) if isinstance(x, list) else len(np.frombuffer(
                __import__("base64").b64decode(x["bdata"]), dtype=x["dtype"]))
            out.append((title, n))
    return out


def test_embeddings_page_shows_the_sampled_map_first_then_the_full_map(one_run, monkeypatch):
    import ui.projections

    monkeypatch.setattr(ui.projections, "SAMPLE_FROM", 1000)
    monkeypatch.setattr(ui.projections, "SAMPLE_POINTS", 300)
    release = threading.Event()
    sizes = []

    def slow_full_map(embeddings, method="umap", **kwargs):  # UMAP's stand-in
        if method == "pca":  # the instant preview
            return project(embeddings, "pca")
        sizes.append(len(embeddings))
        if len(embeddings) > 300:
            release.wait(60)
        return project(embeddings, "pca")

    monkeypatch.setattr(ui.projections, "project", slow_full_map)
    try:
        at = _open("pages/3_Embeddings.py", run="wals-big", proj="umap")
        maps = _map_titles_and_sizes(at)
        assert maps[0][1] == 300 and "Sampled map" in maps[0][0]
        assert "300 most-rated items of 1,500" in maps[0][0]
        assert any("Full UMAP map of all 1,500 items" in p.proto.text for p in at.get("progress"))
        # A selection on the sampled map names the sampled items.
        rows = ui.projections.map_sample(one_run.item_popularity)
        at.session_state["emb_map_sampled"] = {"selection": {"point_indices": [0], "points": [],
                                                             "box": [], "lasso": []}}
        at.run()
        table = [d.value for d in at.dataframe if "nearest neighbours" in d.value.columns][0]
        assert table["name"].tolist() == [one_run.items["title"].astype(str).iloc[rows[0]]]
    finally:
        release.set()
    for job in list(ui.projections._registry().jobs.values()):
        job.result(60)
    at.run()
    maps = _map_titles_and_sizes(at)
    assert maps[0] == ("UMAP", 1500)
    assert sorted(sizes) == [300, 1500]  # each map computed once
