"""Diagnostics of learned embeddings: the course's lessons as numbers.

* :func:`compare_measures`: how the similarity measures disagree for one query (dot vs cosine);
* :func:`rated_item_contributions`: which rated items pull a folded-in user towards an item
  (:func:`model_item_contributions`: the same by the model's own item-item source);
* :func:`folding_diagnostic`: how much a model mixes up unrelated groups of items (*folding*);
* :func:`embeddings_collapsed`: whether regularization shrank every embedding to ~0.

The dashboard's pages draw these numbers; they are plain functions of embeddings (or of a fitted
model) so they can be tested on the course's hand-made examples.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import scipy.sparse as sp
from scipy.stats import spearmanr

from ..data.dataset import Dataset, as_interaction_matrix
from ..errors import HyperparameterError
from ..retrieval.similarity import MEASURES, similarity_scores
from ..retrieval.topk import top_k
from ..validation import check_param


@dataclass(frozen=True)
class MeasureComparison:
    """Top-k lists of one query under several measures, and how much they agree.

    Attributes
    ----------
    measures : tuple of str
    top_items : dict measure -> ndarray of int64, shape (k,), best first (-1 padding)
    top_scores : dict measure -> ndarray of float32, shape (k,)
    overlap : dict (measure_a, measure_b) -> float
        Share of the k slots the two lists have in common, |A ∩ B| / k, in [0, 1].
    rank_correlation : dict (measure_a, measure_b) -> float
        Spearman correlation of the two measures' scores over every allowed item.
    only_in : dict measure -> ndarray of int64
        Items in this measure's top-k and in no other measure's top-k.
    """

    measures: tuple[str, ...]
    top_items: dict
    top_scores: dict
    overlap: dict
    rank_correlation: dict
    only_in: dict


def compare_measures(query: np.ndarray, item_embeddings: np.ndarray, k: int = 10, *,
                     measures=MEASURES, alpha: float = 0.5, exclude=None) -> MeasureComparison:
    """Rank every item for one query embedding under each measure and compare the lists.

    Parameters
    ----------
    query : ndarray, shape (d,)
    item_embeddings : ndarray, shape (n_items, d)
    k : int
    measures : sequence of names from :data:`recsys_core.retrieval.similarity.MEASURES`
    alpha : float in [0, 1], exponent of the tempered measure
    exclude : bool ndarray of shape (n_items,) or array of item indices, optional
        Items never listed (the query item itself, a user's seen items).
    """
    check_param("k", k, low=1, integer=True)
    measures = tuple(measures)
    for m in measures:
        check_param("measure", m, choices=MEASURES)
    n_items = item_embeddings.shape[0]
    mask = np.zeros(n_items, dtype=bool)
    if exclude is not None:
        exclude = np.asarray(exclude)
        if exclude.dtype == bool:
            mask |= exclude
        else:
            mask[exclude.astype(np.int64)] = True
    scores = {m: similarity_scores(query, item_embeddings, m, alpha)[0] for m in measures}
    top_items, top_scores = {}, {}
    for m in measures:
        idx, val = top_k(scores[m], k, mask[None, :])
        top_items[m], top_scores[m] = idx[0], val[0]
    allowed = ~mask
    overlap, corr = {}, {}
    for a, b in combinations(measures, 2):
        sa = set(top_items[a][top_items[a] >= 0].tolist())
        sb = set(top_items[b][top_items[b] >= 0].tolist())
        overlap[(a, b)] = len(sa & sb) / k
        xa, xb = scores[a][allowed], scores[b][allowed]
        corr[(a, b)] = (float(spearmanr(xa, xb).statistic)
                        if len(xa) > 2 and np.ptp(xa) > 0 and np.ptp(xb) > 0 else float("nan"))
    only_in = {}
    for m in measures:
        others = set()
        for o in measures:
            if o != m:
                others |= set(top_items[o].tolist())
        only_in[m] = np.array([i for i in top_items[m].tolist() if i >= 0 and i not in others],
                              dtype=np.int64)
    return MeasureComparison(measures, top_items, top_scores, overlap, corr, only_in)


def rated_item_contributions(item_embeddings: np.ndarray, items, rated_items, ratings=None,
                             top: int = 3, *, rating_center: float | None = None
                             ) -> tuple[np.ndarray, np.ndarray]:
    """Which of a user's rated items most support each recommended item ("because you rated").

    The support of rated item j for item i is cos(v_i, v_j) times the rating's weight (the
    rating minus ``rating_center`` for explicit data, so a disliked item argues against; 1 for
    implicit data). Item-based explanations like this stay readable whatever model produced the
    embeddings.

    Parameters
    ----------
    item_embeddings : ndarray, shape (n_items, d)
    items : array of item indices, shape (n,)
    rated_items : array of item indices, shape (m,)
    ratings : array of float, shape (m,), optional
    top : int

    Returns
    -------
    contributors : ndarray of int64, shape (n, min(top, m)): rated item indices, strongest first
    support : ndarray of float32, same shape
    """
    items = np.asarray(items, dtype=np.int64)
    rated_items = np.asarray(rated_items, dtype=np.int64)
    if len(rated_items) == 0 or len(items) == 0:
        return np.zeros((len(items), 0), np.int64), np.zeros((len(items), 0), np.float32)
    support = similarity_scores(item_embeddings[items], item_embeddings[rated_items], "cosine")
    return _strongest(support, rated_items, ratings, top, rating_center)


def model_item_contributions(model, items, rated_items, ratings=None, top: int = 3, *,
                             rating_center: float | None = None
                             ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rated_item_contributions` by the model's own item-item source: the support of
    rated item j for item i is ``model.related_item_scores`` of j for i (the cosine of the
    embeddings, EASE's weights, item-kNN's similarities: see ``related_items_source``), times
    the rating's weight. A model that names no related items (popularity) gives no
    contributors: shapes (n, 0).

    Parameters
    ----------
    model : fitted Recommender
    items, rated_items, ratings, top, rating_center : as in :func:`rated_item_contributions`
    """
    items = np.asarray(items, dtype=np.int64)
    rated_items = np.asarray(rated_items, dtype=np.int64)
    if len(rated_items) == 0 or len(items) == 0 or model.related_items_source is None:
        return np.zeros((len(items), 0), np.int64), np.zeros((len(items), 0), np.float32)
    support = model.related_item_scores(rated_items, items).T
    return _strongest(support, rated_items, ratings, top, rating_center)


