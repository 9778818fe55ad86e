"""EASE: embarrassingly shallow autoencoder (Steck, 2019), a closed-form item-item model.

It learns an item x item weight matrix B with a zero diagonal minimising
||X - X B||_F^2 + lambda ||B||_F^2, whose solution is B = I - P diag(1 / diag(P)) with
P = (X^T X + lambda I)^-1. Scores are X B: each user's history votes for items through B.

EASE has no low-rank embeddings. To fit the shared interface it exposes its exact factorisation
of the score matrix, ``score = user_embeddings_ @ item_embeddings_.T``, with

- ``user_embeddings_`` = X, the user's (binary or rating) history row, shape (n_users, n_items);
- ``item_embeddings_`` = B^T, item i's row holding the weights every item gives to i,
  shape (n_items, n_items).

So "embedding dimension" equals the number of items; :meth:`EASE.fold_in` returns the new user's
history vector, and ``similar_items`` compares items by the weight profiles they receive. These
rows are weights and histories, not vectors that represent items and users in a shared space:
``has_embeddings`` is False, so the app neither maps them (a "9,742-dimensional" map of
ml-latest-small) nor compares them under dot, cosine and Euclidean measures; EASE's related
items come from its rows of B.

B is dense, n_items^2 floats: 333 MB in float32 at 9,125 items (ml-latest-small), a 229 MB
run that took 16-37 s to save. Most of its weights are tiny, so by default the model keeps only
the largest ``weights_per_item * n_items`` of them by magnitude, as a sparse matrix: 500 per
item keeps 5.5% of B at 9,125 items, a 24 MB run saved in about 5 s, and NDCG@10 moves by less
than its noise (``benchmarks/bench_ease_sparse.py``; the numbers are in :class:`EASE`'s
parameter help). ``weights_per_item=None`` keeps the dense B of the paper.

The fit has no epochs: it reports its stages (:attr:`EASE.fit_stages`) to the progress callback
as they start, the inverse (Cholesky, through LAPACK called without holding Python's global
interpreter lock, so a page that polls the fit keeps drawing) taking most of the time.
"""
from __future__ import annotations

import ctypes
from contextlib import nullcontext
from functools import lru_cache

import numpy as np
import scipy.linalg.cython_lapack
import scipy.sparse as sp

from ..errors import DataError, HyperparameterError, NotFittedError
from ..threads import limit_threads
from ..validation import Param
from .base import FLOAT32, FLOAT64, INT32, INT64, ProgressCallback, Recommender

#: Above this many items the dense n_items x n_items inverse gets too large to be interactive.
MAX_ITEMS = 20_000


#: Above this many items the inverse runs on one BLAS thread: with two threads, the OpenBLAS
#: that the NumPy and SciPy wheels ship (0.3.30) crashed the process (segmentation fault)
#: inverting 16,384 x 16,384 and 17,632 x 17,632 (getri and potri alike) and inverted
#: 12,000 x 12,000 fine; one thread inverted 17,632 x 17,632.
SINGLE_THREAD_INVERSE_ITEMS = 12_000
#: Rows of the inverse mirrored at a time (a block of transposed copies, not an n^2 index array).
MIRROR_BLOCK = 1024


#: Entries of B thresholded at a time (whole rows) when its largest weights are kept.
SPARSIFY_ENTRIES = 1 << 20
#: Bytes of temporaries per entry of such a block: its magnitudes (float64, then float32), two
#: masks, and for a kept entry its row and column (int64), value (float64, then float32) and
#: column (int32).
SPARSIFY_BYTES_PER_ENTRY = 8 + 4 + 2 + 16 + 8 + 4 + 4


@lru_cache(maxsize=None)
def _lapack(name: str):
    """SciPy's LAPACK routine ``name`` (``dpotrf``, ``dpotri``: ``(uplo, n, a, lda, info)``,
    Fortran pointers) as a ctypes function. ctypes releases the global interpreter lock for
    the call, which SciPy's own wrappers (``scipy.linalg.lapack``) hold throughout: a 9,125-item
    inverse froze every other Python thread, the app's page included, for about 40 s."""
    capsule = scipy.linalg.cython_lapack.__pyx_capi__[name]
    get_name, get_pointer = ctypes.pythonapi.PyCapsule_GetName, ctypes.pythonapi.PyCapsule_GetPointer
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    address = get_pointer(capsule, get_name(capsule))
    integer = ctypes.POINTER(ctypes.c_int)
    return ctypes.CFUNCTYPE(None, ctypes.c_char_p, integer, ctypes.c_void_p, integer,
                            integer)(address)


