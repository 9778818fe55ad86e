"""Item-kNN: the neighbourhood method the course contrasts with matrix factorisation.

Two items are alike when the same users interacted with them. On the binary user x item matrix X
(U_i: the users of item i) the similarity is a cosine with *shrinkage* s,

    sim(i, j) = |U_i ∩ U_j| / (sqrt(|U_i| |U_j|) + s),

which pulls the similarity of items with few raters towards zero: two items each seen by the same
single user have cosine 1, which says little. Each item keeps only its ``neighbours`` most
similar items (zero self-similarity), a sparse matrix S, and a user's score for item i is the sum
of the similarities of the items in their history to i: ``score = X @ S``.

The model has no embeddings: nothing is learned but S, and S stays sparse (at 17.6k items a dense
S would take 1.2 GB), so scores, predictions, fold-in and related items are computed from it
directly. A new user is folded in as their binary history vector (n_items,), scored by
:meth:`ItemKNN.score_embeddings` like EASE's.
"""
from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp

from ..errors import DataError, HyperparameterError, NotFittedError
from ..validation import Param
from .base import FLOAT32, INT32, INT64, ProgressCallback, Recommender

#: Item rows whose kept neighbours one kernel call collects (rows x neighbours entries at most).
BLOCK_ENTRIES = 1 << 20


