"""The serving pipeline for one user (candidates -> scores -> re-rank) and the metric impact of a
re-ranking configuration over many users.

Re-exports :class:`~recsys_core.rerank.RerankConfig`, :func:`~recsys_core.rerank.rerank` and
:class:`~recsys_core.rerank.RerankResult`, the names the app and the command line use.
"""
from __future__ import annotations

import numpy as np

from .candidates import CandidateGenerator, ModelGenerator, generate_candidates
from .dataset import Dataset
from .errors import DataError, HyperparameterError
from .models.base import Recommender, check_param
from .rerank import LONG_TAIL, RerankConfig, RerankResult, group_mask, rerank
from .scoring import CandidateScorer


def recommend_pipeline(user: int, generators, dataset: Dataset, *, k: int = 10,
                       config: RerankConfig | None = None, scorer: CandidateScorer | None = None,
                       n_per_generator: int = 200, item_embeddings: np.ndarray | None = None
                       ) -> RerankResult:
    """Recommend to one user: every generator nominates, the pool is scored, then re-ranked.

    Parameters
    ----------
    user : int
        User index in ``dataset``.
    generators : CandidateGenerator, Recommender, or a sequence of them
        Recommenders are wrapped in :class:`~recsys_core.candidates.ModelGenerator`.
    dataset : Dataset
        The training data (seen items, genres, years, popularity).
    k : int
    config : RerankConfig, optional
    scorer : CandidateScorer, optional
        Ranks the pool by P(positive); without one the first generator's score is the base.
    n_per_generator : int
    item_embeddings : ndarray (n_items, d), optional
        For embedding diversity; defaults to the first generator model's item embeddings.

    Returns
    -------
    RerankResult whose table also has ``nominated_by`` (generators that proposed the item) and
    whose ``pool`` is the CandidatePool.
    """
    config = config or RerankConfig()
    generators = _as_generators(generators)
    if not 0 <= int(user) < dataset.n_users:
        raise IndexError(f"user index {user} out of range for {dataset.n_users} users")
    exclude = dataset.user_items(int(user)) if config.hide_seen else None
    pool = generate_candidates(int(user), generators, n_per_generator, exclude=exclude)
    base = scorer.predict_proba(pool) if scorer is not None else pool.scores[:, 0]
    if item_embeddings is None and config.diversity_similarity == "embedding":
        item_embeddings = _embeddings_of(generators)
    result = rerank(pool.items, base, config, dataset=dataset, user=int(user), k=k,
                    item_embeddings=item_embeddings)
    nominated = dict(zip(pool.items.tolist(), pool.nominated_by()))
    result.table["nominated_by"] = [nominated[i] for i in result.table["item"].tolist()]
    result.pool = pool
    return result


def _as_generators(generators) -> list[CandidateGenerator]:
    if isinstance(generators, (CandidateGenerator, Recommender)):
        generators = [generators]
    out = [ModelGenerator(g) if isinstance(g, Recommender) else g for g in generators]
    if not out:
        raise HyperparameterError("the pipeline needs at least one candidate generator")
    return out


def _embeddings_of(generators) -> np.ndarray:
    for g in generators:
        model = getattr(g, "model", None)
        if getattr(model, "item_embeddings_", None) is not None:
            return model.item_embeddings_
    raise HyperparameterError("embedding diversity needs item embeddings: no generator has them")


def rerank_lists(config: RerankConfig, model: Recommender, train: Dataset, users, *, k: int = 10,
                 n_candidates: int = 100, item_embeddings: np.ndarray | None = None
                 ) -> tuple[np.ndarray, list[RerankResult]]:
    """Re-ranked top-k lists of many users from a model's top ``n_candidates``.

    Returns
    -------
    lists : ndarray of int64, shape (len(users), k), padded with -1
    results : list of RerankResult, one per user
    """
    users = np.asarray(users, dtype=np.int64)
    check_param("n_candidates", n_candidates, low=1, integer=True)
    if item_embeddings is None:
        item_embeddings = getattr(model, "item_embeddings_", None)
    pools, scores = model.recommend(users, n_candidates, exclude_seen=config.hide_seen)
    lists = np.full((len(users), k), -1, np.int64)
    results = []
    for row, user in enumerate(users):
        valid = pools[row] >= 0
        result = rerank(pools[row][valid], scores[row][valid], config, dataset=train,
                        user=int(user), k=k, item_embeddings=item_embeddings)
        lists[row, :len(result.table)] = result.items
        results.append(result)
    return lists, results


def evaluate_rerank(config: RerankConfig, model: Recommender, split, *, users=None, k: int = 10,
                    n_candidates: int = 100, relevance_threshold: float | None = None,
                    seed: int = 0) -> dict[str, float]:
    """What a re-ranking configuration costs and buys, over test users.

    Parameters
    ----------
    config : RerankConfig
    model : Recommender fitted on ``split.train``
    split : recsys_core.split.Split
    users : int or array of int, optional
        An array of user indices, or a number of test users to sample (with ``seed``); default
        every user with test entries.
    k : int
    n_candidates : int
        The model's top items each user's list is re-ranked from.
    relevance_threshold : float, optional
        Test entries rated at least this count as relevant (default: all).

    Returns
    -------
    dict with "ndcg@k", "recall@k", "precision@k", "map@k", "hit_rate@k", "coverage",
    "diversity_genre", "diversity_embedding" (when the model has embeddings), "novelty",
    "popularity_percentile", "mean_popularity" (mean number of training ratings of the listed
    items), "group_exposure" (share of slots in the fair group, long-tail items when the config
    has none) and "group_target_met" (share of users whose list reached the fairness target,
    1.0 without a target).
    """
    from .metrics import evaluate_recommendations

    train, test = split.train, split.test
    if (model.n_users_, model.n_items_) != train.shape:
        raise DataError(f"the model was trained on {model.n_users_} users x {model.n_items_} items, "
                        f"the split has {train.shape[0]} x {train.shape[1]}")
    candidates = np.flatnonzero(test.user_activity > 0)
    if users is None:
        users = candidates
    elif np.isscalar(users):
        check_param("users", users, low=1, integer=True)
        rng = np.random.default_rng(seed)
        users = np.sort(rng.choice(candidates, min(int(users), len(candidates)), replace=False))
    users = np.asarray(users, dtype=np.int64)
    lists, results = rerank_lists(config, model, train, users, k=k, n_candidates=n_candidates)
    relevant = test.ratings[users]
    if relevance_threshold is not None:
        relevant = relevant.multiply(relevant >= relevance_threshold).tocsr()
        relevant.eliminate_zeros()
    mask = group_mask(train, config.fair_group or LONG_TAIL, config.head_share)
    out = evaluate_recommendations(
        lists, relevant, k, n_items=train.n_items, item_genres=train.item_genres,
        item_popularity=train.item_popularity, n_users=train.n_users, group_mask=mask,
        item_embeddings=getattr(model, "item_embeddings_", None))
    valid = lists >= 0
    out["mean_popularity"] = float(train.item_popularity[lists[valid]].mean()) if valid.any() \
        else float("nan")
    met = [r.group_share >= r.group_target - 1e-9 for r in results
           if r.group_target is not None and len(r.table)]
    out["group_target_met"] = float(np.mean(met)) if met else 1.0
    return out


__all__ = ["RerankConfig", "RerankResult", "evaluate_rerank", "recommend_pipeline", "rerank",
           "rerank_lists"]
