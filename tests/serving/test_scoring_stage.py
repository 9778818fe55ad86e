"""The scoring stage (generators + learned ranker fitted on a split) without Streamlit, and what
the serving pipeline hands the Recommend page: the list before re-ranking and each item's move."""
import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from recsys_core.data.dataset import Dataset
from recsys_core.errors import HyperparameterError
from recsys_core.evaluation.split import holdout_split, leave_last_k_out
from recsys_core.models import WALS
from recsys_core.serving.pipeline import (RerankConfig, ScoringStage, fit_scoring_stage,
                                          pool_size, recommend_pipeline)


@pytest.fixture(scope="module")
def temporal(demo):
    return leave_last_k_out(demo, k=5)


@pytest.fixture(scope="module")
def stage(temporal):
    wals = WALS(factors=8, iterations=3).fit(temporal.train)
    return fit_scoring_stage(wals, temporal, train_users=150, eval_users=100,
                             pool_per_generator=30, classifier="logistic", seed=3)


def test_stage_fits_generators_and_scorer_on_disjoint_users(stage, temporal):
    assert isinstance(stage, ScoringStage)
    # The demo data has timestamps, so trending joins the model and popularity.
    assert [g.name for g in stage.generators] == ["wals", "popularity", "trending"]
    assert stage.scorer.generators_ == ("wals", "popularity", "trending")
    assert stage.scorer.n_per_generator == 30 and stage.scorer.classifier_ == "logistic"
    assert len(stage.fit_users) == 150 and len(stage.eval_users) == 100
    assert not np.intersect1d(stage.fit_users, stage.eval_users).size
    with_test = np.flatnonzero(temporal.test.user_activity > 0)
    assert np.isin(stage.fit_users, with_test).all() and np.isin(stage.eval_users, with_test).all()
    assert list(stage.comparison) == ["scorer", "wals", "popularity", "trending"]
    table = stage.comparison_table
    assert table["ranking by"].tolist() == ["scoring model (logistic)", "wals score only",
                                            "popularity score only", "trending score only"]
    assert table["auc"].between(0, 1).all()


def test_stage_is_deterministic_for_a_seed(stage, temporal):
    wals = stage.generators[0].model
    again = fit_scoring_stage(wals, temporal, train_users=150, eval_users=100,
                              pool_per_generator=30, classifier="logistic", seed=3)
    np.testing.assert_array_equal(again.fit_users, stage.fit_users)
    assert again.comparison == stage.comparison
    other = fit_scoring_stage(wals, temporal, train_users=150, eval_users=0,
                              pool_per_generator=30, classifier="logistic", seed=4)
    assert not np.array_equal(other.fit_users, stage.fit_users)
    assert other.comparison == {} and len(other.comparison_table) == 0


def test_stage_serves_through_the_pipeline(stage, temporal):
    user = int(stage.eval_users[0])
    result = recommend_pipeline(user, stage.generators, temporal.train, k=10,
                                scorer=stage.scorer)
    assert pool_size(10, stage.scorer) == 30  # pools like those the scorer learned from
    assert len(result.items) == 10
    assert not np.isin(result.items, temporal.train.user_items(user)).any()
    assert ((result.table["base_score"] >= 0) & (result.table["base_score"] <= 1)).all()
    assert result.pool.generators == ("wals", "popularity", "trending")


def test_stage_needs_held_out_entries(demo):
    split = holdout_split(demo, 0.2, seed=0)
    wals = WALS(factors=4, iterations=1).fit(split.train)
    nothing_held_out = dataclasses.replace(split, test=Dataset.from_interactions(
        np.zeros(0, np.int64), np.zeros(0, np.int64), user_ids=demo.user_ids,
        item_ids=demo.item_ids))
    with pytest.raises(HyperparameterError, match="no held-out entries"):
        fit_scoring_stage(wals, nothing_held_out)
    with pytest.raises(HyperparameterError, match="train_users"):
        fit_scoring_stage(wals, split, train_users=0)