def _strongest(support: np.ndarray, rated_items: np.ndarray, ratings, top: int,
               rating_center: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` rated items of largest weighted support (n_items x n_rated) per row."""
    weights = np.ones(len(rated_items), np.float32)
    if ratings is not None and rating_center is not None:
        weights = np.asarray(ratings, dtype=np.float32) - np.float32(rating_center)
    idx, val = top_k(support * weights[None, :], min(top, len(rated_items)))
    return rated_items[idx], val


def folding_diagnostic(model, dataset: Dataset | sp.spmatrix, groups,
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


#: Largest score a model's embeddings can give (largest user norm x largest item norm) below
#: which they count as collapsed. Healthy runs give scores of 0.01 and more; WALS on ml-100k
#: under the observed regularization type (lambda scaled by n^0.5) gives 1e-4 at lambda 14,
#: 1e-18 at 20 and 1e-25 at 50, where its ranking is numerical noise.
COLLAPSED_SCORE = 1e-6


def embeddings_collapsed(model) -> bool:
    """Whether every user or every item embedding of ``model`` is ~0 (too strong a
    regularization): the largest score they can give is below :data:`COLLAPSED_SCORE`. False for
    a model without embeddings (``has_embeddings``)."""
    if not model.has_embeddings:
        return False
    items = np.asarray(model.item_embeddings_, dtype=np.float64)
    users = np.asarray(model.user_embeddings_, dtype=np.float64)
    if not items.size or not users.size:
        return False
    largest = np.sqrt((items ** 2).sum(axis=1).max() * (users ** 2).sum(axis=1).max())
    return bool(largest < COLLAPSED_SCORE)
