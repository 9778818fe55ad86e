"""The Train page's "Train on Spark" (streamlit.testing.v1.AppTest, demo catalogue).

The training test needs pyspark and Java: skipped without them locally, a failure under CI=true.
Runs go to a temporary store.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys_core.runs import spark as spark_engine
from recsys_core.runs.store import RunStore
from tests.conftest import _missing

APP = str(Path(__file__).resolve().parents[2] / "app.py")
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")


@pytest.fixture
def train_page(tmp_path, monkeypatch):
    st.cache_resource.clear()
    st.cache_data.clear()
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")

    def open_page() -> AppTest:
        at = AppTest.from_file(APP, default_timeout=180)
        at.query_params["data"] = "demo"
        at.run()
        at.switch_page("pages/2_Train.py").run()
        at.selectbox(key="_w_model").set_value("wals").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    yield open_page
    st.cache_resource.clear()
    st.cache_data.clear()


def test_without_pyspark_the_spark_option_says_what_to_install(train_page, monkeypatch):
    monkeypatch.setattr(spark_engine, "spark_unavailable_reason",
                        lambda: "the Spark engine needs pyspark and Java 17: pyspark is not "
                                "installed; install pip install -r requirements-spark.txt")
    at = train_page()
    box = at.checkbox(key="on_spark")
    assert box.disabled
    assert "requirements-spark.txt" in box.help  # said to whoever asks, on hover
    # ... and only there: no install note on every WALS Train page
    shown = [e.value for kind in ("caption", "markdown", "info", "warning") for e in at.get(kind)]
    assert not any("pyspark" in text or "Java" in text for text in shown), shown


def test_train_on_spark_saves_a_run_listed_with_its_engine(train_page, tmp_path):
    reason = spark_engine.spark_unavailable_reason()
    if reason:
        _missing(reason)
    spark_engine.spark_session("local[2]")  # the page reuses the process's session
    at = train_page()
    at.checkbox(key="on_spark").check().run()
    at.number_input(key="spark_factors").set_value(4).run()
    at.number_input(key="spark_iterations").set_value(2).run()
    at.button(key="train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    saved = [s.value for s in at.success]
    assert saved and saved[0].startswith("Saved run"), [e.value for e in at.error]
    name = saved[0].split("**")[1]
    info = RunStore(tmp_path / "runs").info(name)
    assert info.engine["name"] == "spark" and info.engine["als"]["rank"] == 4
    assert info.params["regularization_type"] == "count" and "ndcg@10" in info.metrics
    label = at.selectbox(key="_w_run")
    assert f"{name} (wals on spark" in label.format_func(name)
