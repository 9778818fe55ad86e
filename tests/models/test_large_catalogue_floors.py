"""Every personalised model kind, with its *defaults*, stays personal on a 10k-item catalogue.

The defaults are chosen on real catalogues (docs/defaults-protocol.md); this floor guards what
CI can check without them: on a generated catalogue of 10,000 items with a realistic popularity
curve (a Zipf head of blockbusters, about two thirds of the items rated fewer than 5 times), a
model whose defaults collapse toward the popularity list (as WALS's previous frequency-scaled
defaults did on 10k+ item catalogues: NDCG@10 level with popularity, coverage@10 0.004) fails.
"""
from functools import lru_cache

import numpy as np
import pytest

from recsys_core.data.demo import make_demo_dataset
from recsys_core.evaluation.metrics import evaluate_model
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import MODEL_REGISTRY, WALS, Popularity, trainable_models

#: Not a popularity list: coverage@10 at least this many times popularity's (collapsed WALS:
#: 1.1 times), and NDCG@10 at least this share of popularity's (this generated catalogue is
#: popularity-led: SVD's 16 factors reach 0.92 of it with 7 times its coverage).
NDCG_OVER_POPULARITY, COVERAGE_OVER_POPULARITY = 0.9, 3.0
#: Kinds left out, and why.
EXEMPT = {
    "popularity": "the reference itself: one list for everyone",
    "ease": "closed form whose one default (lambda) the protocol checks on real catalogues; its "
            "n_items^2 inverse takes about two minutes at 10,000 items on CI's two cores",
    "content": "ranks by item features alone, by design blind to what other users like: on "
               "thousands of items per genre profile it is not a top-N model (the course's "
               "point about content-based filtering)",
}


@lru_cache(maxsize=None)
def large_split():
    """2,000 users x 10,000 items, 20 taste clusters; 20% of each user's ratings held out."""
    dataset = make_demo_dataset(seed=0, n_users=2000, n_items=10_000, n_clusters=20,
                                cluster_boost=30.0, mean_ratings_per_user=40.0,
                                popularity_exponent=1.0)
    return holdout_split(dataset, 0.2, seed=0)


@lru_cache(maxsize=None)
def popularity_scores() -> dict:
    split = large_split()
    return evaluate_model(Popularity().fit(split.train), split.test, 10)


def test_the_catalogue_has_a_long_tail_and_blockbusters():
    popularity = np.sort(large_split().train.item_popularity)[::-1]
    assert popularity[:10].sum() / popularity.sum() > 0.08  # a few blockbusters
    assert (popularity < 5).mean() > 0.6  # most items in the long tail


def _floors_met(model) -> tuple[bool, dict]:
    split = large_split()
    scores = evaluate_model(model.fit(split.train), split.test, 10)
    reference = popularity_scores()
    met = (scores["ndcg@10"] >= NDCG_OVER_POPULARITY * reference["ndcg@10"]
           and scores["coverage"] >= COVERAGE_OVER_POPULARITY * reference["coverage"])
    return met, {"ndcg@10": scores["ndcg@10"], "coverage": scores["coverage"],
                 "popularity": (reference["ndcg@10"], reference["coverage"])}


@pytest.mark.parametrize("kind", sorted(set(trainable_models()) - set(EXEMPT)))
def test_defaults_are_not_a_popularity_list_on_a_large_catalogue(kind):
    met, scores = _floors_met(MODEL_REGISTRY[kind]())
    assert met, scores


def test_a_default_that_collapses_to_popularity_fails_the_floor():
    # WALS's previous defaults: the frequency-scaled lambda grows with the catalogue.
    previous = WALS(regularization_type="frequency", regularization=0.6,
                    item_frequency_exponent=0.25)
    met, scores = _floors_met(previous)
    assert not met, scores
