"""Train/test splits: invariants on hand-made data and on MovieLens 100K, and their records."""
import dataclasses
import json

import numpy as np
import pytest

from recsys_core.data.dataset import Dataset
from recsys_core.errors import DataError, HyperparameterError
from recsys_core.evaluation.split import (Split, holdout_split, leave_last_k_out, make_split,
                                          predefined_split)


def small(with_timestamps=True):
    """Users with 1, 2, 5 and 10 interactions; timestamps are unique per user."""
    rng = np.random.default_rng(7)
    users, items, times = [], [], []
    for user, count in enumerate([1, 2, 5, 10]):
        chosen = rng.choice(12, size=count, replace=False)
        users += [user] * count
        items += chosen.tolist()
        times += rng.permutation(100)[:count].tolist()
    return Dataset.from_interactions(users, items, values=np.arange(len(users)) % 5 + 1,
                                     timestamps=times if with_timestamps else None,
                                     item_ids=range(12), rating_scale=(1, 5), name="small")


def assert_partition(data: Dataset, split: Split):
    """train and test are disjoint, together are the source, and keep values and timestamps."""
    assert split.train.shape == split.test.shape == data.shape
    assert split.train.n_ratings + split.test.n_ratings == data.n_ratings
    assert split.train.implicit.multiply(split.test.implicit).nnz == 0
    assert abs(split.train.ratings + split.test.ratings - data.ratings).sum() == 0
    mask = split.test_mask
    np.testing.assert_array_equal(split.test.ratings.data, data.ratings.data[mask])
    if data.timestamps is not None:
        np.testing.assert_array_equal(split.test.timestamps, data.timestamps[mask])
        np.testing.assert_array_equal(split.train.timestamps, data.timestamps[~mask])


# ---------------------------------------------------------------------------- holdout
def test_holdout_takes_the_rounded_share_of_each_user_and_keeps_one_training_item():
    data = small()
    split = holdout_split(data, test_fraction=0.5, seed=3)
    assert_partition(data, split)
    # 1 item -> stays in train; 2 -> round(1.0)=1 (capped at 2-1=1); 5 -> round(2.5)=2 (half to
    # even); 10 -> 5
    assert split.test.user_activity.tolist() == [0, 1, 2, 5]
    assert split.train.user_activity.tolist() == [1, 1, 3, 5]


def test_holdout_caps_the_test_share_so_every_user_keeps_a_training_item():
    data = small()
    split = holdout_split(data, test_fraction=0.99, seed=0)
    assert split.train.user_activity.tolist() == [1, 1, 1, 1]


def test_holdout_is_deterministic_by_seed_and_different_seeds_differ():
    data = small()
    a, b, c = (holdout_split(data, 0.5, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.test_mask, b.test_mask)
    assert a.fingerprint == b.fingerprint
    assert not np.array_equal(a.test_mask, c.test_mask)
    assert a.fingerprint != c.fingerprint


def test_holdout_records_every_argument_and_can_be_rebuilt_from_them():
    data = small()
    split = holdout_split(data, test_fraction=0.25, seed=4)
    assert split.params == {"method": "holdout", "test_fraction": 0.25, "seed": 4}
    json.dumps(split.params)
    again = make_split(data, split.params)
    assert again.fingerprint == split.fingerprint
    np.testing.assert_array_equal(again.test_mask, split.test_mask)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.2, float("nan"), "0.2", None])
def test_holdout_rejects_a_bad_fraction(fraction):
    with pytest.raises(HyperparameterError, match="test_fraction"):
        holdout_split(small(), test_fraction=fraction)


@pytest.mark.parametrize("seed", [-1, 1.5, "a"])
def test_holdout_rejects_a_bad_seed(seed):
    with pytest.raises(HyperparameterError, match="seed"):
        holdout_split(small(), seed=seed)


def test_a_split_is_immutable():
    split = holdout_split(small())
    with pytest.raises(dataclasses.FrozenInstanceError):
        split.fingerprint = "x"
    with pytest.raises(ValueError):
        split.test_mask[0] = True


def test_splitting_an_empty_dataset_is_a_data_error():
    empty = Dataset.from_interactions([], [], user_ids=[1], item_ids=[1], timestamps=[])
    with pytest.raises(DataError, match="no interactions"):
        holdout_split(empty)
    with pytest.raises(DataError, match="no interactions"):
        leave_last_k_out(empty)


# ---------------------------------------------------------------------------- leave last k out
def test_leave_last_one_out_takes_each_users_latest_interaction():
    # user 10: a@5, b@1, c@3 -> a (time 5) is the latest; user 20: one item -> stays in train;
    # user 30: d@2, a@8 -> a
    data = Dataset.from_interactions([10, 10, 10, 20, 30, 30], ["a", "b", "c", "b", "d", "a"],
                                     timestamps=[5, 1, 3, 4, 2, 8])
    split = leave_last_k_out(data, k=1)
    assert_partition(data, split)
    test = split.test.implicit.toarray()
    # columns a, b, c, d
    np.testing.assert_array_equal(test, [[1, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]])
    assert split.params == {"method": "leave_last_k_out", "k": 1}


