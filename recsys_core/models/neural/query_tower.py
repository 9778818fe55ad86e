"""The query tower shared by the softmax and two-tower models (not a model on its own).

A user's query features x (the pooled embedding of the items in their history, the genres and
release years of that history, their age bucket, gender and occupation) go through ReLU layers to
a query embedding psi(x) in R^d; the score of item j is psi(x) . V_j. Training holds out part of
each user's history every epoch, feeds the rest as input, and fits a softmax over the catalogue
to the held-out items (full softmax, sampled softmax, or, to show *folding*, positives alone).

:class:`QueryTowerModel` holds all of that; subclasses provide the item side V:
:class:`~recsys_core.models.neural.softmax.SoftmaxModel` learns it as a free table,
:class:`~recsys_core.models.neural.two_tower.TwoTowerModel` computes it with a second network.
"""
from __future__ import annotations

from abc import abstractmethod

import numpy as np
import scipy.sparse as sp

from ...data.dataset import Dataset, as_interaction_matrix
from ...errors import HyperparameterError
from ...threads import limit_threads
from ...validation import Param
from ..base import FLOAT32, FLOAT64, INT64, Recommender, validation_data
from ..features import user_feature_matrix, year_bucket_matrix
from . import layers as nn
from .sampling import hard_negatives, negative_distribution, sample_negatives, split_history

#: Query inputs a model can use; each is switchable.
QUERY_INPUTS = ("history", "genres", "years", "user")
#: Ways to train: the full softmax, a sampled softmax, or positives alone (shows folding).
LOSSES = ("full", "sampled", "positives-only")
#: Where the negatives of a sampled softmax come from.
SAMPLERS = ("uniform", "popularity", "hard", "in-batch")
#: Columns the genre, year and user-feature inputs may add, for the memory estimate.
FEATURE_ALLOWANCE = 96

# Seconds of one epoch's parts on a 2-core machine (measured at ml-25m's shape, see
# QueryTowerModel.estimate_epoch_seconds): per mini-batch, per parameter updated per batch,
# per floating-point operation of one-threaded BLAS.
_SECONDS_PER_BATCH = 0.015
_SECONDS_PER_PARAMETER = 25e-9
_SECONDS_PER_FLOP = 2e-10

def _duration(seconds: float) -> str:
    """"40 s", "6 min", "3.7 h"."""
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


