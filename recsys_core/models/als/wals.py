"""Weighted alternating least squares (WALS, the iALS family), with cold start and side features.

Objective, for user factors X (n_users, d) and item factors Y (n_items, d):

    L = sum_{(u,i) observed}   w_ui (1 - x_u . y_i)^2                       "observed"
      + w0 sum_{(u,i) unobserved} (x_u . y_i)^2                             "unobserved"
      + sum_u lambda_u ||x_u||^2 + sum_i lambda_i ||y_i||^2                 "regularization"

- Every observed pair is a positive preference (target 1) whose *confidence* grows with its value
  r_ui (a rating, a play count, or 1 for implicit data): ``confidence="linear"`` gives
  c = 1 + alpha r, ``"log"`` gives c = 1 + alpha log(1 + r / confidence_epsilon), ``"binary"``
  gives c = 1 + alpha whatever the value.
- The course's *frequency weighting* of observed pairs multiplies c by
  (n_u / mean n_u)^-user_frequency_exponent (n_i / mean n_i)^-item_frequency_exponent, where n_u,
  n_i count the user's and item's training interactions: positive exponents stop heavy users and
  blockbusters from dominating the fit.
- ``unobserved_weight`` (w0) weighs every unobserved pair; the d x d Gram trick handles them
  without materialising the n_users x n_items matrix.
- ``regularization_type="observed"`` (default): lambda_u = regularization n_u^nu over the row's
  observed entries, so the catalogue's size grows no one's penalty (docs/defaults-protocol.md).
  ``"frequency"``: lambda_u = regularization (n_u + w0 n_items)^nu (Rendle et al. 2021), whose
  w0 n_items term collapses 10k+ item catalogues toward popularity unless lambda is re-tuned.
  ``"l2"`` uses lambda_u = lambda_i = regularization; ``"count"`` uses lambda_u =
  regularization n_u (ALS-WR, Zhou et al. 2008, as Spark MLlib's ALS scales its regParam), so
  with ``unobserved_weight=1``, linear confidence and no frequency weighting the objective is
  Spark's implicit ALS (see recsys_core.runs.spark).

Each iteration solves every item exactly given the users, then every user given the items (numba,
parallel over rows, one d x d Cholesky per row; ``solver="cg"`` does a few warm-started conjugate
gradient steps instead, as the implicit library does, for very large data). :meth:`WALS.fold_in`
is always one exact solve; it reproduces a training user's embedding when users were solved
exactly last: with ``solver="cholesky"``, or ``solver="cg"`` with ``exact_final_sweep=True``
(otherwise they differ by what the last CG steps left unsolved, a few 1e-4 on ml-100k).

Fit cost against implicit's ALS at ml-25m's shape: docs/model-notes.md.

Side features (``side_features=True``) factorise the course's block matrix
[[A, user attributes], [genres^T, 0]]: genres and user attributes get embeddings too, and a new
user can be folded in from attributes alone.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numba
import numpy as np
import scipy.sparse as sp

from ...data.dataset import Dataset
from ...errors import DataError, HyperparameterError
from ...threads import limit_threads
from ...validation import Param
from ..base import FLOAT32, FLOAT64, INT32, ProgressCallback, Recommender
from ..cold_start import genre_average_embeddings
from ..features import (DEFAULT_USER_COLUMNS, encode_item_features, encode_user_attributes,
                        encode_user_features)
from . import kernels

CONFIDENCES = ("linear", "log", "binary")
REGULARIZATION_TYPES = ("observed", "frequency", "l2", "count")
SOLVERS = ("cholesky", "cg")
#: Below this many (observed entries x factors) a half-sweep runs on one thread.
SERIAL_WORK = 200_000
#: Rows and columns side features may add (user attributes, genres), for the memory estimate.
SIDE_FEATURE_ALLOWANCE = 256
#: Where a sweep looks for lambda with the default "observed" type (nu = 0.5): it spans the best
#: settings of a 30-trial search on each catalogue of the defaults protocol (lambda 0.65-1.49)
#: and the defaults' neighbourhood (docs/defaults-protocol.md; validation splits only).
OBSERVED_TUNE_RANGE = (0.3, 2.0)
#: Where a sweep looks for lambda, as a plain L2 weight ("l2"): lambda 0.21-0.42 at nu = 0.5
#: times TUNE_ROW_SIZE ** 0.5, the span of the settings as good as the best on ml-100k validation
#: splits (benchmarks/bench_wals_study.py, test not used) for the "frequency" type.
L2_TUNE_RANGE = (3.67, 7.35)
#: A typical (n + w0 n_other) of a row at the scale the ranges were measured (ml-100k: 70
#: entries + 0.3 x 1682): frequency scaling multiplies lambda by about this to the power nu,
#: so the range of lambda is L2_TUNE_RANGE divided by it ("count": by this many entries; the
#: observed type's range moves by this many entries to the power of nu's change from 0.5).
TUNE_ROW_SIZE, TUNE_ROW_COUNT = 300.0, 60.0


def regularization_tune_range(regularization_type: str = "observed",
                              regularization_exponent: float = 0.5) -> tuple[float, float]:
    """The search range of ``regularization`` for a regularization type (and exponent nu):
    the observed type's measured range, or the same plain-L2 range on each other type's own
    scale (see :data:`L2_TUNE_RANGE`)."""
    if regularization_type == "observed":
        shift = TUNE_ROW_COUNT ** (0.5 - float(regularization_exponent))
        return (float(f"{OBSERVED_TUNE_RANGE[0] * shift:.2g}"),
                float(f"{OBSERVED_TUNE_RANGE[1] * shift:.2g}"))
    if regularization_type == "l2":
        scale = 1.0
    elif regularization_type == "count":
        scale = TUNE_ROW_COUNT
    else:
        scale = TUNE_ROW_SIZE ** float(regularization_exponent)
    return (float(f"{L2_TUNE_RANGE[0] / scale:.2g}"), float(f"{L2_TUNE_RANGE[1] / scale:.2g}"))


def gram_matrix(factors: np.ndarray, chunk: int = 8_192) -> np.ndarray:
    """``factors^T factors`` (d, d) accumulated in float64, a chunk of rows at a time so a large
    float32 factor matrix is never copied whole to float64 (8k rows x 64 x 8 bytes = 4 MB a chunk:
    big enough for BLAS, small beside the factors)."""
    d = factors.shape[1]
    gram = np.zeros((d, d), dtype=np.float64)
    block = np.empty((min(chunk, factors.shape[0]), d), dtype=np.float64)
    for start in range(0, factors.shape[0], chunk):
        part = block[:min(chunk, factors.shape[0] - start)]
        part[...] = factors[start:start + chunk]
        gram += part.T @ part
    return gram


class WALS(Recommender):
    """Weighted alternating least squares for top-N recommendation (see the module docstring).

    The defaults were chosen by the defaults protocol (``docs/defaults-protocol.md``, run by
    ``benchmarks/bench_defaults.py``) on validation splits of three real catalogues of different
    sizes and kinds: MovieLens 100K (1.7k movies, ratings), MovieLens latest-small (9.1k movies,
    ratings) and Last.fm HetRec (17.6k artists, play counts). Regularization scaled by each row's
    observed entries (lambda 0.65, nu 0.5) keeps one setting near each catalogue's best where the
    frequency scaling of Rendle et al. collapsed large catalogues toward popularity. Every
    observed pair counts the same (``alpha=0``: on ratings, values as extra confidence did not
    help top-N); raise ``alpha`` (with ``confidence="log"``) for counts where repetition means
    confidence.

    Tuning: without named hyperparameters, ``python -m recsys_core tune --model wals`` and the
    Tune page search ``default_search`` (lambda, w0, d) over ranges chosen on validation splits
    only (``docs/defaults-protocol.md``). A sweep scores WALS once, after all its iterations
    (``sweep_early_stopping = False``): its validation plateau is noisy.

    Attributes
    ----------
    user_embeddings_ : float32 (n_users, d)
    item_embeddings_ : float32 (n_items, d)
    item_cold_ : bool (n_items,)
        Items without training interactions.
    item_imputed_ : bool (n_items,)
        Items whose embedding is the genre average (see :mod:`.cold_start`).
    user_feature_embeddings_ : float32 (n_user_features, d)
        With side features: one row per user attribute, named by ``user_feature_names_``.
    item_feature_embeddings_ : float32 (n_genres, d)
        With side features: one row per genre, named by ``item_feature_names_``.
    history_ : list of dict
        Per iteration ``observed``, ``unobserved``, ``regularization`` and ``total`` (sums of the
        objective's terms, not averages) plus validation metrics when asked.
    """

    kind = "wals"
    param_spec = {
        "factors": Param("int", "Embedding dimension d.", low=1, log=True, size=True,
                         tune=(18, 287)),
        "iterations": Param("int", "Alternating sweeps (items then users).", low=0,
                            tune=(1, 30)),
        "regularization": Param("float", 'lambda, the L2 weight (scaled per row when '
                                'regularization_type is not "l2").', low=0,
                                low_open=True, log=True, tune=regularization_tune_range()),
        "unobserved_weight": Param("float", "w0, the weight of every unobserved pair.", low=0,
                                   log=True, tune=(0.03, 1.0)),
        "alpha": Param("float", "Confidence slope of observed pairs.", low=0, tune=(0.0, 40.0)),
        "confidence": Param("choice", "How an observed value becomes a confidence: 1 + alpha r, "
                            "1 + alpha log(1 + r / epsilon), or 1 + alpha.",
                            choices=CONFIDENCES),
        "confidence_epsilon": Param("float", "Scale inside the log confidence.", low=0,
                                    low_open=True, log=True, tune=(0.01, 10.0)),
        "user_frequency_exponent": Param("float", "Frequency weighting of observed pairs by "
                                         "the user's count (0 switches it off).", low=0,
                                         tune=(0.0, 1.0)),
        "item_frequency_exponent": Param("float", "Frequency weighting of observed pairs by "
                                         "the item's count (0 switches it off).", low=0,
                                         tune=(0.0, 1.0)),
        "regularization_type": Param("choice", "How lambda is scaled per row: by the row's "
                                     "observed entries, by those plus the unobserved weight, "
                                     "plain L2, or by the count (see the module docstring).",
                                     choices=REGULARIZATION_TYPES),
        "regularization_exponent": Param("float", "nu: lambda grows with the row's size to this "
                                         "power (observed and frequency types).", low=0,
                                         tune=(0.0, 1.0)),
        "solver": Param("choice", '"cg": cg_steps warm-started conjugate-gradient steps per row '
                        'and half-sweep, then one exact user sweep; "cholesky": every '
                        "half-sweep exact.", choices=SOLVERS),
        "exact_final_sweep": Param("bool", 'With solver "cg": make the last user sweep exact '
                                   "(Cholesky), so fold_in reproduces the training users; costs "
                                   "about four CG user sweeps."),
        "cg_steps": Param("int", 'Conjugate-gradient steps per row and half-sweep when solver '
                          'is "cg".', low=1, tune=(1, 10)),
        "init_std": Param("float", "Standard deviation of the Gaussian initial factors.", low=0,
                          low_open=True, log=True, tune=(1e-3, 1.0)),
        "side_features": Param("bool", "Factorise the block matrix with user attributes and "
                               "item genres (needs a Dataset)."),
        "side_feature_weight": Param("float", "Confidence of a side-feature entry (a user's "
                                     "attribute, an item's genre).", low=0, low_open=True,
                                     log=True, tune=(0.01, 10.0)),
        "user_feature_columns": Param("str_list", "User-table columns used as attributes (age "
                                      "is bucketed)."),
        "impute_cold_items": Param("bool", "Give items without training interactions the "
                                   "genre-average embedding (plain WALS; with side features "
                                   "their genres already place them)."),
        "random_state": Param("int", "Seed of the initial factors.", tune=()),
    }
    predicts_ratings = False
    #: What ``tune`` and the Tune page search when no hyperparameter is named (see the class
    #: docstring's "Tuning" section).
    default_search = ("regularization", "unobserved_weight", "factors")
    #: A sweep scores a trial once, after all its iterations (see recsys_core.tuning.sweep).
    sweep_early_stopping = False

    @classmethod
    def tuning_range(cls, name: str, params: dict) -> tuple[float, float] | None:
        """Search range of ``name`` given the other hyperparameters ``params``: lambda's depends
        on the regularization type and exponent (None: the spec's range)."""
        if name != "regularization":
            return None
        return regularization_tune_range(params.get("regularization_type", "observed"),
                                         params.get("regularization_exponent", 0.5))

    def __init__(self, factors: int = 64, iterations: int = 15, regularization: float = 0.65,
                 unobserved_weight: float = 0.1, alpha: float = 0.0, confidence: str = "linear",
                 confidence_epsilon: float = 1.0, user_frequency_exponent: float = 0.0,
                 item_frequency_exponent: float = 0.0, regularization_type: str = "observed",
                 regularization_exponent: float = 0.5, solver: str = "cg", cg_steps: int = 3,
                 exact_final_sweep: bool = False,
                 init_std: float = 0.1, side_features: bool = False,
                 side_feature_weight: float = 0.3,
                 user_feature_columns: Sequence[str] = DEFAULT_USER_COLUMNS,
                 impute_cold_items: bool = True, random_state: int = 0):
        self.factors = factors
        self.iterations = iterations
        self.regularization = regularization
        self.unobserved_weight = unobserved_weight
        self.alpha = alpha
        self.confidence = confidence
        self.confidence_epsilon = confidence_epsilon
        self.user_frequency_exponent = user_frequency_exponent
        self.item_frequency_exponent = item_frequency_exponent
        self.regularization_type = regularization_type
        self.regularization_exponent = regularization_exponent
        self.solver = solver
        self.cg_steps = cg_steps
        self.exact_final_sweep = exact_final_sweep
        self.init_std = init_std
        self.side_features = side_features
        self.side_feature_weight = side_feature_weight
        self.user_feature_columns = user_feature_columns
        self.impute_cold_items = impute_cold_items
        self.random_state = random_state

    def estimate_fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """Peak bytes of a fit (see :meth:`Recommender.estimate_fit_bytes`).

        The factor matrices (n_users + n_items) x d float32, their float64 initial draws and the
        copies published to callbacks between iterations; the weight matrix and its transpose
        (float32 values, int32 indices); d x d float64 Gram matrices (the unobserved term and
        the losses) and, per numba thread, a d x d float32 accumulator and float64 system for
        the exact row solves.
        """
        d = int(self.factors)
        rows, cols = int(n_users), int(n_items)
        entries = int(nnz)
        if self.side_features:
            rows += SIDE_FEATURE_ALLOWANCE
            cols += SIDE_FEATURE_ALLOWANCE
            entries += 4 * n_users + 3 * n_items
        factors = (rows + cols) * d * FLOAT32
        initial_draws = 2 * max(rows, cols) * d * FLOAT64
        weights = 2 * entries * (FLOAT32 + INT32) + 2 * (rows + cols) * INT32 + entries * FLOAT64
        gram = 5 * d * d * FLOAT64 + min(max(rows, cols), 65_536) * d * FLOAT64
        per_thread = numba.get_num_threads() * d * (d * (FLOAT32 + FLOAT64) + 8 * FLOAT64)
        return (super().estimate_fit_bytes(n_users, n_items, nnz) + 2 * factors
                + initial_draws + weights + gram + per_thread + (rows + cols) * 4 * FLOAT64)

    # ------------------------------------------------------------------ weights
    def _confidence(self, values: np.ndarray) -> np.ndarray:
        """Confidence c of observed entries from their values (in the values' float dtype)."""
        values = np.asarray(values)
        alpha = values.dtype.type(self.alpha)
        if self.confidence == "linear":
            return 1 + alpha * values
        if self.confidence == "log":
            return 1 + alpha * np.log1p(values / values.dtype.type(self.confidence_epsilon))
        return np.full(values.shape, 1 + alpha, dtype=values.dtype)

    def _row_regularization(self, counts: np.ndarray, n_other: int) -> np.ndarray:
        """lambda of each row given its number of observed entries (float64)."""
        counts = np.asarray(counts, dtype=np.float64)
        if self.regularization_type == "l2":
            return np.full(counts.shape, float(self.regularization))
        if self.regularization_type == "count":
            return self.regularization * counts
        if self.regularization_type == "observed":
            return self.regularization * np.maximum(counts, 1.0) ** self.regularization_exponent
        return self.regularization * (counts + self.unobserved_weight * n_other) \
            ** self.regularization_exponent

    def _user_frequency_factor(self, user_counts) -> np.ndarray:
        counts = np.maximum(np.asarray(user_counts, dtype=np.float64), 1.0)
        return (counts / self.user_count_mean_) ** -self.user_frequency_exponent

    # ------------------------------------------------------------------ fit
    def fit(self, data, *, validation=None, callback: ProgressCallback | None = None) -> "WALS":
        """Learn user and item embeddings from a Dataset or a sparse (n_users, n_items) matrix.

        Side features need a Dataset (its ``users`` table and ``item_genres``).
        """
        # numba parallelises the row solves; BLAS threads on the d x d products only compete.
        with limit_threads(1):
            return self._fit(data, validation, callback)

    def _fit(self, data, validation, callback) -> "WALS":
        self.validate_params()
        dataset = data if isinstance(data, Dataset) else None
        if self.side_features and dataset is None:
            raise HyperparameterError("side_features=True needs a Dataset with user and item "
                                      "attributes, not a bare matrix")
        matrix = self._start_fit(data)
        if matrix.data.size and (not np.all(np.isfinite(matrix.data)) or matrix.data.min() < 0):
            raise DataError("WALS needs finite, non-negative interaction values (confidences)")
        n_users, n_items = matrix.shape
        user_counts = np.diff(matrix.indptr).astype(np.float64)
        item_counts = np.bincount(matrix.indices, minlength=n_items).astype(np.float64)
        self.user_count_mean_ = float(user_counts[user_counts > 0].mean())
        self.item_count_mean_ = float(item_counts[item_counts > 0].mean())
        self.item_frequency_factor_ = ((np.maximum(item_counts, 1.0) / self.item_count_mean_)
                                       ** -self.item_frequency_exponent).astype(np.float32)
        self.item_cold_ = item_counts == 0

        # Entry weights in float32, in place: on millions of entries float64 temporaries would
        # set the fit's peak memory. The weight matrix shares the (canonical, sorted, never
        # modified) index arrays of the training matrix, unless they are a Dataset's read-only
        # ones (which the compiled kernels would need a second, read-only specialisation for).
        entry_weights = self._confidence(matrix.data.astype(np.float32)).astype(np.float32,
                                                                               copy=False)
        entry_weights *= np.repeat(self._user_frequency_factor(user_counts).astype(np.float32),
                                   np.diff(matrix.indptr))
        entry_weights *= self.item_frequency_factor_[matrix.indices]
        indices, indptr = (a if a.flags.writeable else a.copy()
                           for a in (matrix.indices, matrix.indptr))
        weights = sp.csr_matrix((entry_weights, indices, indptr), shape=matrix.shape)
        del matrix, entry_weights, indices, indptr
        if self.side_features:
            user_features, self.user_feature_names_ = encode_user_features(
                dataset.users, n_users, tuple(self.user_feature_columns))
            item_features, self.item_feature_names_ = encode_item_features(
                dataset.item_genres, dataset.genre_names)
            weights = sp.bmat([[weights, user_features * self.side_feature_weight],
                               [item_features * self.side_feature_weight, None]],
                              format="csr", dtype=np.float32)
        weights_t = weights.T.tocsr()
        weights_t.sort_indices()
        row_reg = self._row_regularization(np.diff(weights.indptr), weights.shape[1])
        col_reg = self._row_regularization(np.diff(weights_t.indptr), weights.shape[0])

        rng = np.random.default_rng(self.random_state)
        d = int(self.factors)
        # Drawn in float32: float64 draws of the n_users x d factors set the fit's peak memory.
        rows = rng.standard_normal((weights.shape[0], d), dtype=np.float32)
        rows *= np.float32(self.init_std)
        cols = rng.standard_normal((weights.shape[1], d), dtype=np.float32)
        cols *= np.float32(self.init_std)
        w0 = float(self.unobserved_weight)
        for iteration in range(1, self.iterations + 1):
            self._half_step(weights_t, rows, col_reg, cols)
            # With exact_final_sweep the last user sweep is exact (see the end of the loop too).
            self._half_step(weights, cols, row_reg, rows,
                            exact=self.exact_final_sweep and iteration == self.iterations)
            losses = self._losses(weights, rows, cols, row_reg, col_reg, w0)
            if validation is not None or callback is not None:
                self._publish(rows, cols, n_users, n_items, dataset, copy=True)
            if self._end_epoch(iteration, self.iterations, losses, validation, callback):
                break
        if (self.solver == "cg" and self.exact_final_sweep
                and 0 < len(self.history_) < self.iterations):
            # Stopped early: still finish with an exact user sweep. It can only lower the
            # objective, and it makes fold_in (always exact) reproduce the training users.
            self._half_step(weights, cols, row_reg, rows, exact=True)
        self._publish(rows, cols, n_users, n_items, dataset, copy=False)
        return self

    def _half_step(self, weights: sp.csr_matrix, fixed: np.ndarray, reg: np.ndarray,
                   out: np.ndarray, exact: bool = False):
        """Solve every row of ``weights`` against the ``fixed`` factors, in place into ``out``."""
        gram = self.unobserved_weight * gram_matrix(fixed)
        # Waking the thread pool costs more than solving a small matrix (and much more on a
        # loaded machine), so small problems run on the calling thread.
        small = weights.nnz * out.shape[1] < SERIAL_WORK
        if exact or self.solver == "cholesky":
            solve = kernels.solve_rows_cholesky_serial if small else kernels.solve_rows_cholesky
            solve(weights.indptr, weights.indices, weights.data, fixed, gram,
                  float(self.unobserved_weight), reg, out)
        else:
            solve = kernels.solve_rows_cg_serial if small else kernels.solve_rows_cg
            solve(weights.indptr, weights.indices, weights.data, fixed, gram.astype(np.float32),
                  np.float32(self.unobserved_weight), reg, out, int(self.cg_steps))
            # A row without entries has the exact solution 0, which a few warm-started CG steps
            # only approach; set it, so cold items stay out of the Gram matrix as in fold_in.
            out[np.diff(weights.indptr) == 0] = 0.0

    @staticmethod
    def _losses(weights, rows, cols, row_reg, col_reg, w0) -> dict[str, float]:
        observed, observed_sq = kernels.observed_losses(weights.indptr, weights.indices,
                                                        weights.data, rows, cols)
        # sum over all pairs of (x.y)^2 = trace(X^T X Y^T Y); unobserved = all - observed.
        all_pairs = float(np.sum(gram_matrix(rows) * gram_matrix(cols)))
        unobserved = w0 * max(all_pairs - observed_sq, 0.0)
        regularization = float(row_reg @ np.einsum("ij,ij->i", rows, rows).astype(np.float64)
                               + col_reg @ np.einsum("ij,ij->i", cols, cols).astype(np.float64))
        return {"observed": observed, "unobserved": unobserved, "regularization": regularization,
                "total": observed + unobserved + regularization}

    def _publish(self, rows, cols, n_users, n_items, dataset, copy: bool):
        """Expose the current factors under the interface's names (also between iterations, so
        validation metrics and callbacks see the model as it is: copies then, as training goes
        on updating the factors in place)."""
        take = np.copy if copy else np.asarray
        self.user_embeddings_ = take(rows[:n_users])
        items = take(cols[:n_items])
        if self.side_features:
            self.user_feature_embeddings_ = take(cols[n_items:])
            self.item_feature_embeddings_ = take(rows[n_users:])
        self.item_imputed_ = np.zeros(n_items, dtype=bool)
        if (self.impute_cold_items and not self.side_features and dataset is not None
                and dataset.item_genres.shape[1] > 0 and self.item_cold_.any()):
            items, self.item_imputed_ = genre_average_embeddings(items, dataset.item_genres,
                                                                 ~self.item_cold_)
        self.item_embeddings_ = items
        self._column_cache = None

    # ------------------------------------------------------------------ fold-in
    def _after_load(self):
        self._column_cache = None

    def _columns(self) -> tuple[np.ndarray, np.ndarray]:
        """Item (+ user-feature) factors a user row is solved against, and w0 times their Gram."""
        cache = getattr(self, "_column_cache", None)
        if cache is None:
            cols = self.item_embeddings_
            if self.side_features:
                cols = np.vstack([cols, self.user_feature_embeddings_])
            # Imputed cold items were zero (no interactions) during fit; keep the solve identical.
            if self.item_imputed_.any():
                cols = cols.copy()
                cols[np.flatnonzero(self.item_imputed_)] = 0.0
            cols = np.ascontiguousarray(cols, dtype=np.float32)
            gram = self.unobserved_weight * gram_matrix(cols)
            cache = self._column_cache = (cols, gram)
        return cache

    def _solve_one(self, columns, weights, fixed, gram, n_other):
        """Exact one-row solve (one WALS half-step) given column indices and entry weights."""
        row = sp.csr_matrix((weights.astype(np.float32), columns.astype(np.int32),
                             np.array([0, len(columns)])), shape=(1, fixed.shape[0]))
        row.sum_duplicates()
        reg = self._row_regularization(np.array([row.nnz]), n_other)
        out = np.zeros((1, fixed.shape[1]), dtype=np.float32)
        kernels.solve_rows_cholesky_serial(row.indptr, row.indices, row.data, fixed, gram,
                                           float(self.unobserved_weight), reg, out)
        return out[0]

    def _entries(self, indices, values, n: int, what: str) -> tuple[np.ndarray, np.ndarray]:
        idx = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = idx[(idx < 0) | (idx >= n)][0]
            raise IndexError(f"{what} index {bad} out of range for {n} {what}s")
        vals = (np.ones(idx.shape, np.float64) if values is None
                else np.atleast_1d(np.asarray(values, dtype=np.float64)))
        if vals.shape != idx.shape:
            raise DataError(f"got {idx.size} {what}s but {vals.size} values")
        if vals.size and (not np.all(np.isfinite(vals)) or vals.min() < 0):
            raise DataError("interaction values must be finite and non-negative")
        # Merge repeated indices the way fit does (sum_duplicates) before weighting.
        merged = sp.csr_matrix((vals, idx, [0, idx.size]), shape=(1, n))
        merged.sum_duplicates()
        return merged.indices.astype(np.int64), merged.data

    def fold_in(self, items, ratings=None, *, user_attributes: Mapping | None = None
                ) -> np.ndarray:
        """Embedding of a new user from the items they interacted with (one exact half-step).

        Parameters
        ----------
        items : array of item indices
        ratings : array of float, same length, optional (1.0 each when omitted)
        user_attributes : mapping, optional
            With side features: the user's attributes, e.g. ``{"age": 23, "gender": "F",
            "occupation": "student"}`` (a row of the users table works too). Enough on its own
            for a user with no history.

        Returns
        -------
        ndarray of float32, shape (d,)
        """
        self._check_fitted()
        item_idx, values = self._entries(items, ratings, self.n_items_, "item")
        weights = (self._confidence(values) * self._user_frequency_factor([len(item_idx)])
                   * self.item_frequency_factor_[item_idx])
        columns = item_idx
        if user_attributes is not None:
            if not self.side_features:
                raise HyperparameterError("user_attributes need a model fitted with "
                                          "side_features=True")
            feats = encode_user_attributes(dict(user_attributes.items()), self.user_feature_names_)
            columns = np.concatenate([columns, self.n_items_ + feats])
            weights = np.concatenate([weights, np.full(len(feats), self.side_feature_weight)])
        fixed, gram = self._columns()
        return self._solve_one(columns, weights, fixed, gram, fixed.shape[0])

    def fold_in_item(self, users, ratings=None, *, genres=None) -> np.ndarray:
        """Embedding of a new item from the users who interacted with it (one exact half-step).

        Parameters
        ----------
        users : array of user indices
        ratings : array of float, same length, optional (1.0 each when omitted)
        genres : array of genre indices, optional
            With side features: the item's genres (columns of ``Dataset.item_genres``).

        Returns
        -------
        ndarray of float32, shape (d,)
        """
        self._check_fitted()
        user_idx, values = self._entries(users, ratings, self.n_users_, "user")
        user_counts = np.diff(self.seen_.indptr)[user_idx]
        item_factor = ((max(len(user_idx), 1) / self.item_count_mean_)
                       ** -self.item_frequency_exponent)
        weights = self._confidence(values) * self._user_frequency_factor(user_counts) * item_factor
        fixed = self.user_embeddings_
        columns = user_idx
        if self.side_features:
            fixed = np.vstack([fixed, self.item_feature_embeddings_])
            if genres is not None:
                genre_idx = np.atleast_1d(np.asarray(genres, dtype=np.int64))
                columns = np.concatenate([columns, self.n_users_ + genre_idx])
                weights = np.concatenate([weights,
                                          np.full(len(genre_idx), self.side_feature_weight)])
        elif genres is not None:
            raise HyperparameterError("genres need a model fitted with side_features=True")
        fixed = np.ascontiguousarray(fixed, dtype=np.float32)
        gram = self.unobserved_weight * gram_matrix(fixed)
        return self._solve_one(columns, weights, fixed, gram, fixed.shape[0])
