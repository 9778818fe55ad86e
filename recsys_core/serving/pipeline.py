"""The serving pipeline for one user (candidates -> scores -> re-rank), the scoring stage fitted
for a model and a split, and the metric impact of a re-ranking configuration over many users.

:func:`recommend_pipeline` is the one serving entry point: the Recommend page, ``recommend`` on
the command line (through :func:`recommend_for_run`) and ``benchmarks/bench_pipeline.py`` call it.
:func:`fit_scoring_stage` builds the generators and the learned ranker they pass to it.

Re-exports :class:`~recsys_core.serving.rerank.RerankConfig`, :func:`~recsys_core.serving.rerank.rerank` and
:class:`~recsys_core.serving.rerank.RerankResult`, the names the app and the command line use.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.dataset import Dataset
from ..errors import DataError, HyperparameterError
from ..models.base import Recommender
from ..validation import check_param
from .candidates import (CandidateGenerator, CandidatePool, ModelGenerator, PopularityGenerator,
                         TrendingGenerator, generate_candidates)
from .ranker import CandidateScorer, evaluate_scorer
from .rerank import (LONG_TAIL, RerankConfig, RerankResult, group_mask, passes_filters,
                     prefix_shortfalls, rerank)


#: Each generator's nominations per list are at least this many (see :func:`pool_size`).
MIN_POOL = 200


def pool_size(k: int, scorer: CandidateScorer | None = None) -> int:
    """Candidates each generator nominates for a list of length ``k``: max(200, 5 k), or, when a
    scoring model ranks the pool, the ``n_per_generator`` it was trained with (pools like those
    it learned from). The one rule of the app and the command line."""
    check_param("k", k, low=1, integer=True)
    trained = getattr(scorer, "n_per_generator", None)
    return int(trained) if trained else max(MIN_POOL, 5 * int(k))


def recommend_pipeline(user: int | None, generators, dataset: Dataset, *, k: int = 10,
                       config: RerankConfig | None = None, scorer: CandidateScorer | None = None,
                       n_per_generator: int | None = None,
                       item_embeddings: np.ndarray | None = None, seen=None) -> RerankResult:
    """Recommend to one user: generators nominate, the pool is scored, then re-ranked (the one
    entry point of the Recommend page and of ``recommend`` on the command line).

    When ``config`` asks a minimum share of a group and the pool holds too few of its items that
    pass the filters, the first generator also nominates its best ``k`` of them
    (:meth:`~recsys_core.serving.candidates.CandidateGenerator.nominate_within`; marked in
    ``pool.from_group`` and ``nominated_by``), so every prefix can hold its share
    (:func:`~recsys_core.serving.rerank.prefix_minimums`) unless the catalogue lacks them
    (``group_target_reachable`` False, ``group_prefixes_short`` > 0).

    Parameters
    ----------
    user : int or None
        User index in ``dataset``; None for a user outside it (a folded-in new user: give the
        generators' scores for them, e.g. a
        :class:`~recsys_core.serving.candidates.ScoreVectorGenerator`, and their rated items as
        ``seen``).
    generators : CandidateGenerator, Recommender, or a sequence of them
        Recommenders are wrapped in :class:`~recsys_core.serving.candidates.ModelGenerator`.
    dataset : Dataset
        The training data (seen items, genres, years, popularity).
    k : int
    config : RerankConfig, optional
    scorer : CandidateScorer, optional
        Ranks the pool by P(positive); without one the first generator's score is the base.
    n_per_generator : int, optional
        Default :func:`pool_size`.
    item_embeddings : ndarray (n_items, d), optional
        For embedding diversity; defaults to the first generator model's item embeddings.
    seen : array of int, optional
        Items the user interacted with (default: the user's row of ``dataset``); never
        nominated when ``config.hide_seen``.

    Returns
    -------
    RerankResult whose table also has ``nominated_by`` (generators that proposed the item, or the
    group retrieval), whose ``pool`` is the CandidatePool, ordered by base score (best first), and
    whose ``before`` is the pool's top ``k`` by base score (the list without re-ranking).
    """
    config = config or RerankConfig()
    generators = _as_generators(generators)
    if user is not None:
        if not 0 <= int(user) < dataset.n_users:
            raise IndexError(f"user index {user} out of range for {dataset.n_users} users")
        user = int(user)
    elif any(isinstance(g, ModelGenerator) for g in generators):
        raise HyperparameterError("a user outside the data has no row in the model: give their "
                                  "scores (ScoreVectorGenerator) instead of the model")
    if seen is None:
        seen = dataset.user_items(user) if user is not None else np.zeros(0, np.int64)
    seen = np.asarray(seen, dtype=np.int64)
    exclude = seen if config.hide_seen else None
    n_per_generator = n_per_generator or pool_size(k, scorer)
    anonymous = -1 if user is None else user
    pool = generate_candidates(anonymous, generators, n_per_generator, exclude=exclude)
    if config.fair_group is not None and config.fair_share > 0:
        pool = _add_group_candidates(pool, generators, dataset, config, user, seen, k)
    base = scorer.predict_proba(pool) if scorer is not None else pool.scores[:, 0]
    order = np.lexsort((np.arange(len(pool)), -base))
    pool, base = pool.take(order), np.asarray(base)[order]
    if item_embeddings is None and config.diversity_similarity == "embedding":
        item_embeddings = _embeddings_of(generators)
    # Items the group retrieval added come from below the pool: their rank by the first
    # generator's score is their place in the catalogue, not just after the pool's end (three
    # of them at 201, 202, 203 all "moved up 193").
    base_rank = None
    if scorer is None and pool.from_group is not None and pool.from_group.any():
        base_rank = catalogue_ranks(generators[0], anonymous, pool.items, exclude)
    result = rerank(pool.items, base, config, dataset=dataset, user=user, k=k,
                    item_embeddings=item_embeddings, base_rank=base_rank)
    result.columns["nominated_by"] = pool.nominated_by(result.items)
    result.pool = pool
    result.before = pool.items[:k]
    return result


def catalogue_ranks(generator: CandidateGenerator, user: int, items, exclude=None) -> np.ndarray:
    """1-based rank of each of ``items`` by ``generator``'s score among every catalogue item
    not in ``exclude`` (the user's seen items), ties to the smaller index, as the generator's
    own top-n orders them: int64 (len(items),). One scoring of the catalogue and a count of the
    items ahead of each asked one (a handful), no sort of the catalogue."""
    scores = np.asarray(generator.score(user), dtype=np.float64).ravel()
    eligible = np.ones(len(scores), dtype=bool)
    if exclude is not None and len(exclude):
        eligible[np.asarray(exclude, dtype=np.int64)] = False
    others = np.flatnonzero(eligible)
    items = np.asarray(items, dtype=np.int64)
    theirs, asked = scores[others][None, :], scores[items][:, None]
    ahead = (theirs > asked) | ((theirs == asked) & (others[None, :] < items[:, None]))
    return 1 + ahead.sum(axis=1).astype(np.int64)


def _add_group_candidates(pool: CandidatePool, generators, dataset: Dataset,
                          config: RerankConfig, user: int | None, seen: np.ndarray, k: int
                          ) -> CandidatePool:
    """The pool plus the first generator's best ``k`` eligible items of the fair group, when the
    pool holds fewer eligible group items than the target share of a ``k``-list needs."""
    items = _group_retrieval(generators[0], pool.items, dataset, config, user, seen, k)
    if items is None or not len(items):  # enough already, or none left in the catalogue
        return pool
    anonymous = -1 if user is None else user
    scores = np.column_stack([np.asarray(g.score(anonymous, items), np.float32)
                              for g in generators])
    return pool.with_group_items(items, scores, config.fair_group)


def _group_retrieval(generator: CandidateGenerator, pool_items: np.ndarray, dataset: Dataset,
                     config: RerankConfig, user: int | None, seen: np.ndarray, k: int,
                     members: np.ndarray | None = None) -> np.ndarray | None:
    """The generator's best ``k`` items of the fair group that pass the filters and are not in
    the pool (int64, best first), or None when the pool already holds the ceil(share k) eligible
    group items a ``k``-list needs. ``members``: the group's items passing the catalogue filters,
    when the caller computed them already (:func:`_group_members`)."""
    needed = int(np.ceil(config.fair_share * k - 1e-9))
    in_group = group_mask(dataset, config.fair_group, config.head_share)
    eligible, _ = passes_filters(pool_items, config, dataset, user)
    if int((in_group[pool_items] & eligible).sum()) >= needed:
        return None
    if members is None:
        members = _group_members(dataset, config)
    # Members depend on the catalogue filters only, so an approximate index over them is built
    # once; this user's own exclusions (seen, disliked) and the pool go to ``exclude``.
    personal = members[~passes_filters(members, config, dataset, user)[0]]
    exclude = np.concatenate([pool_items, personal] + ([seen] if config.hide_seen else []))
    items, _ = generator.nominate_within(-1 if user is None else user, k, members, exclude)
    return items


def _group_members(dataset: Dataset, config: RerankConfig) -> np.ndarray:
    """Items of the fair group that pass the catalogue filters (genres, minimum ratings)."""
    members = np.flatnonzero(group_mask(dataset, config.fair_group, config.head_share))
    return members[passes_filters(members, config, dataset, None)[0]]


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
                 n_candidates: int | None = None, item_embeddings: np.ndarray | None = None
                 ) -> tuple[np.ndarray, list[RerankResult]]:
    """Re-ranked top-k lists of many users from a model's top ``n_candidates`` (default
    :func:`pool_size`, as for one user; plus, when a fairness group is short in them, its own
    best items: see :func:`recommend_pipeline`).

    Returns
    -------
    lists : ndarray of int64, shape (len(users), k), padded with -1
    results : list of RerankResult, one per user
    """
    users = np.asarray(users, dtype=np.int64)
    n_candidates = pool_size(k) if n_candidates is None else n_candidates
    check_param("n_candidates", n_candidates, low=1, integer=True)
    if item_embeddings is None:
        item_embeddings = getattr(model, "item_embeddings_", None)
    pools, scores = model.recommend(users, n_candidates, exclude_seen=config.hide_seen)
    lists = np.full((len(users), k), -1, np.int64)
    results = []
    fair = config.fair_group is not None and config.fair_share > 0
    if fair:  # a group short in a pool retrieves its own items, as in recommend_pipeline
        generator, members = ModelGenerator(model), _group_members(train, config)
    for row, user in enumerate(users):
        valid = pools[row] >= 0
        items, base = pools[row][valid], scores[row][valid]
        added = _group_retrieval(generator, items, train, config, int(user),
                                 train.user_items(int(user)), k, members) if fair else None
        if added is not None and len(added):
            items = np.concatenate([items, added])
            base = np.concatenate([base, generator.score(int(user), added)])
        result = rerank(items, base, config, dataset=train,
                        user=int(user), k=k, item_embeddings=item_embeddings)
        lists[row, :len(result.items)] = result.items
        results.append(result)
    return lists, results


def evaluate_rerank(config: RerankConfig, model: Recommender, split, *, users=None, k: int = 10,
                    n_candidates: int | None = None, relevance_threshold: float | None = None,
                    seed: int = 0, exposure_group: str | None = None,
                    exposure_share: float | None = None) -> dict[str, float]:
    """What a re-ranking configuration costs and buys, over test users.

    Parameters
    ----------
    config : RerankConfig
    model : Recommender fitted on ``split.train``
    split : recsys_core.evaluation.split.Split
    users : int or array of int, optional
        An array of user indices, or a number of test users to sample (with ``seed``); default
        every user with test entries.
    k : int
    n_candidates : int, optional
        The model's top items each user's list is re-ranked from; default :func:`pool_size`
        (the rule of the Recommend page and the command line).
    relevance_threshold : float, optional
        Test entries rated at least this count as relevant (default: all).
    exposure_group : str, optional
        The group whose exposure is measured ("long-tail" or a genre); default the config's fair
        group, else long-tail. Give the fair group when measuring neutral knobs to compare with.
    exposure_share : float, optional
        The share every prefix is checked against for "group_target_met"; default the config's
        ``fair_share`` (with a fair group). Give it with neutral knobs to see how many of the
        model's own lists meet it.

    Returns
    -------
    dict with "ndcg@k", "recall@k", "precision@k", "map@k", "hit_rate@k", "coverage",
    "diversity_genre", "diversity_embedding" (when the model has embeddings), "novelty",
    "popularity_percentile", "mean_popularity" (mean number of training ratings of the listed
    items), "group_exposure" (share of slots in the exposure group),
    "group_exposure_discounted" (the same with the slot at rank j weighted 1 / log2(j + 1), as
    NDCG weighs it: the top counts more) and "group_target_met" (share of users whose every
    prefix holds the exposure group's share, :func:`~recsys_core.serving.rerank.prefix_minimums`;
    1.0 without a share).
    """
    from ..evaluation.metrics import evaluate_recommendations

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
    mask = group_mask(train, exposure_group or config.fair_group or LONG_TAIL, config.head_share)
    out = evaluate_recommendations(
        lists, relevant, k, n_items=train.n_items, item_genres=train.item_genres,
        item_popularity=train.item_popularity, n_users=train.n_users, group_mask=mask,
        item_embeddings=getattr(model, "item_embeddings_", None))
    valid = lists >= 0
    out["mean_popularity"] = float(train.item_popularity[lists[valid]].mean()) if valid.any() \
        else float("nan")
    share = exposure_share if exposure_share is not None else (
        config.fair_share if config.fair_group is not None else None)
    met = prefix_shortfalls(lists[valid.any(axis=1)], mask, share) == 0 if share else []
    out["group_target_met"] = float(np.mean(met)) if len(met) else 1.0
    return out




@dataclass
class ScoringStage:
    """Candidate generators and the scoring model fitted on one split, ready for
    :func:`recommend_pipeline` (``generators=stage.generators, scorer=stage.scorer``).

    Attributes
    ----------
    generators : list of CandidateGenerator
        The models' generators, then popularity and (when the data has timestamps) trending, all
        built from ``split.train``.
    scorer : CandidateScorer
        Fitted on the held-out entries of ``fit_users``.
    fit_users, eval_users : ndarray of int64
        The users (with held-out entries) the scorer learned from and was compared on; disjoint.
    comparison : dict of str -> dict of str -> float
        On ``eval_users``: ranking name ("scorer", then each generator's name) -> {"auc",
        "ndcg@10"} (see :func:`~recsys_core.serving.ranker.evaluate_scorer`); empty without
        evaluation users.
    """

    generators: list
    scorer: CandidateScorer
    fit_users: np.ndarray
    eval_users: np.ndarray
    comparison: dict = field(default_factory=dict)

    @property
    def comparison_table(self):
        """The comparison as a DataFrame: "ranking by" ("scoring model (gbdt)", "wals score
        only", ...), auc, ndcg@10; one row per ranking, the scorer first."""
        import pandas as pd

        rows = [{"ranking by": (f"scoring model ({self.scorer.classifier_})" if name == "scorer"
                                else f"{name} score only"), **values}
                for name, values in self.comparison.items()]
        return pd.DataFrame(rows, columns=None if rows else ["ranking by", "auc", "ndcg@10"])


def fit_scoring_stage(models, split, *, train_users: int = 300, eval_users: int = 200,
                      pool_per_generator: int = 100, classifier: str = "auto",
                      objective: str = "rating>=4", seed: int = 0) -> ScoringStage:
    """Fit the scoring stage of the serving pipeline: generators, the scorer, its comparison.

    The course's argument for a separate scoring model: each generator's raw score ranks only its
    own nominations and the scales differ; a classifier trained on held-out ratings combines them
    with item and user features. Users with held-out entries are shuffled with ``seed``; the
    first ``train_users`` train the scorer, the next ``eval_users`` compare it with ranking by
    each generator's raw score.

    Parameters
    ----------
    models : Recommender, CandidateGenerator, or a sequence of them
        Fitted on ``split.train`` (Recommenders are wrapped in ModelGenerator, named by kind).
    split : recsys_core.evaluation.split.Split
    train_users, eval_users : int
        Users whose pools train the scorer, and other users it is compared on (0: no
        comparison). Fewer when the split has fewer users with held-out entries.
    pool_per_generator : int
        Candidates each generator nominates per user, in training and later in serving (see
        :func:`pool_size`).
    classifier, objective : see :class:`~recsys_core.serving.ranker.CandidateScorer`
    seed : int

    Returns
    -------
    ScoringStage

    Raises
    ------
    HyperparameterError
        When no user has held-out entries, or their pools hold only one class.
    """
    check_param("train_users", train_users, low=1, integer=True)
    check_param("eval_users", eval_users, low=0, integer=True)
    train, test = split.train, split.test
    generators = _as_generators(models)
    if "popularity" not in {g.name for g in generators}:  # a popularity run already is one
        generators.append(PopularityGenerator(train))
    if train.timestamps is not None:
        generators.append(TrendingGenerator(train))
    users = np.flatnonzero(test.user_activity > 0)
    if not len(users):
        raise HyperparameterError("the split has no held-out entries to train a scoring model on")
    users = np.random.default_rng(seed).permutation(users)
    fit_users = np.sort(users[:train_users])
    held_out = np.sort(users[train_users:train_users + eval_users])
    scorer = CandidateScorer(classifier=classifier, objective=objective,
                             n_per_generator=pool_per_generator, random_state=seed)
    scorer.fit(generators, train, test, users=fit_users)
    comparison = (evaluate_scorer(scorer, generators, train, test, held_out)
                  if len(held_out) else {})
    return ScoringStage(generators, scorer, fit_users, held_out, comparison)


def split_for_run(run):
    """The train/test split a saved run was trained on, rebuilt from its source dataset.

    Raises
    ------
    HyperparameterError
        When the run was trained on all its data, its dataset cannot be loaded or changed since,
        or the rebuilt split differs from the recorded one.
    """
    from ..evaluation.split import make_split

    recorded = run.info.split
    if not recorded:
        raise HyperparameterError("the run was trained on all its data; a scoring model learns "
                                  "from held-out ratings (train with --holdout)")
    data = _source_dataset(run, "the scoring model")
    split = make_split(data, recorded["params"])
    if recorded.get("fingerprint") and split.fingerprint != recorded["fingerprint"]:
        raise HyperparameterError("the run's train/test split could not be rebuilt: it differs "
                                  "from the one the run was trained on")
    return split


#: Columns of the score breakdown that ``recommend_for_run(explain=True)`` adds.
EXPLAIN_COLUMNS = ("title", "base_score", "relevance", "freshness", "popularity_penalty",
                   "final_score", "redundancy", "in_group", "original_rank", "moved_by", "why",
                   "nominated_by")


def dataset_for_run(run, *, with_ratings: bool = False) -> Dataset:
    """A Dataset in a saved run's index space, for re-ranking its recommendations.

    By default it is built from the run alone: the model's training interactions (as implicit
    1.0 values: they give seen items and popularity), titles, years and genres. With
    ``with_ratings`` the run's source dataset is loaded again and used when its fingerprint
    matches (it holds the rating values the disliked filter needs); otherwise
    :class:`HyperparameterError` says why.
    """
    import pandas as pd

    if with_ratings:
        return _source_dataset(run, "hiding disliked items")
    seen = run.model.seen_.tocoo()
    table = pd.DataFrame({"title": run.titles, "year": run.item_years})
    return Dataset.from_interactions(
        run.user_ids[seen.row], run.item_ids[seen.col], user_ids=run.user_ids,
        item_ids=run.item_ids, item_table=table, genre_names=run.genre_names,
        item_genres=run.item_genres, name=run.info.dataset.get("name", "run"))


def _source_dataset(run, purpose: str) -> Dataset:
    """The dataset a run was trained on, loaded again from its recorded source; ``purpose`` says
    in the error message what needed it."""
    from ..data.discovery import load_recorded_dataset

    return load_recorded_dataset(run.info.dataset, purpose, "the run's rating values")


def recommend_for_run(run, users, k: int = 10, *, config: RerankConfig | None = None,
                      measure: str | None = None, alpha: float = 0.5, ann: bool = False,
                      explain: bool = False, n_candidates: int | None = None,
                      stage: ScoringStage | None = None):
    """Re-ranked recommendations of a saved run (:class:`recsys_core.runs.store.Run`) in raw ids.

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
        Candidates retrieved per user; default :func:`pool_size`. A fairness group short in them
        retrieves its own (see :func:`recommend_pipeline`).
    stage : ScoringStage, optional
        Nominate with the stage's generators and rank the pool with its scorer
        (:func:`fit_scoring_stage` on :func:`split_for_run`); not with ``measure`` or ``ann``.

    Returns
    -------
    DataFrame with user, item, rank, score (the base score: the model's, the similarity under
    ``measure``, or the scorer's P(positive) with a ``stage``), plus the breakdown when asked.
    ``frame.attrs["group_target_unreachable"]`` holds the raw ids of users whose fairness target
    the catalogue cannot meet in every prefix (too few items of the group pass the filters), and
    ``frame.attrs["group_prefixes_short"]`` how many prefixes of each of their lists fall short.
    """
    import pandas as pd

    from ..retrieval.ann import ANNIndex

    config = config or RerankConfig()
    if stage is not None and (measure is not None or ann):
        raise HyperparameterError("the scoring model ranks the generators' own scores: it cannot "
                                  "be combined with a similarity measure or approximate search")
    if ann and measure is None:
        measure = "dot"
    data = dataset_for_run(run, with_ratings=config.hide_disliked is not None)
    if stage is not None:
        generators, scorer = stage.generators, stage.scorer
    else:
        if ann and getattr(run.model, "item_embeddings_", None) is None:
            raise HyperparameterError(f"approximate search compares embeddings; "
                                      f"{type(run.model).__name__} has none")
        index = ANNIndex(measure, alpha).fit(run.model.item_embeddings_) if ann else None
        generators = ModelGenerator(run.model, measure=measure, alpha=alpha, ann=index)
        scorer = None
    wanted = ["item", "rank", "base_score"] + [c for c in EXPLAIN_COLUMNS if explain
                                               and c != "base_score"]
    parts: dict[str, list] = {"user": []}
    short = []
    for user in np.asarray(users, dtype=np.int64):
        result = recommend_pipeline(int(user), generators, data, k=k, config=config,
                                    scorer=scorer, n_per_generator=n_candidates,
                                    item_embeddings=getattr(run.model, "item_embeddings_", None))
        if result.group_target_reachable is False:
            short.append((int(user), int(result.group_prefixes_short)))
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
    short = np.asarray(short, dtype=np.int64).reshape(-1, 2)
    frame.attrs["group_target_unreachable"] = run.user_ids[short[:, 0]]
    frame.attrs["group_prefixes_short"] = short[:, 1]
    return frame


__all__ = ["EXPLAIN_COLUMNS", "RerankConfig", "RerankResult", "ScoringStage", "dataset_for_run",
           "evaluate_rerank", "fit_scoring_stage", "pool_size", "recommend_for_run",
           "recommend_pipeline", "rerank", "rerank_lists", "split_for_run"]
