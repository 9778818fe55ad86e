"""Page tests: Streamlit's caches survive across AppTest instances in one pytest process, so each
test starts and ends with empty ones (a cached dataset, run or split from another test would
otherwise be reused)."""
import pytest
import streamlit as st


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()
