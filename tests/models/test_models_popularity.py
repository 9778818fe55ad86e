"""Popularity baseline: known rankings on hand-made data, damping, persistence, ml-100k floor."""
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core.data.dataset import Dataset
from recsys_core.errors import HyperparameterError
from recsys_core.models import MODEL_REGISTRY, Popularity, Recommender


def counts_data():
    """Item 2 has 4 interactions, item 0 three, item 3 two, item 1 one; item 4 none."""
    users = [0, 1, 2, 3, 0, 1, 2, 0, 1, 3]
    items = [2, 2, 2, 2, 0, 0, 0, 3, 3, 1]
    return Dataset.from_interactions(users, items, item_ids=range(5), name="counts")


def ratings_data():
    """Item 0: one 5-star rating. Item 1: ten ratings of 4.5 on average. Item 2: ten 2-star."""
    users, items, values = [0], [0], [5.0]
    for u in range(10):
        users += [u, u]
        items += [1, 2]
        values += [4.0 if u % 2 else 5.0, 2.0]
    return Dataset.from_interactions(users, items, values, item_ids=range(3), rating_scale=(1, 5))


def test_registered_under_its_kind():
    assert MODEL_REGISTRY["popularity"] is Popularity


def test_count_ranks_by_interactions_and_excludes_seen():
    model = Popularity().fit(counts_data())
    np.testing.assert_array_equal(model.item_scores_, [3, 1, 4, 2, 0])
    items, scores = model.recommend([3], k=3)  # user 3 has seen items 1 and 2
    np.testing.assert_array_equal(items[0], [0, 3, 4])
    np.testing.assert_array_equal(scores[0], [3, 2, 0])
    items, _ = model.recommend([3], k=3, exclude_seen=False)
    np.testing.assert_array_equal(items[0], [2, 0, 3])
    assert model.user_embeddings_.shape == (4, 1) and model.item_embeddings_.shape == (5, 1)
    assert not model.predicts_ratings


def test_fits_a_bare_sparse_matrix_like_a_dataset():
    data = counts_data()
    from_matrix = Popularity().fit(sp.csr_matrix(data.ratings))
    np.testing.assert_array_equal(from_matrix.score([0, 1]), Popularity().fit(data).score([0, 1]))
    assert from_matrix.dataset_fingerprint_ is None


def test_damped_mean_keeps_a_single_five_star_item_off_the_top():
    data = ratings_data()
    mu = data.ratings.data.mean()
    damped = Popularity("mean-rating", damping=10.0).fit(data)
    assert damped.predicts_ratings
    expected = [(5 + 10 * mu) / 11, (45 + 10 * mu) / 20, (20 + 10 * mu) / 20]
    np.testing.assert_allclose(damped.item_scores_, expected, rtol=1e-6)
    items, _ = damped.recommend([9], k=3, exclude_seen=False)
    np.testing.assert_array_equal(items[0], [1, 0, 2])
    raw = Popularity("mean-rating", damping=0.0).fit(data)  # the plain mean: 5.0 wins
    np.testing.assert_allclose(raw.item_scores_, [5.0, 4.5, 2.0], rtol=1e-6)
    np.testing.assert_array_equal(raw.recommend([9], k=1, exclude_seen=False)[0][0], [0])


def test_predict_gives_the_damped_mean_within_the_rating_scale():
    data = ratings_data()
    model = Popularity("mean-rating").fit(data)
    np.testing.assert_allclose(model.predict([0, 3], [1, 2]), model.item_scores_[[1, 2]])
    assert model.rating_scale_ == [1.0, 5.0]


def test_unrated_item_gets_the_global_mean_even_without_damping():
    data = Dataset.from_interactions([0, 1], [0, 0], [2.0, 4.0], item_ids=range(2), rating_scale=(1, 5))
    model = Popularity("mean-rating", damping=0.0).fit(data)
    np.testing.assert_allclose(model.item_scores_, [3.0, 3.0])


@pytest.mark.parametrize("params", [{"variant": "median"}, {"damping": -1.0},
                                    {"damping": float("nan")}])
def test_invalid_hyperparameters_raise(params):
    with pytest.raises(HyperparameterError):
        Popularity(**params).fit(counts_data())


def test_mean_rating_needs_explicit_ratings():
    with pytest.raises(HyperparameterError, match="explicit"):
        Popularity("mean-rating").fit(counts_data())


def test_fold_in_similar_items_and_history():
    model = Popularity().fit(counts_data(), callback=lambda progress: None)
    np.testing.assert_array_equal(model.fold_in([0, 1]), [1.0])
    np.testing.assert_array_equal(model.score_embeddings(model.fold_in([])), model.score([0]))
    items, _ = model.similar_items([1], k=2, measure="dot")  # dot with d=1: most popular first
    np.testing.assert_array_equal(items[0], [2, 0])
    assert len(model.history_) == 1


def test_save_load_round_trip(tmp_path: Path):
    model = Popularity("mean-rating", damping=3.0).fit(ratings_data())
    loaded = Recommender.load(model.save(tmp_path / "pop.npz"))
    assert isinstance(loaded, Popularity) and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.score([0, 1]), model.score([0, 1]))
    np.testing.assert_array_equal(loaded.predict([0], [2]), model.predict([0], [2]))
    assert loaded.predicts_ratings


def test_quality_floor_on_movielens(ml100k):
    from recsys_core.evaluation.metrics import evaluate_model
    from recsys_core.evaluation.split import holdout_split

    split = holdout_split(ml100k, 0.2, seed=0)
    count = evaluate_model(Popularity().fit(split.train), split.test, k=10, beyond_accuracy=False)
    mean = evaluate_model(Popularity("mean-rating").fit(split.train), split.test, k=10,
                          beyond_accuracy=False)
    # A random list scores about 20 / 1682 ~ 0.012 precision; popularity is far above it.
    assert count["precision@10"] > 0.15
    assert mean["precision@10"] > 0.05
    assert mean["rmse"] < 1.06