#: The hyperparameters both query-tower models share (each model's ``param_spec`` adds its
#: item side and may reword an entry).
QUERY_TOWER_SPEC = {
    "factors": Param("int", "d, the size of the query embedding psi(x) and of the item "
                     "embeddings.", low=1, log=True, size=True, tune=(8, 256)),
    "hidden_layers": Param("int_list", "Widths of the ReLU layers between the input features "
                           "and the (linear) output layer; empty for a linear query tower.",
                           low=1, size=True),
    "inputs": Param("subset", 'Query features used: "history" (pooled embedding of the user\'s '
                    'items), "genres" (genre mix of the history), "years" (release-year mix of '
                    'the history), "user" (age bucket, gender, occupation). Those the data '
                    "lacks are skipped (recorded in inputs_).", choices=QUERY_INPUTS,
                    min_length=1),
    "loss": Param("choice", "Full softmax; sampled softmax; or positives alone (logistic loss "
                  "on held-out positives, no negatives) which makes unrelated items fold onto "
                  "each other.", choices=LOSSES),
    "negatives": Param("choice", "Negatives of the sampled softmax: uniform draws, draws "
                       "proportional to popularity (with the log-Q correction when "
                       "log_q_correction), the highest-scoring items the user has not seen, or "
                       "the other held-out items of the batch (in-batch).", choices=SAMPLERS),
    "n_negatives": Param("int", "Negatives per batch (shared) or per user (hard); fewer than "
                         "the items.", low=1, log=True, tune=(16, 2048)),
    "log_q_correction": Param("bool", "Subtract log(K q_j) from the logits of sampled items, "
                              "so popularity-proportional sampling does not bias the softmax."),
    "optimizer": Param("choice", "Update rule of the mini-batch gradient steps.",
                       choices=nn.OPTIMIZERS),
    "learning_rate": Param("float", "Step size of the optimizer.", low=0, low_open=True,
                           log=True, tune=(1e-4, 0.05)),
    "epochs": Param("int", "Maximum passes over the users.", low=1, tune=(5, 100)),
    "batch_size": Param("int", "Users per mini-batch.", low=1, log=True, size=True,
                        tune=(16, 512)),
    "regularization": Param("float", "L2 strength on every parameter, per mini-batch.", low=0,
                            log=True, tune=(1e-7, 1e-2)),
    "target_fraction": Param("float", "Share of each history held out as targets in an epoch "
                             "(at least one item).", low=0, low_open=True, high=1,
                             tune=(0.1, 0.9)),
    "init_std": Param("float", "Standard deviation of the initial item embeddings.", low=0,
                      low_open=True, log=True, tune=(1e-3, 0.5)),
    "patience": Param("int", "Early stopping patience in epochs (used when fit gets a "
                      "validation set); None trains every epoch.", low=1, optional=True,
                      tune=()),
    "random_state": Param("int", "Seed of the initial weights, the history splits and the "
                          "negatives.", tune=()),
    "item_bias": Param("bool", "Add a learned per-item bias b_j to the logits (then item_bias_ "
                       "is set and score adds it)."),
    "user_weighting": Param("float", "A user with n held-out targets in a batch weighs each of "
                            "them n ** -user_weighting: 0 counts every (user, item) pair alike, "
                            "1 every user alike (like user-averaged metrics).", low=0,
                            tune=(0.0, 1.0)),
    "learning_rate_decay": Param("float", "The learning rate is multiplied by this after every "
                                 "epoch.", low=0, low_open=True, high=1, tune=(0.8, 1.0)),
    "history_pooling": Param("choice", "How the history's item embeddings (and its genre and "
                             "year mix) are pooled: their sum over sqrt(n), so that a longer "
                             "history gives a longer, more confident query, or their mean.",
                             choices=nn.POOLINGS),
}


