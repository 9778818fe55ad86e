"""Candidate pools with provenance, the one-user pipeline and evaluate_rerank, first with tiny
fixed-embedding recommenders, then with real models on the demo catalogue."""
import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core.errors import HyperparameterError
from recsys_core.evaluation.metrics import evaluate_model
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import PrecomputedEmbeddings
from recsys_core.retrieval.ann import ANNIndex
from recsys_core.serving.candidates import (ModelGenerator, PopularityGenerator, TrendingGenerator,
                                            generate_candidates)
from recsys_core.serving.pipeline import RerankConfig, evaluate_rerank, recommend_pipeline


@pytest.fixture(scope="module")
def demo_split(demo):
    return holdout_split(demo, test_fraction=0.2, seed=0)


def _fixed_model(train, dim=4, seed=0):
    rng = np.random.default_rng(seed)
    return PrecomputedEmbeddings(rng.standard_normal((train.n_users, dim)),
                           rng.standard_normal((train.n_items, dim))).fit(train)


def test_pool_keeps_provenance(demo_split):
    train = demo_split.train
    a, b = _fixed_model(train, seed=1), _fixed_model(train, seed=2)
    gens = [ModelGenerator(a, name="a"), ModelGenerator(b, name="b"), PopularityGenerator(train)]
    seen = train.user_items(0)
    pool = generate_candidates(0, gens, n_per_generator=20, exclude=seen)
    assert not np.isin(pool.items, seen).any() and len(np.unique(pool.items)) == len(pool)
    a_items, a_scores = gens[0].nominate(0, 20, seen)
    assert pool.items[:1].tolist() == a_items[:1].tolist()  # first nominee of the first generator
    rows = {int(i): r for r, i in enumerate(pool.items)}
    for rank, (item, score) in enumerate(zip(a_items, a_scores), start=1):
        assert pool.ranks[rows[int(item)], 0] == rank
        assert pool.scores[rows[int(item)], 0] == pytest.approx(score)
    # Every generator scores every pool item, nominated or not.
    np.testing.assert_allclose(pool.scores[:, 1], b.score([0], pool.items)[0], rtol=1e-5)
    np.testing.assert_allclose(pool.scores[:, 2], train.item_popularity[pool.items])
    prov = pool.provenance()
    assert len(prov) == (pool.ranks > 0).sum() == 60
    assert set(prov["generator"]) == {"a", "b", "popularity"}
    assert all(name for name in pool.nominated_by())
    with pytest.raises(HyperparameterError, match="distinct"):
        generate_candidates(0, [gens[0], gens[0]])


def test_measure_and_ann_generators(demo_split):
    train = demo_split.train
    model = _fixed_model(train, dim=8)
    exact = ModelGenerator(model, measure="cosine")
    approx = ModelGenerator(model, measure="cosine",
                            ann=ANNIndex("cosine", n_threads=1).fit(model.item_embeddings_))
    e_items, _ = exact.nominate(3, 10, train.user_items(3))
    a_items, _ = approx.nominate(3, 10, train.user_items(3))
    assert len(set(e_items) & set(a_items)) >= 9
    assert not np.isin(a_items, train.user_items(3)).any()
    with pytest.raises(HyperparameterError):
        ModelGenerator(model, ann=approx.ann)


def test_trending_weights_recent_interactions(demo_split):
    train = demo_split.train
    gen = TrendingGenerator(train, half_life_days=1.0)
    ts = train.timestamps
    recent = train.ratings.indices[ts >= ts.max() - 86400]
    assert gen.counts_.argmax() in set(recent.tolist())
    old = TrendingGenerator(train, half_life_days=1e6)
    np.testing.assert_allclose(old.counts_, train.item_popularity, rtol=1e-3)
    with pytest.raises(HyperparameterError):
        TrendingGenerator(train.with_ratings(train.ratings))  # no timestamps


def test_pipeline_for_one_user(demo_split):
    train = demo_split.train
    model = _fixed_model(train)
    gens = [ModelGenerator(model, name="fixed"), PopularityGenerator(train)]
    result = recommend_pipeline(5, gens, train, k=10, n_per_generator=50)
    plain, _ = model.recommend([5], 10)
    assert result.items.tolist() == plain[0].tolist()  # neutral knobs: the model's own top-10
    assert set(result.table["nominated_by"]) <= {"fixed", "fixed+popularity"}
    config = RerankConfig(diversity=0.5, diversity_similarity="embedding",
                          fair_group="long-tail", fair_share=0.5, popularity_penalty=0.5)
    result = recommend_pipeline(5, gens, train, k=10, config=config)
    assert result.group_share >= 0.5 and len(result.items) == 10
    assert not np.isin(result.items, train.user_items(5)).any()
    assert len(result.pool) >= 10


def test_evaluate_rerank_neutral_matches_the_model_metrics(demo_split):
    train = demo_split.train
    model = _fixed_model(train)
    ours = evaluate_rerank(RerankConfig(), model, demo_split, k=10)
    theirs = evaluate_model(model, demo_split.test, k=10)
    for key in ("ndcg@10", "recall@10", "coverage", "novelty"):
        assert ours[key] == pytest.approx(theirs[key])
    for key in ("diversity_genre", "mean_popularity", "group_exposure", "group_target_met"):
        assert key in ours
    fair = evaluate_rerank(RerankConfig(fair_group="long-tail", fair_share=0.6), model,
                           demo_split, users=100, k=10)
    assert fair["group_exposure"] >= 0.6 - 1e-9 and fair["group_target_met"] == 1.0
    # The model order measured for the same group and share: fewer lists meet every prefix,
    # and the position-discounted exposure rises with the knob.
    plain = evaluate_rerank(RerankConfig(), model, demo_split, users=100, k=10,
                            exposure_group="long-tail", exposure_share=0.6)
    assert plain["group_target_met"] < 1.0
    assert fair["group_exposure_discounted"] > plain["group_exposure_discounted"]
    comedy = evaluate_rerank(RerankConfig(), model, demo_split, users=100, k=10,
                             exposure_group="Comedy")
    assert comedy["group_exposure"] != plain["group_exposure"]


def test_real_models_through_the_pipeline(demo_split):
    from recsys_core.models import WALS, Popularity

    train = demo_split.train
    wals = WALS(factors=16, iterations=4).fit(train)
    pop = Popularity().fit(train)
    gens = [ModelGenerator(wals), ModelGenerator(pop), TrendingGenerator(train)]
    config = RerankConfig(hide_disliked=2, exclude_genres=("Horror",), freshness_half_life=10,
                          popularity_penalty=0.3, diversity=0.7, max_per_genre=3,
                          fair_group="long-tail", fair_share=0.3)
    result = recommend_pipeline(0, gens, train, k=10, config=config)
    assert len(result.items) == 10 and result.group_share >= 0.3
    horror = train.genre_names.index("Horror")
    assert not train.item_genres[result.items, horror].any()
    plain = evaluate_rerank(RerankConfig(), wals, demo_split, users=150)
    diverse = evaluate_rerank(RerankConfig(diversity=0.3), wals, demo_split, users=150)
    assert diverse["diversity_genre"] > plain["diversity_genre"]
    tail = evaluate_rerank(RerankConfig(popularity_penalty=1.0), wals, demo_split, users=150)
    assert tail["mean_popularity"] < plain["mean_popularity"]
