"""Evaluation of big data on a fixed, stated sample of test users (issue 11), its progress
reports, and the fast per-user order of the holdout split."""
import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core.data.demo import make_demo_dataset
from recsys_core.evaluation import metrics as M
from recsys_core.evaluation.split import _order_within_users, holdout_split
from recsys_core.models import MODEL_REGISTRY


@pytest.fixture(scope="module")
def fitted():
    data = make_demo_dataset(seed=0)
    split = holdout_split(data, 0.2, seed=0)
    model = MODEL_REGISTRY["wals"](factors=8, iterations=2).fit(split.train)
    return model, split


def test_sample_is_fixed_by_its_seed_and_whole_below_the_threshold(fitted):
    _, split = fitted
    test = split.test.ratings
    with_items = np.flatnonzero(np.diff(test.indptr))
    a, b = M.sample_users(test, 500, seed=0), M.sample_users(test, 500, seed=0)
    assert len(a) == 500 and np.array_equal(a, b)
    assert np.all(np.diff(a) > 0) and np.isin(a, with_items).all()
    assert not np.array_equal(a, M.sample_users(test, 500, seed=1))
    assert np.array_equal(M.sample_users(test, len(with_items), seed=0), with_items)


def test_evaluate_sample_states_what_it_averaged_over(fitted):
    model, split = fitted
    n_test = int(np.count_nonzero(split.test.user_activity))
    full = M.evaluate_sample(model, split.test, k=10, beyond_accuracy=False)
    assert full[M.EVALUATED_USERS] == full[M.TEST_USERS] == n_test
    assert full["ndcg@10"] == pytest.approx(
        M.evaluate_model(model, split.test, k=10, beyond_accuracy=False)["ndcg@10"])
    sampled = M.evaluate_sample(model, split.test, k=10, max_users=400, beyond_accuracy=False)
    assert sampled[M.EVALUATED_USERS] == 400 and sampled[M.TEST_USERS] == n_test
    users = M.sample_users(split.test.ratings, 400, M.EVALUATION_SAMPLE_SEED)
    assert sampled["ndcg@10"] == pytest.approx(M.evaluate_model(
        model, split.test, k=10, users=users, beyond_accuracy=False)["ndcg@10"])
    assert M.evaluate_sample(model, split.test, k=10, max_users=400,
                             beyond_accuracy=False) == sampled  # same users again


def test_evaluate_model_reports_progress_per_block_of_users(fitted):
    model, split = fitted
    seen = []
    blocked = M.evaluate_model(model, split.test, k=10, beyond_accuracy=False,
                               progress=seen.append, batch_size=700)
    n_test = int(np.count_nonzero(split.test.user_activity))
    assert len(seen) == -(-n_test // 700) and seen[-1] == 1.0 and seen == sorted(seen)
    assert blocked == pytest.approx(M.evaluate_model(model, split.test, k=10,
                                                     beyond_accuracy=False))


def test_order_within_users_is_lexsort():
    rng = np.random.default_rng(0)
    users = np.sort(rng.integers(0, 300, 20_000))
    keys = rng.random(20_000)
    assert np.array_equal(_order_within_users(keys, users), np.lexsort((keys, users)))
    # Keys that collide once added to a large user index: the exact lexsort is used.
    big = np.full(4, 2 ** 40)
    close = np.array([0.5, 0.5 + 2 ** -30, 0.5 + 2 ** -31, 0.25])
    assert np.array_equal(_order_within_users(close, big), np.lexsort((close, big)))
    # Users out of order (not CSR order): the exact lexsort too.
    shuffled = rng.permutation(users)
    assert np.array_equal(_order_within_users(keys, shuffled), np.lexsort((keys, shuffled)))


def test_holdout_split_unchanged_by_the_fast_order():
    """The recorded fingerprint of a split (stored with every run) must not move."""
    data = make_demo_dataset(seed=0)
    split = holdout_split(data, 0.2, seed=0)
    keys = np.random.default_rng(0).random(data.n_ratings)
    order = np.lexsort((keys, data.entry_users))
    from recsys_core.evaluation.split import _mask_first_per_user

    activity = data.user_activity
    n_test = np.minimum(np.rint(0.2 * activity).astype(np.int64), np.maximum(activity - 1, 0))
    assert np.array_equal(split.test_mask, _mask_first_per_user(data, order, n_test))
    assert sp.issparse(split.train.ratings)
