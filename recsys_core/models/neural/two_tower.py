"""Two-tower retrieval model: a query tower and an item tower meeting in a dot product.

The query tower is the softmax model's (history, genres and years of the history, user
features -> ReLU layers -> psi in R^d). The item tower maps each item's own features (its genres,
its release-year bucket and, optionally, a learned item-id embedding) through ReLU layers to
phi in R^d; the score is psi . phi. Because phi depends on features, items nobody has interacted
with still get an embedding: their id embedding is held at zero, so they are placed by their
features alone.
"""
from __future__ import annotations

import numpy as np

from ...errors import HyperparameterError
from ...validation import Param
from . import layers as nn
from .query_tower import FEATURE_ALLOWANCE, QUERY_TOWER_SPEC, QueryTowerModel

#: Item features the item tower can use.
ITEM_FEATURES = ("genres", "years")


class TwoTowerModel(QueryTowerModel):
    """Two-tower model with in-batch (default) or sampled negatives.

    Defaults (issue 19.4): both towers linear, d = 128, batches of 256 users, a decaying learning
    rate over 60 epochs, chosen on the validation splits of ml-100k, ml-latest-small and Last.fm
    because they hold up on all three (docs/defaults-protocol.md, "Neural models").

    Attributes
    ----------
    user_embeddings_ : float32 (n_users, factors), psi of each training user's full history
    item_embeddings_ : float32 (n_items, factors), phi of every item (cold ones included)
    cold_items_ : bool (n_items,), items without training interactions (features-only phi)
    """

    kind = "two-tower"
    param_spec = {
        **QUERY_TOWER_SPEC,
        "factors": Param("int", "d, the size of both towers' outputs.", low=1, log=True,
                         size=True, tune=(8, 256)),
        "hidden_layers": Param("int_list", "ReLU layer widths of the query tower (may be "
                               "empty).", low=1, size=True),
        "item_hidden_layers": Param("int_list", "ReLU layer widths of the item tower (may be "
                                    "empty).", low=1),
        "item_features": Param("subset", "Item-tower inputs.", choices=ITEM_FEATURES),
        "item_id_embeddings": Param("bool", "Also feed a learned per-item embedding (zero, i.e. "
                                    "unused, for items without training interactions)."),
    }

    def __init__(self, factors: int = 128, hidden_layers=(), item_hidden_layers=(),
                 inputs=("history", "genres", "years", "user"), item_features=("genres", "years"),
                 item_id_embeddings: bool = True, loss: str = "sampled",
                 negatives: str = "in-batch", n_negatives: int = 256,
                 log_q_correction: bool = True, optimizer: str = "adam",
                 learning_rate: float = 0.01, epochs: int = 60, batch_size: int = 256,
                 regularization: float = 1e-4, target_fraction: float = 0.5,
                 init_std: float = 0.05, patience: int | None = 5, random_state: int = 0,
                 item_bias: bool = False, user_weighting: float = 0.5,
                 learning_rate_decay: float = 0.93, history_pooling: str = "sqrt"):
        self.learning_rate_decay = learning_rate_decay
        self.history_pooling = history_pooling
        self.item_bias = item_bias
        self.user_weighting = user_weighting
        self.factors = factors
        self.hidden_layers = hidden_layers
        self.item_hidden_layers = item_hidden_layers
        self.inputs = inputs
        self.item_features = item_features
        self.item_id_embeddings = item_id_embeddings
        self.loss = loss
        self.negatives = negatives
        self.n_negatives = n_negatives
        self.log_q_correction = log_q_correction
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.regularization = regularization
        self.target_fraction = target_fraction
        self.init_std = init_std
        self.patience = patience
        self.random_state = random_state

    def _item_tower_widths(self, d: int) -> list[int]:
        in_dim = FEATURE_ALLOWANCE + (d if self.item_id_embeddings else 0)
        return [in_dim, *[int(w) for w in self.item_hidden_layers], d]

    def _item_parameter_count(self, n_items: int, d: int) -> int:
        widths = self._item_tower_widths(d)
        return (sum(a * b + b for a, b in zip(widths, widths[1:]))
                + (n_items * d if self.item_id_embeddings else 0))

    def _item_flops_per_item(self, d: int) -> int:
        widths = self._item_tower_widths(d)
        return sum(a * b for a, b in zip(widths, widths[1:]))

    def _item_forward_floats(self, n_items: int, d: int) -> int:
        # every batch runs the item tower over the whole catalogue: inputs, activations, and
        # their gradients
        return 3 * n_items * sum(self._item_tower_widths(d))

    def _prepare_items(self, dataset, seen):
        self.cold_items_ = np.bincount(seen.indices, minlength=seen.shape[1]) == 0
        cols = []
        if "genres" in self.item_features:
            cols.extend(range(self.n_genre_columns_))
        if "years" in self.item_features:
            cols.extend(range(self.n_genre_columns_, self.item_context_.shape[1]))
        self.item_tower_columns_ = np.asarray(cols, dtype=np.int64)
        if not len(cols) and not self.item_id_embeddings:
            raise HyperparameterError("the item tower has no input: this data has no genres or "
                                      "years; set item_id_embeddings=True")

    def _init_item_params(self, rng, n_items):
        in_dim = len(self.item_tower_columns_) + (self.factors if self.item_id_embeddings else 0)
        widths = [in_dim, *[int(w) for w in self.item_hidden_layers], self.factors]
        params = nn.mlp_init(rng, widths, "item_")
        if self.item_id_embeddings:
            params["item_ids"] = nn.normal_embeddings(rng, n_items, self.factors, self.init_std)
        return params

    def _item_forward(self, params, rows=None):
        """phi of every item (n_items, d); with ``rows`` (sorted item indices) the tower runs on
        those items only and the other rows of phi are zero (a sampled loss never reads them:
        at ml-25m's 59k items this makes an epoch about ten times faster)."""
        dtype = self._dtype(params)
        context = self.item_context_ if rows is None else self.item_context_[rows]
        parts = [context[:, self.item_tower_columns_].astype(dtype, copy=False)]
        if self.item_id_embeddings:
            cold = self.cold_items_ if rows is None else self.cold_items_[rows]
            ids = params["item_ids"] if rows is None else params["item_ids"][rows]
            parts.append(ids * (~cold).astype(dtype)[:, None])
        x = np.hstack(parts)
        n_layers = len(self.item_hidden_layers) + 1
        phi, activations = nn.mlp_forward(params, "item_", n_layers, x)
        if rows is None:
            return phi, (None, activations)
        full = np.zeros((len(self.item_context_), phi.shape[1]), dtype=phi.dtype)
        full[rows] = phi
        return full, (rows, activations)

    def _item_backward(self, params, cache, d_items, grads):
        rows, activations = cache
        n_layers = len(self.item_hidden_layers) + 1
        d_phi = d_items if rows is None else d_items[rows]
        d_x = nn.mlp_backward(params, "item_", n_layers, activations, d_phi, grads)
        if self.item_id_embeddings:
            cold = self.cold_items_ if rows is None else self.cold_items_[rows]
            d_ids = d_x[:, len(self.item_tower_columns_):] * (~cold).astype(d_x.dtype)[:, None]
            if rows is None:
                grads["item_ids"] += d_ids
            else:
                grads["item_ids"][rows] += d_ids