def test_leave_last_k_out_test_items_are_newer_than_every_training_item():
    data = small()
    split = leave_last_k_out(data, k=3)
    assert_partition(data, split)
    # at most k, and never the user's last remaining item: 1 -> 0, 2 -> 1, 5 -> 3, 10 -> 3
    assert split.test.user_activity.tolist() == [0, 1, 3, 3]
    for user in range(data.n_users):
        train_t = split.train.timestamps[split.train.entry_users == user]
        test_t = split.test.timestamps[split.test.entry_users == user]
        if test_t.size:
            assert test_t.min() > train_t.max()


def test_leave_last_k_out_breaks_timestamp_ties_deterministically():
    data = Dataset.from_interactions([1, 1, 1], [1, 2, 3], timestamps=[7, 7, 7])
    split = leave_last_k_out(data, k=1)
    # equal times: the larger item index counts as later
    assert split.test.implicit.toarray().tolist() == [[0, 0, 1]]
    assert leave_last_k_out(data, k=1).fingerprint == split.fingerprint


def test_leave_last_k_out_needs_timestamps_and_a_positive_integer_k():
    with pytest.raises(DataError, match="no timestamps"):
        leave_last_k_out(small(with_timestamps=False))
    for bad in (0, -1, 1.5, "2"):
        with pytest.raises(HyperparameterError, match="k must"):
            leave_last_k_out(small(), k=bad)


# ---------------------------------------------------------------------------- predefined folds
def test_predefined_fold_on_hand_made_data():
    data = Dataset.from_interactions([1, 1, 2, 2], [1, 2, 1, 3],
                                     fold_of_row={"f": np.array([True, False, False, True])})
    split = predefined_split(data, "f")
    assert_partition(data, split)
    assert split.test.implicit.toarray().tolist() == [[1, 0, 0], [0, 0, 1]]
    assert split.params == {"method": "predefined", "fold": "f"}


def test_an_unknown_fold_lists_the_available_ones_and_no_folds_is_a_data_error():
    data = Dataset.from_interactions([1, 2], [1, 1], fold_of_row={"a": [1, 0], "b": [0, 1]})
    with pytest.raises(HyperparameterError, match="unknown fold 'c'.*a, b"):
        predefined_split(data, "c")
    with pytest.raises(DataError, match="no predefined folds"):
        predefined_split(small())


def test_make_split_rejects_an_unknown_method_or_argument():
    with pytest.raises(HyperparameterError, match="unknown split method"):
        make_split(small(), {"method": "kfold"})
    with pytest.raises(HyperparameterError, match="bad parameters"):
        make_split(small(), {"method": "holdout", "fraction": 0.2})


# ---------------------------------------------------------------------------- validation sets
def test_validation_is_carved_from_the_training_set_in_the_same_index_space():
    data = small()
    outer = holdout_split(data, 0.3, seed=0)
    inner = holdout_split(outer.train, 0.3, seed=1)
    assert_partition(outer.train, inner)
    assert inner.test.shape == data.shape
    # validation entries are training entries, never test entries
    assert inner.test.implicit.multiply(outer.test.implicit).nnz == 0
    assert inner.fingerprint != outer.fingerprint


# ---------------------------------------------------------------------------- MovieLens 100K
def test_movielens_predefined_folds_have_80000_training_and_20000_test_ratings(ml100k):
    for fold in ("u1", "u3", "u5"):
        split = predefined_split(ml100k, fold)
        assert (split.train.n_ratings, split.test.n_ratings) == (80000, 20000)
        assert split.train.implicit.multiply(split.test.implicit).nnz == 0


def test_movielens_holdout_invariants(ml100k):
    split = holdout_split(ml100k, test_fraction=0.2, seed=0)
    assert_partition(ml100k, split)
    assert split.test.n_ratings / ml100k.n_ratings == pytest.approx(0.2, abs=0.005)
    assert split.train.user_activity.min() >= 1
    per_user = split.test.user_activity / ml100k.user_activity
    assert np.all(np.abs(per_user - 0.2) <= 0.5 / ml100k.user_activity + 1e-12)
    other = holdout_split(ml100k, test_fraction=0.2, seed=1)
    overlap = split.test.implicit.multiply(other.test.implicit).nnz / split.test.n_ratings
    assert overlap < 0.3  # independent draws share about 20% of their test entries


def test_movielens_leave_last_two_out(ml100k):
    split = leave_last_k_out(ml100k, k=2)
    assert_partition(ml100k, split)
    assert split.test.n_ratings == 2 * ml100k.n_users  # every user has at least 20 ratings
    last_train = np.full(ml100k.n_users, -1)
    np.maximum.at(last_train, split.train.entry_users, split.train.timestamps)
    first_test = np.full(ml100k.n_users, np.iinfo(np.int64).max)
    np.minimum.at(first_test, split.test.entry_users, split.test.timestamps)
    assert np.all(first_test >= last_train)


# ---------------------------------------------------------------------------- demo catalogue
def test_demo_catalogue_splits_hold_the_same_invariants(demo):
    for split in (holdout_split(demo, 0.2, seed=0), leave_last_k_out(demo, k=2)):
        assert_partition(demo, split)
        assert split.train.user_activity.min() >= 1
    with pytest.raises(DataError, match="no predefined folds"):
        predefined_split(demo)
