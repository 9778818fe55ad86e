"""RatingStats and long_tail_curve: the Data page's counts equal those of a filtered copy."""
from __future__ import annotations

import numpy as np
import pytest

from recsys_core.data.dataset import Dataset
from recsys_core.data.stats import RatingStats, _rating_codes, long_tail_curve


def _dataset(values=True, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    n = 4000
    users = rng.integers(0, 300, n)
    items = rng.integers(0, 120, n)
    genres = rng.random((150, 4)) < 0.4
    return Dataset.from_interactions(
        users, items, rng.integers(1, 11, n) / 2 if values else None,
        user_ids=np.arange(320),  # 20+ users without any rating, some at the end
        item_ids=np.arange(150), genre_names=["a", "b", "c", "d"], item_genres=genres,
        rating_scale=(0.5, 5.0) if values else None)


def _expected(view: Dataset, genres: np.ndarray):
    values, counts = np.unique(view.ratings.data, return_counts=True)
    return (view.item_popularity, view.user_activity, values, counts,
            view.item_popularity @ genres.astype(np.int64))


@pytest.mark.parametrize("filters", ["none", "items", "users", "both"])
def test_filtered_counts_equal_those_of_the_filtered_dataset(filters):
    ds = _dataset()
    rng = np.random.default_rng(1)
    item_mask = rng.random(ds.n_items) < 0.5 if filters in ("items", "both") else None
    user_mask = rng.random(ds.n_users) < 0.5 if filters in ("users", "both") else None
    keep = np.ones(ds.n_ratings, bool)
    if item_mask is not None:
        keep &= item_mask[ds.ratings.indices]
    if user_mask is not None:
        keep &= user_mask[ds.entry_users]
    got = RatingStats(ds).counts(item_mask, user_mask)
    items, users, values, counts, per_genre = _expected(ds.select_entries(keep), ds.item_genres)
    assert got.n_ratings == keep.sum()
    np.testing.assert_array_equal(got.item_counts, items)
    np.testing.assert_array_equal(got.user_counts, users)
    np.testing.assert_allclose(got.rating_values, values)
    np.testing.assert_array_equal(got.rating_counts, counts)
    np.testing.assert_array_equal(got.genre_ratings, per_genre)
    kept_items = np.ones(ds.n_items, bool) if item_mask is None else item_mask
    np.testing.assert_array_equal(got.genre_items, ds.item_genres[kept_items].sum(axis=0))


def test_a_genre_filter_filters_the_items_per_genre_too():
    # Issue 20: with one genre selected, its items and ratings both follow the filter, and a
    # genre no kept item has shows neither items nor ratings.
    ds = _dataset()
    only = ds.item_genres[:, 0]
    got = RatingStats(ds).counts(only)
    assert got.genre_items[0] == only.sum()
    without_first = ~ds.item_genres[only].any(axis=0)
    assert (got.genre_items[without_first] == 0).all()
    assert (got.genre_ratings[without_first] == 0).all()


def test_implicit_data_has_no_rating_distribution():
    counts = RatingStats(_dataset(values=False)).counts(np.ones(150, bool))
    assert counts.rating_values is None and counts.rating_counts is None


def test_an_empty_filter_counts_nothing():
    counts = RatingStats(_dataset()).counts(np.zeros(150, bool))
    assert counts.n_ratings == 0 and counts.user_counts.sum() == 0
    assert len(counts.rating_values) == 0


@pytest.mark.parametrize("values", [np.array([1, 5, 3, 3], np.float32),
                                    np.array([0.5, 4.5, 2.0], np.float32),
                                    np.array([0.1, 0.7, 0.3, 0.1], np.float32),  # no exact grid
                                    np.array([-2.25, 7.125], np.float32)])
def test_rating_codes_map_back_to_the_values(values):
    codes, levels = _rating_codes(values)
    np.testing.assert_allclose(levels[codes], values)
    assert codes.dtype == np.uint8


def test_long_tail_curve_keeps_the_shape_in_a_bounded_number_of_points():
    counts = np.random.default_rng(0).zipf(1.6, 200_000)
    ranks, ordered, head = long_tail_curve(counts, max_points=1000)
    full = np.sort(counts)[::-1]
    assert len(ranks) <= 1000 and ranks[0] == 1 and ranks[-1] == len(counts)
    np.testing.assert_array_equal(ordered, full[ranks - 1])  # points lie on the exact curve
    share = np.cumsum(full) / full.sum()
    assert share[head - 1] >= 0.5 and (head == 1 or share[head - 2] < 0.5)
    small_ranks, small, _ = long_tail_curve(np.array([3, 9, 1]))
    assert small_ranks.tolist() == [1, 2, 3] and small.tolist() == [9, 3, 1]
