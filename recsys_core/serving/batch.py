"""Batch serving: top-k lists for many users at once, in user blocks, streamed to CSV.

For every user of a run (ml-25m: 162k users x 59k items) the per-user pipeline of
:mod:`.pipeline` is far too slow, and a dense users x items score matrix would not fit in
memory (38 GB in float32). :func:`recommend_blocks` scores a block of users with one matrix
product (:meth:`Recommender.score`, so biases count as in ``recommend``), excludes each user's
training items through the CSR rows of ``model.seen_`` and selects the k best with a compiled
single pass per row (a sorted k-slot insertion: most items fail the first comparison), parallel
over the block's rows. The block's row count follows a byte budget, so memory stays at one
block of scores whatever the catalogue. With an :class:`~recsys_core.retrieval.ann.ANNIndex`
the block's queries go to the index instead (big catalogues), excluded items asked for on top.

:func:`write_recommendations_csv` writes ``user,item,rank,score`` block by block (never the
whole result in memory) to a temporary file renamed over the target at the end, so an
interrupted run leaves any earlier file intact.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import numba as nb
import numpy as np
import scipy.sparse as sp

from ..models.base import Recommender

#: Bytes of float32 scores one block may hold (its row count is this over 4 x n_items).
BLOCK_BYTES = 64 * 2 ** 20


@nb.njit(parallel=True, cache=True)
def _top_k_rows(scores, exclude_indptr, exclude_indices, k, out_items, out_scores):
    """The k best finite scores of each row, best first, ties to the smaller item index; each
    row's excluded items (CSR column indices) are first set to -inf in ``scores`` (overwritten),
    so the scan is one comparison per item. Unfilled slots stay -1 / -inf."""
    n_rows, n_items = scores.shape
    for r in nb.prange(n_rows):
        row = scores[r]
        for e in range(exclude_indptr[r], exclude_indptr[r + 1]):
            row[exclude_indices[e]] = -np.inf
        best = out_scores[r]
        items = out_items[r]
        threshold = best[k - 1]
        for j in range(n_items):
            s = row[j]
            # Strictly better than the k-th: an equal score arriving later has a larger index.
            if s > threshold:
                pos = k - 1
                while pos > 0 and s > best[pos - 1]:
                    best[pos] = best[pos - 1]
                    items[pos] = items[pos - 1]
                    pos -= 1
                best[pos] = s
                items[pos] = j
                threshold = best[k - 1]


def top_k_excluding(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None,
                    overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Same answer as :func:`recsys_core.retrieval.topk.top_k` with a CSR exclusion, in one
    compiled pass per row (no partition of every row).

    Parameters
    ----------
    scores : float32 (n_rows, n_items)
    k : int, clipped to n_items
    exclude : CSR (n_rows, n_items), optional; its stored entries are left out
    overwrite : bool
        Let the excluded entries of ``scores`` be set to -inf in place (no copy of the block).

    Returns
    -------
    items : int64 (n_rows, k), padded with -1
    scores : float32 (n_rows, k), padded with -inf
    """
    given = scores
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    if scores is given and not overwrite and exclude is not None:
        scores = scores.copy()
    n_rows, n_items = scores.shape
    k = int(max(0, min(k, n_items)))
    out_items = np.full((n_rows, k), -1, np.int64)
    out_scores = np.full((n_rows, k), -np.inf, np.float32)
    if k == 0 or n_rows == 0:
        return out_items, out_scores
    if exclude is None:
        indptr, indices = np.zeros(n_rows + 1, np.int64), np.zeros(0, np.int32)
    else:
        ex = sp.csr_matrix(exclude)
        indptr, indices = ex.indptr, ex.indices
    _top_k_rows(scores, indptr, indices, k, out_items, out_scores)
    return out_items, out_scores


