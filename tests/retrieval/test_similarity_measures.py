"""Similarity measures: the course's A/B/C example, tempered limits, and the ANN search forms."""
import numpy as np
import pytest

from recsys_core.errors import HyperparameterError
from recsys_core.retrieval.similarity import (MEASURES, pair_similarity, search_form,
                                              similarity_scores)

QUERY = np.array([2.0, 2.0])
# A points the same way as the query, B is closest to it, C is long and so has the largest dot.
ITEMS = np.array([[1.0, 1.0], [2.5, 1.5], [5.0, 0.5]])


@pytest.mark.parametrize("measure,winner", [("dot", 2), ("cosine", 0), ("euclidean", 1)])
def test_each_measure_picks_a_different_item(measure, winner):
    scores = similarity_scores(QUERY, ITEMS, measure)
    assert scores.shape == (1, 3)
    assert int(np.argmax(scores)) == winner


def test_known_values():
    np.testing.assert_allclose(similarity_scores(QUERY, ITEMS, "dot")[0], [4, 8, 11], rtol=1e-6)
    np.testing.assert_allclose(similarity_scores(QUERY, ITEMS, "euclidean")[0],
                               [-np.sqrt(2), -np.sqrt(0.5), -np.sqrt(11.25)], rtol=1e-5)
    cos = similarity_scores(QUERY, ITEMS, "cosine")[0]
    np.testing.assert_allclose(cos, ITEMS @ QUERY / np.linalg.norm(ITEMS, axis=1)
                               / np.linalg.norm(QUERY), rtol=1e-6)


def test_tempered_interpolates_between_cosine_and_dot():
    np.testing.assert_allclose(similarity_scores(QUERY, ITEMS, "tempered", 0.0),
                               similarity_scores(QUERY, ITEMS, "cosine"), rtol=1e-6)
    np.testing.assert_allclose(similarity_scores(QUERY, ITEMS, "tempered", 1.0),
                               similarity_scores(QUERY, ITEMS, "dot"), rtol=1e-5)
    half = similarity_scores(QUERY, ITEMS, "tempered", 0.5)[0]
    expected = (np.linalg.norm(QUERY) * np.linalg.norm(ITEMS, axis=1)) ** 0.5 * \
        similarity_scores(QUERY, ITEMS, "cosine")[0]
    np.testing.assert_allclose(half, expected, rtol=1e-5)


def test_batch_of_queries_and_zero_vectors():
    rng = np.random.default_rng(0)
    q, x = rng.standard_normal((5, 3)), rng.standard_normal((7, 3))
    x[3] = 0
    for m in MEASURES:
        s = similarity_scores(q, x, m, 0.3)
        assert s.shape == (5, 7) and np.isfinite(s).all()
        np.testing.assert_allclose(pair_similarity(q, x[:5], m, 0.3), np.diag(s[:, :5]), rtol=1e-5,
                                   atol=1e-6)
    assert (similarity_scores(q, x, "cosine")[:, 3] == 0).all()


def test_bad_measure_and_alpha():
    with pytest.raises(HyperparameterError, match="unknown similarity measure"):
        similarity_scores(QUERY, ITEMS, "manhattan")
    with pytest.raises(HyperparameterError, match="alpha"):
        similarity_scores(QUERY, ITEMS, "tempered", 1.5)
    with pytest.raises(ValueError, match="dimension"):
        similarity_scores(np.ones(3), ITEMS)


@pytest.mark.parametrize("measure", MEASURES)
def test_search_form_preserves_every_ranking(measure):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((60, 4)) * rng.lognormal(0, 0.5, (60, 1))
    q = rng.standard_normal((6, 4))
    vectors, metric = search_form(x, measure, 0.3)
    plain = q @ vectors.T if metric == "inner_product" else \
        -((q[:, None, :] - vectors[None]) ** 2).sum(-1)
    expected = np.argsort(-similarity_scores(q, x, measure, 0.3), axis=1, kind="stable")
    got = np.argsort(-plain, axis=1, kind="stable")
    np.testing.assert_array_equal(got[:, :10], expected[:, :10])
