"""The candidate scorer: features, labels, classifier choice, and that it learns a real signal."""
import numpy as np
import pytest

from recsys_core.errors import HyperparameterError, NotFittedError
from recsys_core.evaluation.split import leave_last_k_out
from recsys_core.serving.candidates import CandidatePool, PopularityGenerator, TrendingGenerator
from recsys_core.serving.ranker import (CandidateScorer, _ItemUserStats, candidate_features,
                                        evaluate_scorer, pool_labels)


@pytest.fixture(scope="module")
def temporal(demo):
    return leave_last_k_out(demo, k=5)


def test_features_and_labels_known_values(temporal):
    train, test = temporal.train, temporal.test
    pool = CandidatePool(user=0, items=np.array([3, 7, 9]), generators=("a", "b"),
                         scores=np.array([[2.0, 1.0], [1.0, 1.0], [0.0, 1.0]], np.float32),
                         ranks=np.array([[1, 0], [2, 1], [0, 2]], np.int32))
    x, names = candidate_features(pool, _ItemUserStats(train))
    assert x.shape == (3, len(names)) and np.isfinite(x).all()
    col = {n: i for i, n in enumerate(names)}
    np.testing.assert_allclose(x[:, col["reciprocal_rank_a"]], [1, 0.5, 0])
    np.testing.assert_allclose(x[:, col["score_z_a"]], [1.2247449, 0, -1.2247449], rtol=1e-5)
    assert (x[:, col["score_z_b"]] == 0).all()  # a constant score carries no ranking signal
    np.testing.assert_allclose(x[:, col["item_log_popularity"]],
                               np.log1p(train.item_popularity[[3, 7, 9]]), rtol=1e-6)
    assert {"genre_affinity", "item_age_years", "user_age", "user_is_male"} <= set(names)
    held, ratings = test.user_items(0), test.ratings[0].data
    pool = CandidatePool(0, np.array(held.tolist() + [int(np.setdiff1d(np.arange(300), held)[0])]),
                         ("a",), np.zeros((len(held) + 1, 1), np.float32),
                         np.ones((len(held) + 1, 1), np.int32))
    assert pool_labels(pool, test, "interaction").tolist() == [1] * len(held) + [0]
    expected = (ratings >= 4).astype(int).tolist() + [0]
    assert pool_labels(pool, test, "rating>=4").tolist() == expected


def test_scorer_learns_and_beats_popularity(temporal):
    from recsys_core.models import WALS

    train, test = temporal.train, temporal.test
    wals = WALS(factors=16, iterations=4).fit(train)
    from recsys_core.serving.candidates import ModelGenerator

    gens = [ModelGenerator(wals), PopularityGenerator(train), TrendingGenerator(train)]
    users = np.arange(train.n_users)
    scorer = CandidateScorer(classifier="auto", objective="interaction", n_per_generator=30,
                             n_rounds=60)
    scorer.fit(gens, train, test, users[:300])
    assert set(scorer.validation_auc_) == {"gbdt", "logistic"}
    assert scorer.classifier_ == max(scorer.validation_auc_, key=scorer.validation_auc_.get)
    report = evaluate_scorer(scorer, gens, train, test, users[300:])
    assert report["scorer"]["auc"] > 0.7
    assert report["scorer"]["auc"] > report["popularity"]["auc"] + 0.02
    assert report["scorer"]["ndcg@10"] > report["popularity"]["ndcg@10"]
    from recsys_core.serving.candidates import generate_candidates

    pool = generate_candidates(310, gens, 30, exclude=train.user_items(310))
    p = scorer.predict_proba(pool)
    assert p.shape == (len(pool),) and ((p >= 0) & (p <= 1)).all()
    with pytest.raises(HyperparameterError, match="generators"):
        scorer.predict_proba(generate_candidates(310, gens[:2], 30))


def test_scorer_errors(temporal):
    with pytest.raises(NotFittedError):
        CandidateScorer().predict_proba(None)
    with pytest.raises(HyperparameterError):
        CandidateScorer(classifier="svm").fit([PopularityGenerator(temporal.train)],
                                              temporal.train, temporal.test, [0, 1])
    with pytest.raises(HyperparameterError):
        CandidateScorer(objective="clicks").fit([PopularityGenerator(temporal.train)],
                                                temporal.train, temporal.test, [0, 1])