def block_rows(n_items: int, block_bytes: int = BLOCK_BYTES) -> int:
    """Users per block so one block of float32 scores takes about ``block_bytes``."""
    return max(1, int(block_bytes) // (4 * max(int(n_items), 1)))


def recommend_blocks(model: Recommender, users: np.ndarray, k: int, *, ann=None,
                     exclude_seen: bool = True, block_size: int | None = None
                     ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(users, items, scores)`` per block of users: the model's top-k lists.

    Parameters
    ----------
    model : fitted Recommender
    users : int array of user indices
    k : int
    ann : fitted ANNIndex over ``model.item_embeddings_``, optional
        Retrieve through it (its measure's scores) instead of scoring the whole catalogue.
    exclude_seen : bool
        Leave out each user's training items (``model.seen_``).
    block_size : int, optional
        Users per block; default :func:`block_rows` of the catalogue.

    Yields
    ------
    users : int64 (b,); items : int64 (b, k) padded with -1; scores : float32 (b, k) padded
    with -inf. Equal, block for block, to ``model.recommend(users, k, exclude_seen)``.
    """
    users = np.asarray(users, dtype=np.int64)
    size = int(block_size) if block_size else block_rows(model.n_items_)
    for start in range(0, len(users), size):
        block = users[start:start + size]
        exclude = model.seen_[block] if exclude_seen else None
        if ann is not None:
            items, scores = _ann_search(ann, model.user_embeddings_[block], k, exclude)
        else:
            items, scores = top_k_excluding(model.score(block), k, exclude, overwrite=True)
        yield block, items, scores


def _ann_search(ann, queries: np.ndarray, k: int, exclude: sp.csr_matrix | None,
                block_bytes: int = BLOCK_BYTES) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`ANNIndex.search` over groups of queries with similar exclusion counts.

    The index is asked for k plus the most exclusions of any query it gets, and re-scores
    (queries x that many x d) candidates: one heavy user (thousands of seen items) in a block
    would make every query of the block fetch thousands. Grouping by the power of two above
    k + exclusions keeps each query's fetch under twice its own, and the candidate tensor of a
    group within ``block_bytes``.
    """
    n = len(queries)
    counts = np.diff(exclude.indptr) if exclude is not None else np.zeros(n, np.int64)
    fetch = np.minimum(k + counts, ann.n_items_)
    bucket = np.ceil(np.log2(np.maximum(fetch, 1))).astype(np.int64)
    items = np.full((n, k), -1, np.int64)
    scores = np.full((n, k), -np.inf, np.float32)
    for b in np.unique(bucket):
        rows = np.flatnonzero(bucket == b)
        per = max(1, int(block_bytes) // (4 * queries.shape[1] * min(2 ** int(b), ann.n_items_)))
        for start in range(0, len(rows), per):
            sub = rows[start:start + per]
            found, values = ann.search(queries[sub], k,
                                       exclude=exclude[sub] if exclude is not None else None)
            items[sub], scores[sub] = found, values
    return items, scores


def write_recommendations_csv(blocks, user_ids: np.ndarray, item_ids: np.ndarray,
                              output: str | Path = "-") -> int:
    """Write ``user,item,rank,score`` rows (raw ids, rank from 1) of the blocks of
    :func:`recommend_blocks` as they come; returns the number of rows.

    ``output`` "-" is stdout; a path is written through ``<path>.partial`` renamed over it once
    complete. Scores are written with 6 significant digits; padded slots are left out.
    """
    import pandas as pd

    user_ids, item_ids = np.asarray(user_ids), np.asarray(item_ids)
    to_stdout = str(output) == "-"
    if to_stdout:
        handle, partial = sys.stdout, None
    else:
        target = Path(output)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        handle = open(partial, "w", newline="", encoding="utf-8")
    rows = 0
    try:
        handle.write("user,item,rank,score\n")
        for users, items, scores in blocks:
            valid = items >= 0
            r, ranks = np.nonzero(valid)
            pd.DataFrame({"user": user_ids[users[r]], "item": item_ids[items[valid]],
                          "rank": ranks + 1, "score": scores[valid]}).to_csv(
                handle, index=False, header=False, float_format="%.6g")
            rows += len(r)
        handle.flush()
    except BaseException:
        if partial is not None:
            handle.close()
            partial.unlink(missing_ok=True)
        raise
    if partial is not None:
        handle.close()
        os.replace(partial, target)
    return rows
