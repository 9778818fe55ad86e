"""The course's softmax deep recommender, trained in NumPy with analytic gradients.

A user's query features x (the pooled embedding of the items in their history, the genres and
release years of that history, their age bucket, gender and occupation) go through ReLU layers to
a query embedding psi(x) in R^d; the score of item j is psi(x) . V_j. Training holds out part of
each user's history every epoch, feeds the rest as input, and fits a softmax over the catalogue
to the held-out items (full softmax, sampled softmax, or, to show *folding*, positives alone).

:class:`SoftmaxModel` learns V as a free table;
:class:`~recsys_core.models.neural.two_tower.TwoTowerModel` computes V with a second network from
item features and shares everything else through
:class:`QueryTowerModel`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ...data.dataset import Dataset, as_interaction_matrix
from ...errors import HyperparameterError
from ...retrieval.topk import top_k
from ...threads import limit_threads
from ...validation import check_param
from ..base import FLOAT32, FLOAT64, INT64, Recommender, validation_data
from . import layers as nn

#: Query inputs a model can use; each is switchable.
QUERY_INPUTS = ("history", "genres", "years", "user")
#: Ways to train: the full softmax, a sampled softmax, or positives alone (shows folding).
LOSSES = ("full", "sampled", "positives-only")
#: Where the negatives of a sampled softmax come from.
SAMPLERS = ("uniform", "popularity", "hard", "in-batch")
#: Age buckets of the MovieLens user table (lower edges, years).
AGE_EDGES = (18, 25, 35, 45, 50, 56)
#: Columns the genre, year and user-feature inputs may add, for the memory estimate.
FEATURE_ALLOWANCE = 96


# ---------------------------------------------------------------------------- pure helpers
def split_history(rows: sp.csr_matrix, target_fraction: float, rng: np.random.Generator
                  ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Split each row's items into query input and held-out targets.

    Every entry becomes a target with probability ``target_fraction``; each non-empty row keeps at
    least one target, and each row with two or more items keeps at least one input item. Targets
    never appear in the input.

    Returns
    -------
    inputs, targets : csr_matrix, both of the shape of ``rows``, disjoint, summing to ``rows``.
    """
    rows = sp.csr_matrix(rows)
    counts = np.diff(rows.indptr)
    is_target = rng.random(rows.nnz) < target_fraction
    # One random entry per non-empty row is always a target, and another one (of rows with two
    # or more entries) always an input: offsets drawn within each row, no sorting needed.
    nonempty = np.flatnonzero(counts > 0)
    forced = (rng.random(len(nonempty)) * counts[nonempty]).astype(np.int64)
    is_target[rows.indptr[nonempty] + forced] = True
    several = counts[nonempty] > 1
    rows_several, forced_several = nonempty[several], forced[several]
    n = counts[rows_several]
    other = (forced_several + 1 + (rng.random(len(n)) * (n - 1)).astype(np.int64)) % n
    is_target[rows.indptr[rows_several] + other] = False
    return _select(rows, ~is_target), _select(rows, is_target)


