"""The global temporal split on hand-made data with known times, and its record in runs."""
import numpy as np
import pytest

from recsys_core.data.dataset import Dataset
from recsys_core.errors import DataError, HyperparameterError, NoTimestampsError
from recsys_core.evaluation.split import (describe_split, make_split, parse_time,
                                          temporal_split, validation_split)

DAY = 86_400
BASE = parse_time("1998-01-01")
#: (user, item, day): user 3 rates first on day 52 and item 4 first on day 70.
ENTRIES = [(0, 0, 10), (0, 1, 20), (0, 2, 60),
           (1, 0, 15), (1, 3, 30), (1, 1, 55), (1, 4, 70),
           (2, 1, 25), (2, 2, 5), (2, 3, 50),
           (3, 0, 52), (3, 2, 80)]


def tiny(with_timestamps=True) -> Dataset:
    users, items, days = map(list, zip(*ENTRIES))
    times = [BASE + d * DAY for d in days] if with_timestamps else None
    return Dataset.from_interactions(users, items, values=np.full(len(users), 4.0),
                                     timestamps=times, user_ids=range(4), item_ids=range(5),
                                     rating_scale=(1, 5), name="tiny")


def pairs(data: Dataset) -> set:
    coo = data.ratings.tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist()))


def test_a_cutoff_date_puts_earlier_ratings_in_train_and_drops_new_users_and_items():
    split = temporal_split(tiny(), cutoff="1998-02-20")  # day 50
    assert split.params == {"method": "temporal", "cutoff": BASE + 50 * DAY, "test_fraction": None}
    assert pairs(split.train) == {(0, 0), (0, 1), (1, 0), (1, 3), (2, 1), (2, 2)}
    # Day 50 itself is test; (1, 4) has a new item, user 3's two ratings a new user.
    assert pairs(split.test) == {(0, 2), (1, 1), (2, 3)}
    assert split.dropped == {"ratings": 3, "users": 1, "items": 1}
    assert split.name == "temporal split at 1998-02-20"
    assert split.describe() == ("a global temporal split at 1998-02-20: 3 test ratings after "
                                "it; 3 ratings of 1 new user and 1 new item not scorable")


def test_epoch_seconds_and_the_iso_date_give_the_same_split():
    by_date = temporal_split(tiny(), cutoff="1998-02-20")
    by_seconds = temporal_split(tiny(), cutoff=BASE + 50 * DAY)
    by_text = temporal_split(tiny(), cutoff=str(BASE + 50 * DAY))
    assert by_date.fingerprint == by_seconds.fingerprint == by_text.fingerprint


@pytest.mark.parametrize("fraction, day, test, dropped", [
    (0.5, 50, {(0, 2), (1, 1), (2, 3)}, {"ratings": 3, "users": 1, "items": 1}),
    # At day 60 user 3 is known (day 52), item 4 (day 70) is still new.
    (0.25, 60, {(0, 2), (3, 2)}, {"ratings": 1, "users": 0, "items": 1}),
])
def test_the_quantile_cutoff_leaves_the_test_fraction_after_it(fraction, day, test, dropped):
    split = temporal_split(tiny(), test_fraction=fraction)
    assert split.params == {"method": "temporal", "cutoff": BASE + day * DAY,
                            "test_fraction": fraction}
    assert pairs(split.test) == test and split.dropped == dropped
    assert split.test.n_ratings + split.dropped["ratings"] == round(fraction * len(ENTRIES))


def test_default_is_a_fifth_of_the_ratings_in_test():
    assert temporal_split(tiny()).params["test_fraction"] == 0.2


def test_every_train_time_is_before_the_cutoff_and_every_test_time_at_or_after_it(ml100k):
    split = temporal_split(ml100k, test_fraction=0.2)
    cutoff = split.params["cutoff"]
    assert split.train.timestamps.max() < cutoff <= split.test.timestamps.min()
    assert split.train.n_ratings + split.test.n_ratings + split.dropped["ratings"] \
        == ml100k.n_ratings
    # No test user or item is missing from train: those were dropped and counted.
    assert np.all(split.train.user_activity[split.test.user_activity > 0] > 0)
    assert np.all(split.train.item_popularity[split.test.item_popularity > 0] > 0)
    assert split.dropped["users"] > 0 and split.dropped["items"] > 0


