"""Scoring: a classifier that ranks a candidate pool by the probability of a positive outcome.

The course's second serving stage. Generators' raw scores are not comparable with each other (a
dot product, a count, a cosine), and none of them knows about the item's age or the user's genre
taste; a separate model trained on held-out outcomes combines them. Features per (user,
candidate) pair, see :func:`candidate_features`:

- for every generator: its score, that score standardized within the user's pool, and the
  reciprocal of its nomination rank (0 when it did not nominate the item);
- item: log(1 + number of ratings), age in years, mean training rating (explicit data);
- genre affinity: cosine between the user's genre profile (genre counts of the training items)
  and the item's genres;
- user: log(1 + number of ratings), mean rating, and from the user table when present, age and
  gender.

Labels come from a held-out set: with objective "rating>=4" a candidate is positive when the user
rated it 4 or more in the held-out set, with "interaction" when the user interacted with it at all.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..data.dataset import Dataset
from ..errors import HyperparameterError, NotFittedError
from ..threads import limit_threads
from ..validation import check_param
from .candidates import CandidatePool, generate_candidates

OBJECTIVES = ("rating>=4", "interaction")
CLASSIFIERS = ("auto", "gbdt", "logistic")


class _ItemUserStats:
    """Per-item and per-user arrays the features need, computed once per training dataset."""

    def __init__(self, dataset: Dataset):
        r = dataset.ratings
        self.log_popularity = np.log1p(dataset.item_popularity).astype(np.float32)
        years = dataset.items["year"].to_numpy(dtype=np.float64)
        newest = np.nanmax(years) if np.isfinite(years).any() else 0.0
        age = newest - years
        self.item_age = np.where(np.isnan(age), np.nanmedian(age) if np.isfinite(age).any()
                                 else 0.0, age).astype(np.float32)
        counts = np.maximum(dataset.item_popularity, 1)
        item_sum = np.bincount(r.indices, weights=r.data, minlength=dataset.n_items)
        global_mean = float(r.data.mean()) if r.nnz else 0.0
        # Shrunk towards the global mean so items with 1 rating are not "perfect".
        self.item_mean = ((item_sum + 5 * global_mean) / (counts + 5)).astype(np.float32)
        genres = dataset.item_genres.astype(np.float32)
        norms = np.linalg.norm(genres, axis=1, keepdims=True)
        self.item_genre_unit = np.divide(genres, norms, out=np.zeros_like(genres), where=norms > 0)
        profile = np.asarray(sp.csr_matrix(dataset.implicit) @ genres)
        norms = np.linalg.norm(profile, axis=1, keepdims=True)
        self.user_genre_unit = np.divide(profile, norms, out=np.zeros_like(profile),
                                         where=norms > 0)
        activity = dataset.user_activity
        self.user_log_activity = np.log1p(activity).astype(np.float32)
        user_sum = np.add.reduceat(r.data, r.indptr[:-1]) if r.nnz else np.zeros(dataset.n_users)
        user_sum = np.where(activity > 0, user_sum, 0.0)
        self.user_mean = np.where(activity > 0, user_sum / np.maximum(activity, 1),
                                  global_mean).astype(np.float32)
        self.user_side = np.zeros((dataset.n_users, 0), np.float32)
        self.user_side_names: list[str] = []
        users = dataset.users
        if users is not None:
            cols, names = [], []
            if "age" in users.columns:
                age = users["age"].to_numpy(dtype=np.float64)
                cols.append(np.where(np.isnan(age), np.nanmedian(age), age))
                names.append("user_age")
            if "gender" in users.columns:
                cols.append((users["gender"].astype(str).str.upper() == "M").to_numpy(float))
                names.append("user_is_male")
            if cols:
                self.user_side = np.column_stack(cols).astype(np.float32)
                self.user_side_names = names


def candidate_features(pool: CandidatePool, stats: _ItemUserStats) -> tuple[np.ndarray, list[str]]:
    """Feature matrix of a pool: float32 (len(pool), n_features) and the feature names."""
    items, user = pool.items, pool.user
    with np.errstate(divide="ignore"):
        reciprocal = np.where(pool.ranks > 0, 1.0 / np.maximum(pool.ranks, 1), 0.0)
    n = len(items)
    # Raw scores are on per-user scales (a dot product grows with the user's norm): standardize
    # them within the pool too.
    spread = pool.scores.std(axis=0) if n else np.ones(pool.scores.shape[1])
    z = (pool.scores - (pool.scores.mean(axis=0) if n else 0.0)) / np.where(spread > 0, spread, 1.0)
    columns = [pool.scores, z, reciprocal,
               stats.log_popularity[items, None], stats.item_age[items, None],
               stats.item_mean[items, None],
               (stats.item_genre_unit[items] @ stats.user_genre_unit[user])[:, None],
               np.full((n, 1), stats.user_log_activity[user]),
               np.full((n, 1), stats.user_mean[user]),
               np.broadcast_to(stats.user_side[user], (n, stats.user_side.shape[1]))]
    names = ([f"score_{g}" for g in pool.generators] + [f"score_z_{g}" for g in pool.generators]
             + [f"reciprocal_rank_{g}" for g in pool.generators]
             + ["item_log_popularity", "item_age_years", "item_mean_rating", "genre_affinity",
                "user_log_activity", "user_mean_rating"] + stats.user_side_names)
    return np.hstack(columns).astype(np.float32), names


def pool_labels(pool: CandidatePool, heldout: Dataset, objective: str = "rating>=4") -> np.ndarray:
    """1 for pool items the user's held-out entries make positive under ``objective``, else 0."""
    check_param("objective", objective, choices=OBJECTIVES)
    items, ratings = _row(heldout.ratings, pool.user)
    if objective == "rating>=4" and heldout.is_explicit:
        items = items[ratings >= 4]
    return np.isin(pool.items, items).astype(np.int8)


