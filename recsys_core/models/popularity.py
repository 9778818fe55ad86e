"""Popularity baseline: the same list for everyone, ranked by how much items are liked.

The course's reference point for every personalised model: a recommender that beats it has learned
something about individual users. Two variants:

* ``"count"`` ranks items by the number of users who interacted with them.
* ``"mean-rating"`` ranks items by a *damped* (Bayesian) mean rating,

  .. math:: s_j = \\frac{\\sum_u r_{uj} + m\\,\\mu}{n_j + m},

  where :math:`n_j` is the item's number of ratings, :math:`\\mu` the global mean rating and
  :math:`m` the ``damping`` (a prior worth ``m`` ratings at the global mean). Without it an item
  with a single 5-star rating would top the list; with it that item sits near :math:`\\mu` until
  enough ratings confirm it.

To share the :class:`~recsys_core.models.base.Recommender` interface the model is a rank-1
factorisation: items are embedded by their score (d=1) and every user by 1.0, so ``score``,
``recommend``, ``similar_items``, ``fold_in`` and persistence work unchanged.
"""
from __future__ import annotations

import numpy as np

from ..data.dataset import as_interaction_matrix
from ..errors import HyperparameterError
from ..validation import Param
from .base import FLOAT32, FLOAT64, Recommender

VARIANTS = ("count", "mean-rating")


class Popularity(Recommender):
    """Non-personalised baseline ranking items by interaction count or damped mean rating.


    Attributes
    ----------
    item_scores_ : ndarray of float32, shape (n_items,)
        Interactions per item, or damped mean rating (on the rating scale).
    item_embeddings_ : ndarray of float32, shape (n_items, 1)
        ``item_scores_`` as a column.
    user_embeddings_ : ndarray of float32, shape (n_users, 1)
        All ones, so a user's score for an item is the item's score.
    global_rating_mean_ : float or None
        Mean of all training ratings (mean-rating variant).
    rating_scale_ : (float, float) or None
        Rating range of the training data, so ``predict`` clips (mean-rating variant on a
        Dataset with a rating scale).
    """

    kind = "popularity"
    # Its one-column "embeddings" are the item scores: nothing to map, and every pair of items
    # has cosine 1, so it names no related items.
    has_embeddings = False
    related_items_source = None
    param_spec = {
        "variant": Param("choice", '"count": score = number of interactions of the item. '
                         '"mean-rating": score = the damped mean rating of the module docstring '
                         "(explicit ratings only).", choices=VARIANTS),
        "damping": Param("float", "Prior strength m of the damped mean, in ratings (mean-rating "
                         "variant only).", low=0.0, tune=(0.0, 100.0)),
    }

    def __init__(self, variant: str = "count", damping: float = 10.0):
        self.variant = variant
        self.damping = damping

    @property
    def predicts_ratings(self) -> bool:  # the damped mean is a (non-personalised) rating estimate
        return self.variant == "mean-rating"

    def estimate_fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """Peak bytes of a fit (see :meth:`Recommender.estimate_fit_bytes`): per-item counts,
        sums and scores, and the one-column user and item embeddings."""
        return int(super().estimate_fit_bytes(n_users, n_items, nnz)
                   + int(n_items) * (5 * FLOAT64 + 2 * FLOAT32) + int(n_users) * FLOAT32)

    def fit(self, data, *, validation=None, callback=None) -> "Popularity":
        """Count interactions (or average ratings) per item.

        Parameters
        ----------
        data : Dataset or sparse matrix, shape (n_users, n_items)
            Ratings for ``"mean-rating"``; any positive values for ``"count"``.
        validation : callable, optional
            :class:`~recsys_core.evaluation.metrics.Validation` of held-out interactions; its
            metrics go to ``history_``.
        callback : callable, optional
            Receives one :class:`~recsys_core.models.base.TrainingProgress` (this model has a
            single "epoch").
        """
        self.validate_params()
        _, dataset = as_interaction_matrix(data)
        if self.variant == "mean-rating" and dataset is not None and not dataset.is_explicit:
            raise HyperparameterError("the mean-rating popularity needs explicit ratings; "
                                      f"{dataset.name} is implicit (use variant='count')")
        matrix = self._start_fit(data)
        counts = np.bincount(matrix.indices, minlength=self.n_items_).astype(np.float64)
        self.global_rating_mean_ = None
        self.rating_scale_ = None
        if self.variant == "count":
            scores = counts
        else:
            sums = np.bincount(matrix.indices, weights=matrix.data, minlength=self.n_items_)
            mean = float(matrix.data.mean())
            # An item nobody rated gets the prior (the global mean); with damping 0 it would
            # divide by zero, so it gets the global mean explicitly.
            denominator = counts + float(self.damping)
            scores = np.where(denominator > 0,
                              (sums + float(self.damping) * mean) / np.maximum(denominator, 1e-12),
                              mean)
            self.global_rating_mean_ = mean
            if dataset is not None and dataset.rating_scale is not None:
                self.rating_scale_ = [float(dataset.rating_scale[0]), float(dataset.rating_scale[1])]
        self.item_scores_ = scores.astype(np.float32)
        self.item_embeddings_ = self.item_scores_[:, None].copy()
        self.user_embeddings_ = np.ones((self.n_users_, 1), dtype=np.float32)
        self._end_epoch(1, 1, {}, validation, callback)
        return self

    def fold_in(self, items, ratings=None) -> np.ndarray:
        """Every user, known or new, gets the same embedding: ``[1.0]`` (the items are only
        checked to be in range, as every model's fold-in does)."""
        self._check_fitted()
        idx = np.atleast_1d(np.asarray(items, dtype=np.int64))
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_items_):
            bad = idx[(idx < 0) | (idx >= self.n_items_)][0]
            raise IndexError(f"item index {bad} out of range for {self.n_items_} items")
        return np.ones(1, dtype=np.float32)
