"""The course's softmax deep recommender, trained in NumPy with analytic gradients.

:class:`SoftmaxModel` learns the item embeddings V as a free table; the query tower, the losses
and the training loop it shares with the two-tower model live in
:mod:`~recsys_core.models.neural.query_tower`.
"""
from __future__ import annotations

from ...validation import Param
from . import layers as nn
from .query_tower import QUERY_TOWER_SPEC, QueryTowerModel


class SoftmaxModel(QueryTowerModel):
    """Softmax deep recommender: psi(user features) . V over the whole catalogue.

    Defaults (issue 19.4): a linear query tower, untied input table, d = 128, batches of 256 users
    and a decaying learning rate, chosen on the validation splits of ml-100k, ml-latest-small and
    Last.fm because they hold up on all three (docs/defaults-protocol.md, "Neural models").

    Attributes
    ----------
    user_embeddings_ : float32 (n_users, factors), psi of each training user's full history
    item_embeddings_ : float32 (n_items, factors), V
    inputs_ : list of str, the query inputs actually used
    best_epoch_ : int
    """

    kind = "softmax"
    param_spec = {
        **QUERY_TOWER_SPEC,
        "tie_embeddings": Param("bool", "Use V itself as the input item embeddings (as the "
                                "course's notebook does)."),
    }

    def __init__(self, factors: int = 128, hidden_layers=(),
                 inputs=("history", "genres", "years", "user"), tie_embeddings: bool = False,
                 loss: str = "sampled", negatives: str = "in-batch", n_negatives: int = 256,
                 log_q_correction: bool = True, optimizer: str = "adam",
                 learning_rate: float = 0.01, epochs: int = 40, batch_size: int = 256,
                 regularization: float = 3e-5, target_fraction: float = 0.5,
                 init_std: float = 0.05, patience: int | None = 5, random_state: int = 0,
                 item_bias: bool = False, user_weighting: float = 0.5,
                 learning_rate_decay: float = 0.93, history_pooling: str = "sqrt"):
        self.learning_rate_decay = learning_rate_decay
        self.history_pooling = history_pooling
        self.factors = factors
        self.hidden_layers = hidden_layers
        self.inputs = inputs
        self.tie_embeddings = tie_embeddings
        self.item_bias = item_bias
        self.user_weighting = user_weighting
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

    def _history_table_name(self) -> str:
        return "item_embeddings" if self.tie_embeddings else "history_embeddings"

    def _history_tied(self) -> bool:
        return bool(self.tie_embeddings)

    def _item_parameter_count(self, n_items: int, d: int) -> int:
        return n_items * d

    def _init_item_params(self, rng, n_items):
        return {"item_embeddings": nn.normal_embeddings(rng, n_items, self.factors, self.init_std)}

    def _item_forward(self, params, rows=None):
        return params["item_embeddings"], None  # a lookup: every row is free

    def _item_backward(self, params, cache, d_items, grads):
        grads["item_embeddings"] += d_items
