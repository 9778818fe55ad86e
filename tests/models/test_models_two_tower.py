"""Two-tower model: gradients, cold items placed by their features, persistence, errors."""
import numpy as np
import pytest

from recsys_core.data.dataset import Dataset
from recsys_core.errors import HyperparameterError
from recsys_core.models import Recommender, TwoTowerModel
from recsys_core.models.neural.sampling import split_history
from tests.models.test_models_softmax_gradients import (COMMON, _tiny_matrix, assert_close,
                                                        numeric_grad)

N_CLUSTERS, ITEMS_PER_CLUSTER, USERS_PER_CLUSTER, N_COLD = 4, 12, 25, 3


def planted_with_genres(seed=0):
    """Clusters of items sharing a genre; the last N_COLD items of each cluster nobody has seen."""
    rng = np.random.default_rng(seed)
    n_items = N_CLUSTERS * ITEMS_PER_CLUSTER
    item_cluster = np.repeat(np.arange(N_CLUSTERS), ITEMS_PER_CLUSTER)
    cold = np.tile(np.arange(ITEMS_PER_CLUSTER) >= ITEMS_PER_CLUSTER - N_COLD, N_CLUSTERS)
    genres = np.zeros((n_items, N_CLUSTERS + 1), bool)
    genres[np.arange(n_items), item_cluster] = True
    genres[:, -1] = rng.random(n_items) < 0.5  # a genre that says nothing about taste
    users, items = [], []
    for c in range(N_CLUSTERS):
        warm = np.flatnonzero((item_cluster == c) & ~cold)
        for u in range(USERS_PER_CLUSTER):
            chosen = rng.choice(warm, 5, replace=False)
            users += [c * USERS_PER_CLUSTER + u] * 5
            items += chosen.tolist()
    data = Dataset.from_interactions(users, items,
                                     user_ids=np.arange(N_CLUSTERS * USERS_PER_CLUSTER),
                                     item_ids=np.arange(n_items),
                                     genre_names=[f"g{c}" for c in range(N_CLUSTERS)] + ["noise"],
                                     item_genres=genres)
    user_cluster = np.repeat(np.arange(N_CLUSTERS), USERS_PER_CLUSTER)
    return data, user_cluster, item_cluster, cold


FAST = dict(factors=8, hidden_layers=(16,), item_hidden_layers=(16,), epochs=15, batch_size=20,
            learning_rate=0.05, regularization=0.0, patience=None, random_state=0)


@pytest.mark.parametrize("loss, negatives, item_ids", [
    ("full", "in-batch", True),
    ("sampled", "in-batch", True),
    ("sampled", "popularity", False),
])
def test_two_tower_gradient(loss, negatives, item_ids):
    matrix = _tiny_matrix().tocoo()
    genres = np.random.default_rng(2).random((9, 3)) < 0.5
    data = Dataset.from_interactions(matrix.row, matrix.col, item_ids=np.arange(9),
                                     user_ids=np.arange(6), genre_names=["a", "b", "c"],
                                     item_genres=genres)
    model = TwoTowerModel(loss=loss, negatives=negatives, n_negatives=4,
                          item_id_embeddings=item_ids, item_hidden_layers=(4,), **COMMON)
    model.fit(data)
    params = {k: v.astype(np.float64) for k, v in model._params.items()}
    model.item_context_ = model.item_context_.astype(np.float64)
    model.user_features_ = model.user_features_.astype(np.float64)
    rng = np.random.default_rng(3)
    users = np.arange(6)
    seen = model.seen_[users]
    inputs, targets = split_history(seen, 0.4, rng)
    negatives_drawn = model._draw_negatives(rng, params, users, inputs, targets, seen)
    _, grads = model._loss_and_grads(params, users, inputs, targets, negatives_drawn, seen)

    def loss_value():
        return model._loss_and_grads(params, users, inputs, targets, negatives_drawn,
                                     seen)[0]["softmax"]

    for name, value in params.items():
        assert_close(grads[name], numeric_grad(loss_value, value))


@pytest.mark.parametrize("negatives", ["in-batch", "uniform"])
def test_recovers_clusters_and_places_cold_items_by_genre(negatives):
    data, user_cluster, item_cluster, cold = planted_with_genres()
    model = TwoTowerModel(negatives=negatives, n_negatives=10, **FAST).fit(data)
    np.testing.assert_array_equal(model.cold_items_, cold)
    recs, _ = model.recommend(np.arange(data.n_users), k=3, exclude_items=np.flatnonzero(cold))
    assert np.mean(item_cluster[recs] == user_cluster[:, None]) > 0.95
    # Ranked among the cold items only, each user's best ones are from their own cluster.
    cold_recs, _ = model.recommend(np.arange(data.n_users), k=2,
                                   exclude_items=np.flatnonzero(~cold))
    assert np.mean(item_cluster[cold_recs] == user_cluster[:, None]) > 0.9


def test_cold_items_ignore_their_id_embedding():
    data, _, _, cold = planted_with_genres()
    model = TwoTowerModel(**{**FAST, "epochs": 2}).fit(data)
    before = model.item_embeddings_.copy()
    model._params["item_ids"][cold] += 10.0
    model._params["item_ids"][~cold] += 10.0
    after, _ = model._item_forward(model._params)
    np.testing.assert_allclose(after[cold], before[cold], atol=1e-6)
    assert np.abs(after[~cold] - before[~cold]).max() > 0.1  # warm items do use theirs


def test_save_load_round_trip(tmp_path):
    data, _, _, _ = planted_with_genres()
    model = TwoTowerModel(**{**FAST, "epochs": 2}).fit(data)
    loaded = Recommender.load(model.save(tmp_path / "tt.npz"))
    assert isinstance(loaded, TwoTowerModel) and loaded.kind == "two-tower"
    np.testing.assert_array_equal(loaded.item_embeddings_, model.item_embeddings_)
    np.testing.assert_array_equal(loaded.score([0, 3]), model.score([0, 3]))
    np.testing.assert_array_equal(loaded.fold_in([1, 2]), model.fold_in([1, 2]))
    np.testing.assert_array_equal(loaded.cold_items_, model.cold_items_)


@pytest.mark.parametrize("params", [
    {"item_hidden_layers": (0,)},
    {"item_features": ("genres", "colour")},
    {"learning_rate": -1.0},
    {"loss": "sampled", "negatives": "uniform", "n_negatives": 48},
])
def test_bad_hyperparameters_raise(params):
    data, _, _, _ = planted_with_genres()
    with pytest.raises(HyperparameterError):
        TwoTowerModel(**{**FAST, **params}).fit(data)


def test_item_tower_needs_an_input():
    with pytest.raises(HyperparameterError, match="item tower has no input"):
        TwoTowerModel(item_id_embeddings=False, **FAST).fit(_tiny_matrix())
