"""Matrix factorization trained by stochastic gradient descent (the course's first model).

A user u gets an embedding U_u and an item i an embedding V_i (both of dimension d); the model's
score is their dot product, plus, for explicit ratings, a global mean and user and item biases:

    pred(u, i) = mu + b_u + b_i + U_u . V_i

Objectives (``objective=``), with Omega the observed (user, item) entries, M users and N items:

    "observed"  observed = (1/|Omega|) sum_Omega (r_ui - pred(u, i))^2
                regularization = (1/|Omega|) sum_Omega [lambda (|U_u|^2 + |V_i|^2)
                                                        + lambda_b (b_u^2 + b_i^2)]
                (with implicit feedback, |P_u|^2 replaces |U_u|^2 and
                 lambda_y sum_{j in N(u)} |Y_j|^2 is added; see below)
    "gravity"   the above + gravity = g/(M N) sum_{all u, i} (U_u . V_i)^2
    "weighted"  the above + unobserved = w0/(M N) sum_{(u, i) not in Omega} (U_u . V_i)^2

The regularization is the one stochastic gradient descent applies when every sampled entry shrinks
its own user and item (as Surprise does), so frequent users and items are regularized in
proportion to their data. The all-pairs sums are never materialised: sum_{u,i} (U_u . V_i)^2 =
trace((U^T U)(V^T V)), whose gradient for U_u is (V^T V) U_u; SGD spreads each user's (item's)
share of it over that user's (item's) observed entries, with the products refreshed from the two
d x d Gram matrices every 65536 entries. ``history_`` reports the loss
components after every epoch; ``total`` is their sum.

Implicit feedback (``implicit_feedback``, SVD++-style, on by default for explicit ratings): which
items a user rated says something beyond the ratings, so the user's embedding becomes
U_u = P_u + |N(u)|^(-1/2) sum_{j in N(u)} Y_j, with N(u) the user's training items and Y a second
set of item factors learned with L2 weight lambda_y. ``user_embeddings_`` holds that sum, so
scoring, neighbours and 2-D maps need nothing special. Training visits users in random order and
each user's entries in random order, computing the implicit part once per user (the "vectorized
per user" form, instead of Surprise's once per rating).

Defaults: objective "weighted" (w0 = 1.5, no biases), the one that ranks well; biases only for
the observed objective (rating prediction), since item biases alone rank every unwatched title
by its mean rating; 256 factors by the defaults protocol (docs/defaults-protocol.md). The
evidence for each choice is in docs/model-notes.md.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ...data.dataset import Dataset
from ...errors import DataError, HyperparameterError
from ...threads import limit_threads
from ...validation import Param
from ..base import FLOAT32, FLOAT64, INT32, INT64, ProgressCallback, Recommender
from .kernels import general_chunk, grouped_order, observed_sums, sgd_epoch, sgd_implicit_epoch

OBJECTIVES = ("observed", "gravity", "weighted")
OPTIMIZERS = ("sgd", "adagrad", "adam")
_OPTIMIZER_CODE = {name: code for code, name in enumerate(OPTIMIZERS)}
_OBJECTIVE_CODE = {name: code for code, name in enumerate(OBJECTIVES)}


class MatrixFactorization(Recommender):
    """Matrix factorization by SGD with optional biases (see the module docstring for the losses).


    Attributes
    ----------
    user_embeddings_ : ndarray of float32, shape (n_users, d)
    item_embeddings_ : ndarray of float32, shape (n_items, d)
    user_bias_, item_bias_ : ndarray of float32, shapes (n_users,), (n_items,), or None
    global_mean_ : float or None
    implicit_item_factors_ : ndarray of float32, shape (n_items, d), or None
        Y, when the implicit-feedback term is on.
    rating_scale_ : (float, float) or None
        Smallest and largest rating of explicit training data; ``predict`` clips to it.
    all_pairs_weight_ : float
        |Omega| g / (M N) (or with w0): the Gram term's weight in the per-entry objective, which
        :meth:`fold_in` uses to solve the same problem for a new user.
    history_ : list of dict
        Per epoch: ``observed``, ``regularization``, ``gravity`` or ``unobserved``, ``total``.
    """

    kind = "mf"
    param_spec = {
        "factors": Param("int", "Embedding dimension d.", low=1, high=4096, log=True, size=True,
                         tune=(4, 256)),
        "objective": Param("choice", "Weighted MF with unobserved_weight on every unobserved "
                           "pair (the default: it ranks best, see the module docstring); "
                           "observed-only MSE; or observed plus the gravity term. The course's "
                           "lesson: on implicit data (all values 1) the observed-only objective "
                           "is minimised by a model that scores everything 1, and its embeddings "
                           "fold.", choices=OBJECTIVES),
        "epochs": Param("int", "Passes over the observed entries (in a fresh random order each "
                        "time).", low=1, high=100_000, tune=(5, 100)),
        "learning_rate": Param("float", "Step size at the first epoch. For batch_size > 1 it "
                               "multiplies the sum of a row's gradients in the batch, so the "
                               "step per entry does not depend on the batch size.", low=0,
                               low_open=True, high=10, log=True, tune=(1e-4, 0.1)),
        "lr_decay": Param("float", "The learning rate is multiplied by this after every epoch.",
                          low=0, low_open=True, high=1, tune=(0.9, 1.0)),
        "regularization": Param("float", "lambda, the L2 weight of the embeddings per observed "
                                "entry.", low=0, high=1e4, log=True, tune=(1e-4, 1.0)),
        "bias_regularization": Param("float", "lambda_b, the L2 weight of the biases per "
                                     "observed entry.", low=0, high=1e4, log=True,
                                     tune=(1e-4, 1.0)),
        "init_std": Param("float", "Standard deviation of the normal initial embeddings.",
                          low=0, low_open=True, high=10, log=True, tune=(1e-3, 0.3)),
        "batch_size": Param("int", "Entries per gradient step (1 is plain SGD).", low=1,
                            high=10_000_000, log=True, tune=(1, 4096)),
        "optimizer": Param("choice", "Per-coordinate adaptive steps for Adagrad and Adam (lazy: "
                           "only rows in the batch move).", choices=OPTIMIZERS),
        "use_bias": Param("choice", 'Learn a global mean and user and item biases; "auto" does '
                          'so for explicit ratings with the "observed" objective (with '
                          "unobserved pairs in the objective, item biases would rank every "
                          "unwatched item by its mean rating).", choices=("auto", True, False)),
        "implicit_feedback": Param("choice", "Add the SVD++-style implicit-feedback factors Y "
                                   '(module docstring); "auto" does so for explicit ratings '
                                   'when the objective is "observed" with plain SGD and '
                                   "batch_size 1, the only setting that supports it.",
                                   choices=("auto", True, False)),
        "implicit_regularization": Param("float", "lambda_y, the L2 weight of the "
                                         "implicit-feedback factors per observed entry.", low=0,
                                         high=1e4, log=True, tune=(1e-4, 1.0)),
        "gravity": Param("float", 'Weight g of the gravity term (objective="gravity").', low=0,
                         high=1e6, log=True, tune=(1e-3, 10.0)),
        "unobserved_weight": Param("float", 'Weight w0 of the unobserved pairs (objective='
                                   '"weighted"). SGD diverges when learning_rate x w0 reaches '
                                   "about 0.04: raise one, lower the other.", low=0, high=1e6,
                                   log=True, tune=(0.01, 10.0)),
        "averaging": Param("float", "Fraction of the final epochs over which the parameters are "
                           "averaged (0 keeps the last iterate).", low=0, high=1),
        "random_state": Param("int", "Seed of the initial embeddings and of the order of the "
                              "entries (None: a fresh one).", low=0, optional=True, tune=()),
    }

    @property
    def predicts_ratings(self) -> bool:
        """Whether :meth:`predict` estimates ratings (so RMSE means something), read from the
        fitted state: trained on explicit ratings, and with biases or without an all-pairs term
        (the observed objective). The gravity and weighted objectives also pull the dot product
        of every pair towards 0; without biases that product is the whole prediction, so the
        scores rank items but sit far below the ratings a person would give (MovieLens 100K,
        80/20 holdout: mean prediction 2.55 for a mean rating of 3.53, RMSE 1.46 with gravity,
        1.56 weighted). With biases, mu + b_u + b_i carries the rating level (RMSE 0.914 and
        0.915). False before ``fit``."""
        biased = getattr(self, "global_mean_", None) is not None
        return (getattr(self, "rating_scale_", None) is not None
                and (biased or getattr(self, "all_pairs_weight_", None) == 0))

    def __init__(self, factors=256, objective="weighted", epochs=30, learning_rate=0.015,
                 lr_decay=0.98, regularization=0.08, bias_regularization=0.02, init_std=0.03,
                 batch_size=1, optimizer="sgd", use_bias="auto", implicit_feedback="auto",
                 implicit_regularization=0.01, gravity=1.0, unobserved_weight=1.5,
                 averaging=0.4, random_state=0):
        self.factors = factors
        self.objective = objective
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.regularization = regularization
        self.bias_regularization = bias_regularization
        self.init_std = init_std
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.use_bias = use_bias
        self.implicit_feedback = implicit_feedback
        self.implicit_regularization = implicit_regularization
        self.gravity = gravity
        self.unobserved_weight = unobserved_weight
        self.averaging = averaging
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def _check_params(self):
        self.validate_params()
        if self.implicit_feedback is True and not self._plain_sgd():
            raise HyperparameterError("implicit_feedback=True needs objective='observed', "
                                      "optimizer='sgd' and batch_size=1")

    def estimate_fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """Peak bytes of a fit (see :meth:`Recommender.estimate_fit_bytes`).

        Per observed entry: user, item, value and the shuffled order. Per user and item row of
        d float32: the parameters (U, V, and Y when the implicit-feedback term may be on), their
        running average and final copy, the effective user embeddings, and, off the plain-SGD
        path, the summed gradients, the Gram-term gradients and Adagrad/Adam state; the float64
        initial draws; d x d Gram matrices.
        """
        d = int(self.factors)
        n_users, n_items, nnz = int(n_users), int(n_items), int(nnz)
        rows = n_users + n_items
        entries = nnz * (3 * INT32 + FLOAT32 + 2 * INT64 + FLOAT64)
        copies = 3  # parameters, running average, final copy
        if self.implicit_feedback is not False and self._plain_sgd():
            copies += 3 * n_items / rows + 3 * n_users / rows  # Y (x3) and U + z temporaries
        if not self._plain_sgd():
            copies += 2 + {"sgd": 0, "adagrad": 1, "adam": 2}.get(self.optimizer, 2)
        if self.objective != "observed":
            copies += 2  # the losses' float64 copies of U and V
        per_row = rows * d * FLOAT32
        return int(super().estimate_fit_bytes(n_users, n_items, nnz) + entries
                   + copies * per_row + 2 * max(n_users, n_items) * d * FLOAT64
                   + 4 * d * d * FLOAT64 + rows * 6 * FLOAT64)

    def _plain_sgd(self) -> bool:
        return self.objective == "observed" and self.optimizer == "sgd" and self.batch_size == 1

    def fit(self, data, *, validation=None, callback: ProgressCallback | None = None
            ) -> "MatrixFactorization":
        """Learn the embeddings (and biases) from a Dataset or a sparse (n_users, n_items) matrix.

        Raises :class:`HyperparameterError` for invalid hyperparameters or when training
        diverges (the loss stops being finite: lower ``learning_rate``).
        """
        self._check_params()
        matrix = self._start_fit(data)
        self.rating_scale_ = _rating_scale(data, matrix)
        explicit = self.rating_scale_ is not None
        with_bias = (explicit and self.objective == "observed"
                     if self.use_bias == "auto" else bool(self.use_bias))
        with_implicit = (self.implicit_feedback is True or (
            self.implicit_feedback == "auto" and explicit and self._plain_sgd()))

        n_users, n_items = matrix.shape
        users = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(matrix.indptr))
        items = matrix.indices.astype(np.int32)
        values = matrix.data.astype(np.float32)
        n_obs = len(values)
        user_count = np.bincount(users, minlength=n_users).astype(np.float64)
        item_count = np.bincount(items, minlength=n_items).astype(np.float64)

        rng = np.random.default_rng(self.random_state)
        d = self.factors
        U = rng.normal(0.0, self.init_std, (n_users, d)).astype(np.float32)
        V = rng.normal(0.0, self.init_std, (n_items, d)).astype(np.float32)
        bu = np.zeros((n_users, 1), np.float32)
        bi = np.zeros((n_items, 1), np.float32)
        mu = float(values.mean()) if with_bias else 0.0
        Y = np.zeros((n_items, d), np.float32) if with_implicit else None

        mode = _OBJECTIVE_CODE[self.objective]
        weight = {"observed": 0.0, "gravity": self.gravity,
                  "weighted": self.unobserved_weight}[self.objective]
        all_pairs = n_obs * weight / (float(n_users) * float(n_items))
        self.all_pairs_weight_ = float(all_pairs)

        with limit_threads(1):
            self._train(matrix.indptr, users, items, values, U, V, bu, bi, Y, mu, with_bias, mode,
                        weight, user_count, item_count, rng, validation, callback)
        return self

    def _train(self, indptr, users, items, values, U, V, bu, bi, Y, mu, with_bias, mode, weight,
               user_count, item_count, rng, validation, callback):
        n_obs = len(values)
        n_users = U.shape[0]
        fast_path = self._plain_sgd()
        if Y is not None:
            # N(u) normalisation and, per item, the weight of |Y_j|^2 in the per-entry L2 term
            implicit_norm = np.where(user_count > 0, 1.0 / np.sqrt(np.maximum(user_count, 1)),
                                     0.0).astype(np.float32)
            implicit_reg_weight = self.seen_.T @ user_count
        if not fast_path:
            trainer = _GeneralTrainer(U, V, bu, bi, self.optimizer, self.all_pairs_weight_,
                                      user_count, item_count)
        n_average = int(round(self.averaging * self.epochs))
        first_averaged = self.epochs - n_average
        averaged = None
        for epoch in range(self.epochs):
            lr = np.float32(self.learning_rate * self.lr_decay ** epoch)
            if Y is not None:
                order = grouped_order(indptr, rng.permutation(n_users), rng.random(n_obs))
                sgd_implicit_epoch(indptr, users, items, values, order, U, V, Y, bu, bi,
                                    np.float32(mu), with_bias, lr,
                                    np.float32(self.regularization),
                                    np.float32(self.bias_regularization),
                                    np.float32(self.implicit_regularization))
            elif fast_path:
                order = rng.permutation(n_obs).astype(np.int32)
                sgd_epoch(users, items, values, order, U, V, bu, bi, np.float32(mu), with_bias,
                           lr, np.float32(self.regularization),
                           np.float32(self.bias_regularization))
            else:
                order = rng.permutation(n_obs).astype(np.int32)
                trainer.epoch(users, items, values, order, np.float32(mu), with_bias, lr,
                              self.regularization, self.bias_regularization, mode,
                              self.batch_size)
            current = (U, V, bu, bi) if Y is None else (U, V, bu, bi, Y)
            if epoch >= first_averaged:
                averaged = _running_average(averaged, current, epoch - first_averaged + 1)
            U_out, V_out, bu_out, bi_out, *Y_out = averaged if averaged is not None else current
            Y_out = Y_out[0] if Y_out else None
            U_eff = U_out
            extra_reg = 0.0
            if Y_out is not None:
                U_eff = U_out + implicit_norm[:, None] * (self.seen_ @ Y_out)
                extra_reg = (self.implicit_regularization
                             * float(implicit_reg_weight @ np.einsum("ij,ij->i", Y_out, Y_out,
                                                                     dtype=np.float64)) / n_obs)
            self._set_state(U_eff, V_out, bu_out, bi_out, mu, with_bias, Y_out)
            losses = _losses(users, items, values, U_eff, V_out, bu_out[:, 0], bi_out[:, 0],
                             np.float32(mu), self.regularization, self.bias_regularization,
                             user_count, item_count, self.objective, weight,
                             regularized_users=U_out, extra_regularization=extra_reg)
            if not np.isfinite(losses["total"]):
                raise HyperparameterError(
                    f"training diverged at epoch {epoch + 1} (the loss is not finite); lower "
                    f"learning_rate (now {self.learning_rate}) or raise regularization")
            if self._end_epoch(epoch + 1, self.epochs, losses, validation, callback):
                break
        # the arrays the loop exposed are still being trained or averaged in place: copy them
        self._set_state(U_eff.copy(), V_out.copy(), bu_out.copy(), bi_out.copy(), mu, with_bias,
                        None if Y_out is None else Y_out.copy())

    def _set_state(self, U, V, bu, bi, mu, with_bias, Y=None):
        self.implicit_item_factors_ = Y
        self.user_embeddings_ = U
        self.item_embeddings_ = V
        self.user_bias_ = bu.reshape(-1) if with_bias else None
        self.item_bias_ = bi.reshape(-1) if with_bias else None
        self.global_mean_ = float(mu) if with_bias else None

    def _after_load(self):
        if self.rating_scale_ is not None:
            self.rating_scale_ = tuple(self.rating_scale_)

    # ------------------------------------------------------------------ fold-in
    def fold_in(self, items, ratings=None, *, return_bias: bool = False):
        """Embedding of a user absent from training: the regularized least-squares solution of
        this model's objective for one user, with the item embeddings (and biases) fixed.

        Parameters
        ----------
        items : array of item indices
        ratings : array of float, same length, optional
            Omitted: 1.0 each for implicit models; the top of the rating scale (a "like") for
            explicit models.
        return_bias : bool
            Also return the user's bias (0.0 for a model without biases).

        Returns
        -------
        ndarray of float32, shape (d,), or (that, bias) with ``return_bias``. The bias is needed
        to predict ratings: pred = global_mean_ + bias + item_bias_ + vector . item embedding.
        """
        self._check_fitted()
        idx, values = self._pairs(items, ratings, self.n_items_, "item")
        implicit = None
        Y = getattr(self, "implicit_item_factors_", None)
        if Y is not None and len(idx):
            implicit = Y[idx].sum(axis=0, dtype=np.float64) / np.sqrt(len(idx))
        with limit_threads(1):
            vector, bias = self._solve_one_side(idx, values, self.item_embeddings_,
                                                self.item_bias_, implicit)
        return (vector, bias) if return_bias else vector

    def fold_in_item(self, users, ratings=None, *, return_bias: bool = False):
        """Embedding of an item absent from training, from the users who rated it (the same
        least-squares problem with the user embeddings and biases fixed)."""
        self._check_fitted()
        idx, values = self._pairs(users, ratings, self.n_users_, "user")
        with limit_threads(1):
            vector, bias = self._solve_one_side(idx, values, self.user_embeddings_,
                                                self.user_bias_)
        return (vector, bias) if return_bias else vector

    def _pairs(self, indices, ratings, n, kind):
        idx = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = idx[(idx < 0) | (idx >= n)][0]
            raise IndexError(f"{kind} index {bad} out of range for {n} {kind}s")
        if ratings is None:
            top = self.rating_scale_[1] if self.rating_scale_ is not None else 1.0
            values = np.full(len(idx), top, dtype=np.float64)
        else:
            values = np.atleast_1d(np.asarray(ratings, dtype=np.float64))
            if values.shape != idx.shape:
                raise DataError(f"{len(values)} ratings for {len(idx)} {kind}s")
            if not np.all(np.isfinite(values)):
                raise DataError("ratings must be finite numbers")
        return idx, values

    def _solve_one_side(self, idx, values, fixed, fixed_bias, implicit=None):
        """Minimise sum_j (r_j - mu - c_j - b - (x + z) . F_j)^2 + n lambda |x|^2 + n lambda_b b^2
        (+ the Gram terms of the gravity/weighted objectives) over (b, x), where z is the fixed
        implicit-feedback part of a user (0 without it); returns (x + z, b)."""
        d = fixed.shape[1]
        n = len(idx)
        with_bias = fixed_bias is not None
        if n == 0:
            return np.zeros(d, np.float32), 0.0
        F = fixed[idx].astype(np.float64)
        target = values - (self.global_mean_ + fixed_bias[idx] if with_bias else 0.0)
        if implicit is not None:
            target = target - F @ implicit
        design = np.hstack([np.ones((n, 1)), F]) if with_bias else F
        normal = design.T @ design
        ridge = np.full(design.shape[1], n * self.regularization)
        if with_bias:
            ridge[0] = n * self.bias_regularization
        normal[np.diag_indices_from(normal)] += ridge
        x_block = slice(1, None) if with_bias else slice(None)
        if self.all_pairs_weight_ > 0:
            full = fixed.astype(np.float64)
            normal[x_block, x_block] += self.all_pairs_weight_ * (full.T @ full)
            if self.objective == "weighted":
                normal[x_block, x_block] -= self.all_pairs_weight_ * (F.T @ F)
        try:
            solution = np.linalg.solve(normal, design.T @ target)
        except np.linalg.LinAlgError:  # no regularization and too few ratings: least norm
            solution = np.linalg.lstsq(normal, design.T @ target, rcond=None)[0]
        vector = solution[1:] if with_bias else solution
        if implicit is not None:
            vector = vector + implicit
        return vector.astype(np.float32), float(solution[0]) if with_bias else 0.0


# ---------------------------------------------------------------------- helpers
def _rating_scale(data, matrix: sp.csr_matrix):
    """(min, max) rating of explicit data, None for implicit data (every value 1)."""
    if isinstance(data, Dataset):
        return None if data.rating_scale is None else tuple(float(v) for v in data.rating_scale)
    if np.all(matrix.data == 1.0):
        return None
    return float(matrix.data.min()), float(matrix.data.max())


def _running_average(averaged, current, count):
    """Mean of the parameters over ``count`` epochs, updated in place after the first."""
    if averaged is None:
        return tuple(a.copy() for a in current)
    for avg, cur in zip(averaged, current):
        avg += (cur - avg) / np.float32(count)
    return averaged


def _losses(users, items, values, U, V, bu, bi, mu, reg, reg_bias, user_count, item_count,
            objective, weight, regularized_users=None, extra_regularization=0.0) -> dict:
    """The loss components of the module docstring for the given parameters.

    ``regularized_users`` (default U) are the user factors the L2 term applies to (P rather than
    the effective embeddings when the implicit-feedback term is on); ``extra_regularization``
    is added to the regularization component (that term's lambda_y part).
    """
    n_obs = len(values)
    sq_error, sq_dot = observed_sums(users, items, values, U, V, bu, bi, mu)
    P = U if regularized_users is None else regularized_users
    regularization = extra_regularization + (reg * (user_count @ np.einsum("ij,ij->i", P, P, dtype=np.float64)
                             + item_count @ np.einsum("ij,ij->i", V, V, dtype=np.float64))
                      + reg_bias * (user_count @ np.square(bu, dtype=np.float64)
                                    + item_count @ np.square(bi, dtype=np.float64))) / n_obs
    out = {"observed": sq_error / n_obs, "regularization": regularization}
    if objective != "observed":
        pairs = float(U.shape[0]) * float(V.shape[0])
        all_pairs = float(np.sum((U.T.astype(np.float64) @ U) * (V.T.astype(np.float64) @ V)))
        if objective == "gravity":
            out["gravity"] = weight * all_pairs / pairs
        else:
            out["unobserved"] = weight * (all_pairs - sq_dot) / pairs
    out["total"] = sum(out.values())
    return out


class _GeneralTrainer:
    """Mini-batches, Adagrad/Adam state and the Gram terms, for everything but the fast path.

    The Gram-term gradients U (V^T V) and V (U^T U) are computed with BLAS once per chunk of
    entries (``GRAM_CHUNK`` or one batch, whichever is larger) instead of per step: within a chunk
    they are slightly stale, which leaves the fixed point unchanged and costs O(d) per entry
    instead of O(d^2).
    """

    GRAM_CHUNK = 65536

    def __init__(self, U, V, bu, bi, optimizer, all_pairs, user_count, item_count):
        self.params = (U, V, bu, bi)
        self.optimizer = _OPTIMIZER_CODE[optimizer]

        def state(used):
            return tuple(np.zeros_like(p) if used else np.zeros((0, p.shape[1]), p.dtype)
                         for p in self.params)

        self.state1 = state(optimizer != "sgd")
        self.state2 = state(optimizer == "adam")
        self.steps = (np.zeros(U.shape[0], np.int64), np.zeros(V.shape[0], np.int64))
        self.grads = tuple(np.zeros_like(p) for p in self.params)
        self.marks = (np.zeros(U.shape[0], np.bool_), np.zeros(V.shape[0], np.bool_))
        # Each user's share of the all-pairs term, spread over that user's observed entries.
        self.all_pairs = np.float32(all_pairs)
        self.user_share = (all_pairs / np.maximum(user_count, 1)).astype(np.float32)
        self.item_share = (all_pairs / np.maximum(item_count, 1)).astype(np.float32)

    def epoch(self, users, items, values, order, mu, with_bias, lr, reg, reg_bias, mode,
              batch_size):
        U, V, bu, bi = self.params
        chunk = batch_size * max(1, -(-self.GRAM_CHUNK // batch_size)) if mode else len(order)
        touched = (np.empty(min(batch_size, len(order)), np.int64),
                   np.empty(min(batch_size, len(order)), np.int64))
        no_gram = np.zeros((0, U.shape[1]), np.float32)
        for start in range(0, len(order), chunk):
            if mode:
                gram_grad_u = U @ (V.T @ V)
                gram_grad_v = V @ (U.T @ U)
            else:
                gram_grad_u = gram_grad_v = no_gram
            general_chunk(users, items, values, order[start:start + chunk], U, V, bu, bi, mu,
                           with_bias, lr, np.float32(reg), np.float32(reg_bias), mode,
                           self.all_pairs, self.user_share, self.item_share, gram_grad_u,
                           gram_grad_v, batch_size, self.optimizer, *self.state1, *self.state2,
                           *self.steps, *self.grads, *self.marks, *touched)