def symmetric_positive_inverse(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite float64 (n, n) matrix, computed in place.

    Cholesky (LAPACK potrf, then potri) takes half the flops of a general inverse; ``matrix``
    is overwritten and returned holding the inverse, both triangles filled. Raises
    :class:`~recsys_core.errors.DataError` if the matrix is not positive definite. Other Python
    threads keep running meanwhile (the routines run without the interpreter lock).
    """
    if matrix.dtype != np.float64 or not matrix.flags.c_contiguous or matrix.ndim != 2 \
            or matrix.shape[0] != matrix.shape[1]:
        raise ValueError("expected a C-contiguous square float64 matrix")
    n = matrix.shape[0]
    if n == 0:
        return matrix
    # The C-ordered buffer is the Fortran-ordered transpose, the same symmetric matrix: LAPACK
    # works on its "upper" triangle, which is the lower one (row >= column) of ``matrix``.
    size, info = ctypes.c_int(n), ctypes.c_int(0)
    address = matrix.ctypes.data
    with limit_threads(1) if n > SINGLE_THREAD_INVERSE_ITEMS else nullcontext():
        _lapack("dpotrf")(b"U", ctypes.byref(size), address, ctypes.byref(size),
                          ctypes.byref(info))
        if info.value == 0:
            _lapack("dpotri")(b"U", ctypes.byref(size), address, ctypes.byref(size),
                              ctypes.byref(info))
    if info.value != 0:
        raise DataError(f"the regularised item Gram matrix is not positive definite (LAPACK "
                        f"info {info.value}); raise the regularization")
    inverse = matrix.T  # Fortran view: its upper triangle (row <= column) holds the inverse
    for start in range(0, n, MIRROR_BLOCK):
        stop = min(start + MIRROR_BLOCK, n)
        inverse[start:stop, :start] = inverse[:start, start:stop].T
        block = inverse[start:stop, start:stop]
        block[...] = np.triu(block) + np.triu(block, 1).T
    return matrix


def largest_weights(weights: np.ndarray, keep: int) -> sp.csr_matrix:
    """The ``keep`` entries of largest magnitude of a float64 matrix, as a float32 CSR matrix
    (ties at the threshold are all kept, so a few more; zeros never).

    The threshold comes from one partition of the magnitudes (a float32 copy, 4 bytes per
    entry); the matrix is then thresholded in blocks of whole rows, about
    :data:`SPARSIFY_ENTRIES` entries each.
    """
    n_rows, n_cols = weights.shape
    threshold = np.float32(0.0)
    if keep < weights.size:
        magnitudes = np.empty(weights.shape, dtype=np.float32)
        np.abs(weights, out=magnitudes)
        flat = magnitudes.reshape(-1)
        cut = flat.size - max(int(keep), 1)
        flat.partition(cut)
        threshold = flat[cut]
        del magnitudes, flat
    data, indices, counts = [], [], np.zeros(n_rows, dtype=np.int64)
    rows_per_block = max(1, SPARSIFY_ENTRIES // max(n_cols, 1))
    for start in range(0, n_rows, rows_per_block):
        block = weights[start:start + rows_per_block]
        kept = np.abs(block).astype(np.float32) >= threshold  # as the threshold was found
        kept &= block != 0
        rows, cols = np.nonzero(kept)
        del kept
        data.append(block[rows, cols].astype(np.float32))
        indices.append(cols.astype(np.int32))
        counts[start:start + len(block)] = np.bincount(rows, minlength=len(block))
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    index_type = np.int32 if indptr[-1] < np.iinfo(np.int32).max else np.int64
    return sp.csr_matrix((np.concatenate(data),
                          np.concatenate(indices).astype(index_type, copy=False),
                          indptr.astype(index_type)), shape=(n_rows, n_cols))


def _dense(values) -> np.ndarray:
    """A product's result as a float32 ndarray (sparse products give sparse matrices)."""
    if sp.issparse(values):
        values = values.toarray()
    return np.asarray(values, dtype=np.float32)


class EASE(Recommender):
    """Closed-form item-item recommender (see the module docstring).


    Attributes
    ----------
    item_weights_ : float32 (n_items, n_items), CSR matrix or ndarray
        B, zero diagonal; ``score = X @ B``. A CSR matrix holding B's largest weights (about
        ``weights_per_item * n_items`` of them), or every weight in a dense ndarray when
        ``weights_per_item`` is None.
    user_history_ : float32 CSR (n_users, n_items)
        X, the training histories (binary, or the ratings with ``use_ratings``).
    history_ : list of dict
        One entry with the training ``observed`` squared error, ``regularization`` and ``total``
        of the exact (dense) solution.
    """

    kind = "ease"
    has_embeddings = False  # B's rows and the histories: no embeddings to map (module docstring)
    related_items_source = "the learned item-item weights"
    fit_stages = ("building the item Gram matrix", "inverting it (Cholesky)",
                  "computing the item weights")
    param_spec = {
        "regularization": Param("float", "lambda, added to the diagonal of the item Gram matrix "
                                "X^T X.", low=0, low_open=True, log=True, tune=(1.0, 10_000.0)),
        "use_ratings": Param("bool", "Build X from the rating values instead of a binary "
                             '"interacted" matrix.'),
        "weights_per_item": Param(
            "int", "Item-item weights kept, per item on average: the n_items x this many "
            "largest |B_ij| of the whole matrix, stored sparse; at least n_items keeps every "
            "weight. 500 keeps 5.5% of B at 9,125 items (a 24 MB run instead of 229 MB) and "
            "moved NDCG@10 by -0.0009 and -0.0016 (paired standard error 0.0010) on two "
            "ml-latest-small splits, by -0.0006 and +0.0001 (0.0007) on ml-100k. None keeps "
            "the dense B.",
            low=1, optional=True, log=True, tune=()),
    }
    predicts_ratings = False

    def __init__(self, regularization: float = 300.0, use_ratings: bool = False,
                 weights_per_item: int | None = 500):
        self.regularization = regularization
        self.use_ratings = use_ratings
        self.weights_per_item = weights_per_item

    def estimate_fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """Peak bytes of a fit (see :meth:`Recommender.estimate_fit_bytes`): a few
        n_items x n_items matrices (the sparse, then dense float64 Gram matrix; the inverse,
        computed in place into B; then B's magnitudes in float32 to find the largest weights,
        and the kept ones, float32 values and int32 columns, in blocks (with their temporaries)
        and joined; or the dense float32 B), plus one float32 n_items^2 for the arrays the fit
        keeps."""
        n_items, nnz = int(n_items), int(nnz)
        square = n_items * n_items
        kept = square if self.weights_per_item is None \
            else min(square, int(self.weights_per_item) * n_items)
        history = nnz * (FLOAT32 + FLOAT64 + 2 * INT32) + (int(n_users) + 1) * INT64
        gram_phase = square * (FLOAT64 + INT64 + FLOAT64)  # sparse product, then dense
        solve_phase = square * 2 * FLOAT64  # G (for the objective), P inverted in place into B
        block = min(square, SPARSIFY_ENTRIES) * SPARSIFY_BYTES_PER_ENTRY
        weights_phase = square * FLOAT64 + (  # B in float64, then its float32 form
            square * FLOAT32 if self.weights_per_item is None
            else max(square * FLOAT32, 2 * kept * (FLOAT32 + INT32) + block))
        return int(super().estimate_fit_bytes(n_users, n_items, nnz) + history
                   + max(gram_phase, solve_phase, weights_phase) + square * FLOAT32)

    def _history_matrix(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        x = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
        if not self.use_ratings:
            x.data = np.ones_like(x.data)
        return x

    def fit(self, data, *, validation=None, callback: ProgressCallback | None = None) -> "EASE":
        """Solve for B in closed form (one d x d inverse, d = n_items) from a Dataset or CSR.

        Reports each of :attr:`fit_stages` to ``callback`` as it starts, then the one "epoch"
        (the objective of the solution) when B is ready.
        """
        self.validate_params()
        matrix = self._start_fit(data)
        if matrix.shape[1] > MAX_ITEMS:
            raise HyperparameterError(f"EASE inverts an n_items x n_items matrix; "
                                      f"{matrix.shape[1]} items is more than the {MAX_ITEMS} "
                                      "it allows")
        self._start_stage(self.fit_stages[0], callback)
        x = self._history_matrix(matrix)
        x64 = x.astype(np.float64)  # a float64 product, so no float32 dense copy on the way
        gram = (x64.T @ x64).toarray()
        del x64
        # P = (G + lambda I)^-1, then B = -P / diag(P) with a zero diagonal, built in place: the
        # n_items^2 float64 matrices set the fit's memory, so no more of them than needed.
        p = gram.copy()
        p[np.diag_indices_from(p)] += self.regularization
        self._start_stage(self.fit_stages[1], callback)
        b = symmetric_positive_inverse(p)
        self._start_stage(self.fit_stages[2], callback)
        b /= -np.diag(b).copy()[None, :]
        b[np.diag_indices_from(b)] = 0.0
        # ||X - X B||^2 = tr(G) - 2 tr(B^T G) + tr(B^T G B) with G = X^T X, and G B = G - D +
        # lambda (I - B) (D = diag(1 / diag P)) with B's diagonal zero, so the observed term is
        # tr(G) - sum(G * B) - lambda ||B||^2: no dense X and no n_items^2 product needed.
        regularization = float(self.regularization * np.einsum("ij,ij->", b, b))
        observed = float(np.trace(gram) - np.einsum("ij,ij->", gram, b)) - regularization
        del gram, p
        if self.weights_per_item is None:
            self.item_weights_ = b.astype(np.float32)
        else:
            self.item_weights_ = largest_weights(b, int(self.weights_per_item) * b.shape[0])
        del b
        self.user_history_ = x
        self._after_load()
        self._end_epoch(1, 1, {"observed": observed, "regularization": regularization,
                               "total": observed + regularization}, validation, callback)
        return self

    def _after_load(self):
        self.__dict__.pop("_item_embeddings", None)  # derived from the weights on demand
        if not sp.issparse(self.item_weights_):
            # Every weight is there: a run saved before weights_per_item existed says so too.
            self.weights_per_item = None

    def _check_fitted(self):
        if not hasattr(self, "item_weights_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")

    @property
    def item_embeddings_(self) -> np.ndarray:
        """B^T as a dense float32 (n_items, n_items) array, built on first use and kept (the
        shared interface's factorisation; scoring never needs it)."""
        self._check_fitted()
        cached = self.__dict__.get("_item_embeddings")
        if cached is None:
            weights = self.item_weights_
            cached = (weights.T.toarray() if sp.issparse(weights)
                      else np.ascontiguousarray(weights.T))
            self.__dict__["_item_embeddings"] = cached
        return cached

    @property
    def n_factors_(self) -> int:
        self._check_fitted()
        return int(self.n_items_)

    @property
    def user_embeddings_(self) -> np.ndarray:
        """Dense histories X, float32 (n_users, n_items) (built on demand: EASE stores X sparse)."""
        self._check_fitted()
        return self.user_history_.toarray()

    def _weight_columns(self, items=None):
        """B, or its columns ``items`` (sparse or dense, as stored)."""
        if items is None:
            return self.item_weights_
        return self.item_weights_[:, self._item_index_array(items)]

    def score(self, users, items=None) -> np.ndarray:
        """Scores X[users] @ B[:, items], float32 (len(users), n_items or len(items))."""
        self._check_fitted()
        users = self._user_index_array(users)
        return _dense(self.user_history_[users] @ self._weight_columns(items))

    def score_embeddings(self, user_vectors: np.ndarray, items=None) -> np.ndarray:
        """Scores of history vectors (e.g. from :meth:`fold_in`), float32 (n, n_items or
        len(items)): ``vectors @ B[:, items]``."""
        self._check_fitted()
        vectors = np.atleast_2d(np.asarray(user_vectors, dtype=np.float32))
        weights = self._weight_columns(items)
        if sp.issparse(weights):  # sparse x sparse: only the items in the histories count
            return _dense(sp.csr_matrix(vectors) @ weights)
        return _dense(vectors @ weights)

    def predict(self, users, items) -> np.ndarray:
        """Score of each (user, item) pair, float32 (n_pairs,)."""
        self._check_fitted()
        users = self._user_index_array(users)
        rows = self.user_history_[users]
        columns = self._weight_columns(items).T
        return np.asarray(rows.multiply(columns).sum(axis=1), dtype=np.float32).ravel()

    def related_item_scores(self, items, candidates=None) -> np.ndarray:
        """Rows of B, float32 (len(items), n_items or len(candidates)): how strongly having each
        item in a history votes for each candidate (the score's own item-item weights; zero
        for the weights a sparse B dropped)."""
        self._check_fitted()
        rows = self.item_weights_[self._item_index_array(items)]
        if candidates is not None:
            rows = rows[:, self._item_index_array(candidates)]
        return _dense(rows)

    def fold_in(self, items, ratings=None) -> np.ndarray:
        """The new user's history vector, float32 (n_items,): its product with B gives the scores
        (use :meth:`score_embeddings`)."""
        self._check_fitted()
        idx = np.atleast_1d(np.asarray(items, dtype=np.int64))
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_items_):
            bad = idx[(idx < 0) | (idx >= self.n_items_)][0]
            raise IndexError(f"item index {bad} out of range for {self.n_items_} items")
        values = np.ones(idx.size, np.float32) if ratings is None or not self.use_ratings \
            else np.atleast_1d(np.asarray(ratings, dtype=np.float32))
        if values.shape != idx.shape:
            raise DataError(f"got {idx.size} items but {values.size} ratings")
        vector = np.zeros(self.n_items_, dtype=np.float32)
        if self.use_ratings:
            np.add.at(vector, idx, values)
        else:
            vector[idx] = 1.0
        return vector
