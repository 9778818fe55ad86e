"""Every registered model kind runs the shared contract of tests/contract.py.

One small class per kind: fast hyperparameters, the hyperparameter counting epochs, and the
quality floor (NDCG@10 on the 400 x 300 demo catalogue, 20% held out, both seed 0; the value
measured with these hyperparameters is kept beside it).
"""
from __future__ import annotations

import numpy as np

from recsys_core.models import MODEL_REGISTRY
from tests.contract import ModelContract


class TestWalsContract(ModelContract):
    kind = "wals"
    fast_params = dict(factors=8, iterations=4)
    epochs_param = "iterations"
    measured_ndcg, ndcg_floor = 0.3157, 0.28


class TestMfContract(ModelContract):
    kind = "mf"
    fast_params = dict(factors=8, epochs=30, learning_rate=0.05, unobserved_weight=0.5)
    epochs_param = "epochs"
    measured_ndcg, ndcg_floor = 0.1973, 0.17


class TestSvdContract(ModelContract):
    kind = "svd"
    fast_params = dict(factors=8)
    measured_ndcg, ndcg_floor = 0.2766, 0.25


class TestEaseContract(ModelContract):
    kind = "ease"
    fast_params = dict(regularization=100.0)
    measured_ndcg, ndcg_floor = 0.3169, 0.28


class TestItemKnnContract(ModelContract):
    kind = "item_knn"
    fast_params = dict(neighbours=50, shrinkage=10.0)
    measured_ndcg, ndcg_floor = 0.3185, 0.28


class TestContentContract(ModelContract):
    kind = "content"

    def fit_kwargs(self, data):  # a bare matrix has no genres: one feature column per block
        if hasattr(data, "ratings"):
            return {}
        return {"item_features": np.eye(2)[np.arange(data.shape[1]) % 2]}
    measured_ndcg, ndcg_floor = 0.0906, 0.08  # random embeddings: 0.032


class TestPopularityContract(ModelContract):
    kind = "popularity"
    personalised = False
    measured_ndcg, ndcg_floor = 0.3144, 0.28


class TestSoftmaxContract(ModelContract):
    kind = "softmax"
    fast_params = dict(factors=8, hidden_layers=(16,), epochs=5, batch_size=32,
                       learning_rate=0.05, learning_rate_decay=1.0, tie_embeddings=True,
                       patience=None)  # tied: an untied input table needs ~10 epochs here
    epochs_param = "epochs"
    measured_ndcg, ndcg_floor = 0.3125, 0.28


class TestTwoTowerContract(ModelContract):
    kind = "two-tower"
    fast_params = dict(factors=8, hidden_layers=(16,), item_hidden_layers=(16,), epochs=5,
                       batch_size=32, learning_rate=0.05, learning_rate_decay=1.0, patience=None)
    epochs_param = "epochs"
    measured_ndcg, ndcg_floor = 0.3142, 0.28


class TestPrecomputedContract(ModelContract):
    """Embeddings learned elsewhere: here the rank-8 truncated SVD of the binary matrix."""

    kind = "precomputed"
    measured_ndcg, ndcg_floor = 0.2766, 0.25  # the SVD model's value, as it should

    def make_model(self, data, **overrides):
        matrix = data if not hasattr(data, "ratings") else data.ratings
        dense = (matrix.toarray() > 0).astype(np.float64)
        d = 8
        if dense.size == 0:
            users, items = np.zeros((dense.shape[0], d)), np.zeros((dense.shape[1], d))
        else:
            p, s, qt = np.linalg.svd(dense, full_matrices=False)
            d = min(d, len(s))
            users, items = p[:, :d] * np.sqrt(s[:d]), qt[:d].T * np.sqrt(s[:d])
        return MODEL_REGISTRY[self.kind](users, items, **overrides)


def test_contract_covers_every_registered_kind():
    covered = {cls.kind for cls in ModelContract.__subclasses__()}
    engine_kinds = {kind for kind, cls in MODEL_REGISTRY.items()  # not the tests' own models
                    if cls.__module__.startswith("recsys_core.")}
    assert covered == engine_kinds
