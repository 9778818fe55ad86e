"""Evaluation metrics: rating error, top-k accuracy and beyond-accuracy measures, all vectorized.

Conventions shared by the list metrics
--------------------------------------
``recommended`` is an int array of shape (n_users, k): item indices, best first, padded with -1
where a list is shorter (as :func:`recsys_core.retrieval.topk.top_k` returns). Padding never counts
as a hit nor as a recommended item, and an item repeated within a list counts only at its first
position. ``relevant`` is a CSR matrix of shape (n_users, n_items) whose row ``u`` holds user
``u``'s held-out items (any stored nonzero is relevant); its rows are aligned with
``recommended``'s rows.

The top-k accuracy metrics average over the users with at least one relevant item (users with
nothing held out carry no signal) and return NaN when there is no such user. With ``h_j`` = 1 when
the item at position j (1-based) is relevant, R = the number of relevant items and m = min(k, R):

* precision@k = sum h_j / k (padding counts against the list, so k is always the denominator)
* recall@k    = sum h_j / m
* ndcg@k      = sum h_j / log2(j + 1), divided by the ideal sum_{j<=m} 1 / log2(j + 1)
* map@k       = sum_j h_j * precision@j / m
* hit_rate@k  = 1 if any h_j else 0
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..data.dataset import Dataset
from ..errors import DataError
from ..validation import check_param

#: Names of the top-k accuracy metrics, as keys of :func:`ranking_metrics` ("precision@10", ...).
RANKING_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate")

#: Test users a saved run is evaluated on at most (:func:`evaluate_sample`): beyond this, a seeded
#: sample of this many. The top-k lists of all 129k test users of ml-25m against 59k items take
#: minutes; 10,000 users give NDCG@10 to about +-0.003 (its standard error) in seconds.
EVALUATION_SAMPLE_USERS = 10_000
#: Seed of that sample: the same test users for every run of a split, so runs compare.
EVALUATION_SAMPLE_SEED = 0
#: Scores held at once while :func:`evaluate_model` ranks the catalogue for a block of users.
_SCORE_BLOCK_FLOATS = 1 << 24
#: Keys :func:`evaluate_sample` adds to the metrics: how many test users were scored, and of how
#: many (equal when the evaluation was complete).
EVALUATED_USERS, TEST_USERS = "evaluated_users", "test_users"


# ---------------------------------------------------------------------------- rating error
def _paired(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} values and y_pred {p.size}")
    return t, p


def rmse(y_true, y_pred) -> float:
    """Root mean squared error, in rating units; NaN for empty input."""
    t, p = _paired(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2))) if t.size else float("nan")


def mae(y_true, y_pred) -> float:
    """Mean absolute error, in rating units; NaN for empty input."""
    t, p = _paired(y_true, y_pred)
    return float(np.mean(np.abs(t - p))) if t.size else float("nan")


# ---------------------------------------------------------------------------- list helpers
def _as_csr(relevant) -> sp.csr_matrix:
    if isinstance(relevant, Dataset):
        return relevant.ratings
    if not sp.issparse(relevant):
        raise TypeError("relevant must be a sparse matrix or a Dataset, got "
                        f"{type(relevant).__name__}")
    return sp.csr_matrix(relevant)


def _lists(recommended, k: int, n_items: int | None = None) -> np.ndarray:
    """``recommended`` as int64 (n_users, k): cut to k columns or padded with -1 up to k."""
    check_param("k", k, low=1, integer=True)
    rec = np.asarray(recommended)
    if rec.ndim == 1:
        rec = rec[None, :]
    if rec.ndim != 2 or (rec.size and rec.dtype.kind not in "iu"):
        raise ValueError(f"recommended must be a 2-D int array of item indices, got shape "
                         f"{rec.shape} and dtype {rec.dtype}")
    rec = rec.astype(np.int64, copy=False)[:, :k]
    if rec.shape[1] < k:
        rec = np.hstack([rec, np.full((rec.shape[0], k - rec.shape[1]), -1, np.int64)])
    if rec.size and (rec.min() < -1 or (n_items is not None and rec.max() >= n_items)):
        bad = rec[(rec < -1) | (rec >= (n_items if n_items is not None else np.inf))][0]
        raise ValueError(f"recommended item index {bad} is out of range"
                         + (f" for {n_items} items" if n_items is not None else ""))
    return rec


def _first_occurrence(rec: np.ndarray) -> np.ndarray:
    """Bool (n_users, k): True at real (non-padding) items not already listed earlier in the row."""
    order = np.argsort(rec, axis=1, kind="stable")
    s = np.take_along_axis(rec, order, axis=1)
    first_sorted = np.ones_like(s, dtype=bool)
    first_sorted[:, 1:] = s[:, 1:] != s[:, :-1]
    first = np.empty_like(first_sorted)
    np.put_along_axis(first, order, first_sorted, axis=1)
    return first & (rec >= 0)


def hits_matrix(recommended, relevant, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Which recommendations are relevant, and how many relevant items each user has.

    Parameters
    ----------
    recommended : int array, shape (n_users, any); cut or -1-padded to k columns
    relevant : CSR (or Dataset), shape (n_users, n_items)
    k : int >= 1

    Returns
    -------
    hits : ndarray of bool, shape (n_users, k)
    n_relevant : ndarray of int64, shape (n_users,)
    """
    rel = _as_csr(relevant)
    rec = _lists(recommended, k, rel.shape[1])
    if rec.shape[0] != rel.shape[0]:
        raise ValueError(f"recommended has {rec.shape[0]} rows but relevant has {rel.shape[0]}")
    if not rel.has_canonical_format:
        rel = rel.copy()
        rel.sum_duplicates()
    nonzero = rel.data != 0
    rows = np.repeat(np.arange(rel.shape[0], dtype=np.int64), np.diff(rel.indptr))[nonzero]
    # Canonical CSR is sorted by (row, column), so row * n_items + column is sorted too: one
    # binary search per recommended slot finds whether it is held out.
    keys = rows * rel.shape[1] + rel.indices[nonzero]
    n_relevant = np.bincount(rows, minlength=rel.shape[0]).astype(np.int64)
    query = np.arange(rec.shape[0], dtype=np.int64)[:, None] * rel.shape[1] + rec
    pos = np.minimum(np.searchsorted(keys, query), max(keys.size - 1, 0))
    hits = (keys[pos] == query) if keys.size else np.zeros(rec.shape, dtype=bool)
    # A -1 pad's key aliases the previous row's last item; _first_occurrence masks pads out.
    return hits & _first_occurrence(rec), n_relevant


