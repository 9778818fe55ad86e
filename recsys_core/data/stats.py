"""Aggregate counts of a dataset for charts: per item, per user, per rating value, per genre.

A chart of a 23M-rating dataset must not receive 23M (or 162k) points: :class:`RatingStats` reduces
the ratings once per dataset to small arrays, and :meth:`RatingStats.counts` recomputes them under
a filter (items of some genres, users of some occupations) in a few vectorized passes over the
entries, without building a filtered copy of the dataset. :func:`long_tail_curve` keeps the shape
of a sorted count curve with a bounded number of points.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dataset import Dataset

#: Steps per rating unit tried for a compact code of each rating (1: whole stars, 2: half stars).
_RATING_STEPS = (1, 2, 4, 10)


@dataclass(frozen=True)
class RatingCounts:
    """Counts of the entries kept by a filter.

    Attributes
    ----------
    n_ratings : int
        Entries kept.
    item_counts : ndarray of int64, shape (n_items,)
    user_counts : ndarray of int64, shape (n_users,)
    rating_values : ndarray of float64, shape (n_levels,) or None
        Distinct rating values present among the kept entries, ascending (None: implicit data).
    rating_counts : ndarray of int64, shape (n_levels,) or None
    genre_items : ndarray of int64, shape (n_genres,)
        Items per genre among the items a genre filter keeps (every item without one; an item
        counts in each of its genres), so both bars of a genre chart follow the filter.
    genre_ratings : ndarray of int64, shape (n_genres,)
        Kept entries per genre of their item.
    """

    n_ratings: int
    item_counts: np.ndarray
    user_counts: np.ndarray
    rating_values: np.ndarray | None
    rating_counts: np.ndarray | None
    genre_items: np.ndarray
    genre_ratings: np.ndarray


class RatingStats:
    """Per-dataset reductions behind the Data page's charts.

    Built once per dataset (one pass over the ratings to code each value in a byte or two);
    then :meth:`counts` costs, for a 23M-entry dataset, one gather per filter kind and one
    ``bincount`` of the kept codes, and nothing when there is no filter.

    Parameters
    ----------
    dataset : Dataset
        Read, never copied (the arrays kept here are the codes, n_ratings bytes or 2 n_ratings
        bytes, and the per-item and per-user counts).
    """

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.codes_, self.levels_ = (_rating_codes(dataset.ratings.data)
                                     if dataset.is_explicit else (None, None))
        # Ratings per (item, value): an item filter (genres) then needs no pass over the entries
        # for the rating distribution (n_items x n_levels int64: 4.7 MB at ml-25m's shape).
        self.item_levels_ = None
        if self.codes_ is not None and len(self.levels_) <= 256:
            n_levels = len(self.levels_)
            cell_type = np.int32 if dataset.n_items * n_levels < 2**31 else np.int64
            cells = dataset.ratings.indices.astype(cell_type) * n_levels + self.codes_
            self.item_levels_ = np.bincount(cells, minlength=dataset.n_items * n_levels
                                            ).reshape(dataset.n_items, n_levels)
            del cells
        genres = np.asarray(dataset.item_genres)
        self.genre_matrix_ = (genres.astype(np.int64) if genres.size
                              else np.zeros((dataset.n_items, 0), np.int64))
        self.all_ = self._counts(None)

    def counts(self, item_mask: np.ndarray | None = None,
               user_mask: np.ndarray | None = None) -> RatingCounts:
        """Counts of the entries whose item is in ``item_mask`` and whose user is in ``user_mask``.

        Parameters
        ----------
        item_mask : bool ndarray of shape (n_items,), optional
        user_mask : bool ndarray of shape (n_users,), optional
        """
        if item_mask is None and user_mask is None:
            return self.all_
        ratings = self.dataset.ratings
        keep = None
        if item_mask is not None:
            keep = np.asarray(item_mask, dtype=bool)[ratings.indices]
        if user_mask is not None:
            by_user = np.repeat(np.asarray(user_mask, dtype=bool), self.all_.user_counts)
            keep = by_user if keep is None else keep & by_user
        return self._counts(keep, item_mask, user_mask)

    def _counts(self, keep: np.ndarray | None, item_mask: np.ndarray | None = None,
                user_mask: np.ndarray | None = None) -> RatingCounts:
        ds = self.dataset
        ratings = ds.ratings
        if keep is None:
            item_counts = np.asarray(ds.item_popularity, dtype=np.int64)
            user_counts = np.asarray(ds.user_activity, dtype=np.int64)
        else:
            item_counts = (np.asarray(ds.item_popularity) * item_mask if user_mask is None
                           else np.bincount(ratings.indices[keep], minlength=ds.n_items))
            item_counts = item_counts.astype(np.int64)
            user_counts = _row_sums(keep, ratings.indptr)
        values = counts = None
        if self.codes_ is not None:
            n_levels = len(self.levels_)
            if keep is None:
                per_level = np.bincount(self.codes_, minlength=n_levels)
            elif user_mask is None and self.item_levels_ is not None:
                per_level = np.asarray(item_mask, dtype=np.int64) @ self.item_levels_
            else:
                per_level = np.bincount(self.codes_[keep], minlength=n_levels)
            present = per_level > 0
            values, counts = self.levels_[present], per_level[present].astype(np.int64)
        genre_items = (self.genre_matrix_.sum(axis=0) if item_mask is None
                       else np.asarray(item_mask, dtype=np.int64) @ self.genre_matrix_)
        return RatingCounts(int(item_counts.sum()), item_counts, user_counts, values, counts,
                            genre_items, item_counts @ self.genre_matrix_)


def _row_sums(keep: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Kept entries per CSR row (int64 of shape (n_rows,)), rows without entries included."""
    sums = np.zeros(len(indptr) - 1, np.int64)
    # reduceat over the non-empty rows' starts: each segment runs to the next non-empty row's
    # start, which is the row's own end (empty rows in between add nothing).
    filled = indptr[1:] > indptr[:-1]
    if filled.any():
        sums[filled] = np.add.reduceat(keep, indptr[:-1][filled], dtype=np.int64)
    return sums


