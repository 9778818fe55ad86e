"""Training a closed-form model (EASE) in the app (issue 20.6): the job says which stage of the one
solve runs (building the Gram matrix, inverting it, computing the weights) with a bar that moves
between them and no "epoch" wording, the page's counter keeps moving while the inverse runs, and
the live mode shows the solution's loss terms as a table, not a one-point "curve"."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys_core.data.demo import make_demo_dataset
from recsys_core.models import EASE
from recsys_core.runs.store import RunStore
from ui import training

APP = str(Path(__file__).resolve().parents[2] / "app.py")
SPLIT = {"method": "holdout", "test_fraction": 0.2, "seed": 0}


@pytest.fixture
def runs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")
    return tmp_path


def test_the_job_names_each_stage_of_the_solve_and_never_an_epoch(runs_root, monkeypatch):
    seen = []
    original = training.TrainingJob._callback

    def record(self, progress):
        answer = original(self, progress)
        seen.append((self.describe(), self.fraction))
        return answer

    monkeypatch.setattr(training.TrainingJob, "_callback", record)
    job = training.start_local_job(EASE(regularization=100.0), "ease", "demo",
                                   make_demo_dataset(seed=0), SPLIT)
    assert job.finished.wait(120) and job.error is None, job.error
    texts, fractions = zip(*seen)
    stages = EASE.fit_stages
    assert len(texts) == len(stages) + 1
    for n, (text, stage) in enumerate(zip(texts, stages), start=1):
        assert f"step 2/4 · training: {stage} (part {n}/{len(stages)} of one closed-form " \
               "solve)" in text, text
    assert "training: solved" in texts[-1]
    assert list(fractions) == [0.0, 1 / 3, 2 / 3, 1.0]
    assert not any("epoch" in text for text in texts)
    assert len(job.progress) == 1 and job.result.history[0]["total"] > 0


def test_the_counter_moves_while_the_gram_matrix_is_inverted(runs_root):
    """The page redraws the bar every 0.25 s from its own thread; while the job's thread inverts
    a 3,000 x 3,000 Gram matrix the page must still get its turns (the inverse used to hold
    the interpreter lock: a 9,125-item inverse stopped the counter for ~40 s)."""
    dataset = make_demo_dataset(seed=0, n_users=1500, n_items=3000)
    job = training.start_local_job(EASE(), "ease", "demo", dataset, SPLIT, reuse=False)
    polls = []
    while not job.finished.wait(0.05):
        polls.append((time.perf_counter(), job.describe()))
    assert job.error is None, job.error
    inverting = [t for t, text in polls if "inverting it (Cholesky)" in text]
    assert len(inverting) >= 3, [text for _, text in polls][:20]
    gaps = [b - a for (a, _), (b, _) in zip(polls, polls[1:])]
    assert max(gaps) < 1.0, max(gaps)
    counters = {int(re.search(r"· (\d+) s$", text).group(1)) for _, text in polls
                if "inverting" in text}
    assert len(counters) >= 2 or inverting[-1] - inverting[0] < 1.0


def test_live_ease_shows_its_loss_terms_as_a_table(runs_root, monkeypatch):
    from ui import live

    monkeypatch.setattr(live, "LIVE_LIMIT_SECONDS", 60.0)  # what is drawn, on a busy machine too
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["data"] = "demo"
        at.run()
        at.switch_page("pages/2_Train.py").run()
        at.selectbox(key="_w_model").set_value("ease").run()
        at.toggle(key="live").set_value(True).run()
        for regularization in (100.0, 300.0):
            at.number_input(key="_w_hp_ease_regularization").set_value(regularization).run()
            assert at.session_state["_live_trainer"][1].wait(60)
            at.run()
            assert not at.exception, [e.value for e in at.exception]
        terms = [d.value for d in at.dataframe if "component" in d.value.columns][0]
        assert {"observed", "regularization", "total"} <= set(terms["component"])
        assert "previous" in terms.columns and terms["previous"].notna().all()
        traces = [t.get("name") for c in at.get("plotly_chart")
                  for t in json.loads(c.proto.spec)["data"]]
        assert not {"observed", "regularization", "total"} & set(traces)  # no loss "curve"
        assert RunStore(runs_root).list() == []
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
