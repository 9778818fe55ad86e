"""The dashboard's engine helpers: projections, the norm diagnostic, measure comparison,
item-based explanations, and the background training job behind the Train page's Stop button."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recsys_core.errors import HyperparameterError
from recsys_core.evaluation.diagnostics import (compare_measures, model_item_contributions,
                                                rated_item_contributions)
from recsys_core.evaluation.projection import embedding_norms, norm_vs_popularity, project
from recsys_core.models import MODEL_REGISTRY

ROOT = Path(__file__).resolve().parents[2]


def test_pca_recovers_a_plane_and_is_deterministic():
    rng = np.random.default_rng(0)
    plane = rng.normal(size=(200, 2)) * [5.0, 2.0]
    basis = np.linalg.qr(rng.normal(size=(8, 2)))[0].T  # (2, 8) orthonormal rows
    x = plane @ basis
    coords = project(x, "pca")
    assert coords.shape == (200, 2) and coords.dtype == np.float32
    # Distances in the plane are preserved exactly by a rank-2 PCA.
    d_in = np.linalg.norm(x[:50, None] - x[None, :50], axis=-1)
    d_out = np.linalg.norm(coords[:50, None] - coords[None, :50], axis=-1)
    np.testing.assert_allclose(d_out, d_in, rtol=1e-3, atol=1e-3)
    # The first axis carries the larger variance.
    assert coords[:, 0].var() > coords[:, 1].var()
    np.testing.assert_array_equal(coords, project(x, "pca"))


def test_tsne_separates_two_clusters():
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(0, 0.1, (40, 6)), rng.normal(3, 0.1, (40, 6))])
    coords = project(x, "tsne", perplexity=10)
    a, b = coords[:40].mean(axis=0), coords[40:].mean(axis=0)
    spread = max(coords[:40].std(axis=0).max(), coords[40:].std(axis=0).max())
    assert np.linalg.norm(a - b) > 3 * spread


def test_projection_edge_cases_and_errors():
    assert project(np.zeros((0, 4)), "pca").shape == (0, 2)
    assert project(np.ones((2, 4)), "umap").shape == (2, 2)
    with pytest.raises(HyperparameterError):
        project(np.ones((5, 3)), "mds")
    with pytest.raises(HyperparameterError):
        project(np.array([[np.nan, 1.0], [0, 1], [1, 1]]), "pca")


def test_norm_vs_popularity_detects_popular_items_with_large_norms():
    rng = np.random.default_rng(2)
    counts = rng.integers(1, 500, 300)
    directions = rng.normal(size=(300, 8))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    emb = directions * np.log1p(counts)[:, None]
    diag = norm_vs_popularity(emb, counts)
    np.testing.assert_allclose(diag["norm"], np.log1p(counts), rtol=1e-5)
    assert diag["spearman"] == pytest.approx(1.0)
    assert diag["slope"] == pytest.approx(1.0, rel=1e-4)
    flat = norm_vs_popularity(directions, counts)
    assert np.isnan(flat["spearman"])  # constant norms: no correlation to report
    np.testing.assert_allclose(embedding_norms(directions), 1.0, rtol=1e-5)


def test_compare_measures_on_the_course_example():
    """Query q; A aligned but short, B long at an angle, C close by: each measure picks another."""
    q = np.array([1.0, 1.0], np.float32)
    items = np.array([[0.3, 0.3], [4.0, 1.0], [1.2, 0.7]], np.float32)  # A, B, C
    c = compare_measures(q, items, k=1, measures=("dot", "cosine", "euclidean"))
    assert [c.top_items[m][0] for m in ("dot", "cosine", "euclidean")] == [1, 0, 2]
    assert all(v == 0.0 for v in c.overlap.values())
    assert {m: c.only_in[m].tolist() for m in c.measures} == {"dot": [1], "cosine": [0],
                                                              "euclidean": [2]}
    full = compare_measures(q, items, k=3, alpha=0.0)
    assert full.overlap[("cosine", "tempered")] == 1.0
    assert full.rank_correlation[("cosine", "tempered")] == pytest.approx(1.0)
    excluded = compare_measures(q, items, k=3, exclude=np.array([1]))
    assert 1 not in excluded.top_items["dot"].tolist()
    assert excluded.top_items["dot"].tolist()[-1] == -1  # only two items allowed


def test_rated_item_contributions_pick_the_aligned_rated_items():
    emb = np.array([[1, 0], [0, 1], [1, 0.1], [0.1, 1], [-1, 0]], np.float32)
    contributors, support = rated_item_contributions(emb, [0, 1], [2, 3, 4], top=2)
    assert contributors[:, 0].tolist() == [2, 3]
    assert np.all(np.diff(support, axis=1) <= 0)
    # With explicit ratings, a disliked similar item argues against instead of for.
    contributors, support = rated_item_contributions(emb, [0], [2, 3], [1.0, 5.0], top=2,
                                                     rating_center=3.0)
    assert contributors[0].tolist() == [3, 2] and support[0, 1] < 0


def test_model_item_contributions_follow_the_models_own_source():
    """Item-kNN's explanation is its score's own terms, S[rated, listed]; the popularity
    baseline, which names no related items, explains nothing."""
    import scipy.sparse as sp

    # Users: {0, 1}, {0, 1, 2}, {2, 3}: item 0 shares two users with 1, none with 3.
    history = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 1, 1]], np.float32))
    knn = MODEL_REGISTRY["item_knn"](shrinkage=0.0).fit(history)
    contributors, support = model_item_contributions(knn, [0, 3], [1, 2], top=2)
    similarity = knn.similarity_.toarray()
    assert contributors.tolist() == [[1, 2], [2, 1]]
    np.testing.assert_allclose(support, [[similarity[1, 0], similarity[2, 0]],
                                         [similarity[2, 3], similarity[1, 3]]])
    popularity = MODEL_REGISTRY["popularity"]().fit(history)
    assert model_item_contributions(popularity, [0, 3], [1, 2])[0].shape == (2, 0)


def test_training_job_stops_early_when_asked():
    from ui.training import TrainingJob, progress_history

    import scipy.sparse as sp

    matrix = sp.random(60, 40, density=0.2, random_state=3, format="csr", dtype=np.float32)
    matrix.data[:] = 1.0
    model = MODEL_REGISTRY["wals"](factors=4, iterations=50)
    job = TrainingJob(model, matrix, {})
    job.stop_requested.set()  # asked before the first epoch ends: fit stops after it
    job.start()
    assert job.finished.wait(60)
    assert job.error is None and job.stopped_early
    assert len(model.history_) == 1 and len(progress_history(job.progress)) == 1


# ---------------------------------------------------------------- projection jobs in the app
def _fake_run(name: str, embeddings: np.ndarray):
    from types import SimpleNamespace

    return SimpleNamespace(info=SimpleNamespace(name=name, created="2026-01-01T00:00:00"),
                           model=SimpleNamespace(item_embeddings_=embeddings,
                                                 user_embeddings_=embeddings[:5]))


@pytest.fixture
def registry():
    import streamlit as st

    st.cache_resource.clear()
    from ui import projections

    yield projections
    projections._registry().executor.submit(lambda: None).result(60)  # let the worker finish
    st.cache_resource.clear()


def test_projection_job_reports_stages_and_is_cached_per_parameters(registry, monkeypatch):
    """The worker's progress reaches the job while it runs; the same parameters return the
    same job; every job gets the registry's shared neighbour graphs."""
    import threading

    release = threading.Event()
    calls = []

    def slow_project(embeddings, method="umap", *, progress, graphs, **knobs):
        calls.append((method, knobs, graphs))
        progress(0.4, "layout")
        assert release.wait(30)
        return np.zeros((len(embeddings), 2), np.float32)

    monkeypatch.setattr(registry, "project", slow_project)
    run = _fake_run("r1", np.ones((30, 4), np.float32))
    job = registry.submit(run, "items", "umap", n_neighbors=7, min_dist=0.2)
    for _ in range(300):
        if job.stage == "layout":
            break
        job.wait(0.01)
    assert (job.fraction, job.stage) == (0.4, "layout") and not job.done()
    assert registry.submit(run, "items", "umap", n_neighbors=7, min_dist=0.2) is job
    release.set()
    assert job.wait(30) and job.result().shape == (30, 2)
    other = registry.submit(run, "items", "umap", n_neighbors=7, min_dist=0.5)
    assert other is not job and other.wait(30)
    tsne = registry.submit(run, "items", "tsne", perplexity=5.0, n_neighbors=99)
    assert tsne.wait(30)
    # Knobs a method ignores do not split its cache.
    assert registry.submit(run, "items", "tsne", perplexity=5.0, n_neighbors=3) is tsne
    assert [c[0] for c in calls] == ["umap", "umap", "tsne"]
    assert calls[0][1]["min_dist"] == 0.2 and calls[2][1] == {"perplexity": 5.0,
                                                             "metric": "euclidean",
                                                             "random_state": 0}
    assert calls[0][2] is calls[1][2] is calls[2][2] is registry._registry().graphs


