"""Content-based filtering: items and users embedded in the space of item features.

Following the course: every item is a vector of hand-made features (its genres and the bucket of
its release year), a user is the weighted average of the items they rated (liked items pull the
profile towards their features, disliked items push it away), and a user's score for an item is
the similarity of the two vectors under the chosen measure. Nothing is learned from other users,
so a brand-new item is recommendable as soon as its features are known, and explicit preferences
("I like comedies") give a profile without any history.

Item features
-------------
``weighting="binary"`` uses 0/1 features. ``weighting="tfidf"`` multiplies each feature by its
smoothed inverse document frequency ``idf_f = ln((1 + n_items) / (1 + df_f)) + 1`` (``df_f`` =
items having feature f) and scales every item vector to unit length, so a genre that nearly every
item has (e.g. "Drama") counts less than a rare one (e.g. "Film-Noir"). The year block is scaled
by ``year_weight`` before either step so genres dominate unless asked otherwise.

User profiles
-------------
``profile_u = sum_j w_uj x_j / sum_j |w_uj|`` over the user's items. For explicit ratings with
``center_ratings=True``, ``w_uj = r_uj - mean_u`` so items below the user's own average count
against their features; a user whose ratings are all equal has no signal relative to their own
mean, so their ratings are centred on the global mean instead. For implicit data (or
``center_ratings=False``) every item weighs 1.

Defaults: 0/1 features scored by the dot product, chosen by the defaults protocol on MovieLens
(docs/defaults-protocol.md, "Content-based"; TF-IDF and cosine before).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..data.dataset import Dataset, as_interaction_matrix
from ..errors import DataError, HyperparameterError
from ..retrieval.similarity import MEASURES, similarity_scores
from ..validation import Param
from .base import FLOAT32, FLOAT64, INT64, Recommender
from .features import year_bucket_starts

FEATURE_SETS = ("genres", "year", "genres+year")
WEIGHTINGS = ("binary", "tfidf")
#: Feature columns assumed by the memory estimate before the features are known.
FEATURE_ALLOWANCE = 64


class ContentBased(Recommender):
    """Recommend items whose features resemble those of the items a user liked.


    Attributes
    ----------
    item_embeddings_ : ndarray of float32, shape (n_items, n_features)
        Item feature vectors (weighted as configured).
    user_embeddings_ : ndarray of float32, shape (n_users, n_features)
        User profiles in the same space.
    feature_names_ : list of str
        Name of each feature column ("genre:Comedy", "year:1990", or "feature:<i>" for
        user-supplied features).
    feature_weights_ : ndarray of float32, shape (n_features,)
        Per-feature multiplier applied to the raw features (idf times the year weight).
    explicit_ : bool
        Whether the training data had ratings (profiles are then centred).
    rating_mean_ : float
        Mean training rating (1.0 for implicit data), used for users without spread.
    """

    kind = "content"
    related_items_source = "the cosine of the items' content features"
    param_spec = {
        "features": Param("choice", "Which item features embed the items (from the Dataset's "
                          "genres and years).", choices=FEATURE_SETS),
        "weighting": Param("choice", "0/1 features, or TF-IDF-weighted unit-length item vectors "
                           "(see module docstring).", choices=WEIGHTINGS),
        "year_bucket": Param("int", 'Width in years of the release-year buckets ("1990s" for '
                             "10).", low=1, tune=(1, 20)),
        "year_weight": Param("float", "Scale of the one-hot year-bucket block relative to the "
                             "genre block.", low=0.0, tune=(0.0, 2.0)),
        "center_ratings": Param("bool", "For explicit ratings, weigh each item by the rating "
                                "minus the user's mean rating."),
        "measure": Param("choice", "Similarity between a user profile and an item vector used "
                         "by score and recommend.", choices=MEASURES),
        "alpha": Param("float", 'Exponent of the "tempered" measure.', low=0.0, high=1.0),
    }

    def __init__(self, features: str = "genres+year", weighting: str = "binary",
                 year_bucket: int = 10, year_weight: float = 0.5, center_ratings: bool = True,
                 measure: str = "dot", alpha: float = 0.5):
        self.features = features
        self.weighting = weighting
        self.year_bucket = year_bucket
        self.year_weight = year_weight
        self.center_ratings = center_ratings
        self.measure = measure
        self.alpha = alpha

    # ------------------------------------------------------------------ fitting
    def estimate_fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """Peak bytes of a fit (see :meth:`Recommender.estimate_fit_bytes`): the weighted item
        vectors and their temporaries, the per-entry weights, and the float64 profiles, with
        the number of feature columns once fit knows it (:data:`FEATURE_ALLOWANCE` before)."""
        features = int(getattr(self, "_n_feature_columns", FEATURE_ALLOWANCE))
        n_users, n_items, nnz = int(n_users), int(n_items), int(nnz)
        items = n_items * features * (3 * FLOAT32 + FLOAT64)
        weights = 3 * nnz * (FLOAT64 + INT64) + 3 * n_users * FLOAT64
        profiles = n_users * features * (2 * FLOAT64 + FLOAT32)
        return int(super().estimate_fit_bytes(n_users, n_items, nnz) + items + weights
                   + profiles)

    def _raw_item_features(self, dataset: Dataset) -> tuple[np.ndarray, list[str], list[float]]:
        """(n_items, n_features) raw 0/1 features, their names, and the block scale of each."""
        blocks, names, scale = [], [], []
        if self.features in ("genres", "genres+year") and len(dataset.genre_names):
            blocks.append(dataset.item_genres.astype(np.float32))
            names += [f"genre:{g}" for g in dataset.genre_names]
            scale += [1.0] * len(dataset.genre_names)
        if self.features in ("year", "genres+year"):
            buckets = year_bucket_starts(dataset.items["year"].to_numpy(), int(self.year_bucket))
            known = np.unique(buckets[np.isfinite(buckets)]).astype(np.int64)
            if len(known):
                one_hot = (buckets[:, None] == known[None, :]).astype(np.float32)
                blocks.append(one_hot)
                names += [f"year:{y}" for y in known.tolist()]
                scale += [float(self.year_weight)] * len(known)
        if not blocks:
            raise DataError(f"{dataset.name} has no item {self.features.replace('+', ' or ')} to "
                            "build content features from (load an items table with genres and "
                            "years, or pass item_features=)")
        return np.hstack(blocks), names, scale

    def fit(self, data, *, item_features=None, feature_names=None, validation=None,
            callback=None) -> "ContentBased":
        """Embed items by their features and users by their rated items.

        Parameters
        ----------
        data : Dataset or sparse matrix, shape (n_users, n_items)
            A Dataset supplies genres and years. A bare matrix needs ``item_features``.
        item_features : array or sparse matrix, shape (n_items, n_features), optional
            Non-negative item features to use instead of the Dataset's (e.g. tags); they are
            weighted by ``weighting`` like the built-in ones (``features``/``year_*`` are then
            ignored).
        feature_names : sequence of str, optional
            Names of the columns of ``item_features``.
        validation, callback
            As in :meth:`Recommender.fit` (a single "epoch").
        """
        self.validate_params()
        interactions, dataset = as_interaction_matrix(data)
        if item_features is not None:
            raw = item_features.toarray() if sp.issparse(item_features) else np.asarray(item_features)
            raw = raw.astype(np.float32)
            if raw.ndim != 2:
                raise DataError(f"item_features must be 2-D (n_items, n_features), got shape {raw.shape}")
            if np.any(raw < 0) or not np.all(np.isfinite(raw)):
                raise DataError("item_features must be finite and non-negative")
            names = (list(map(str, feature_names)) if feature_names is not None
                     else [f"feature:{i}" for i in range(raw.shape[1])])
            if len(names) != raw.shape[1]:
                raise DataError(f"{len(names)} feature names for {raw.shape[1]} feature columns")
            scale = [1.0] * raw.shape[1]
        elif dataset is None:
            raise HyperparameterError("ContentBased needs item features: fit it on a Dataset "
                                      "(genres, years) or pass item_features=(n_items, n_features)")
        else:
            raw, names, scale = self._raw_item_features(dataset)
        if raw.shape[0] != interactions.shape[1]:
            raise DataError(f"item_features has {raw.shape[0]} rows for {interactions.shape[1]} items")
        self._n_feature_columns = raw.shape[1]  # for the memory estimate of _start_fit
        matrix = self._start_fit(data)

        weights = np.asarray(scale, dtype=np.float64)
        if self.weighting == "tfidf":
            document_frequency = (raw > 0).sum(axis=0)
            weights = weights * (np.log((1.0 + self.n_items_) / (1.0 + document_frequency)) + 1.0)
        self.feature_names_ = names
        self.feature_weights_ = weights.astype(np.float32)
        self.item_embeddings_ = self._weigh_items(raw)

        self.explicit_ = bool(dataset.is_explicit if dataset is not None
                              else np.any(matrix.data != matrix.data[0]))
        self.rating_mean_ = float(matrix.data.mean()) if self.explicit_ else 1.0
        self.user_embeddings_ = self._profiles(matrix, self.explicit_ and self.center_ratings)
        self._end_epoch(1, 1, {}, validation, callback)
        return self

    def _weigh_items(self, raw: np.ndarray) -> np.ndarray:
        x = raw * self.feature_weights_[None, :]
        if self.weighting == "tfidf":
            norms = np.linalg.norm(x, axis=1, keepdims=True)
            x = x / np.where(norms > 0, norms, 1.0)
        return x.astype(np.float32)

    def _interaction_weights(self, matrix: sp.csr_matrix, centred: bool) -> sp.csr_matrix:
        """Per-entry weights w_uj (same sparsity as ``matrix``), see the module docstring."""
        weights = matrix.astype(np.float64)
        if not centred:
            weights.data = np.ones_like(weights.data)
            return weights
        counts = np.diff(weights.indptr)
        entry_user = np.repeat(np.arange(len(counts)), counts)
        means = np.bincount(entry_user, weights=weights.data, minlength=len(counts))
        means = np.divide(means, counts, out=np.zeros(len(counts)), where=counts > 0)
        deviations = weights.data - means[entry_user]
        # Users without spread (e.g. a single rating) carry no signal against their own mean,
        # so they are centred on the global mean instead.
        spread = np.bincount(entry_user, weights=np.abs(deviations), minlength=len(counts))
        no_spread = (spread <= 1e-9)[entry_user]
        deviations[no_spread] = weights.data[no_spread] - self.rating_mean_
        weights.data = deviations
        return weights

    def _profiles(self, matrix: sp.csr_matrix, centred: bool) -> np.ndarray:
        """Weighted average item vector of each row of ``matrix``; float32 (n_rows, n_features)."""
        weights = self._interaction_weights(matrix, centred)
        total = np.asarray(abs(weights).sum(axis=1)).ravel()
        profiles = np.asarray(weights @ self.item_embeddings_.astype(np.float64))
        profiles /= np.where(total > 0, total, 1.0)[:, None]
        return profiles.astype(np.float32)

    # ------------------------------------------------------------------ scoring
    def score_embeddings(self, user_vectors: np.ndarray, items=None) -> np.ndarray:
        """Similarity (``measure``) of profiles (n, n_features) to items; float32 (n, n_items)."""
        self._check_fitted()
        item_idx = slice(None) if items is None else np.asarray(items, dtype=np.int64)
        return similarity_scores(user_vectors, self.item_embeddings_[item_idx], self.measure,
                                 self.alpha)

    def predict(self, users, items) -> np.ndarray:
        """Score of each (user, item) pair under ``measure``, float32 of shape (n_pairs,)."""
        self._check_fitted()
        users = self._user_index_array(users)
        items = np.asarray(items, dtype=np.int64)
        out = np.empty(len(users), dtype=np.float32)
        for user in np.unique(users):
            rows = np.flatnonzero(users == user)
            out[rows] = self.score_embeddings(self.user_embeddings_[user], items[rows])[0]
        return out

    # ------------------------------------------------------------------ new users
    def fold_in(self, items, ratings=None) -> np.ndarray:
        """Profile (float32, shape (n_features,)) of a new user from (item, rating) pairs.

        Ratings are centred like in training (on the pairs' own mean, or on the training mean
        when they are all equal); without ratings every item weighs 1.
        """
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64).ravel()
        if items.size and (items.min() < 0 or items.max() >= self.n_items_):
            raise IndexError(f"item index out of range for {self.n_items_} items")
        values = (np.ones(len(items), np.float32) if ratings is None
                  else np.asarray(ratings, dtype=np.float32).ravel())
        if len(values) != len(items):
            raise ValueError(f"{len(items)} items but {len(values)} ratings")
        if not len(items):
            return np.zeros(self.item_embeddings_.shape[1], dtype=np.float32)
        # A repeated item keeps its last rating, as in the loaders.
        _, last_reversed = np.unique(items[::-1], return_index=True)
        keep = np.sort(len(items) - 1 - last_reversed)
        row = sp.csr_matrix((values[keep], items[keep], [0, len(keep)]), shape=(1, self.n_items_))
        centred = ratings is not None and self.explicit_ and self.center_ratings
        return self._profiles(row, centred)[0]

    def user_profile_from_preferences(self, genres=(), years=(), weights=None) -> np.ndarray:
        """Profile (float32, shape (n_features,)) of stated tastes, e.g. ``genres=["Comedy"]``.

        Parameters
        ----------
        genres : sequence of str
            Genre names as in the Dataset's ``genre_names``.
        years : sequence of int
            Release years (or bucket starts); each maps to its ``year_bucket`` bucket.
        weights : sequence of float, optional
            Strength of each preference (genres first, then years); negative values express
            dislikes. Defaults to 1 each.

        The profile is the (weighted, normalised) average of the stated features, weighted like
        item vectors, so it can be added to a history profile from :meth:`fold_in` to blend both.
        """
        self._check_fitted()
        keys = [f"genre:{g}" for g in genres]
        keys += [f"year:{int(b)}" for b in year_bucket_starts(np.asarray(list(years), dtype=float),
                                                        int(self.year_bucket))]
        if not keys:
            raise HyperparameterError("state at least one genre or year preference")
        strength = np.ones(len(keys)) if weights is None else np.asarray(weights, dtype=np.float64)
        if strength.shape != (len(keys),):
            raise HyperparameterError(f"{len(strength)} weights for {len(keys)} preferences")
        column = {name: i for i, name in enumerate(self.feature_names_)}
        profile = np.zeros(len(self.feature_names_), dtype=np.float64)
        for key, w in zip(keys, strength):
            if key not in column:
                known = ", ".join(n.split(":", 1)[1] for n in self.feature_names_
                                  if n.split(":", 1)[0] == key.split(":", 1)[0])
                raise HyperparameterError(f"unknown preference {key.split(':', 1)[1]!r}; "
                                          f"known: {known or 'none'}")
            profile[column[key]] += w * self.feature_weights_[column[key]]
        profile /= max(np.abs(strength).sum(), 1e-12)
        return profile.astype(np.float32)