def test_recorded_params_rebuild_the_same_split():
    split = temporal_split(tiny(), test_fraction=0.25)
    again = make_split(tiny(), split.params)
    assert again.fingerprint == split.fingerprint and again.dropped == split.dropped
    other = temporal_split(tiny(), cutoff="1998-03-02")  # day 60 as a date: other params
    assert pairs(other.test) == pairs(split.test) and other.fingerprint != split.fingerprint


def test_a_cutoff_and_a_fraction_that_disagree_are_refused():
    with pytest.raises(HyperparameterError, match="not both"):
        temporal_split(tiny(), test_fraction=0.25, cutoff="1998-02-20")


def test_a_dataset_without_timestamps_gets_its_own_error():
    with pytest.raises(NoTimestampsError, match="no timestamps.*per-user random holdout"):
        temporal_split(tiny(with_timestamps=False))
    assert issubclass(NoTimestampsError, DataError)


@pytest.mark.parametrize("cutoff, error, words", [
    ("1997-01-01", DataError, "no rating .* comes before"),
    ("1999-01-01", DataError, "nothing could be evaluated"),
    ("March 1998", HyperparameterError, "cannot read"),
])
def test_cutoffs_that_leave_a_side_empty_or_cannot_be_read_are_refused(cutoff, error, words):
    with pytest.raises(error, match=words):
        temporal_split(tiny(), cutoff=cutoff)


def test_validation_of_a_temporal_split_is_the_end_of_the_training_period(ml100k):
    outer = temporal_split(ml100k, test_fraction=0.2)
    inner = validation_split(outer.train, outer.params, 0.2, seed=3)
    assert inner.params["method"] == "temporal"
    assert inner.train.timestamps.max() < inner.params["cutoff"] <= inner.test.timestamps.min()
    assert inner.test.timestamps.max() < outer.params["cutoff"]
    holdout = validation_split(outer.train, {"method": "holdout"}, 0.2, seed=3)
    assert holdout.params == {"method": "holdout", "test_fraction": 0.2, "seed": 3}


def test_describe_split_without_counts_and_for_the_other_methods():
    params = {"method": "temporal", "cutoff": BASE + 50 * DAY + 3600, "test_fraction": 0.2}
    assert describe_split(params) == "a global temporal split at 1998-02-20 01:00:00 UTC"
    assert describe_split(params, short=True) == "temporal split at 1998-02-20 01:00:00 UTC"
    assert describe_split({"method": "temporal", "cutoff": BASE},
                          {"test_ratings": 5, "dropped": {"ratings": 0}}) == \
        "a global temporal split at 1998-01-01: 5 test ratings after it; no new user or item"
    assert describe_split({"method": "holdout", "test_fraction": 0.2, "seed": 0}) == \
        "a random 20% of each user's ratings (seed 0)"


def test_a_run_records_the_split_and_split_for_run_rebuilds_it(tmp_path):
    from recsys_core.models import Popularity
    from recsys_core.runs.store import RunStore, load_run
    from recsys_core.serving.pipeline import split_for_run

    csv = tmp_path / "ratings.csv"
    csv.write_text("user,item,rating,timestamp\n" + "".join(
        f"{u},{i},4,{BASE + d * DAY}\n" for u, i, d in ENTRIES))
    from recsys_core.data.discovery import load_dataset

    data = load_dataset(csv)
    split = temporal_split(data, test_fraction=0.25)
    info = RunStore(tmp_path / "runs").save(Popularity().fit(split.train), data, name="pop",
                                            split=split)
    assert info.split["params"] == split.params
    assert info.split["counts"] == {"train_ratings": split.train.n_ratings, "test_ratings": 2,
                                    "test_users": 2,
                                    "dropped": {"ratings": 1, "users": 0, "items": 1}}
    run = load_run(info.path)
    assert run.info.split == info.split
    rebuilt = split_for_run(run)
    assert rebuilt.fingerprint == split.fingerprint
    assert describe_split(run.info.split["params"], run.info.split["counts"]).endswith(
        "2 test ratings after it; 1 rating of 0 new users and 1 new item not scorable")