def test_newer_settings_cancel_queued_maps_of_the_same_embeddings(registry, monkeypatch):
    """A slider dragged over several values: the running map finishes, the queued stale ones
    (the background default map too) are cancelled, the newest runs next; another run's queued
    map is left alone. A background request cancels nothing."""
    import threading

    release = threading.Event()
    started = []

    def slow_project(embeddings, method="umap", *, progress, graphs, **knobs):
        started.append(knobs.get("min_dist"))
        assert release.wait(30)
        return np.zeros((len(embeddings), 2), np.float32)

    monkeypatch.setattr(registry, "project", slow_project)
    run, other_run = _fake_run("r3", np.ones((30, 4), np.float32)), _fake_run("r4", np.ones((9, 4)))
    running = registry.submit(run, "items", "umap", min_dist=0.1)
    for _ in range(300):
        if started:
            break
        running.wait(0.01)
    stale = registry.submit(run, "items", "umap", min_dist=0.2)
    background = registry.submit(run, "items", "umap", min_dist=0.9, supersede=False)
    assert not stale.cancelled()
    elsewhere = registry.submit(other_run, "items", "umap", min_dist=0.4)
    newest = registry.submit(run, "items", "umap", min_dist=0.3)
    assert stale.cancelled() and background.cancelled() and not elsewhere.cancelled()
    assert not running.cancelled()
    release.set()
    assert newest.wait(30) and running.wait(30) and elsewhere.wait(30)
    assert started == [0.1, 0.4, 0.3]
    again = registry.submit(run, "items", "umap", min_dist=0.2)  # asked again: a new job
    assert again is not stale and again.wait(30) and started[-1] == 0.2