def _per_user(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Per-user metric values for the users with >= 1 relevant item (rows of ``hits``)."""
    n_hits = hits.sum(axis=1)
    denom = np.minimum(k, n_relevant)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discount)[denom - 1]
    precision_at_j = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return {
        "precision": n_hits / k,
        "recall": n_hits / denom,
        "ndcg": (hits * discount).sum(axis=1) / ideal,
        "map": (hits * precision_at_j).sum(axis=1) / denom,
        "hit_rate": (n_hits > 0).astype(np.float64),
    }


def ranking_metrics_per_user(recommended, relevant, k: int) -> dict[str, np.ndarray]:
    """Each user's top-k accuracy: {"precision@k": array (n_users,), ...}, NaN for users
    without relevant items (for distributions and per-user comparisons)."""
    hits, n_relevant = hits_matrix(recommended, relevant, k)
    eligible = n_relevant > 0
    values = _per_user(hits[eligible], n_relevant[eligible], k)
    out = {}
    for name in RANKING_METRICS:
        column = np.full(len(n_relevant), np.nan)
        column[eligible] = values[name]
        out[f"{name}@{k}"] = column
    return out


def ranking_metrics(recommended, relevant, k: int) -> dict[str, float]:
    """All top-k accuracy metrics at once: {"precision@k", "recall@k", "ndcg@k", "map@k",
    "hit_rate@k"}, each the mean over users with at least one relevant item (NaN if none)."""
    hits, n_relevant = hits_matrix(recommended, relevant, k)
    eligible = n_relevant > 0
    if not eligible.any():
        return {f"{name}@{k}": float("nan") for name in RANKING_METRICS}
    values = _per_user(hits[eligible], n_relevant[eligible], k)
    return {f"{name}@{k}": float(values[name].mean()) for name in RANKING_METRICS}


def precision_at_k(recommended, relevant, k: int) -> float:
    """Mean over users with held-out items of (relevant items among the first k) / k."""
    return ranking_metrics(recommended, relevant, k)[f"precision@{k}"]


def recall_at_k(recommended, relevant, k: int) -> float:
    """Mean over users with held-out items of (relevant items in the first k) / min(k, |test|)."""
    return ranking_metrics(recommended, relevant, k)[f"recall@{k}"]


def ndcg_at_k(recommended, relevant, k: int) -> float:
    """Mean normalised discounted cumulative gain with binary gains (ideal over min(k, |test|))."""
    return ranking_metrics(recommended, relevant, k)[f"ndcg@{k}"]


def map_at_k(recommended, relevant, k: int) -> float:
    """Mean average precision, each user's AP normalised by min(k, |test|)."""
    return ranking_metrics(recommended, relevant, k)[f"map@{k}"]


def hit_rate_at_k(recommended, relevant, k: int) -> float:
    """Share of users (with held-out items) who have at least one of them in their first k."""
    return ranking_metrics(recommended, relevant, k)[f"hit_rate@{k}"]


# ---------------------------------------------------------------------------- beyond accuracy
def _valid_slots(recommended, n_items: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Checked int64 lists (their own width kept) and the mask of their real (non -1) slots."""
    rec = np.asarray(recommended)
    width = rec.shape[-1] if rec.ndim else 0
    rec = _lists(rec, max(1, width), n_items)
    return rec, rec >= 0


def catalogue_coverage(recommended, n_items: int) -> float:
    """Share of the catalogue that appears in at least one list: distinct items / n_items."""
    check_param("n_items", n_items, low=1, integer=True)
    rec, valid = _valid_slots(recommended, n_items)
    return float(np.unique(rec[valid]).size / n_items)


def intra_list_diversity(recommended, item_features, measure: str | None = None) -> float:
    """Mean pairwise dissimilarity of the items within each list, averaged over lists.

    Parameters
    ----------
    recommended : int array (n_users, k), -1 padded
    item_features : array (n_items, f)
        Multi-hot genres (bool) or embeddings (float).
    measure : {"jaccard", "cosine"}, optional
        Jaccard distance 1 - |A & B| / |A | B| of the feature sets (two items with no features
        count as identical), or cosine distance 1 - cos(x, y) (a zero vector counts as cosine 0).
        Defaults to "jaccard" for bool features and "cosine" otherwise.

    Returns
    -------
    float: mean over lists with at least two distinct items of the mean over their item pairs;
    NaN when no list has two items.
    """
    per_list = intra_list_diversity_per_list(recommended, item_features, measure)
    per_list = per_list[~np.isnan(per_list)]
    return float(per_list.mean()) if per_list.size else float("nan")


def intra_list_diversity_per_list(recommended, item_features, measure: str | None = None
                                  ) -> np.ndarray:
    """Each list's mean pairwise dissimilarity (see :func:`intra_list_diversity`): float64 of
    shape (n_lists,), NaN for a list with fewer than two distinct items."""
    features = np.asarray(item_features)
    measure = measure or ("jaccard" if features.dtype == bool else "cosine")
    check_param("measure", measure, choices=("jaccard", "cosine"))
    rec, _ = _valid_slots(recommended, features.shape[0])
    valid = _first_occurrence(rec)
    n_valid = valid.sum(axis=1)
    n_pairs = n_valid * (n_valid - 1) / 2
    has_pairs = n_pairs > 0
    out = np.full(rec.shape[0], np.nan)
    if not has_pairs.any():
        return out
    # Sum over each list's pairs of the similarity, with pads and repeats as zero rows.
    x = np.where(valid[:, :, None], features[np.where(valid, rec, 0)], 0).astype(np.float32)
    if measure == "cosine":
        # sum_{i<j} u_i.u_j = (|sum_i u_i|^2 - sum_i |u_i|^2) / 2: no k x k matrix needed.
        norms = np.linalg.norm(x, axis=2, keepdims=True)
        unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
        total = unit.sum(axis=1)
        similarity = ((total * total).sum(axis=1) - (unit * unit).sum(axis=(1, 2))) / 2
    else:
        # Blocks of users keep the (block, k, k) temporaries small.
        similarity = np.concatenate([_jaccard_pair_sums(x[start:start + 512])
                                     for start in range(0, len(x), 512)])
        # Two real items without any feature count as identical (index 1), pads do not.
        featureless = (valid & ~x.any(axis=2)).sum(axis=1)
        similarity += featureless * (featureless - 1) / 2
    out[has_pairs] = 1.0 - similarity[has_pairs] / n_pairs[has_pairs]
    return out


def _jaccard_pair_sums(x: np.ndarray) -> np.ndarray:
    """Sum over pairs i < j of the Jaccard index |A & B| / |A | B| of the rows of each list.

    ``x`` is 0/1 float32 of shape (n_lists, k, f); a pair involving an all-zero row counts 0.
    """
    both = x @ x.transpose(0, 2, 1)                                  # |A & B|, batched BLAS
    size = x.sum(axis=2)
    either = size[:, :, None] + size[:, None, :] - both
    index = np.divide(both, either, out=np.zeros_like(both), where=either > 0)
    # The full matrix counts every pair twice plus a diagonal of 1 per item with features.
    return (index.sum(axis=(1, 2)) - (size > 0).sum(axis=1)) / 2


def novelty(recommended, item_popularity, n_users: int) -> float:
    """Mean self-information -log2(popularity / n_users) of the recommended items, in bits.

    ``item_popularity`` (n_items,) counts the training users of each item; items never seen are
    counted as seen once so their information stays finite. Averaged over all recommended slots
    (padding excluded); NaN when nothing is recommended.
    """
    check_param("n_users", n_users, low=1, integer=True)
    pop = np.maximum(np.asarray(item_popularity, dtype=np.float64), 1.0)
    rec, valid = _valid_slots(recommended, pop.size)
    if not valid.any():
        return float("nan")
    return float(np.mean(-np.log2(pop[rec[valid]] / n_users)))


def popularity_percentiles(item_popularity) -> np.ndarray:
    """Percentile (0-100] of each item's popularity among all items, ties sharing the mean rank.

    percentile_i = 100 * (#items less popular than i + 0.5 * #items as popular as i) / n_items,
    i.e. ``scipy.stats.percentileofscore(popularity, popularity[i], kind="mean")``.
    """
    pop = np.asarray(item_popularity)
    s = np.sort(pop)
    less = np.searchsorted(s, pop, side="left")
    at_most = np.searchsorted(s, pop, side="right")
    return 100.0 * (less + 0.5 * (at_most - less)) / max(pop.size, 1)


def popularity_percentile(recommended, item_popularity) -> float:
    """Mean popularity percentile (see :func:`popularity_percentiles`) of recommended items.

    Averaged over all recommended slots; about 50 for random lists, near 100 for a most-popular
    recommender. NaN when nothing is recommended.
    """
    percentiles = popularity_percentiles(item_popularity)
    rec, valid = _valid_slots(recommended, percentiles.size)
    if not valid.any():
        return float("nan")
    return float(percentiles[rec[valid]].mean())


def _mean_per_list(values_by_item: np.ndarray, recommended) -> np.ndarray:
    """Mean of ``values_by_item`` over each list's real slots: (n_lists,), NaN for empty lists."""
    rec, valid = _valid_slots(recommended, values_by_item.size)
    total = np.where(valid, values_by_item[np.where(valid, rec, 0)], 0.0).sum(axis=1)
    count = valid.sum(axis=1)
    return np.divide(total, count, out=np.full(rec.shape[0], np.nan), where=count > 0)


def novelty_per_list(recommended, item_popularity, n_users: int) -> np.ndarray:
    """Each list's mean self-information of its items in bits (see :func:`novelty`): float64 of
    shape (n_lists,), NaN for an empty list."""
    check_param("n_users", n_users, low=1, integer=True)
    pop = np.maximum(np.asarray(item_popularity, dtype=np.float64), 1.0)
    return _mean_per_list(-np.log2(pop / n_users), recommended)


def popularity_percentile_per_list(recommended, item_popularity) -> np.ndarray:
    """Each list's mean popularity percentile (see :func:`popularity_percentile`): float64 of
    shape (n_lists,), NaN for an empty list."""
    return _mean_per_list(popularity_percentiles(item_popularity), recommended)


def gini_coefficient(counts, axis: int = -1) -> np.ndarray | float:
    """Gini coefficient of non-negative counts along ``axis``: 0 when all are equal, (n-1)/n when
    one holds everything; NaN when they sum to 0.

    With the n counts sorted ascending, x_(1) <= ... <= x_(n):
    G = sum_i (2i - n - 1) x_(i) / (n sum_i x_i). Vectorised over the other axes (e.g. one column
    per bootstrap resample).
    """
    x = np.sort(np.asarray(counts, dtype=np.float64), axis=axis)
    n = x.shape[axis]
    shape = [1] * x.ndim
    shape[axis] = n
    weights = (2.0 * np.arange(1, n + 1) - n - 1).reshape(shape)
    total = x.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = (weights * x).sum(axis=axis) / (n * total)
    g = np.where(total > 0, g, np.nan)
    return float(g) if np.ndim(g) == 0 else g


def gini(recommended, n_items: int) -> float:
    """Exposure Gini of the lists: the Gini coefficient (:func:`gini_coefficient`) of how many
    lists show each of the ``n_items`` catalogue items (items never shown count as 0).

    0 when every item is shown equally often, near 1 when a few items fill every list (a
    most-popular recommender). Repeats within a list count once; padding never counts. NaN
    when nothing is recommended.
    """
    check_param("n_items", n_items, low=1, integer=True)
    rec, _ = _valid_slots(recommended, n_items)
    first = _first_occurrence(rec)
    return gini_coefficient(np.bincount(rec[first], minlength=n_items))


def long_tail_mask(item_popularity: np.ndarray, head_share: float = 0.2) -> np.ndarray:
    """Bool (n_items,): True for items outside the ``head_share`` most popular of the catalogue
    (ties at the boundary go to the head)."""
    pop = np.asarray(item_popularity, dtype=np.float64)
    n_head = int(math.ceil(head_share * len(pop)))
    if n_head == 0:
        return np.ones(len(pop), dtype=bool)
    threshold = np.sort(pop)[::-1][n_head - 1]
    return pop < threshold


def group_exposure(recommended, group_mask, position_discount: bool = False) -> float:
    """Share of the recommendation slots that show an item of a chosen group.

    Parameters
    ----------
    recommended : int array (n_users, k), -1 padded
    group_mask : bool array (n_items,)
        True for the items of the group (e.g. long-tail items, one studio's films).
    position_discount : bool
        Weight the slot at position j (1-based) by 1 / log2(j + 1), as NDCG does, so the top of
        the list counts more.

    Returns
    -------
    float in [0, 1]: group weight / total weight over all real slots; NaN when nothing is
    recommended. Compare it with ``group_mask.mean()`` (the group's share of the catalogue).
    """
    mask = np.asarray(group_mask, dtype=bool)
    rec, valid = _valid_slots(recommended, mask.size)
    weight = (1.0 / np.log2(np.arange(2, rec.shape[1] + 2)) if position_discount
              else np.ones(rec.shape[1]))
    weights = np.broadcast_to(weight, rec.shape) * valid
    total = weights.sum()
    if total == 0:
        return float("nan")
    in_group = np.where(valid, mask[np.where(valid, rec, 0)], False)
    return float((weights * in_group).sum() / total)


# ---------------------------------------------------------------------------- related items
def group_recall_per_item(neighbours, query_items, groups, k: int) -> np.ndarray:
    """For each query item, the share of its group siblings among its k related items.

    Parameters
    ----------
    neighbours : int array (n_queries, any), -1 padded
        Each query item's related items, best first (cut or padded to k columns).
    query_items : int array (n_queries,)
        The item each row of ``neighbours`` was asked for.
    groups : int array (n_items,)
        Each item's group id (e.g. its film franchise), -1 for items in no group.
    k : int >= 1

    Returns
    -------
    ndarray of float64, shape (n_queries,): siblings found / min(k, siblings), where the
    siblings are the other items of the query's group; the query itself, padding and repeats
    never count. NaN for a query in no group or alone in its group.
    """
    labels = np.asarray(groups, dtype=np.int64).ravel()
    rec = _lists(neighbours, k, labels.size)
    queries = np.asarray(query_items, dtype=np.int64).ravel()
    if queries.size != rec.shape[0]:
        raise ValueError(f"neighbours has {rec.shape[0]} rows but there are {queries.size} "
                         "query items")
    if queries.size and (queries.min() < 0 or queries.max() >= labels.size):
        raise ValueError(f"query item index out of range for {labels.size} items")
    group = labels[queries]
    sizes = np.bincount(labels[labels >= 0], minlength=1)
    siblings = np.where(group >= 0, sizes[np.maximum(group, 0)] - 1, 0)
    found = (_first_occurrence(rec) & (rec != queries[:, None])
             & (labels[np.maximum(rec, 0)] == group[:, None])).sum(axis=1)
    out = np.full(queries.size, np.nan)
    scored = (group >= 0) & (siblings > 0)
    out[scored] = found[scored] / np.minimum(k, siblings[scored])
    return out


def group_recall_at_k(neighbours, query_items, groups, k: int) -> float:
    """Mean of :func:`group_recall_per_item` over the query items that have group siblings
    (NaN when none has): e.g. "franchise recall@10", how much of a film's franchise its ten
    most related titles show."""
    values = group_recall_per_item(neighbours, query_items, groups, k)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


# ---------------------------------------------------------------------------- whole models
def _relevance_matrix(test, relevance_threshold: float | None) -> sp.csr_matrix:
    rel = _as_csr(test)
    if relevance_threshold is not None:
        rel = rel.copy()
        rel.data = np.where(rel.data >= relevance_threshold, rel.data, 0).astype(rel.data.dtype)
        rel.eliminate_zeros()
    return rel


def evaluate_recommendations(recommended, relevant, k: int = 10, *, beyond_accuracy: bool = True,
                             n_items: int | None = None, item_genres=None, item_popularity=None,
                             n_users: int | None = None, group_mask=None, item_embeddings=None
                             ) -> dict[str, float]:
    """Every metric of precomputed lists (the part of :func:`evaluate_model` after scoring).

    Parameters
    ----------
    recommended : int array (n_users, k), -1 padded
    relevant : CSR (n_users, n_items) of held-out items, rows aligned with ``recommended``
    beyond_accuracy : bool
        Add "coverage", and when their inputs are given "diversity_genre" (``item_genres``),
        "diversity_embedding" (``item_embeddings``), "novelty" and "popularity_percentile"
        (``item_popularity`` and ``n_users``, the size of the population it was counted over),
        "group_exposure" and "group_exposure_discounted" (``group_mask``).
    n_items : int, optional
        Catalogue size for coverage; defaults to ``relevant.shape[1]``.
    """
    rel = _as_csr(relevant)
    out = ranking_metrics(recommended, rel, k)
    if not beyond_accuracy:
        return out
    rec = _lists(recommended, k, rel.shape[1])
    out["coverage"] = catalogue_coverage(rec, n_items or rel.shape[1])
    if item_genres is not None and np.asarray(item_genres).size:
        out["diversity_genre"] = intra_list_diversity(rec, item_genres, "jaccard")
    if item_embeddings is not None:
        out["diversity_embedding"] = intra_list_diversity(rec, item_embeddings, "cosine")
    if item_popularity is not None:
        out["novelty"] = novelty(rec, item_popularity, n_users or rel.shape[0])
        out["popularity_percentile"] = popularity_percentile(rec, item_popularity)
    if group_mask is not None:
        out["group_exposure"] = group_exposure(rec, group_mask)
        out["group_exposure_discounted"] = group_exposure(rec, group_mask, position_discount=True)
    return out


def sample_users(test, n: int, seed: int = EVALUATION_SAMPLE_SEED) -> np.ndarray:
    """Up to ``n`` users with test items (int64, sorted): all of them when there are at most
    ``n``, else ``n`` drawn without replacement by a generator seeded with ``seed`` (the same
    users for the same test matrix and seed)."""
    check_param("n", n, low=1, integer=True)
    users = np.flatnonzero(np.diff(_as_csr(test).indptr))
    if len(users) <= n:
        return users
    return np.sort(np.random.default_rng(seed).choice(users, n, replace=False))


def evaluate_sample(model, test, k: int = 10, *, max_users: int = EVALUATION_SAMPLE_USERS,
                    seed: int = EVALUATION_SAMPLE_SEED, **kwargs) -> dict[str, float]:
    """:func:`evaluate_model` on every test user, or on a fixed seeded sample of ``max_users``
    of them when there are more (see :func:`sample_users`).

    The metrics also say what they average over: ``"evaluated_users"`` (users scored) and
    ``"test_users"`` (users with test items); equal when nothing was left out. Other keyword
    arguments (``progress``, ``beyond_accuracy``, ...) go to :func:`evaluate_model`.
    """
    values = _as_csr(test)
    users = sample_users(values, max_users, seed)
    out = evaluate_model(model, test, k, users=users, **kwargs)
    out[EVALUATED_USERS] = int(len(users))
    out[TEST_USERS] = int(np.count_nonzero(np.diff(values.indptr)))
    return out


def evaluation_note(metrics: dict, short: bool = False) -> str:
    """Whom a run's metrics average over, from its metrics: "all 943 test users", or "a fixed
    sample of 10,000 of the 129,410 test users (seed 0)" ("10,000 of 129,410 users" when
    ``short``); empty for runs saved before the metrics said it."""
    evaluated, total = metrics.get(EVALUATED_USERS), metrics.get(TEST_USERS)
    if evaluated is None or total is None:
        return ""
    if short:
        return f"{int(evaluated):,} of {int(total):,} users"
    if evaluated >= total:
        return f"all {int(total):,} test users"
    return (f"a fixed sample of {int(evaluated):,} of the {int(total):,} test users "
            f"(seed {EVALUATION_SAMPLE_SEED})")


def recommend_lists(model, users, k: int, *, batch_size: int | None = None,
                    progress=None) -> np.ndarray:
    """Top-k lists of a fitted model for ``users`` with their training items excluded, scored in
    blocks (see :func:`evaluate_model` for ``batch_size`` and ``progress``).

    Returns
    -------
    ndarray of int64, shape (len(users), k): item indices, best first, -1 padded.
    """
    users = np.asarray(users, dtype=np.int64)
    if batch_size is None:
        batch_size = max(64, min(2048, _SCORE_BLOCK_FLOATS // max(model.n_items_, 1)))
    blocks = []
    for start in range(0, len(users), batch_size):
        block, _ = model.recommend(users[start:start + batch_size], k, exclude_seen=True,
                                   batch_size=batch_size)
        blocks.append(block)
        if progress is not None:
            progress(min(start + batch_size, len(users)) / len(users))
    return np.vstack(blocks) if blocks else np.zeros((0, k), np.int64)


def evaluate_model(model, test, k: int = 10, *, users=None, beyond_accuracy: bool = True,
                   item_genres=None, item_popularity=None, group_mask=None, item_embeddings=None,
                   relevance_threshold: float | None = None, progress=None,
                   batch_size: int | None = None) -> dict[str, float]:
    """Evaluate a fitted recommender on held-out interactions in its index space.

    Top-k lists cover the full catalogue with each user's training items excluded
    (``model.recommend(users, k, exclude_seen=True)``).

    Parameters
    ----------
    model : Recommender, fitted
    test : Dataset or CSR of shape (model.n_users_, model.n_items_)
        Held-out interactions (e.g. ``split.test``).
    k : int
    users : array of user indices, optional
        Defaults to every user with at least one test item.
    beyond_accuracy : bool
        Also compute coverage, diversity, novelty, popularity percentile and group exposure.
        Genres default to ``test.item_genres`` when ``test`` is a Dataset, embeddings to
        ``model.item_embeddings_``, popularity to the model's training interactions per item.
    item_genres, item_popularity, group_mask, item_embeddings : arrays over items, optional
        See :func:`evaluate_recommendations`.
    relevance_threshold : float, optional
        Only test entries rated at least this count as relevant for the top-k metrics (e.g. 4 on
        a 1-5 scale); by default every held-out entry is relevant.
    progress : callable(fraction), optional
        Called with the share of users whose lists are computed, after each block of
        ``batch_size`` users (the lists are most of the cost).
    batch_size : int, optional
        Users scored at once. Defaults to blocks whose score matrix holds about 16M floats
        (64 MB; 284 users against ml-25m's 59k items, at most 2048): blocks of 2048 users
        (484 MB of scores) were 3-6x slower there and raised the peak memory.

    Returns
    -------
    dict of str -> float: "precision@k", "recall@k", "ndcg@k", "map@k", "hit_rate@k", plus "rmse"
    and "mae" over the test entries of ``users`` when ``model.predicts_ratings``, plus the
    beyond-accuracy keys.
    """
    values = _as_csr(test)
    expected = (model.n_users_, model.n_items_)
    if values.shape != expected:
        raise DataError(f"the test data has shape {values.shape} but the model was trained on "
                        f"{expected[0]} users x {expected[1]} items; split the same dataset")
    if users is None:
        users = np.flatnonzero(np.diff(values.indptr) > 0)
    users = np.asarray(users, dtype=np.int64)
    recommended = recommend_lists(model, users, k, batch_size=batch_size, progress=progress)
    test_rows = values[users]
    relevant = _relevance_matrix(test_rows, relevance_threshold)
    if item_genres is None and isinstance(test, Dataset):
        item_genres = test.item_genres
    if item_embeddings is None:
        item_embeddings = getattr(model, "item_embeddings_", None)
    seen = getattr(model, "seen_", None)
    if item_popularity is None and seen is not None:
        item_popularity = np.bincount(seen.indices, minlength=model.n_items_)
    out = evaluate_recommendations(
        recommended, relevant, k, beyond_accuracy=beyond_accuracy, n_items=model.n_items_,
        item_genres=item_genres, item_popularity=item_popularity, n_users=model.n_users_,
        group_mask=group_mask, item_embeddings=item_embeddings)
    if model.predicts_ratings:
        rated = test_rows.tocoo()
        predicted = model.predict(users[rated.row], rated.col)
        out["rmse"] = rmse(rated.data, predicted)
        out["mae"] = mae(rated.data, predicted)
    return out


@dataclass(frozen=True)
class Validation:
    """Held-out interactions a model is scored on after every epoch of ``fit``.

    Pass it as ``model.fit(train, validation=Validation(split.test))``: each epoch's top-k
    metrics (and RMSE/MAE for rating predictors; :func:`evaluate_model` without the
    beyond-accuracy ones) go to ``model.history_`` with a ``val_`` prefix and to the progress
    callback. Costs one :func:`evaluate_model` per epoch.

    Attributes
    ----------
    data : Dataset or CSR of shape (n_users, n_items)
        Held-out interactions in the training matrix's index space.
    k : int
        List length of the metrics.
    """

    data: object
    k: int = 10

    def __call__(self, model) -> dict[str, float]:
        return evaluate_model(model, self.data, k=self.k, beyond_accuracy=False)