def _row(matrix: sp.csr_matrix, user: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = matrix.indptr[user], matrix.indptr[user + 1]
    return matrix.indices[lo:hi], matrix.data[lo:hi]


def build_examples(generators, train: Dataset, heldout: Dataset, users, n_per_generator: int = 100,
                   objective: str = "rating>=4", stats: _ItemUserStats | None = None):
    """Pools, features and labels for users: (pools, X (n_rows, f), y (n_rows,), row_user (n_rows,),
    feature names). Candidates exclude each user's training items."""
    stats = stats or _ItemUserStats(train)
    pools, xs, ys = [], [], []
    names: list[str] = []
    for user in np.asarray(users, dtype=np.int64):
        pool = generate_candidates(int(user), generators, n_per_generator,
                                   exclude=train.user_items(int(user)))
        x, names = candidate_features(pool, stats)
        pools.append(pool)
        xs.append(x)
        ys.append(pool_labels(pool, heldout, objective))
    row_user = np.concatenate([np.full(len(p), p.user) for p in pools]) if pools else np.zeros(0)
    return pools, np.vstack(xs), np.concatenate(ys), row_user, names


def _make_classifier(kind: str, random_state: int, n_rounds: int = 200):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "gbdt":
        return HistGradientBoostingClassifier(max_iter=n_rounds, learning_rate=0.08, max_leaf_nodes=31,
                                              min_samples_leaf=40, l2_regularization=1.0,
                                              random_state=random_state)
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))