def test_new_umap_settings_in_the_app_reuse_the_neighbour_graph(registry, monkeypatch):
    """The registry's real path: UMAP then t-SNE of one run build the exact graph once (the
    UMAP layout itself is replaced by a stand-in: its compile time belongs in benchmarks)."""
    import recsys_core.evaluation.projection as projection_module

    def layout_free_umap(x, n_neighbors, min_dist, spread, n_epochs, metric, random_state, graphs,
                         report):
        idx, _ = graphs.neighbours(x, n_neighbors, metric)
        return x[:, :2] + idx[:, 1:2].astype(np.float32) * 0

    monkeypatch.setattr(projection_module, "_umap", layout_free_umap)
    rng = np.random.default_rng(0)
    run = _fake_run("r2", rng.normal(size=(120, 6)).astype(np.float32))
    graphs = registry._registry().graphs
    before = graphs.builds_
    registry.projection(run, "items", "umap", n_neighbors=30, min_dist=0.1)
    registry.projection(run, "items", "umap", n_neighbors=30, min_dist=0.6)
    registry.projection(run, "items", "umap", n_neighbors=10, min_dist=0.1)
    assert graphs.builds_ == before + 1
    coords = registry.projection(run, "items", "tsne", perplexity=5.0)  # 16 neighbours: cached
    assert coords.shape == (120, 2) and graphs.builds_ == before + 1
    registry.projection(run, "items", "umap", n_neighbors=10, metric="cosine")
    assert graphs.builds_ == before + 2


