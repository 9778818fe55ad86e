"""The dashboard's engine helpers: projections, the norm diagnostic, measure comparison,
item-based explanations, and the background training job behind the Train page's Stop button."""
from __future__ import annotations

import numpy as np
import pytest

from recsys_core.diagnostics import compare_measures, rated_item_contributions
from recsys_core.errors import HyperparameterError
from recsys_core.models import MODEL_REGISTRY
from recsys_core.projection import embedding_norms, norm_vs_popularity, project


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