def _top_per_row(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, k: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The entries (given as row, column, value arrays) that are among the k largest of their
    row, ties to the smaller column as in :func:`~recsys_core.retrieval.topk.top_k`.

    Returns the kept entries' positions in the arrays, by row then best first, and each one's
    rank (0 = best) in its row: one sort of the stored entries, never a dense row.
    """
    order = np.lexsort((cols, -values, rows))
    sorted_rows = rows[order]
    first = np.searchsorted(sorted_rows, sorted_rows, side="left")  # each row's first position
    rank = np.arange(len(order)) - first
    kept = rank < k
    return order[kept], rank[kept]


@numba.njit(cache=True, nogil=True)
def _neighbour_rows(start, stop, item_users, item_indptr, user_items, user_indptr, norms,
                    shrinkage, k, out_items, out_values, out_counts):
    """Rows start .. stop - 1 of S, each item's k most similar items (ties to the smaller
    index), into ``out_*[row - start]``; ``out_counts`` says how many each row has.

    The classic item-kNN loop: walking the users of item i and their items counts the
    co-raters of every item that shares one with i (a dense counter, reset after each row, and
    the list of items it touched); a min-heap whose root is the weakest kept neighbour then
    selects the k best in O(touched log k).
    """
    n_items = len(item_indptr) - 1
    counts = np.zeros(n_items, np.int64)
    touched = np.empty(n_items, np.int64)
    for i in range(start, stop):
        n_touched = 0
        for p in range(item_indptr[i], item_indptr[i + 1]):
            u = item_users[p]
            for q in range(user_indptr[u], user_indptr[u + 1]):
                j = user_items[q]
                if j != i:
                    if counts[j] == 0:
                        touched[n_touched] = j
                        n_touched += 1
                    counts[j] += 1
        row = i - start
        heap_items = out_items[row]
        heap_values = out_values[row]
        filled = 0
        for t in range(n_touched):
            j = touched[t]
            value = counts[j] / (norms[i] * norms[j] + shrinkage)
            counts[j] = 0
            if filled < k:  # add, then sift up while the parent is stronger
                c = filled
                filled += 1
                while c > 0:
                    parent = (c - 1) // 2
                    if heap_values[parent] < value or (heap_values[parent] == value
                                                       and heap_items[parent] > j):
                        break
                    heap_items[c] = heap_items[parent]
                    heap_values[c] = heap_values[parent]
                    c = parent
                heap_items[c] = j
                heap_values[c] = value
            elif value > heap_values[0] or (value == heap_values[0] and j < heap_items[0]):
                c = 0  # replace the weakest, then sift down while a child is weaker
                while True:
                    child = 2 * c + 1
                    if child >= k:
                        break
                    right = child + 1
                    if right < k and (heap_values[right] < heap_values[child] or (
                            heap_values[right] == heap_values[child]
                            and heap_items[right] > heap_items[child])):
                        child = right
                    if heap_values[child] > value or (heap_values[child] == value
                                                      and heap_items[child] < j):
                        break
                    heap_items[c] = heap_items[child]
                    heap_values[c] = heap_values[child]
                    c = child
                heap_items[c] = j
                heap_values[c] = value
        out_counts[row] = filled


class ItemKNN(Recommender):
    """Item-based neighbourhood recommender (see the module docstring).

    Attributes
    ----------
    similarity_ : csr_matrix of float32, shape (n_items, n_items)
        S: row j holds item j's ``neighbours`` largest similarities, zero diagonal;
        ``score = seen_ @ similarity_``.
    history_ : list of dict
        One entry (the fit is one pass, with no loss).
    """

    kind = "item_knn"
    has_embeddings = False
    related_items_source = "the cosine of the items' rater sets (item-kNN)"
    param_spec = {
        "neighbours": Param("int", "Similarities kept per item, the largest: fewer gives a "
                            "sparser model where only close neighbours vote.", low=1, log=True,
                            size=True, tune=(5, 1000)),
        "shrinkage": Param("float", "s, added to the cosine's denominator so that items with few "
                           "raters in common count less.", low=0.0, tune=(0.0, 200.0)),
    }
    #: What a sweep tunes when none is named: both, the neighbourhood's size and its shrinkage.
    default_search = ("neighbours", "shrinkage")

    def __init__(self, neighbours: int = 100, shrinkage: float = 25.0):
        self.neighbours = neighbours
        self.shrinkage = shrinkage

    def estimate_fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """Peak bytes of a fit (see :meth:`Recommender.estimate_fit_bytes`): the item x user
        transpose of the history, the kernel's per-item counters, one block of kept neighbours
        (int64 items, float64 values and their compacted copies) and S (the blocks' entries,
        then concatenated)."""
        n_items, nnz = int(n_items), int(nnz)
        kept = min(int(self.neighbours), max(n_items - 1, 0))
        transpose = nnz * (FLOAT32 + INT32) + (n_items + 1) * INT64
        counters = 2 * n_items * INT64
        block = min(max(BLOCK_ENTRIES, kept), n_items * kept) * (4 * INT64 + INT32 + FLOAT32 + 1)
        similarity = 2 * n_items * kept * (INT32 + FLOAT32) + 3 * (n_items + 1) * INT64
        return int(super().estimate_fit_bytes(n_users, n_items, nnz) + transpose + counters
                   + block + similarity)

    def fit(self, data, *, validation=None, callback: ProgressCallback | None = None
            ) -> "ItemKNN":
        """Compute S from a Dataset or a sparse (n_users, n_items) matrix (its values are
        only read as "interacted"); one pass, reported as one epoch."""
        self.validate_params()
        self._start_fit(data)
        self.similarity_ = self._similarity(self.seen_)
        self._end_epoch(1, 1, {}, validation, callback)
        return self

    def _similarity(self, x: sp.csr_matrix) -> sp.csr_matrix:
        """S from the binary history X (:func:`_neighbour_rows`, a block of item rows at a
        time, so only the kept entries are ever stored)."""
        n_items = x.shape[1]
        kept = min(int(self.neighbours), n_items - 1)
        if kept == 0:  # a one-item catalogue: no other item to be similar to
            return sp.csr_matrix((n_items, n_items), dtype=np.float32)
        norms = np.sqrt(np.bincount(x.indices, minlength=n_items).astype(np.float64))
        by_item = x.T.tocsr()
        block = max(1, BLOCK_ENTRIES // max(kept, 1))
        items = np.empty((min(block, n_items), kept), np.int64)
        values = np.empty((min(block, n_items), kept), np.float64)
        counts = np.empty(min(block, n_items), np.int64)
        columns, data, per_row = [], [], []
        for start in range(0, n_items, block):
            stop = min(start + block, n_items)
            _neighbour_rows(start, stop, by_item.indices, by_item.indptr, x.indices, x.indptr,
                            norms, float(self.shrinkage), kept, items, values, counts)
            filled = np.arange(kept)[None, :] < counts[:stop - start, None]
            columns.append(items[:stop - start][filled].astype(np.int32))
            data.append(values[:stop - start][filled].astype(np.float32))
            per_row.append(counts[:stop - start].copy())
        indptr = np.concatenate([[0], np.cumsum(np.concatenate(per_row))])
        similarity = sp.csr_matrix((np.concatenate(data), np.concatenate(columns), indptr),
                                   shape=(n_items, n_items))
        similarity.sort_indices()
        return similarity

    def _check_fitted(self):
        if not hasattr(self, "similarity_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")

    # ------------------------------------------------------------------ scoring
    def _columns(self, items) -> sp.csr_matrix:
        return self.similarity_ if items is None \
            else self.similarity_[:, self._item_index_array(items)]

    def score(self, users, items=None) -> np.ndarray:
        """Scores X[users] @ S[:, items], float32 (len(users), n_items or len(items))."""
        self._check_fitted()
        users = self._user_index_array(users)
        return (self.seen_[users] @ self._columns(items)).toarray().astype(np.float32, copy=False)

    def score_embeddings(self, user_vectors: np.ndarray, items=None) -> np.ndarray:
        """Scores of history vectors (from :meth:`fold_in`), float32 (n, n_items or len(items)):
        each vector times S."""
        self._check_fitted()
        q = np.atleast_2d(np.asarray(user_vectors, dtype=np.float32))
        if q.shape[1] != self.n_items_:
            raise DataError(f"history vectors have {q.shape[1]} entries; this model has "
                            f"{self.n_items_} items")
        return np.asarray(q @ self._columns(items), dtype=np.float32)

    def predict(self, users, items) -> np.ndarray:
        """Score of each (user, item) pair, float32 (n_pairs,)."""
        self._check_fitted()
        users = self._user_index_array(users)
        columns = self.similarity_.T.tocsr()[self._item_index_array(items)]
        return np.asarray(self.seen_[users].multiply(columns).sum(axis=1),
                          dtype=np.float32).ravel()

    def fold_in(self, items, ratings=None) -> np.ndarray:
        """The new user's binary history vector, float32 (n_items,) (ratings only count as
        "interacted"): its product with S gives the scores (use :meth:`score_embeddings`)."""
        self._check_fitted()
        idx = self._item_index_array(items)
        if ratings is not None and np.atleast_1d(ratings).shape != idx.shape:
            raise DataError(f"got {idx.size} items but {np.atleast_1d(ratings).size} ratings")
        vector = np.zeros(self.n_items_, dtype=np.float32)
        vector[idx] = 1.0
        return vector

    # ------------------------------------------------------------------ item-item
    def related_item_scores(self, items, candidates=None) -> np.ndarray:
        """Similarities S[items, candidates], float32 (len(items), n_items or len(candidates)):
        0 outside each item's kept neighbours."""
        self._check_fitted()
        rows = self.similarity_[self._item_index_array(items)]
        if candidates is not None:
            rows = rows[:, self._item_index_array(candidates)]
        return rows.toarray()

    def related_items(self, items, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Each item's k most similar kept neighbours, best first, padded with -1 (score -inf)
        when it has fewer: items no user shares with it are not related."""
        self._check_fitted()
        items = self._item_index_array(items)
        k = int(max(0, min(k, self.n_items_)))
        rows = self.similarity_[items]
        row = np.repeat(np.arange(len(items)), np.diff(rows.indptr))
        top, rank = _top_per_row(row, rows.indices, rows.data, k)
        out_items = np.full((len(items), k), -1, dtype=np.int64)
        out_scores = np.full((len(items), k), -np.inf, dtype=np.float32)
        out_items[row[top], rank] = rows.indices[top]
        out_scores[row[top], rank] = rows.data[top]
        return out_items, out_scores

    def similar_items(self, items, k: int = 10, measure: str = "cosine", alpha: float = 0.5
                      ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`related_items`: item-kNN's similarity is a cosine (of rater sets); with no
        embeddings, other measures have nothing to compare."""
        self._check_fitted()
        if measure != "cosine":
            raise HyperparameterError(f"{type(self).__name__} has no embeddings to compare under "
                                      f"{measure!r}: its item similarity is the cosine of the "
                                      "items' rater sets")
        return self.related_items(items, k)