# ---------------------------------------------------------------- the Embeddings page
@pytest.fixture
def demo_app(tmp_path, monkeypatch):
    """AppTest of the Embeddings page on the demo catalogue with one small WALS run."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from recsys_core.data.demo import make_demo_dataset
    from recsys_core.evaluation.metrics import evaluate_model
    from recsys_core.evaluation.split import holdout_split
    from recsys_core.runs.store import RunStore

    dataset = make_demo_dataset(seed=0)
    split = holdout_split(dataset, 0.2, seed=0)
    model = MODEL_REGISTRY["wals"](factors=8, iterations=2).fit(split.train)
    RunStore(tmp_path).save(model, dataset, name="wals-tiny", split=split,
                            metrics=evaluate_model(model, split.test, k=10,
                                                   beyond_accuracy=False))
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")
    st.cache_resource.clear()
    st.cache_data.clear()

    def open_page(**query):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        for k, v in query.items():
            at.query_params[k] = v
        at.run()
        at.switch_page("pages/3_Embeddings.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    yield dataset, open_page
    st.cache_resource.clear()
    st.cache_data.clear()


def test_highlight_genre_defaults_to_the_most_common_genre(demo_app):
    dataset, open_page = demo_app
    at = open_page(data="demo", run="wals-tiny", proj="pca")
    sizes = np.asarray(dataset.item_genres.sum(axis=0)).ravel()
    most_common = dataset.genre_names[int(np.argmax(sizes))]
    assert most_common != dataset.genre_names[0]  # else this test could not tell
    assert at.selectbox(key="_w_hl_genre").value == most_common


def test_tsne_map_comes_from_the_worker_with_a_progress_bar(demo_app, monkeypatch):
    """The page polls the job: the bar shows the worker's stages, then the t-SNE map replaces
    the PCA preview, and the same settings later come from the registry."""
    import json
    import threading

    import ui.projections
    from recsys_core.evaluation.projection import project as real_project

    stages, gate = [], threading.Event()

    def observed_project(embeddings, method="umap", *, progress=None, **kwargs):
        if method == "pca":  # the preview, computed inline
            return real_project(embeddings, method)
        progress(0.5, "layout")
        stages.append(method)
        gate.wait(1.0)  # long enough for the page to draw the bar at least once
        return real_project(embeddings, method, progress=progress, **kwargs)

    monkeypatch.setattr(ui.projections, "project", observed_project)
    _, open_page = demo_app
    drawn = []
    original = ui.projections.ProjectionJob.wait

    def noting_wait(self, seconds):
        drawn.append((self.fraction, self.stage))
        return original(self, seconds)

    monkeypatch.setattr(ui.projections.ProjectionJob, "wait", noting_wait)
    at = open_page(data="demo", run="wals-tiny", proj="tsne", perp="10")
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text")
              for c in at.get("plotly_chart")]
    assert "t-SNE" in titles and stages == ["tsne"]
    assert (0.5, "layout") in drawn
    assert not at.get("progress")  # the bar is gone once the map is drawn
    drawn.clear()
    at.run()
    assert stages == ["tsne"] and drawn == []  # cached: no job, no bar


def test_embeddings_page_on_an_ease_run_of_thousands_of_items_maps_nothing(tmp_path,
                                                                             monkeypatch):
    """Issue 20.1: EASE's rows are item-item weights as wide as the catalogue, not embeddings.
    Opened on such a run (4,000 items) with PCA, the Embeddings page says it has none and maps
    nothing (it ran a 9,742 x 9,742 SVD for more than ten minutes), and Home starts no background
    map of it."""
    import functools

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    import ui.data
    import ui.projections
    from recsys_core.data.demo import make_demo_dataset
    from recsys_core.evaluation.split import holdout_split
    from recsys_core.runs.store import RunStore

    wide = functools.partial(make_demo_dataset, n_users=1500, n_items=4000)
    monkeypatch.setattr(ui.data, "make_demo_dataset", wide)
    dataset = wide(seed=0)
    split = holdout_split(dataset, 0.2, seed=0)
    model = MODEL_REGISTRY["ease"]().fit(split.train)
    RunStore(tmp_path).save(model, dataset, name="ease-wide", split=split, metrics={})
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "1")  # Home may start maps in the background
    widths = []
    real_project = ui.projections.project

    def recording_project(embeddings, method="umap", **kwargs):
        widths.append((method, np.shape(embeddings)[1]))
        return real_project(embeddings, method, **kwargs)

    monkeypatch.setattr(ui.projections, "project", recording_project)
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({"data": "demo", "run": "ease-wide", "proj": "pca"})
    at.run()
    at.switch_page("pages/3_Embeddings.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("ease-wide" in i.value and "no embeddings" in i.value for i in at.info)
    assert not any("dimensions" in c.value for c in at.caption)
    assert widths == []


def test_the_same_pca_asked_by_two_sessions_at_once_is_computed_once(registry, monkeypatch):
    """Issue 20.2: each visit started another SVD of the same run. The second request waits
    for the first one's job instead."""
    import threading

    started, release, calls = threading.Event(), threading.Event(), []

    def slow_pca(embeddings, method="umap", **kwargs):
        calls.append(method)
        started.set()
        assert release.wait(30)
        return np.zeros((len(embeddings), 2), np.float32)

    monkeypatch.setattr(registry, "project", slow_pca)
    run = _fake_run("r-pca", np.ones((30, 4), np.float32))
    first = threading.Thread(target=registry.projection, args=(run, "items", "pca"))
    first.start()
    assert started.wait(30)
    second_result = []
    second = threading.Thread(target=lambda: second_result.append(
        registry.projection(run, "items", "pca")))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the first request's job, not computing its own
    release.set()
    first.join(30)
    second.join(30)
    assert calls == ["pca"] and second_result[0].shape == (30, 2)


