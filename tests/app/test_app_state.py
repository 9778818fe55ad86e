"""ui.state under AppTest: link values that are not numbers, not finite, out of range or not an
option fall back to the default with a note; values set by code reach their widgets.

The browser-only part (a widget hidden by an early st.stop() shown at its minimum) is in
tests/e2e/test_state_browser.py.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys_core.data.demo import make_demo_dataset
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import MODEL_REGISTRY
from recsys_core.runs.store import RunStore

ROOT = Path(__file__).resolve().parents[2]


def _knob_script():
    import streamlit as st

    from ui import state

    state.note_page_run()
    state.slider("b", "b", 0.0, min_value=0.0, max_value=1.0, step=0.05)
    state.slider("n", "n", 10, min_value=5, max_value=30)
    state.checkbox("c", "c", False)
    state.selectbox("s", ["x", "y"], "s", "x")
    state.radio("r", ["u", "v"], "r", "u")
    state.multiselect("m", ["g1", "g2"], "m", ["g1"])
    if st.button("put", key="put"):
        state.put("b", 0.75)
    if st.checkbox("hide", key="hide"):
        st.stop()
    state.slider("after", "a", 0.5, min_value=0.0, max_value=1.0, step=0.1)


def _open(**query) -> AppTest:
    at = AppTest.from_function(_knob_script, default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("query, key, expected", [
    ({"b": "nan"}, "b", 0.0), ({"b": "inf"}, "b", 0.0), ({"b": "-0.5"}, "b", 0.0),
    ({"b": "abc"}, "b", 0.0), ({"n": "abc"}, "n", 10), ({"n": "99"}, "n", 10),
    ({"n": "7.5"}, "n", 10), ({"n": "nan"}, "n", 10),
])
def test_bad_numbers_in_a_link_fall_back_to_the_default_with_a_note(query, key, expected):
    at = _open(**query)
    assert at.slider(key=f"_w_{key}").value == expected
    raw = next(iter(query.values()))
    assert any(f"{key}={raw!r}" in c.value for c in at.caption), [c.value for c in at.caption]
    assert at.query_params[key] == str(expected)  # the URL now carries the value in use


def test_bad_choices_in_a_link_fall_back_with_a_note():
    at = _open(c="maybe", s="z", r="w", m="g2,nope")
    assert at.checkbox(key="_w_c").value is False
    assert at.selectbox(key="_w_s").value == "x"
    assert at.radio(key="_w_r").value == "u"
    assert at.multiselect(key="_w_m").value == ["g1"]
    notes = " ".join(c.value for c in at.caption)
    for part in ("c='maybe'", "s='z'", "r='w'", "m='g2,nope'"):
        assert part in notes


def test_good_link_values_are_shown_without_a_note():
    at = _open(b="0.35", n="12", c="1", s="y", r="v", m="g2")
    assert at.slider(key="_w_b").value == pytest.approx(0.35)
    assert at.slider(key="_w_n").value == 12
    assert at.checkbox(key="_w_c").value is True
    assert at.selectbox(key="_w_s").value == "y"
    assert at.radio(key="_w_r").value == "v"
    assert at.multiselect(key="_w_m").value == ["g2"]
    assert not at.caption


def test_values_survive_an_early_stop_and_code_can_set_them():
    at = _open()
    at.slider(key="_w_a").set_value(0.9).run()
    at.checkbox(key="hide").check().run()  # the "after" slider is not drawn
    at.slider(key="_w_b").set_value(0.2).run()
    at.checkbox(key="hide").uncheck().run()
    assert at.slider(key="_w_a").value == pytest.approx(0.9)
    assert at.slider(key="_w_b").value == pytest.approx(0.2)
    at.button(key="put").click().run()  # put() after the widget was drawn: shown next run
    at.run()
    assert at.slider(key="_w_b").value == pytest.approx(0.75)
    assert at.query_params["b"] == "0.75"


# ------------------------------------------------------------------ the pages, issue 10 item 7


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    dataset = make_demo_dataset(seed=0)
    split = holdout_split(dataset, 0.2, seed=0)
    model = MODEL_REGISTRY["wals"](factors=8, iterations=3).fit(split.train)
    root = tmp_path_factory.mktemp("runs")
    RunStore(root).save(model, dataset, name="wals-state", split=split, exact_name=True)
    return root


@pytest.fixture
def page(runs_dir, monkeypatch):
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")
    st.cache_resource.clear()
    st.cache_data.clear()

    def open_page(path: str, **query) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params.update({"data": "demo", "run": "wals-state", **query})
        at.run()
        at.switch_page(path).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    yield open_page
    st.cache_resource.clear()
    st.cache_data.clear()


def test_recommend_page_with_nan_knobs_in_the_link(page):
    at = page("pages/5_Recommend.py", rr_pop="nan", rr_mmr="nan", k="1e9")
    assert at.slider(key="_w_rr_pop").value == 0.0
    assert at.slider(key="_w_rr_mmr").value == 1.0
    assert at.slider(key="_w_k").value == 10
    notes = " ".join(c.value for c in at.caption)
    assert "rr_pop='nan'" in notes and "rr_mmr='nan'" in notes and "k='1e9'" in notes
    lists = [d.value for d in at.dataframe if "final" in d.value.columns]
    assert len(lists) == 1 and len(lists[0]) == 10


def test_similarity_page_with_nan_alpha_in_the_link(page):
    at = page("pages/4_Similarity.py", alpha="nan", toy_Ax="nan")
    assert at.slider(key="_w_alpha").value == 0.5
    assert at.slider(key="_w_toy_Ax").value == pytest.approx(0.3)
    assert any("alpha='nan'" in c.value for c in at.caption)


def test_embeddings_page_with_nan_perplexity_in_the_link(page, monkeypatch):
    at = page("pages/3_Embeddings.py", proj="pca", md="nan", perp="nan")
    assert not at.exception
    # The knobs of another projection are not drawn; their link values are still not used.
    at.selectbox(key="_w_proj").set_value("tsne").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.slider(key="_w_perp").value == 30.0


def test_title_search_starts_empty_with_a_hint_and_the_toy_stays(page):
    at = page("pages/5_Recommend.py", who="new")
    assert at.text_input(key="_w_rate_item_q").value == ""
    assert not at.error  # an empty box is not "no title contains ''"
    assert any("Type part of a title" in c.value for c in at.caption)
    assert at.button(key="add_rating").disabled
    at = page("pages/4_Similarity.py", query="item")
    assert at.text_input(key="_w_item_q").value == ""
    assert not at.error
    # The toy example does not depend on the query: it is drawn without one.
    assert any("Most similar under" in m.value for m in at.markdown)


def test_recommend_list_keeps_scores_next_to_the_title(page):
    """At 800 px only the first columns fit: the final score comes right after the title."""
    at = page("pages/5_Recommend.py")
    listed = [d.value for d in at.dataframe if "final" in d.value.columns][0]
    assert list(listed.columns[:3]) == ["rank", "title", "final"]


def test_candidate_stage_survives_a_visit_as_a_new_user(page):
    """The "Candidates" choice does not apply to a new user; switching there and back keeps it
    (it used to be overwritten with the only option a new user has)."""
    at = page("pages/5_Recommend.py", cand="pipeline")
    assert at.radio(key="_w_cand").value == "pipeline"
    at.radio(key="_w_who").set_value("new").run()
    at.text_input(key="_w_rate_item_q").set_value("a").run()  # any title containing "a"
    at.button(key="add_rating").click().run()
    assert [d for d in at.dataframe if "final" in d.value.columns]  # the new user's list
    at.radio(key="_w_who").set_value("user").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="_w_cand").value == "pipeline"
    assert at.query_params["cand"] == "pipeline"


def _internals_probe():
    import streamlit as st
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    from streamlit.runtime.scriptrunner_utils.script_run_context import ThreadState

    ctx = get_script_run_ctx()
    st.write(f"coordinator={getattr(ctx, 'parallel_coordinator', None) is not None}")
    st.write(f"fragment_id={hasattr(ThreadState.get(), 'fragment_id')}")
    st.write(f"stop_auto_rerun={hasattr(ForwardMsg(), 'stop_auto_rerun')}")


def test_streamlit_internals_the_state_model_relies_on_are_there():
    """ui.state and ui.impact read three Streamlit internals (with fallbacks that cost
    correctness under fast key presses or a poller that never stops): a Streamlit upgrade that
    removes one must fail here, not silently in a browser. requirements.txt pins the minor."""
    at = AppTest.from_function(_internals_probe, default_timeout=30).run()
    shown = [m.value for m in at.markdown]
    assert shown == ["coordinator=True", "fragment_id=True", "stop_auto_rerun=True"]
