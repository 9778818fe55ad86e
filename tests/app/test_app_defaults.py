"""Defaults that teach (issue 9), under streamlit.testing.v1.AppTest: the app opens on MovieLens
when it is found, the sidebar starts with "Home", the Train page's evaluation header is a sentence,
the runs table shows NDCG@10 first, and the "WALS vs SGD" lesson opens with its WALS run and MF
run picked, training the missing ones on request; pages default to a healthy run of their own."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import recsys_core.data.discovery as data_io
from recsys_core.data.demo import make_demo_dataset
from recsys_core.evaluation.metrics import evaluate_model
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import MODEL_REGISTRY
from recsys_core.runs.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


@pytest.fixture(scope="module")
def demo():
    return make_demo_dataset(seed=0)  # the app's demo catalogue


@pytest.fixture
def wals_store(tmp_path, demo):
    """A run store with one small WALS run on the demo catalogue (default holdout split)."""
    split = holdout_split(demo, 0.2, seed=0)
    model = MODEL_REGISTRY["wals"](factors=8, iterations=3).fit(split.train)
    RunStore(tmp_path).save(model, demo, name="wals-a", split=split,
                            metrics=evaluate_model(model, split.test, k=10))
    return tmp_path


@pytest.fixture
def env(monkeypatch, tmp_path):
    """Runs in a temporary store, no background UMAP; returns a function opening a page."""
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")

    def open_page(page: str | None = None, **query) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        for k, v in query.items():
            at.query_params[k] = v
        at.run()
        if page is not None:
            at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        return at
    return open_page


def _param(at: AppTest, key: str):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


# ---------------------------------------------------------------------------- dataset default
@pytest.mark.parametrize("where", ["folder holding datasets", "dataset folder itself"])
def test_app_opens_on_movielens_found_in_recsys_data_dir(env, monkeypatch, data_dir, where):
    if not (data_dir / "ml-100k" / "u.data").is_file():
        pytest.skip("MovieLens 100K not in RECSYS_DATA_DIR")
    root = data_dir if where == "folder holding datasets" else data_dir / "ml-100k"
    monkeypatch.setenv("RECSYS_DATA_DIR", str(root))
    at = env()
    assert _param(at, "data") == "ml-100k"
    assert {m.label: m.value for m in at.metric}["Ratings"] == "100,000"


def test_app_opens_on_the_demo_when_no_dataset_is_found(env, monkeypatch, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("RECSYS_DATA_DIR", str(empty))
    monkeypatch.setattr(data_io, "PROJECT_DATA_DIR", empty)
    at = env()
    assert _param(at, "data") == "demo"


def test_find_datasets_lists_every_dataset_folder_of_a_folder_holding_several(monkeypatch,
                                                                               tmp_path):
    root = tmp_path / "datasets"
    # Folders are recognised by their files' content (first lines), not by their names.
    for name, files in (("ml-latest-10k", {"ratings.csv": "userId,movieId,rating,timestamp\n",
                                           "movies.csv": "movieId,title,genres\n"}),
                        ("ml-100k", {"u.data": "", "u.item": ""}),
                        ("notes", {"README.md": ""})):
        (root / name).mkdir(parents=True)
        for f, text in files.items():
            (root / name / f).write_text(text)
    monkeypatch.setenv("RECSYS_DATA_DIR", str(root))
    monkeypatch.setattr(data_io, "PROJECT_DATA_DIR", tmp_path / "nothing")
    assert [name for name, _ in data_io.find_datasets()] == ["ml-100k", "ml-latest-10k"]
    monkeypatch.setenv("RECSYS_DATA_DIR", str(root / "ml-latest-10k"))
    assert data_io.find_datasets() == [("ml-latest-10k", root / "ml-latest-10k")]


# ---------------------------------------------------------------------------- navigation
def test_sidebar_lists_the_pages_with_home_first(env):
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showSidebarNavigation"] is False  # no built-in list naming "app"
    for page in (None, "pages/2_Train.py"):
        at = env(page, data="demo")
        labels = [link.proto.label for link in at.sidebar.get("page_link")]
        assert labels[:3] == ["Home", "Data", "Train"] and "Compare runs" in labels


# ---------------------------------------------------------------------------- runs
def test_train_page_evaluation_header_is_a_sentence(env, wals_store):
    at = env("pages/2_Train.py", data="demo", run="wals-a")
    header = next(m.value for m in at.markdown if m.value.startswith("**Evaluation**"))
    assert "{" not in header and "method" not in header
    assert "a random 20% of each user's ratings (seed 0)" in header


def test_runs_table_shows_ndcg_first(env, wals_store):
    at = env("pages/6_Compare_runs.py", data="demo")
    table = next(d.value for d in at.dataframe if "hyperparameters" in d.value.columns)
    assert list(table.columns[:2]) == ["run", "ndcg@10"]
    assert list(table.columns).index("hyperparameters") == len(table.columns) - 1


def test_wals_vs_sgd_lesson_trains_its_runs_and_picks_both(env, wals_store):
    """The lesson's runs are WALS and MF with their defaults: the saved WALS run (8 factors) is
    not one of them, so one click trains both, and the page picks the two it trained."""
    at = env(data="demo")
    link = next(link for link in at.get("page_link") if link.proto.label == "WALS vs SGD")
    assert "lesson=wals-vs-sgd" in link.proto.query_string

    at = env("pages/6_Compare_runs.py", data="demo", lesson="wals-vs-sgd",
             cmp_view="Training curves")  # as the lesson's link opens it
    button = at.button(key="lesson_train")
    assert button.label == ("Train WALS with its defaults and MF with its defaults "
                            "(the lesson's settings)")
    at = button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    trained = {i.model_kind: i.name for i in RunStore(wals_store).list() if i.name != "wals-a"}
    assert sorted(trained) == ["mf", "wals"]
    assert at.multiselect(key="_w_cmp").value == [trained["wals"], trained["mf"]]
    assert "lesson" not in at.query_params
    # Loss against epochs and against seconds (the other charts are not plotly's).
    assert [c.key for c in at.get("plotly_chart")] == ["curves_epoch", "curves_seconds"]


def test_a_train_link_sets_hyperparameters_that_survive_switching_model(env):
    """The Folding lesson's link selects MF with objective "observed"; values typed afterwards
    stay with their model while another model is shown."""
    at = env("pages/2_Train.py", data="demo", model="mf", hp_mf_objective="observed")
    assert at.selectbox(key="_w_hp_mf_objective").value == "observed"
    at.number_input(key="_w_hp_mf_factors").set_value(12).run()
    at.selectbox(key="_w_model").set_value("wals").run()
    assert at.number_input(key="_w_hp_wals_factors").value != 12  # WALS keeps its own
    at.selectbox(key="_w_model").set_value("mf").run()
    assert not at.exception
    assert at.number_input(key="_w_hp_mf_factors").value == 12
    assert at.selectbox(key="_w_hp_mf_objective").value == "observed"


# ---------------------------------------------------------------------------- default runs
@pytest.fixture
def mixed_store(tmp_path, demo):
    """Oldest first: a healthy WALS run, a collapsed one (regularization 200: every embedding
    ~1e-8) and the three trials of a sweep, the newest runs."""
    split = holdout_split(demo, 0.2, seed=0)
    store = RunStore(tmp_path)
    for name, reg in (("wals-good", 0.8), ("wals-collapsed", 200.0)):
        model = MODEL_REGISTRY["wals"](factors=8, iterations=3, regularization=reg).fit(split.train)
        store.save(model, demo, name=name, split=split,
                   metrics=evaluate_model(model, split.test, k=10, beyond_accuracy=False))
    for trial in range(3):
        model = MODEL_REGISTRY["wals"](factors=4 + trial, iterations=2).fit(split.train)
        store.save(model, demo, name=f"sweep-w-t{trial:03d}", split=split, metrics={},
                   sweep={"name": "sweep-w", "trial": trial, "metric": "ndcg@10", "value": 0.1})
    return tmp_path


@pytest.mark.parametrize("page", ["pages/2_Train.py", "pages/3_Embeddings.py",
                                  "pages/4_Similarity.py", "pages/5_Recommend.py"])
def test_pages_default_to_a_healthy_run_not_a_collapsed_run_or_a_sweep_trial(env, mixed_store,
                                                                             page):
    """Issue 20.2: after a Tune demo every page defaulted to a sweep trial, and after the
    Regularization lesson to a collapsed run. Now the newest healthy run of its own is the
    default; the trials are listed after it, grouped under their sweep."""
    at = env(page, data="demo", proj="pca")
    picker = at.selectbox(key="_w_run")
    assert picker.value == "wals-good"
    assert list(picker.options)[-3:] == [f"↳ trial {t} of sweep-w: sweep-w-t{t:03d} (wals)"
                                         for t in range(3)]
    assert not at.warning


def test_compare_runs_defaults_to_healthy_runs_of_their_own(env, mixed_store, demo):
    """With one healthy run, the second default is the best a page can do: a trial, not the
    collapsed run."""
    at = env("pages/6_Compare_runs.py", data="demo")
    assert at.multiselect(key="_w_cmp").value == ["wals-good", "sweep-w-t000"]


@pytest.mark.parametrize("page,query", [
    ("pages/2_Train.py", {"run": "wals-collapsed"}),
    ("pages/3_Embeddings.py", {"run": "wals-collapsed"}),
    ("pages/3_Embeddings.py", {"run": "wals-good", "emb_cmp": "wals-collapsed"})])
def test_a_collapsed_run_is_flagged_when_opened(env, mixed_store, page, query):
    """Issue 20.3: a setting that shrinks every embedding to ~0 is said where the run is shown,
    also as the run its norms are compared with."""
    at = env(page, data="demo", proj="pca", **query)
    assert at.selectbox(key="_w_run").value == query["run"]
    warnings = [w.value for w in at.warning]
    assert len([w for w in warnings if "all embeddings ~0: regularization too strong" in w]) == 1


def test_home_prepares_the_map_of_the_run_the_embeddings_page_opens_on(env, mixed_store,
                                                                      monkeypatch):
    """Home started a background UMAP of the newest run, whatever it was (an EASE run's
    9,742-wide weights, a trial, a collapsed run): now that of the page's default run."""
    import ui.projections

    prepared = []
    monkeypatch.setattr(ui.projections, "precompute_default_map",
                        lambda run, counts=None: prepared.append(run.info.name))
    env(data="demo")
    assert prepared == ["wals-good"]