def test_scoring_stage_imports_without_streamlit():
    code = ("import sys; import recsys_core.serving.pipeline as p; "
            "assert p.fit_scoring_stage and 'streamlit' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_result_says_the_list_before_re_ranking_and_each_move(temporal):
    wals = WALS(factors=8, iterations=3).fit(temporal.train)
    neutral = recommend_pipeline(5, wals, temporal.train, k=8)
    np.testing.assert_array_equal(neutral.before, neutral.items)  # neutral knobs keep the order
    assert neutral.moves == ["="] * 8
    result = recommend_pipeline(5, wals, temporal.train, k=8,
                                config=RerankConfig(popularity_penalty=1.0))
    np.testing.assert_array_equal(result.before, result.pool.items[:8])
    np.testing.assert_array_equal(result.before, neutral.before)
    expected = []
    for original, rank in zip(result.table["original_rank"], result.table["rank"]):
        expected.append("=" if original == rank else
                        f"↑{original - rank}" if original > rank else f"↓{rank - original}")
    assert result.moves == expected and set(result.moves) != {"="}


def test_rerank_config_is_neutral_only_at_its_defaults():
    assert RerankConfig().is_neutral
    assert not RerankConfig(diversity=0.9).is_neutral
    assert not RerankConfig(hide_seen=False).is_neutral
    assert RerankConfig(exclude_genres="").is_neutral  # no genre named is no exclusion


def test_query_generator_for_a_user_or_a_folded_in_vector(temporal):
    from recsys_core.retrieval.similarity import similarity_scores
    from recsys_core.serving.candidates import query_generator

    wals = WALS(factors=8, iterations=3).fit(temporal.train)
    np.testing.assert_allclose(query_generator(wals, user=7).score(7), wals.score([7])[0])
    by_cosine = query_generator(wals, user=7, measure="cosine", name="model")
    assert by_cosine.name == "model"
    np.testing.assert_allclose(by_cosine.score(7), similarity_scores(
        wals.user_embeddings_[7], wals.item_embeddings_, "cosine")[0], rtol=1e-6)
    vector = wals.user_embeddings_[7] * 2
    np.testing.assert_allclose(query_generator(wals, vector=vector).score(-1),
                               wals.score_embeddings(vector)[0], rtol=1e-6)
    np.testing.assert_allclose(query_generator(wals, vector=vector, measure="tempered",
                                               alpha=0.3).score(-1),
                               similarity_scores(vector, wals.item_embeddings_, "tempered",
                                                 0.3)[0], rtol=1e-6)
    # A folded-in user is served with user None, the vector's scores nominate.
    result = recommend_pipeline(None, query_generator(wals, vector=vector), temporal.train, k=5,
                                seen=temporal.train.user_items(7))
    np.testing.assert_array_equal(result.items,
                                  recommend_pipeline(7, wals, temporal.train, k=5).items)
    for both_or_neither in ({}, {"user": 7, "vector": vector}):
        with pytest.raises(HyperparameterError, match="either a user"):
            query_generator(wals, **both_or_neither)


def test_metric_impact_re_ranks_pools_of_the_pipeline_size(temporal, monkeypatch):
    """The Recommend page's metric impact and its list use one pool-size rule."""
    from recsys_core.serving.pipeline import evaluate_rerank

    wals = WALS(factors=8, iterations=3).fit(temporal.train)
    asked = []
    recommend = wals.recommend
    monkeypatch.setattr(wals, "recommend", lambda users, n, **kw: asked.append(n)
                        or recommend(users, n, **kw))
    evaluate_rerank(RerankConfig(popularity_penalty=0.5), wals, temporal, users=20, k=12)
    evaluate_rerank(RerankConfig(), wals, temporal, users=20, k=12, n_candidates=50)
    assert asked == [pool_size(12), 50] == [200, 50]
