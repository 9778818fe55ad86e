"""Softmax DNN recommender: planted clusters, samplers, history splitting, folding, persistence,
hyperparameter errors."""
import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

from recsys_core.errors import HyperparameterError
from recsys_core.evaluation.metrics import Validation
from recsys_core.models import Recommender, SoftmaxModel
from recsys_core.models.neural import layers as nn
from recsys_core.models.neural.sampling import (hard_negatives,
                                               negative_distribution, sample_negatives,
                                               split_history)
from recsys_core.models.features import user_feature_matrix
from recsys_core.evaluation.diagnostics import folding_diagnostic

N_CLUSTERS, ITEMS_PER_CLUSTER, USERS_PER_CLUSTER, ITEMS_PER_USER = 4, 12, 25, 6


def planted_clusters(seed=0):
    """Users of cluster c interact only with items of cluster c (items c*12 .. c*12+11)."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for c in range(N_CLUSTERS):
        for u in range(USERS_PER_CLUSTER):
            user = c * USERS_PER_CLUSTER + u
            items = c * ITEMS_PER_CLUSTER + rng.choice(ITEMS_PER_CLUSTER, ITEMS_PER_USER, False)
            rows += [user] * ITEMS_PER_USER
            cols += items.tolist()
    shape = (N_CLUSTERS * USERS_PER_CLUSTER, N_CLUSTERS * ITEMS_PER_CLUSTER)
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
    user_cluster = np.repeat(np.arange(N_CLUSTERS), USERS_PER_CLUSTER)
    item_cluster = np.repeat(np.arange(N_CLUSTERS), ITEMS_PER_CLUSTER)
    return matrix, user_cluster, item_cluster


FAST = dict(factors=8, hidden_layers=(16,), epochs=15, batch_size=20, learning_rate=0.05,
            regularization=0.0, patience=None, random_state=0)


@pytest.mark.parametrize("loss, negatives", [("full", "uniform"), ("sampled", "uniform"),
                                             ("sampled", "popularity"), ("sampled", "in-batch")])
def test_recovers_planted_clusters(loss, negatives):
    matrix, user_cluster, item_cluster = planted_clusters()
    model = SoftmaxModel(loss=loss, negatives=negatives, n_negatives=12, **FAST).fit(matrix)
    recs, _ = model.recommend(np.arange(matrix.shape[0]), k=3)
    share = np.mean(item_cluster[recs] == user_cluster[:, None])
    assert share > 0.95, share
    assert model.user_embeddings_.shape == (matrix.shape[0], 8)
    assert model.item_embeddings_.shape == (matrix.shape[1], 8)
    assert model.user_embeddings_.dtype == np.float32


def test_positives_only_training_folds_clusters_together():
    matrix, user_cluster, item_cluster = planted_clusters()
    sampled = SoftmaxModel(loss="sampled", negatives="uniform", n_negatives=12, **FAST).fit(matrix)
    positives = SoftmaxModel(loss="positives-only", **FAST).fit(matrix)
    good = folding_diagnostic(sampled, matrix, item_cluster, user_groups=user_cluster, k=3)
    folded = folding_diagnostic(positives, matrix, item_cluster, k=3)
    assert good["own_group_share"] > 0.95
    assert folded["own_group_share"] < good["own_group_share"] - 0.3
    assert folded["foreign_share"] == pytest.approx(1 - folded["own_group_share"])
    assert good["chance"] == pytest.approx(0.25)


def test_folding_diagnostic_rejects_bad_groups():
    matrix, _, item_cluster = planted_clusters()
    model = SoftmaxModel(**{**FAST, "epochs": 1}).fit(matrix)
    with pytest.raises(HyperparameterError):
        folding_diagnostic(model, matrix, item_cluster[:-1])
    with pytest.raises(HyperparameterError):
        folding_diagnostic(model, matrix, np.full(matrix.shape[1], -1))


def test_split_history_holds_out_targets_never_in_input():
    rng = np.random.default_rng(0)
    dense = (rng.random((50, 40)) < 0.2).astype(np.float32)
    dense[3] = 0  # an empty row
    dense[4] = 0
    dense[4, 7] = 1  # a single item
    rows = sp.csr_matrix(dense)
    inputs, targets = split_history(rows, 0.3, rng)
    assert (inputs.multiply(targets)).nnz == 0  # disjoint
    assert abs(inputs + targets - rows).sum() == 0  # together the whole history
    counts = np.diff(rows.indptr)
    n_targets = np.diff(targets.indptr)
    n_inputs = np.diff(inputs.indptr)
    assert np.all(n_targets[counts > 0] >= 1)
    assert np.all(n_inputs[counts > 1] >= 1)
    assert n_targets[4] == 1 and n_inputs[4] == 0 and n_targets[3] == 0
    share = targets.nnz / rows.nnz
    assert 0.2 < share < 0.4  # about 0.3, give or take the forced targets and inputs


def test_uniform_and_popularity_samplers_follow_their_distributions():
    counts = np.array([0, 1, 3, 10, 30, 100, 6, 2])
    for sampler in ("uniform", "popularity"):
        q = negative_distribution(sampler, counts)
        assert q.sum() == pytest.approx(1)
        # Under the null hypothesis p-values are uniform: one in a hundred falls below 0.01 (seed
        # 0 does for "uniform"), so require four of five independent runs to pass.
        p_values = []
        for seed in range(5):
            draws = sample_negatives(np.random.default_rng(seed), q, 40_000)
            observed = np.bincount(draws, minlength=len(counts))
            p_values.append(stats.chisquare(observed, q * len(draws))[1])
        assert sum(p > 0.01 for p in p_values) >= 4, (sampler, p_values)
    rng = np.random.default_rng(0)
    q = negative_distribution("popularity", counts)
    np.testing.assert_allclose(q, (counts + 1) / (counts + 1).sum())
    # and a wrong distribution is rejected by the same test (the test has power)
    draws = sample_negatives(rng, negative_distribution("uniform", counts), 40_000)
    _, p_value = stats.chisquare(np.bincount(draws, minlength=len(counts)), q * len(draws))
    assert p_value < 1e-6


def test_hard_negatives_are_the_top_scoring_non_positives():
    scores = np.array([[5.0, 4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0, 5.0]])
    positives = sp.csr_matrix(np.array([[1, 0, 1, 0, 0], [0, 0, 0, 0, 1]]))
    np.testing.assert_array_equal(hard_negatives(scores, positives, 2), [[1, 3], [3, 2]])


def test_in_batch_negatives_are_the_batch_targets():
    matrix, _, _ = planted_clusters()
    model = SoftmaxModel(loss="sampled", negatives="in-batch", **{**FAST, "epochs": 1}).fit(matrix)
    targets = sp.csr_matrix(np.array([[0, 1, 0, 1] + [0] * 44, [1, 1] + [0] * 46]))
    negatives = model._draw_negatives(None, model._params, np.arange(2), targets, targets, targets)
    np.testing.assert_array_equal(negatives, [0, 1, 3])


def test_optimizers_minimise_a_quadratic():
    # Adagrad's steps shrink as squared gradients accumulate, so it gets a larger rate.
    for name, rate in {"sgd": 0.1, "adagrad": 1.0, "adam": 0.1}.items():
        params = {"x": np.array([3.0, -2.0])}
        opt = nn.make_optimizer(name, rate)
        for _ in range(300):
            opt.step(params, {"x": 2 * params["x"]})
        assert np.abs(params["x"]).max() < 0.05, name


def test_user_features_one_hot():
    import pandas as pd

    users = pd.DataFrame({"age": [10, 30, 70], "gender": ["F", "M", "F"],
                          "occupation": ["a", "b", "c"]})
    feats = user_feature_matrix(users, 3)
    assert feats.shape == (3, 7 + 2 + 3)
    np.testing.assert_array_equal(feats.sum(axis=1), 3)
    assert feats[0, 0] == 1 and feats[1, 2] == 1 and feats[2, 6] == 1


def test_fold_in_reproduces_training_user_embedding():
    matrix, _, _ = planted_clusters()
    model = SoftmaxModel(**{**FAST, "epochs": 5}).fit(matrix)
    for user in (0, 57):
        items = matrix[user].indices
        np.testing.assert_allclose(model.fold_in(items), model.user_embeddings_[user], atol=1e-5)
    # zero ratings do not count as interactions
    np.testing.assert_allclose(model.fold_in([0, 1, 2], [1, 1, 0]), model.fold_in([0, 1]),
                               atol=1e-6)
    with pytest.raises(IndexError):
        model.fold_in([matrix.shape[1]])


def test_uses_side_features_of_a_dataset(demo):
    model = SoftmaxModel(**{**FAST, "epochs": 2}).fit(demo)
    assert model.inputs_ == ["history", "genres", "years", "user"]
    model = SoftmaxModel(inputs=("genres", "user"), **{**FAST, "epochs": 2}).fit(demo)
    assert model.inputs_ == ["genres", "user"]
    assert "history_embeddings" not in model._params


def test_save_load_round_trip(tmp_path):
    matrix, _, _ = planted_clusters()
    model = SoftmaxModel(**{**FAST, "epochs": 3}).fit(matrix)
    path = model.save(tmp_path / "softmax.npz")
    loaded = Recommender.load(path)
    assert isinstance(loaded, SoftmaxModel)
    as_json = {k: list(v) if isinstance(v, tuple) else v for k, v in model.get_params().items()}
    assert loaded.get_params() == as_json
    np.testing.assert_array_equal(loaded.score([0, 1]), model.score([0, 1]))
    np.testing.assert_array_equal(loaded.fold_in([1, 2, 3]), model.fold_in([1, 2, 3]))
    np.testing.assert_array_equal(loaded.recommend([5], 4)[0], model.recommend([5], 4)[0])


def test_callback_stops_and_history_records_losses():
    matrix, _, _ = planted_clusters()
    seen = []
    model = SoftmaxModel(**FAST).fit(matrix, callback=lambda p: seen.append(p) or p.epoch == 3)
    assert len(model.history_) == 3 and len(seen) == 3
    assert {"softmax", "regularization", "total"} <= set(model.history_[0])
    assert model.history_[-1]["softmax"] < model.history_[0]["softmax"]


def test_early_stopping_keeps_the_best_epoch():
    matrix, _, _ = planted_clusters()
    rng = np.random.default_rng(0)
    coo = matrix.tocoo()
    held = rng.random(coo.nnz) < 0.2
    train = sp.csr_matrix((coo.data[~held], (coo.row[~held], coo.col[~held])), shape=matrix.shape)
    val = sp.csr_matrix((coo.data[held], (coo.row[held], coo.col[held])), shape=matrix.shape)
    model = SoftmaxModel(**{**FAST, "epochs": 200, "patience": 3, "learning_rate": 0.05})
    model.fit(train, validation=Validation(val))
    losses = [h["val_loss"] for h in model.history_]
    assert len(losses) < 200
    assert model.best_epoch_ == int(np.argmin(losses)) + 1
    assert model.validation_loss(val) == pytest.approx(min(losses), rel=1e-5)
    assert "val_ndcg@10" in model.history_[0]


@pytest.mark.parametrize("params", [
    {"hidden_layers": (0,)},
    {"hidden_layers": (16, -3)},
    {"factors": 0},
    {"learning_rate": -0.1},
    {"learning_rate": 0.0},
    {"loss": "sampled", "negatives": "uniform", "n_negatives": 48},  # as many as items
    {"loss": "hinge"},
    {"negatives": "random"},
    {"optimizer": "rmsprop"},
    {"inputs": ()},
    {"inputs": ("history", "zodiac")},
    {"target_fraction": 0.0},
    {"batch_size": 0},
    {"epochs": 0},
    {"regularization": -1.0},
    {"user_weighting": -0.5},
    {"learning_rate_decay": 0.0},
    {"history_pooling": "max"},
    {"learning_rate_decay": 1.5},
])
def test_bad_hyperparameters_raise(params):
    matrix, _, _ = planted_clusters()
    with pytest.raises(HyperparameterError):
        SoftmaxModel(**{**FAST, **params}).fit(matrix)


def test_inputs_missing_from_the_data_raise():
    matrix, _, _ = planted_clusters()  # a bare matrix has no genres, years or users
    with pytest.raises(HyperparameterError, match="none of the inputs"):
        SoftmaxModel(inputs=("genres", "user"), **FAST).fit(matrix)


@pytest.mark.parametrize("exponent, expected", [
    (0.0, [1 / 4] * 4),  # every pair alike
    (1.0, [1 / 6] * 3 + [1 / 2]),  # every user alike
])
def test_pair_weights_balance_users(exponent, expected):
    targets = sp.csr_matrix(np.array([[1, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1]], np.float32))
    weights = SoftmaxModel(user_weighting=exponent)._pair_weights(targets)
    np.testing.assert_allclose(weights, expected)