def test_a_map_stops_when_every_session_that_asked_for_it_has_left(registry, monkeypatch):
    """Issue 20.2: computations kept running after the tab closed. A job stops at its next
    progress report once its sessions have all left, and a queued one never computes; a job
    that another, still connected, session also asked for runs on; asked again later, an
    abandoned map is computed anew."""
    import threading

    connected = {"gone": False, "here": True}
    monkeypatch.setattr(registry, "session_active", lambda sid: connected[sid])
    monkeypatch.setattr(registry, "OWNER_CHECK_SECONDS", 0.0)
    sessions = iter(["gone", "gone", "here", "gone"])
    monkeypatch.setattr(registry, "current_session", lambda: next(sessions))
    steps, started = [], threading.Event()

    def reporting_project(embeddings, method="umap", *, progress, graphs, **knobs):
        started.set()
        for step in range(200):
            progress(step / 200, "layout")
            steps.append((knobs["min_dist"], step))
            threading.Event().wait(0.01)
        return np.zeros((len(embeddings), 2), np.float32)

    monkeypatch.setattr(registry, "project", reporting_project)
    run = _fake_run("r-left", np.ones((30, 4), np.float32))
    left = registry.submit(run, "items", "umap", min_dist=0.1, supersede=False)
    queued = registry.submit(run, "items", "umap", min_dist=0.2, supersede=False)
    assert left.wait(30) and left.cancelled()
    with pytest.raises(registry.ProjectionAbandoned):
        left.result()
    assert queued.wait(30) and queued.cancelled()
    assert all(min_dist == 0.1 for min_dist, _ in steps) and len(steps) < 200
    again = registry.submit(run, "items", "umap", min_dist=0.1, supersede=False)  # "here"
    assert again is not left
    shared = registry.submit(run, "items", "umap", min_dist=0.1, supersede=False)  # "gone"
    assert shared is again and again.owners == {"here", "gone"}
    assert again.wait(30) and not again.cancelled()
    assert again.result().shape == (30, 2)
