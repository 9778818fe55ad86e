"""Page tests: Streamlit's caches survive across AppTest instances in one pytest process, so each
test starts and ends with empty ones (a cached dataset, run or split from another test would
otherwise be reused)."""
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def train_page(monkeypatch, tmp_path):
    """Opens the Train page on the demo catalogue with a model kind chosen (a fresh run store,
    no background map); fails on any exception."""
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")

    def open_page(kind: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["data"] = "demo"
        at.query_params["model"] = kind
        at.run()
        at.switch_page("pages/2_Train.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at
    return open_page