class CandidateScorer:
    """Predicts P(positive | user, candidate) from :func:`candidate_features`.

    Parameters
    ----------
    classifier : {"auto", "gbdt", "logistic"}
        "gbdt" is scikit-learn's HistGradientBoostingClassifier, "logistic" a standardized
        LogisticRegression; "auto" fits both and keeps the one with the higher AUC on the
        validation users.
    objective : {"rating>=4", "interaction"}
    n_per_generator : int
        Candidates each generator nominates per user.
    validation_fraction : float in (0, 1)
        Share of the training users held out to choose the classifier.
    random_state : int
    n_rounds : int
        Boosting rounds of the gradient-boosting classifier.
    n_threads : int
        OpenMP/BLAS threads for fitting and predicting. 1 by default: gradient boosting with
        more threads than free cores slows down by an order of magnitude (measured 8.8 s with 1
        thread vs 98 s with 2 on a busy 2-core machine), and the app scores one small pool.

    Attributes
    ----------
    estimator_ : fitted scikit-learn classifier
    classifier_ : str, the kind kept ("gbdt" or "logistic")
    validation_auc_ : dict of str -> float, validation AUC of each classifier fitted
    feature_names_ : list of str
    generators_ : tuple of str, generator names the features expect, in order
    """

    def __init__(self, classifier: str = "auto", objective: str = "rating>=4",
                 n_per_generator: int = 100, validation_fraction: float = 0.25,
                 random_state: int = 0, n_rounds: int = 200, n_threads: int = 1):
        self.classifier = classifier
        self.objective = objective
        self.n_per_generator = n_per_generator
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.n_rounds = n_rounds
        self.n_threads = n_threads

    def fit(self, generators, train: Dataset, heldout: Dataset, users=None) -> "CandidateScorer":
        """Learn from the pools of ``users`` (default: every user with held-out entries).

        ``generators`` must be fitted on ``train``; ``heldout`` holds later or held-out entries
        of the same users and items (e.g. ``split.test``).
        """
        from sklearn.metrics import roc_auc_score

        check_param("n_threads", self.n_threads, low=1, integer=True)
        check_param("n_rounds", self.n_rounds, low=1, integer=True)
        with limit_threads(self.n_threads, user_api=None):
            return self._fit(generators, train, heldout, users, roc_auc_score)

    def _fit(self, generators, train, heldout, users, roc_auc_score) -> "CandidateScorer":
        check_param("classifier", self.classifier, choices=CLASSIFIERS)
        check_param("objective", self.objective, choices=OBJECTIVES)
        check_param("n_per_generator", self.n_per_generator, low=1, integer=True)
        check_param("validation_fraction", self.validation_fraction, low=0, low_open=True,
                    high=0.9)
        if users is None:
            users = np.flatnonzero(heldout.user_activity > 0)
        users = np.asarray(users, dtype=np.int64)
        self.stats_ = _ItemUserStats(train)
        _, x, y, row_user, names = build_examples(generators, train, heldout, users,
                                                  self.n_per_generator, self.objective,
                                                  self.stats_)
        if y.min(initial=1) == y.max(initial=0):
            raise HyperparameterError("the training pools hold only one class; use more users or "
                                      "a larger pool")
        self.feature_names_ = names
        self.generators_ = tuple(g.name for g in generators)
        kinds = ["gbdt", "logistic"] if self.classifier == "auto" else [self.classifier]
        self.validation_auc_ = {}
        if len(kinds) > 1:
            rng = np.random.default_rng(self.random_state)
            shuffled = rng.permutation(users)
            val_users = shuffled[:max(1, int(len(users) * self.validation_fraction))]
            val = np.isin(row_user, val_users)
            for kind in kinds:
                model = _make_classifier(kind, self.random_state, self.n_rounds)
                model.fit(x[~val], y[~val])
                both_classes = 0 < y[val].sum() < val.sum()
                self.validation_auc_[kind] = (
                    float(roc_auc_score(y[val], model.predict_proba(x[val])[:, 1]))
                    if both_classes else float("nan"))
            kinds = [max(kinds, key=lambda k: np.nan_to_num(self.validation_auc_[k], nan=-1))]
        self.classifier_ = kinds[0]
        self.estimator_ = _make_classifier(self.classifier_, self.random_state, self.n_rounds)
        self.estimator_.fit(x, y)
        return self

    def predict_proba(self, pool: CandidatePool) -> np.ndarray:
        """P(positive) of every pool item, float64 of shape (len(pool),)."""
        if not hasattr(self, "estimator_"):
            raise NotFittedError("this CandidateScorer is not fitted yet; call fit first")
        if tuple(pool.generators) != self.generators_:
            raise HyperparameterError(f"the scorer was trained with generators {self.generators_}, "
                                      f"the pool has {tuple(pool.generators)}")
        if len(pool) == 0:
            return np.zeros(0)
        x, _ = candidate_features(pool, self.stats_)
        with limit_threads(self.n_threads, user_api=None):
            return self.estimator_.predict_proba(x)[:, 1]


def evaluate_scorer(scorer: CandidateScorer, generators, train: Dataset, heldout: Dataset, users,
                    k: int = 10) -> dict[str, dict[str, float]]:
    """AUC and NDCG@k of ranking each user's pool by the scorer and by each generator's raw score.

    Returns
    -------
    dict: ranking name ("scorer", then each generator's name) -> {"auc": ..., f"ndcg@{k}": ...}.
    AUC pools every (user, candidate) row; NDCG averages over users with a positive in their pool.
    """
    from sklearn.metrics import roc_auc_score

    from ..evaluation.metrics import ndcg_at_k

    pools, x, y, _, _ = build_examples(generators, train, heldout, users, scorer.n_per_generator,
                                       scorer.objective, scorer.stats_)
    with limit_threads(scorer.n_threads, user_api=None):
        rankers = {"scorer": scorer.estimator_.predict_proba(x)[:, 1]}
    for j, g in enumerate(scorer.generators_):
        rankers[g] = x[:, j]
    bounds = np.cumsum([0] + [len(p) for p in pools])
    n_items = heldout.n_items
    rel_rows, rel_cols = [], []
    for row, pool in enumerate(pools):
        labels = y[bounds[row]:bounds[row + 1]]
        rel_cols.append(pool.items[labels > 0])
        rel_rows.append(np.full(int(labels.sum()), row))
    relevant = sp.csr_matrix((np.ones(sum(len(c) for c in rel_cols)),
                              (np.concatenate(rel_rows), np.concatenate(rel_cols))),
                             shape=(len(pools), n_items))
    out = {}
    for name, score in rankers.items():
        lists = np.full((len(pools), k), -1, np.int64)
        for row, pool in enumerate(pools):
            s = score[bounds[row]:bounds[row + 1]]
            order = np.lexsort((np.arange(len(s)), -s))[:k]
            lists[row, :len(order)] = pool.items[order]
        out[name] = {"auc": float(roc_auc_score(y, score)),
                     f"ndcg@{k}": float(ndcg_at_k(lists, relevant, k))}
    return out