def _select(rows: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    counts = np.add.reduceat(keep.astype(np.int64), rows.indptr[:-1]) if rows.nnz else None
    indptr = np.zeros(rows.shape[0] + 1, dtype=np.int64)
    if counts is not None:
        counts[np.diff(rows.indptr) == 0] = 0  # reduceat repeats the next value for empty rows
        np.cumsum(counts, out=indptr[1:])
    return sp.csr_matrix((rows.data[keep], rows.indices[keep], indptr), shape=rows.shape)


def negative_distribution(sampler: str, item_counts: np.ndarray) -> np.ndarray:
    """Probability of drawing each item as a negative (float64, shape (n_items,), sums to 1).

    ``uniform``: 1/n_items. ``popularity`` and ``in-batch``: proportional to the item's training
    interactions plus one (in-batch negatives are other users' positives, so they arrive at that
    rate; the +1 keeps unseen items drawable).
    """
    n = len(item_counts)
    if sampler == "uniform":
        return np.full(n, 1.0 / n)
    weights = np.asarray(item_counts, dtype=np.float64) + 1.0
    return weights / weights.sum()


def sample_negatives(rng: np.random.Generator, q: np.ndarray, n_samples: int) -> np.ndarray:
    """``n_samples`` item indices (int64) drawn with replacement from distribution ``q``."""
    return rng.choice(len(q), size=n_samples, p=q).astype(np.int64)


def hard_negatives(scores: np.ndarray, positives: sp.csr_matrix, n_negatives: int) -> np.ndarray:
    """The ``n_negatives`` highest-scoring items of each row that are not among its positives.

    Returns int64 (n_rows, n_negatives).
    """
    idx, _ = top_k(scores, n_negatives, exclude=positives)
    return idx


def user_feature_matrix(users: pd.DataFrame | None, n_users: int) -> np.ndarray:
    """One-hot user side features: age bucket, gender, occupation (those columns present).

    Returns float32 (n_users, n_features); (n_users, 0) without a user table.
    """
    if users is None:
        return np.zeros((n_users, 0), np.float32)
    blocks = []
    if "age" in users:
        age = pd.to_numeric(users["age"], errors="coerce").to_numpy(dtype=float)
        bucket = np.searchsorted(np.asarray(AGE_EDGES, float), np.nan_to_num(age, nan=-1), "right")
        block = np.zeros((n_users, len(AGE_EDGES) + 1), np.float32)
        block[np.arange(n_users), bucket] = 1
        block[np.isnan(age)] = 0
        blocks.append(block)
    for column in ("gender", "occupation"):
        if column in users:
            values = users[column].astype(str).to_numpy()
            categories, codes = np.unique(values, return_inverse=True)
            block = np.zeros((n_users, len(categories)), np.float32)
            block[np.arange(n_users), codes] = 1
            blocks.append(block)
    return np.hstack(blocks) if blocks else np.zeros((n_users, 0), np.float32)


def year_bucket_matrix(years: np.ndarray, n_buckets: int = 8) -> np.ndarray:
    """One-hot release-year buckets (quantiles of the known years) plus an "unknown" column.

    Returns float32 (n_items, n_distinct_buckets + 1).
    """
    years = np.asarray(years, dtype=float)
    known = ~np.isnan(years)
    if not known.any():
        return np.zeros((len(years), 0), np.float32)
    edges = np.unique(np.quantile(years[known], np.linspace(0, 1, n_buckets + 1)[1:-1]))
    bucket = np.searchsorted(edges, np.where(known, years, 0), side="right")
    out = np.zeros((len(years), len(edges) + 2), np.float32)
    out[np.arange(len(years)), np.where(known, bucket, len(edges) + 1)] = 1
    return out


# ---------------------------------------------------------------------------- shared model
class QueryTowerModel(Recommender):
    """Shared machinery of the softmax and two-tower models (not a model on its own).

    Subclasses provide the item side: ``_init_item_params``, ``_item_forward`` and
    ``_item_backward``. Learned network parameters live in ``self._params`` and are also set as
    attributes ``<name>_`` so that :meth:`save` stores them.
    """

    learns_from_validation = True  # held-out interactions drive early stopping (``patience``)

    # ------------------------------------------------------------------ validation
    def _check_common_params(self, n_items: int):
        check_param("factors", self.factors, low=1, integer=True)
        layers = list(self.hidden_layers)
        for width in layers:
            check_param("hidden layer width", width, low=1, integer=True)
        inputs = list(self.inputs)
        if not inputs:
            raise HyperparameterError("inputs must name at least one of " + ", ".join(QUERY_INPUTS))
        for name in inputs:
            check_param("inputs entry", name, choices=QUERY_INPUTS)
        check_param("loss", self.loss, choices=LOSSES)
        check_param("negatives", self.negatives, choices=SAMPLERS)
        check_param("n_negatives", self.n_negatives, low=1, integer=True)
        if self.loss == "sampled" and self.negatives != "in-batch" and self.n_negatives >= n_items:
            raise HyperparameterError(f"n_negatives ({self.n_negatives}) must be smaller than the "
                                      f"number of items ({n_items})")
        check_param("optimizer", self.optimizer, choices=nn.OPTIMIZERS)
        check_param("learning_rate", self.learning_rate, low=0, low_open=True)
        check_param("epochs", self.epochs, low=1, integer=True)
        check_param("batch_size", self.batch_size, low=1, integer=True)
        check_param("regularization", self.regularization, low=0)
        check_param("target_fraction", self.target_fraction, low=0, high=1, low_open=True)
        check_param("init_std", self.init_std, low=0, low_open=True)
        check_param("user_weighting", self.user_weighting, low=0)
        check_param("history_pooling", self.history_pooling, choices=nn.POOLINGS)
        check_param("learning_rate_decay", self.learning_rate_decay, low=0, low_open=True, high=1)
        if self.patience is not None:
            check_param("patience", self.patience, low=1, integer=True)

    # ------------------------------------------------------------------ memory
    size_parameters = ("factors", "hidden_layers", "batch_size")

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

    def _history_tied(self) -> bool:
        """Whether the history input reuses the item embedding table (then it is counted once)."""
        return False

    def _item_parameter_count(self, n_items: int, d: int) -> int:
        """Item-side parameters (floats), for the memory estimate."""
        raise NotImplementedError

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
        item_matrix, i_cache = self._item_forward(params)
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
        self._check_extra_params(matrix.shape[1])
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

    def _check_extra_params(self, n_items: int):
        """Hook for subclass-specific hyperparameters."""

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


class SoftmaxModel(QueryTowerModel):
    """Softmax deep recommender: psi(user features) . V over the whole catalogue.

    The defaults were chosen on a validation split carved from the MovieLens 100K training
    holdout (never the test part): a tied item table, half of each history held out per epoch,
    in-batch negatives with the log-Q correction (validation Recall@20 0.329 against 0.320 for
    the full softmax), targets weighted n ** -0.5 per user, the history pooled as sum/sqrt(n)
    rather than the mean (0.342 against 0.329), 40 epochs of Adam. Wider or deeper towers, more
    factors, item biases, learning-rate decay, hard negatives and other input subsets did not
    beat it. See ``benchmarks/bench_dnn.py``.

    Parameters
    ----------
    factors : int
        d, the size of the query embedding psi(x) and of the item embeddings V.
    hidden_layers : sequence of int
        Widths of the ReLU layers between the input features and the (linear) output layer;
        empty for a linear query tower.
    inputs : sequence of str
        Query features used, any of "history" (pooled embedding of the user's items), "genres"
        (genre mix of the history), "years" (release-year mix of the history), "user" (age bucket,
        gender, occupation). Those the data lacks are skipped (recorded in ``inputs_``).
    tie_embeddings : bool
        Use V itself as the input item embeddings (as the course's notebook does).
    loss : {"full", "sampled", "positives-only"}
        Full softmax; sampled softmax; or positives alone (logistic loss on held-out positives,
        no negatives) which makes unrelated items *fold* onto each other.
    negatives : {"uniform", "popularity", "hard", "in-batch"}
        Negatives of the sampled softmax: uniform draws, draws proportional to popularity (with
        the log-Q correction when ``log_q_correction``), the highest-scoring items the user has not
        seen, or the other held-out items of the batch.
    n_negatives : int
        Negatives per batch (shared) or per user (hard).
    log_q_correction : bool
    optimizer : {"sgd", "adagrad", "adam"}
    learning_rate : float
    epochs : int
        Maximum passes over the users.
    batch_size : int
        Users per mini-batch.
    regularization : float
        L2 strength on every parameter, per mini-batch.
    target_fraction : float in (0, 1]
        Share of each history held out as targets in an epoch (at least one item).
    init_std : float
        Standard deviation of the initial item embeddings.
    patience : int or None
        Early stopping patience in epochs (used when fit gets a validation set).
    random_state : int
    item_bias : bool
        Add a learned per-item bias b_j to the logits (then ``item_bias_`` is set and
        ``score`` adds it).
    history_pooling : {"sqrt", "mean"}
        How the history's item embeddings (and its genre and year mix) are pooled: their mean,
        or their sum over sqrt(n) so that a longer history gives a longer, more confident query.
    learning_rate_decay : float in (0, 1]
        The learning rate is multiplied by this after every epoch.
    user_weighting : float >= 0
        A user with n held-out targets in a batch weighs each of them n ** -user_weighting:
        0 counts every (user, item) pair alike, 1 every user alike (like user-averaged metrics).

    Attributes
    ----------
    user_embeddings_ : float32 (n_users, factors), psi of each training user's full history
    item_embeddings_ : float32 (n_items, factors), V
    inputs_ : list of str, the query inputs actually used
    best_epoch_ : int
    """

    kind = "softmax"

    def __init__(self, factors: int = 64, hidden_layers=(128,),
                 inputs=("history", "genres", "years", "user"), tie_embeddings: bool = True,
                 loss: str = "sampled", negatives: str = "in-batch", n_negatives: int = 256,
                 log_q_correction: bool = True, optimizer: str = "adam",
                 learning_rate: float = 0.002, epochs: int = 40, batch_size: int = 64,
                 regularization: float = 3e-5, target_fraction: float = 0.5,
                 init_std: float = 0.05, patience: int | None = 5, random_state: int = 0,
                 item_bias: bool = False, user_weighting: float = 0.5,
                 learning_rate_decay: float = 1.0, history_pooling: str = "sqrt"):
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

    def _item_forward(self, params):
        return params["item_embeddings"], None

    def _item_backward(self, params, cache, d_items, grads):
        grads["item_embeddings"] += d_items


# ---------------------------------------------------------------------------- folding
def folding_diagnostic(model: Recommender, dataset: Dataset | sp.spmatrix, groups,
                       user_groups=None, k: int = 10) -> dict[str, float]:
    """How much a model mixes up unrelated groups of items (the course's *folding*).

    Parameters
    ----------
    model : fitted Recommender
    dataset : Dataset or CSR of the training interactions (for the users' own groups)
    groups : int array (n_items,)
        Group of each item (e.g. the demo's planted clusters, or a dominant genre); -1 = none.
    user_groups : int array (n_users,), optional
        Each user's own group; by default the most frequent group in their history.
    k : int

    Returns
    -------
    dict with
        ``own_group_share``: mean share of each user's top-k recommendations (seen excluded) that
        belong to the user's own group (high = no folding);
        ``foreign_share``: 1 - own_group_share;
        ``neighbour_purity``: mean share of each item's k highest dot-product neighbours in the
        same group (the score the model ranks with, so folding shows here too);
        ``chance``: the share a random ranking would give (mean group size / grouped items).
    """
    matrix, _ = as_interaction_matrix(dataset)
    groups = np.asarray(groups, dtype=np.int64)
    if groups.shape != (matrix.shape[1],):
        raise HyperparameterError(f"groups must have one entry per item ({matrix.shape[1]}), "
                                  f"got shape {groups.shape}")
    grouped = groups >= 0
    n_groups = int(groups.max()) + 1 if grouped.any() else 0
    if n_groups == 0:
        raise HyperparameterError("groups has no item with a group (all -1)")
    if user_groups is None:
        binary = matrix.copy()
        binary.data[:] = 1
        one_hot = sp.csr_matrix((np.ones(grouped.sum()), (np.flatnonzero(grouped),
                                                          groups[grouped])),
                                shape=(matrix.shape[1], n_groups))
        per_user = np.asarray((binary @ one_hot).todense())
        user_groups = np.where(per_user.sum(axis=1) > 0, per_user.argmax(axis=1), -1)
    user_groups = np.asarray(user_groups, dtype=np.int64)
    users = np.flatnonzero(user_groups >= 0)
    recs, _ = model.recommend(users, k)
    valid = recs >= 0
    same = (groups[np.where(valid, recs, 0)] == user_groups[users][:, None]) & valid
    own = float(np.mean(same.sum(axis=1) / np.maximum(valid.sum(axis=1), 1)))
    items = np.flatnonzero(grouped)
    vectors = model.item_embeddings_
    scores = vectors[items] @ vectors.T
    scores[np.arange(len(items)), items] = -np.inf
    scores[:, ~grouped] = -np.inf
    neighbours, _ = top_k(scores, k)
    purity = float(np.mean(groups[neighbours] == groups[items][:, None]))
    sizes = np.bincount(groups[grouped], minlength=n_groups)
    chance = float((sizes / sizes.sum()) @ (sizes / sizes.sum()))
    return {"own_group_share": own, "foreign_share": 1 - own, "neighbour_purity": purity,
            "chance": chance}
