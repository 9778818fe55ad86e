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
    result.columns["nominated_by"] = pool.nominated_by(result.items)
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
        lists[row, :len(result.items)] = result.items
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
        raise DataError(f"the model was trained on {model.n_users_} users x {model.n_items_} "
                        f"items, the split has {train.shape[0]} x {train.shape[1]}")
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
           if r.group_target is not None and len(r.items)]
    out["group_target_met"] = float(np.mean(met)) if met else 1.0
    return out




#: Columns of the score breakdown that ``recommend_for_run(explain=True)`` adds.
EXPLAIN_COLUMNS = ("title", "base_score", "relevance", "freshness", "popularity_penalty",
                   "final_score", "redundancy", "in_group", "original_rank", "moved_by")


def dataset_for_run(run, *, with_ratings: bool = False) -> Dataset:
    """A Dataset in a saved run's index space, for re-ranking its recommendations.

    By default it is built from the run alone: the model's training interactions (as implicit
    1.0 values: they give seen items and popularity), titles, years and genres. With
    ``with_ratings`` the run's source dataset is loaded again and used when its fingerprint
    matches (it holds the rating values the disliked filter needs); otherwise
    :class:`HyperparameterError` says why.
    """
    import pandas as pd

    from .data import load_dataset

    if with_ratings:
        source = run.info.dataset.get("source", "")
        try:
            data = load_dataset(source)
        except (OSError, DataError, ValueError) as exc:
            raise HyperparameterError(
                f"hiding disliked items needs the run's rating values; its dataset could not be "
                f"loaded from {source!r} ({exc})") from None
        if data.fingerprint != run.info.dataset.get("fingerprint"):
            raise HyperparameterError(f"hiding disliked items needs the run's rating values, but "
                                      f"the data at {source!r} changed since the run was trained")
        return data
    seen = run.model.seen_.tocoo()
    table = pd.DataFrame({"title": run.titles, "year": run.item_years})
    return Dataset.from_interactions(
        run.user_ids[seen.row], run.item_ids[seen.col], user_ids=run.user_ids,
        item_ids=run.item_ids, item_table=table, genre_names=run.genre_names,
        item_genres=run.item_genres, name=run.info.dataset.get("name", "run"))


def recommend_for_run(run, users, k: int = 10, *, config: RerankConfig | None = None,
                      measure: str | None = None, alpha: float = 0.5, ann: bool = False,
                      explain: bool = False, n_candidates: int | None = None):
    """Re-ranked recommendations of a saved run (:class:`recsys_core.runs.Run`) in raw ids.

    Parameters
    ----------
    run : Run
    users : array of user indices
    k : int
    config : RerankConfig, optional
    measure, alpha : optional
        Retrieve with this similarity between user and item embeddings instead of the model's
        score.
    ann : bool
        Retrieve candidates with an approximate index (needs ``measure``; dot by default).
    explain : bool
        Add the score-breakdown columns (:data:`EXPLAIN_COLUMNS`).
    n_candidates : int, optional
        Candidates re-ranked per user; default max(100, 5 k).

    Returns
    -------
    DataFrame with user, item, rank, score (the retrieval score: the model's, or the similarity
    under ``measure``), plus the breakdown when asked.
    """
    import pandas as pd

    from .ann import ANNIndex

    config = config or RerankConfig()
    if ann and measure is None:
        measure = "dot"
    data = dataset_for_run(run, with_ratings=config.hide_disliked is not None)
    index = ANNIndex(measure, alpha).fit(run.model.item_embeddings_) if ann else None
    generator = ModelGenerator(run.model, measure=measure, alpha=alpha, ann=index)
    n_candidates = n_candidates or max(100, 5 * k)
    wanted = ["item", "rank", "base_score"] + [c for c in EXPLAIN_COLUMNS if explain
                                               and c != "base_score"]
    parts: dict[str, list] = {"user": []}
    for user in np.asarray(users, dtype=np.int64):
        exclude = run.model.seen_[int(user)].indices if config.hide_seen else None
        items, scores = generator.nominate(int(user), n_candidates, exclude)
        result = rerank(items, scores, config, dataset=data, user=int(user), k=k,
                        item_embeddings=getattr(run.model, "item_embeddings_", None))
        parts["user"].append(np.full(len(result.items), user))
        for column in wanted:
            if column in result.columns:
                parts.setdefault(column, []).append(np.asarray(result.columns[column]))
    columns = {name: (np.concatenate(chunks) if chunks else np.zeros(0))
               for name, chunks in parts.items()}
    frame = pd.DataFrame({"user": run.user_ids[columns["user"].astype(np.int64)],
                          "item": run.item_ids[columns["item"].astype(np.int64)],
                          "rank": columns["rank"].astype(np.int64),
                          "score": columns["base_score"]})
    for column in EXPLAIN_COLUMNS if explain else ():
        if column in columns:
            frame[column] = columns[column]
    return frame


__all__ = ["EXPLAIN_COLUMNS", "RerankConfig", "RerankResult", "dataset_for_run", "evaluate_rerank",
           "recommend_for_run", "recommend_pipeline", "rerank", "rerank_lists"]
