"""Pages over damaged or vanishing runs (issue 10, items 2-5 and 8) under AppTest: a message, never
a traceback; damaged runs are listed as such and can be deleted from the Train page; deletes name
their run; undefined metrics show as "—"."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys_core.data.demo import make_demo_dataset
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import WALS
from recsys_core.persistence import load_npz, save_npz
from recsys_core.runs.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGES = ("pages/2_Train.py", "pages/3_Embeddings.py", "pages/4_Similarity.py",
         "pages/5_Recommend.py", "pages/6_Compare_runs.py")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A store with two small WALS runs on the demo catalogue: "ok" and "victim" (newest)."""
    data = make_demo_dataset(seed=0)
    split = holdout_split(data, 0.2, seed=0)
    root = tmp_path_factory.mktemp("runs-template")
    store = RunStore(root)
    for name in ("ok", "victim"):
        store.save(WALS(factors=4, iterations=2).fit(split.train), data, name=name, split=split,
                   metrics={"ndcg@10": 0.1, "rmse": 1.0})
    return root


@pytest.fixture
def store(template, tmp_path, monkeypatch) -> RunStore:
    root = tmp_path / "runs"
    shutil.copytree(template, root)
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(root))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")
    return RunStore(root)


def open_page(page: str, **query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in {"data": "demo", "proj": "pca", **query}.items():
        at.query_params[k] = v
    at.run()
    at.switch_page(page).run()
    return at


def assert_clean(at: AppTest, page: str = ""):
    assert not at.exception, (page, [e.value for e in at.exception])


def by_label(widgets, label: str):
    """The widget whose label starts with ``label`` (keys are the pages' business)."""
    return next(w for w in widgets if w.label.startswith(label))


def edit_info(store: RunStore, name: str, **changes):
    file = store.root / name / "run.json"
    record = json.loads(file.read_text())
    record.update(changes)
    file.write_text(json.dumps(record))


@pytest.mark.parametrize("change", [
    {"created": 12345}, {"dataset": None}, {"metrics": {"ndcg@10": "high"}}, {"params": [1, 2]},
    {"history": [{"loss": 1.0}]},
    {"split": {"params": {"method": "holdout", "test_fraction": "most", "seed": 0}}},
], ids=["created", "dataset", "metric", "params", "history", "split"])
def test_run_json_with_wrong_types_never_breaks_a_page_and_can_be_deleted(store, change):
    edit_info(store, "victim", **change)
    field = next(iter(change))
    for page in PAGES:
        at = open_page(page, run="victim")
        assert_clean(at, page)
    # Train lists it, marked damaged, says why, and deletes it after a confirmation.
    at = open_page("pages/2_Train.py", run="victim")
    labels = at.selectbox(key="_w_run").options
    assert any("victim" in o and "damaged" in o for o in labels), labels
    assert any(field in e.value and "victim" in e.value for e in at.error)
    at.button(key="delete_run_victim").click().run()
    at.button(key="confirm_delete_victim").click().run()
    assert_clean(at)
    assert sorted(p.name for p in store.root.iterdir()) == ["ok"]
    assert any("Deleted run" in s.value for s in at.success)


def test_a_damaged_run_is_marked_in_the_pickers_before_it_is_opened(store):
    (store.root / "victim" / "model.npz").write_bytes(np.random.default_rng(1).bytes(2048))
    for page in ("pages/3_Embeddings.py", "pages/4_Similarity.py", "pages/5_Recommend.py"):
        at = open_page(page)  # opens on the newest usable run, "ok"
        assert_clean(at, page)
        options = at.sidebar.selectbox(key="_w_run").options
        assert any("victim" in o and "damaged" in o for o in options), (page, options)
        assert at.sidebar.selectbox(key="_w_run").value == "ok"
        at.sidebar.selectbox(key="_w_run").set_value("victim").run()
        assert_clean(at, page)
        assert at.error and "damaged" in at.error[0].value and "pickle" not in at.error[0].value


def test_model_arrays_of_the_wrong_shape_are_a_message_on_every_page(store):
    path = store.root / "victim" / "model.npz"
    arrays, meta = load_npz(path, expected_kind="model")
    arrays["item_embeddings_"] = arrays["item_embeddings_"][:10]
    for key in ("format", "library_version", "array_layout"):
        meta.pop(key)
    save_npz(path, arrays, meta)
    for page in PAGES:
        at = open_page(page, run="victim", cmp="ok,victim")
        assert_clean(at, page)
    at = open_page("pages/5_Recommend.py", run="victim")
    assert "item_embeddings_" in at.error[0].value


def test_undefined_metrics_show_as_a_dash(store):
    edit_info(store, "victim", metrics={"ndcg@10": None, "rmse": None})
    for page in PAGES:
        at = open_page(page, run="victim")
        assert_clean(at, page)
    at = open_page("pages/2_Train.py", run="victim")
    assert any(o.startswith("victim") and "ndcg@10=—" in o
               for o in at.selectbox(key="_w_run").options)
    table = [d.value for d in at.dataframe if "metric" in d.value.columns][0]
    assert table["value"].tolist() == ["—", "—"]
    # Compare runs shows the table's display values: "—" for the undefined ones.
    at = open_page("pages/6_Compare_runs.py")
    shown = displayed(at.dataframe[0]).set_index("run")
    assert shown.loc["victim", "ndcg@10"] == "—" and shown.loc["ok", "ndcg@10"] == "0.1000"


def displayed(frame):
    """The text a st.dataframe shows (a pandas Styler's display values), as a DataFrame."""
    import pyarrow as pa

    return pa.ipc.open_stream(frame.proto.arrow_data.styler.display_values).read_all().to_pandas()


def test_training_with_nothing_to_hold_out_refuses_up_front(store, tmp_path):
    ratings = tmp_path / "one.csv"
    ratings.write_text("user,item,rating\n1,1,5\n")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["uploaded_datasets"] = {"upload-one": ("one", str(ratings), None)}
    at.query_params["data"] = "upload-one"
    at.run()
    at.switch_page("pages/2_Train.py").run()
    at.selectbox(key="_w_model").set_value("wals").run()
    at.button(key="train").click().run()
    assert_clean(at)
    assert any("too few ratings to hold out" in e.value for e in at.error)
    assert sorted(p.name for p in store.root.iterdir()) == ["ok", "victim"]


def test_a_stale_delete_click_deletes_nothing_and_says_so(store):
    at = open_page("pages/2_Train.py", run="ok")
    store.delete("ok")  # another session deletes it meanwhile
    at.button(key="delete_run_ok").click().run()
    assert_clean(at)
    assert any("ok** no longer exists" in w.value or "ok no longer exists" in w.value
               for w in at.warning), [w.value for w in at.warning]
    assert [i.name for i in store.list()] == ["victim"]
    assert not at.button(key="delete_run_victim").value


def test_cancelling_a_delete_keeps_the_run(store):
    at = open_page("pages/2_Train.py", run="ok")
    at.button(key="delete_run_ok").click().run()
    at.button(key="cancel_delete_ok").click().run()
    assert_clean(at)
    assert {i.name for i in store.list()} == {"ok", "victim"}
    assert at.button(key="delete_run_ok")  # back to the first step


def test_a_run_deleted_just_after_it_was_saved_is_a_message(store, monkeypatch):
    save = RunStore.save

    def save_then_vanish(self, *args, **kwargs):
        info = save(self, *args, **kwargs)
        RunStore(self.root).delete(info.name)  # another session, at once
        return info

    monkeypatch.setattr(RunStore, "save", save_then_vanish)
    at = open_page("pages/2_Train.py", model="wals", reuse="0")
    by_label(at.number_input, "factors").set_value(3).run()
    by_label(at.number_input, "iterations").set_value(1).run()
    at.checkbox(key="reuse").uncheck().run()
    at.button(key="train").click().run()
    assert_clean(at)
    assert any("was saved" in w.value and "cannot be opened" in w.value for w in at.warning), \
        [w.value for w in at.warning]


def test_an_invalid_run_name_is_refused_as_it_is_typed(store):
    at = open_page("pages/2_Train.py", model="popularity")
    by_label(at.text_input, "Run name").set_value("../escape").run()
    assert_clean(at)
    assert any("invalid run name" in e.value for e in at.error)
    assert at.button(key="train").disabled