class QueryTowerModel(Recommender):
    """Shared machinery of the softmax and two-tower models (not a model on its own).

    Subclasses provide the item side: ``_init_item_params``, ``_item_forward`` and
    ``_item_backward``. Learned network parameters live in ``self._params`` and are also set as
    attributes ``<name>_`` so that :meth:`save` stores them.
    """

    learns_from_validation = True  # held-out interactions drive early stopping (``patience``)

    # ------------------------------------------------------------------ validation
    def _check_common_params(self, n_items: int):
        self.validate_params()
        if self.loss == "sampled" and self.negatives != "in-batch" and self.n_negatives >= n_items:
            raise HyperparameterError(f"n_negatives ({self.n_negatives}) must be smaller than the "
                                      f"number of items ({n_items})")

    # ------------------------------------------------------------------ memory

    def estimate_fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """Peak bytes of a fit (see :meth:`Recommender.estimate_fit_bytes`).

        Every parameter (item tables, tower weights) four to five times over: itself, its
        gradient, the optimizer's state and the best epoch's copy; per mini-batch the logits
        against the catalogue (full softmax, hard negatives) or the negatives, the per-pair
        vectors and the towers' activations; every epoch the query tower over all users.
        """
        d, n_users, n_items, nnz = int(self.factors), int(n_users), int(n_items), int(nnz)
        batch = min(int(self.batch_size), n_users)
        hidden = [int(w) for w in self.hidden_layers]
        in_dim = (d if "history" in self.inputs else 0) + FEATURE_ALLOWANCE
        widths = [in_dim, *hidden, d]
        query_weights = sum(a * b + b for a, b in zip(widths, widths[1:]))
        history_table = n_items * d if "history" in self.inputs and not self._history_tied() else 0
        n_params = (query_weights + history_table + self._item_parameter_count(n_items, d)
                    + (n_items if self.item_bias else 0))
        copies = 2 + {"sgd": 0, "adagrad": 1}.get(self.optimizer, 2) + (self.patience is not None)
        parameters = copies * n_params * FLOAT32 + 2 * n_items * d * FLOAT64  # + initial draws
        pairs = 2 * batch * max(1, -(-nnz // max(n_users, 1)))  # held-out pairs in a batch
        if self.loss == "full" or self.negatives == "hard":
            logits = 4 * batch * n_items * FLOAT64
        else:
            n_negatives = min(n_items, pairs if self.negatives == "in-batch"
                              else int(self.n_negatives))
            logits = 4 * batch * n_negatives * FLOAT32 + n_negatives * d * FLOAT32
        if self.negatives == "hard":
            logits += 3 * batch * int(self.n_negatives) * d * FLOAT32
        activations = sum(widths) * FLOAT32
        per_batch = (logits + 4 * pairs * d * FLOAT32 + 2 * batch * activations
                     + self._item_forward_floats(n_items, d) * FLOAT32 + n_items * d * FLOAT32)
        per_epoch = 2 * n_users * activations + (n_users + n_items) * d * FLOAT32 \
            + 2 * nnz * (FLOAT32 + INT64)
        return int(super().estimate_fit_bytes(n_users, n_items, nnz) + parameters + per_batch
                   + per_epoch)

    def estimate_epoch_seconds(self, n_users: int, n_items: int, nnz: int) -> float:
        """Rough wall seconds of one epoch on a 2-core machine like the one the constants were
        measured on (fit uses one BLAS thread); within about 2x, to say up front what a fit
        costs (the Train page and ``train`` on the command line show it).

        Per mini-batch of ``batch_size`` users: a fixed part, every parameter's gradient, L2
        penalty and optimizer update (dense, so the item tables dominate at 59k items), the
        per-pair products, and the item side over the batch's items (the whole catalogue for
        the full softmax and hard negatives; the item tower of the two-tower model runs on the
        batch's items only). Per epoch: the query tower over every user's history.

        Measured at ml-25m's shape (162,541 users x 59,047 items, 18.3M training ratings, the
        defaults, 2 cores shared with other jobs): softmax 0.11-0.16 s per batch (6-7 min per
        epoch; estimate 5.5), two-tower 0.16-0.23 s (7-10 min, estimate 12; 52 min before its
        item tower ran on the batch's items only). Most of a batch is the dense optimizer
        update of the item tables (Adam: about 25 ns per parameter).
        """
        d, n_users, n_items, nnz = int(self.factors), int(n_users), int(n_items), int(nnz)
        batch = max(1, min(int(self.batch_size), n_users))
        n_batches = -(-n_users // batch)
        pairs = batch * max(1.0, float(self.target_fraction) * nnz / max(n_users, 1))
        hidden = [int(w) for w in self.hidden_layers]
        in_dim = (d if "history" in self.inputs else 0) + FEATURE_ALLOWANCE
        widths = [in_dim, *hidden, d]
        query_flops = sum(a * b for a, b in zip(widths, widths[1:]))
        history_table = n_items * d if "history" in self.inputs and not self._history_tied() else 0
        n_params = query_flops + history_table + self._item_parameter_count(n_items, d)
        if self.loss == "full" or self.negatives == "hard":
            touched, logits = n_items, batch * n_items * d
        else:
            # distinct items among the batch's positives (in-batch negatives are those) and
            # its drawn negatives
            drawn = 0 if self.negatives == "in-batch" else int(self.n_negatives)
            touched = n_items * (1.0 - np.exp(-(pairs + drawn) / max(n_items, 1)))
            logits = batch * min(drawn or touched, n_items) * d
        flops = 6 * (logits + pairs * d + batch * query_flops
                     + touched * self._item_flops_per_item(d))
        per_batch = (_SECONDS_PER_BATCH + _SECONDS_PER_PARAMETER * n_params
                     + _SECONDS_PER_FLOP * flops)
        per_epoch = _SECONDS_PER_FLOP * 2 * (nnz * d + n_users * query_flops)
        return float(n_batches * per_batch + per_epoch)

    def estimate_fit_seconds(self, n_users: int, n_items: int, nnz: int) -> float:
        """:meth:`estimate_epoch_seconds` times ``epochs`` (early stopping may end sooner)."""
        return self.estimate_epoch_seconds(n_users, n_items, nnz) * int(self.epochs)

    def cost_summary(self, n_users: int, n_items: int, nnz: int) -> str:
        """The estimate in words: "about 6 min per epoch, 4.0 h for 40 epochs"."""
        epoch = self.estimate_epoch_seconds(n_users, n_items, nnz)
        return (f"about {_duration(epoch)} per epoch, {_duration(epoch * int(self.epochs))} "
                f"for {int(self.epochs)} epochs")

    def _item_flops_per_item(self, d: int) -> int:
        """Multiply-adds of the item side per item in a forward pass (0 for a lookup)."""
        return 0

    def _history_tied(self) -> bool:
        """Whether the history input reuses the item embedding table (then it is counted once)."""
        return False

    @abstractmethod
    def _item_parameter_count(self, n_items: int, d: int) -> int:
        """Item-side parameters (floats), for the memory estimate."""

    def _item_forward_floats(self, n_items: int, d: int) -> int:
        """Floats held by one forward and backward pass of the item side."""
        return 0

    # ------------------------------------------------------------------ features
    def _prepare_features(self, dataset: Dataset | None, n_users: int, n_items: int):
        """Fix the query inputs available for this data and build the constant feature tables."""
        wanted = list(self.inputs)
        genres = (dataset.item_genres.astype(np.float32) if dataset is not None
                  else np.zeros((n_items, 0), np.float32))
        years = (year_bucket_matrix(dataset.items["year"].to_numpy()) if dataset is not None
                 else np.zeros((n_items, 0), np.float32))
        self.item_context_ = np.hstack([genres, years]).astype(np.float32)
        self.n_genre_columns_ = int(genres.shape[1])
        self.user_features_ = (user_feature_matrix(dataset.users, n_users) if dataset is not None
                               else np.zeros((n_users, 0), np.float32))
        available = {"history": True, "genres": genres.shape[1] > 0, "years": years.shape[1] > 0,
                     "user": self.user_features_.shape[1] > 0}
        self.inputs_ = [name for name in QUERY_INPUTS if name in wanted and available[name]]
        if not self.inputs_:
            raise HyperparameterError(f"none of the inputs {wanted} is available in this data "
                                      "(no genres, years or user table)")

    def _context_columns(self) -> np.ndarray:
        cols = []
        if "genres" in self.inputs_:
            cols.extend(range(self.n_genre_columns_))
        if "years" in self.inputs_:
            cols.extend(range(self.n_genre_columns_, self.item_context_.shape[1]))
        return np.asarray(cols, dtype=np.int64)

    def _history_dim(self) -> int:
        return self.factors

    def _history_table_name(self) -> str:
        """Parameter holding the input item embeddings (shared with V when tied)."""
        return "history_embeddings"

    def _query_input_dim(self) -> int:
        dim = self._history_dim() if "history" in self.inputs_ else 0
        dim += len(self._context_columns())
        if "user" in self.inputs_:
            dim += self.user_features_.shape[1]
        return dim

    # ------------------------------------------------------------------ parameters
    def _init_params(self, rng: np.random.Generator, n_items: int) -> dict[str, np.ndarray]:
        widths = [self._query_input_dim(), *[int(w) for w in self.hidden_layers], self.factors]
        params = nn.mlp_init(rng, widths, "query_")
        params.update(self._init_item_params(rng, n_items))
        if self.item_bias:
            params["item_bias"] = np.zeros(n_items, np.float32)
        if "history" in self.inputs_ and self._history_table_name() not in params:
            params[self._history_table_name()] = nn.normal_embeddings(rng, n_items, self.factors,
                                                                      self.init_std)
        return params

    def _publish_params(self, params: dict[str, np.ndarray]):
        """Expose every network parameter as an attribute ``<name>_`` (so save() stores it)."""
        self._params = params
        self.parameter_names_ = sorted(params)
        for name, value in params.items():
            setattr(self, f"{name}_", value)

    def _after_load(self):
        self._params = {name: getattr(self, f"{name}_") for name in self.parameter_names_}

    # ------------------------------------------------------------------ query tower
    def _query_forward(self, params, bags: sp.csr_matrix, users: np.ndarray | None):
        """psi (n, d) for bags (row-normalised CSR over items) and training users (or None)."""
        parts = []
        if "history" in self.inputs_:
            parts.append(nn.embedding_bag_forward(bags, params[self._history_table_name()]))
        cols = self._context_columns()
        if len(cols):
            parts.append(nn.embedding_bag_forward(bags, self.item_context_[:, cols]).astype(
                self._dtype(params), copy=False))
        if "user" in self.inputs_:
            feats = (self.user_features_[users] if users is not None
                     else np.zeros((bags.shape[0], self.user_features_.shape[1]), np.float32))
            parts.append(feats.astype(self._dtype(params), copy=False))
        x = np.hstack(parts)
        n_layers = len(self.hidden_layers) + 1
        psi, activations = nn.mlp_forward(params, "query_", n_layers, x)
        return psi, (bags, activations)

    def _query_backward(self, params, cache, d_psi, grads):
        bags, activations = cache
        n_layers = len(self.hidden_layers) + 1
        d_x = nn.mlp_backward(params, "query_", n_layers, activations, d_psi, grads)
        if "history" in self.inputs_:
            name = self._history_table_name()
            grads[name] += nn.embedding_bag_backward(bags, d_x[:, :self._history_dim()])

    def _bags(self, rows: sp.csr_matrix, params) -> sp.csr_matrix:
        """Pooling weights of item bags (see :func:`nn.bag_matrix`), in the parameters' dtype."""
        return nn.bag_matrix(rows, self._dtype(params), self.history_pooling)

    @staticmethod
    def _dtype(params):
        return next(iter(params.values())).dtype

    # ------------------------------------------------------------------ the loss of one batch
    def _loss_and_grads(self, params, users, inputs: sp.csr_matrix, targets: sp.csr_matrix,
                        negatives: np.ndarray | None, seen: sp.csr_matrix):
        """Loss of one mini-batch and the gradient of every parameter.

        Parameters
        ----------
        users : int array (B,) training user indices (for the user features)
        inputs, targets : CSR (B, n_items), the query items and the held-out positives
        negatives : int array, (K,) shared negatives, (B, K) per-user negatives, or None
        seen : CSR (B, n_items), every training item of these users (never a negative)

        Returns
        -------
        loss : dict with ``softmax`` (the data term) ; grads : dict like ``params``
        """
        grads = {name: np.zeros_like(p) for name, p in params.items()}
        psi, q_cache = self._query_forward(params, self._bags(inputs, params), users)
        # A sampled loss touches only the batch's positives and negatives: the item side is
        # computed for those rows alone (the other rows' gradients would be zero anyway).
        rows = None
        if self.loss == "positives-only" or (self.loss == "sampled" and negatives.ndim == 1):
            rows = np.unique(targets.indices) if negatives is None or self.loss != "sampled" \
                else np.union1d(targets.indices, negatives)
        item_matrix, i_cache = self._item_forward(params, rows)
        bias = params.get("item_bias")
        d_items = np.zeros_like(item_matrix)
        n_items = len(item_matrix)
        n_pairs = targets.nnz
        weights = self._pair_weights(targets).astype(psi.dtype)
        if self.loss == "full":
            logits = psi @ item_matrix.T
            if bias is not None:
                logits += bias
            # The user's input items are positives too: never contrast a target with them (the
            # same accidental-hit rule as for sampled negatives).
            logits[np.repeat(np.arange(inputs.shape[0]), np.diff(inputs.indptr)),
                   inputs.indices] = -np.inf
            w = sp.csr_matrix((weights, targets.indices, targets.indptr), shape=targets.shape)
            data_loss, d_logits = nn.softmax_cross_entropy(logits, w)
            d_psi = d_logits @ item_matrix
            d_items += d_logits.T @ psi
            if bias is not None:
                grads["item_bias"] += d_logits.sum(axis=0)
        else:
            pair_user = np.repeat(np.arange(targets.shape[0]), np.diff(targets.indptr))
            pair_item = targets.indices.astype(np.int64)
            pos_vectors = item_matrix[pair_item]
            pos_logits = np.einsum("pd,pd->p", psi[pair_user], pos_vectors)
            if bias is not None:
                pos_logits += bias[pair_item]
            if self.loss == "positives-only":
                data_loss, d_pos = nn.positive_only_loss(pos_logits, weights)
            else:
                data_loss, d_pos, d_neg_user = self._sampled_term(
                    psi, item_matrix, bias, pair_user, pair_item, pos_logits, weights, negatives,
                    seen, d_items, grads)
            d_psi = nn.embedding_lookup_backward(pair_user, d_pos[:, None] * pos_vectors, len(psi))
            d_items += nn.embedding_lookup_backward(pair_item, d_pos[:, None] * psi[pair_user],
                                                    n_items)
            if bias is not None:
                grads["item_bias"] += np.bincount(pair_item, d_pos, n_items).astype(psi.dtype)
            if self.loss == "sampled":
                d_psi += self._negative_psi_grad(item_matrix, negatives, d_neg_user)
        self._item_backward(params, i_cache, d_items, grads)
        self._query_backward(params, q_cache, d_psi, grads)
        return {"softmax": data_loss}, grads

    def _pair_weights(self, targets: sp.csr_matrix) -> np.ndarray:
        """Weight of each held-out (user, item) pair in the batch loss; they sum to 1.

        A user with n targets gives each of them weight proportional to n ** -user_weighting:
        0 weighs every pair alike (heavy users dominate), 1 weighs every user alike (as the
        user-averaged ranking metrics do).
        """
        per_user = np.diff(targets.indptr).astype(np.float64)
        raw = np.repeat(np.maximum(per_user, 1) ** -float(self.user_weighting),
                        per_user.astype(np.int64))
        return raw / max(raw.sum(), 1e-300)

    def _sampled_term(self, psi, item_matrix, bias, pair_user, pair_item, pos_logits, weights,
                      negatives, seen, d_items, grads):
        """Sampled softmax: logits of each pair's positive against its user's negatives."""
        if negatives.ndim == 1:  # shared by the batch
            neg_vectors = item_matrix[negatives]
            user_neg_logits = psi @ neg_vectors.T
            if bias is not None:
                user_neg_logits += bias[negatives][None, :]
            mask = np.asarray(seen[:, negatives].todense()) == 0
            if self.log_q_correction and self.negatives != "uniform":
                k = len(negatives)
                pos_log_q = np.log(k * self.negative_q_[pair_item]).astype(psi.dtype)
                neg_log_q = np.log(k * self.negative_q_[negatives]).astype(psi.dtype)[None, :]
            else:
                pos_log_q = neg_log_q = None
        else:  # hard negatives, one list per user, already free of positives
            neg_vectors = item_matrix[negatives]  # (B, K, d)
            user_neg_logits = np.einsum("bd,bkd->bk", psi, neg_vectors)
            if bias is not None:
                user_neg_logits += bias[negatives]
            mask = negatives >= 0
            pos_log_q = neg_log_q = None
        loss, d_pos, d_neg_user = nn.grouped_sampled_softmax_cross_entropy(
            pos_logits, pair_user, user_neg_logits, weights, pos_log_q, neg_log_q, mask)
        if negatives.ndim == 1:
            d_items += nn.embedding_lookup_backward(negatives, d_neg_user.T @ psi, len(d_items))
        else:
            per_negative = (d_neg_user[:, :, None] * psi[:, None, :]).reshape(-1, psi.shape[1])
            d_items += nn.embedding_lookup_backward(np.maximum(negatives, 0), per_negative,
                                                    len(d_items))
        if bias is not None:
            per_slot = d_neg_user.sum(axis=0) if negatives.ndim == 1 else d_neg_user.ravel()
            grads["item_bias"] += np.bincount(np.maximum(negatives, 0).ravel(), per_slot,
                                              len(d_items)).astype(psi.dtype)
        return loss, d_pos, d_neg_user

    @staticmethod
    def _negative_psi_grad(item_matrix, negatives, d_neg_user):
        if negatives.ndim == 1:
            return d_neg_user @ item_matrix[negatives]
        return np.einsum("bk,bkd->bd", d_neg_user, item_matrix[negatives])

    def _draw_negatives(self, rng, params, users, inputs, targets, seen):
        if self.loss != "sampled":
            return None
        if self.negatives == "in-batch":
            return np.unique(targets.indices).astype(np.int64)
        if self.negatives == "hard":
            psi, _ = self._query_forward(params, self._bags(inputs, params), users)
            item_matrix, _ = self._item_forward(params)
            scores = psi @ item_matrix.T
            if "item_bias" in params:
                scores += params["item_bias"]
            return hard_negatives(scores, seen, self.n_negatives)
        return sample_negatives(rng, self.negative_q_, self.n_negatives)

    # ------------------------------------------------------------------ fit
    def fit(self, data, *, validation=None, callback=None):
        """Train on a Dataset or a sparse (n_users, n_items) matrix (any value = interaction).

        Each epoch visits every user once in mini-batches of ``batch_size`` users, holds out a
        random ``target_fraction`` of each history as targets (at least one) and feeds the rest
        as query input. With ``validation`` (held-out interactions in the same index space) and
        ``patience``, training stops when the validation loss (softmax cross-entropy of the
        validation items over the items the user has not seen, full history as input) has not
        improved for ``patience`` epochs, and the best epoch's parameters are kept.

        ``history_`` records per epoch ``softmax`` (mean data loss per held-out pair),
        ``regularization`` and ``total``, plus ``val_loss`` and the validation metrics.
        """
        with limit_threads(1):
            return self._fit(data, validation, callback)

    def _fit(self, data, validation, callback):
        matrix, dataset = as_interaction_matrix(data)
        self._check_common_params(matrix.shape[1])
        matrix = self._start_fit(data)
        seen_all = self.seen_
        n_users, n_items = seen_all.shape
        rng = np.random.default_rng(self.random_state)
        self._prepare_features(dataset, n_users, n_items)
        self._prepare_items(dataset, seen_all)
        counts = np.bincount(seen_all.indices, minlength=n_items)
        sampler = "popularity" if self.negatives == "hard" else self.negatives
        self.negative_q_ = negative_distribution(sampler, counts)
        params = self._init_params(rng, n_items)
        self._publish_params(params)
        optimizer = nn.make_optimizer(self.optimizer, self.learning_rate)
        held_out = validation_data(validation)
        val_matrix = None if held_out is None else as_interaction_matrix(held_out)[0]
        active = np.flatnonzero(np.diff(seen_all.indptr) > 0)
        best, best_epoch, bad_epochs = None, 0, 0
        for epoch in range(1, self.epochs + 1):
            order = rng.permutation(active)
            totals = {"softmax": 0.0, "regularization": 0.0}
            n_batches = 0
            for start in range(0, len(order), self.batch_size):
                users = order[start:start + self.batch_size]
                seen = seen_all[users]
                inputs, targets = split_history(seen, self.target_fraction, rng)
                negatives = self._draw_negatives(rng, params, users, inputs, targets, seen)
                losses, grads = self._loss_and_grads(params, users, inputs, targets, negatives,
                                                     seen)
                penalty = nn.l2_penalty(params, self.regularization, grads)
                optimizer.step(params, grads)
                totals["softmax"] += losses["softmax"]
                totals["regularization"] += penalty
                n_batches += 1
            optimizer.learning_rate *= self.learning_rate_decay
            losses = {k: v / max(n_batches, 1) for k, v in totals.items()}
            losses["total"] = losses["softmax"] + losses["regularization"]
            self._set_embeddings(params)
            if val_matrix is not None:
                losses["val_loss"] = self.validation_loss(val_matrix)
            stop = self._end_epoch(epoch, self.epochs, losses, validation, callback)
            if val_matrix is not None and self.patience is not None:
                if best is None or losses["val_loss"] < best[0]:
                    best = (losses["val_loss"], {k: v.copy() for k, v in params.items()})
                    best_epoch, bad_epochs = epoch, 0
                else:
                    bad_epochs += 1
                    if bad_epochs >= self.patience:
                        stop = True
            if stop:
                break
        if best is not None:
            for name, value in best[1].items():
                params[name][...] = value
            self._set_embeddings(params)
        self.best_epoch_ = best_epoch if best is not None else len(self.history_)
        return self

    def _prepare_items(self, dataset, seen):
        """Hook: item-side constants computed from the training data."""

    def _set_embeddings(self, params):
        """user_embeddings_ = psi(full training history, user features); item_embeddings_ = V."""
        self.item_embeddings_ = np.ascontiguousarray(self._item_forward(params)[0], np.float32)
        self.item_bias_ = (params["item_bias"].astype(np.float32) if "item_bias" in params
                           else None)
        psi, _ = self._query_forward(params, self._bags(self.seen_, params),
                                     np.arange(self.n_users_))
        self.user_embeddings_ = np.ascontiguousarray(psi, np.float32)

    def validation_loss(self, validation) -> float:
        """Mean softmax cross-entropy of held-out items over the items each user has not seen.

        The query is the user's full training history, as at recommendation time.
        """
        self._check_fitted()
        val = as_interaction_matrix(validation)[0]
        users = np.flatnonzero(np.diff(val.indptr) > 0)
        if not len(users):
            return float("nan")
        logits = self.score(users).astype(np.float64)
        seen = self.seen_[users]
        rows = np.repeat(np.arange(len(users)), np.diff(seen.indptr))
        logits[rows, seen.indices] = -np.inf
        rows_val = val[users]
        weights = sp.csr_matrix(rows_val, dtype=np.float64)
        weights.data[:] = 1.0 / rows_val.nnz
        loss, _ = nn.softmax_cross_entropy(logits, weights)
        return loss

    def fold_in(self, items, ratings=None) -> np.ndarray:
        """Query embedding psi (float32, shape (d,)) of a new user's history, without retraining.

        Items with a rating <= 0 are ignored; the user's side features are unknown (zeros).
        """
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64).ravel()
        if items.size and (items.min() < 0 or items.max() >= self.n_items_):
            raise IndexError(f"item index out of range for {self.n_items_} items")
        if ratings is not None:
            items = items[np.asarray(ratings, dtype=float).ravel() > 0]
        items = np.unique(items)
        row = sp.csr_matrix((np.ones(len(items), np.float32), items, [0, len(items)]),
                            shape=(1, self.n_items_))
        psi, _ = self._query_forward(self._params, self._bags(row, self._params), None)
        return psi[0].astype(np.float32)