def _rating_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code per entry, value per code): a small integer code of every rating value.

    Ratings on a grid (whole or half stars, tenths) are coded arithmetically in one pass;
    anything else through ``np.unique`` (a sort). Codes are uint8 when there are at most 256
    levels, else uint16 or int64.
    """
    values = np.asarray(values)
    if values.size == 0:
        return np.zeros(0, np.uint8), np.zeros(0)
    low, high = float(values.min()), float(values.max())
    for steps in _RATING_STEPS:
        if (high - low) * steps >= 65536:
            break
        scaled = (values - values.dtype.type(low)) * values.dtype.type(steps)
        codes = np.rint(scaled)
        if np.array_equal(codes, scaled):
            n_levels = int(codes.max()) + 1
            levels = low + np.arange(n_levels, dtype=np.float64) / steps
            return codes.astype(np.uint8 if n_levels <= 256 else np.uint16), levels
    levels, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.uint8 if len(levels) <= 256 else np.int64), levels.astype(np.float64)


def long_tail_curve(counts: np.ndarray, max_points: int = 1000
                    ) -> tuple[np.ndarray, np.ndarray, int]:
    """Sorted counts against their rank, thinned to at most about ``max_points`` points.

    Returns ``(ranks, sorted_counts, head)``: 1-based ranks (every rank up to ``max_points / 2``,
    then log-spaced up to the last rank, which is always kept), the counts at those ranks from
    largest to smallest, and ``head``, the number of largest entries holding half the total
    (computed on all counts). The curve is monotone, so the thinned points lie on it exactly.
    """
    ordered = np.sort(np.asarray(counts))[::-1]
    n = len(ordered)
    if n == 0:
        return np.zeros(0, np.int64), ordered, 0
    share = np.cumsum(ordered, dtype=np.float64) / max(1, ordered.sum())
    head = int(np.searchsorted(share, 0.5) + 1)
    if n <= max_points:
        ranks = np.arange(1, n + 1)
    else:
        dense = max_points // 2
        spread = np.geomspace(dense + 1, n, max_points - dense).round().astype(np.int64)
        ranks = np.unique(np.concatenate((np.arange(1, dense + 1), spread, [n])))
    return ranks, ordered[ranks - 1], head
