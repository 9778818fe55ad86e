"""The Dataset contract every model and page relies on, on tiny hand-made data."""
import numpy as np
import pytest

from recsys_core.data.dataset import Dataset
from recsys_core.errors import DataError, UnknownIdError


def tiny(**kw):
    # user 10 rates item "b" twice: at t=5 (rating 2) and at t=9 (rating 5); the latest must win.
    return Dataset.from_interactions(
        users=[10, 10, 20, 10, 30], items=["b", "a", "c", "b", "a"], values=[2, 4, 3, 5, 1],
        timestamps=[5, 7, 1, 9, 3], rating_scale=(1, 5), **kw)


def test_interactions_are_indexed_sorted_and_deduplicated_keeping_the_latest():
    d = tiny()
    assert d.shape == (3, 3)
    assert d.user_ids.tolist() == [10, 20, 30]
    assert d.item_ids.tolist() == ["a", "b", "c"]
    dense = d.ratings.toarray()
    np.testing.assert_array_equal(dense, [[4, 5, 0], [0, 0, 3], [1, 0, 0]])
    assert d.report.rows_read == 5 and d.report.duplicates_merged == 1
    # timestamps follow ratings.data: user 10 -> a@7, b@9; user 20 -> c@1; user 30 -> a@3
    assert d.timestamps.tolist() == [7, 9, 1, 3]
    assert d.item_popularity.tolist() == [2, 1, 1]
    assert d.user_activity.tolist() == [2, 1, 1]
    assert d.items["popularity"].tolist() == [2, 1, 1]


def test_arrays_are_read_only():
    d = tiny()
    with pytest.raises(ValueError):
        d.ratings.data[0] = 3
    with pytest.raises(ValueError):
        d.user_ids[0] = 1


def test_raw_id_lookup_accepts_typed_strings_and_names_unknown_ids():
    d = tiny()
    assert d.user_indices(["20", 30]).tolist() == [1, 2]
    assert d.item_indices("c").tolist() == [2]
    with pytest.raises(UnknownIdError, match="unknown user id 99"):
        d.user_indices([99])
    with pytest.raises(UnknownIdError, match="integers"):
        d.user_indices(["abc"])
    with pytest.raises(UnknownIdError, match="'z'"):
        d.item_indices(["z"])


def test_ids_outside_the_declared_universe_are_a_data_error():
    with pytest.raises(DataError, match="item id 'zz' is not in the items list"):
        Dataset.from_interactions([1], ["zz"], item_ids=["a", "b"])


def test_select_entries_keeps_index_space_tables_and_timestamps():
    d = tiny()
    train = d.select_entries(np.array([True, False, True, False]))
    assert train.shape == d.shape
    assert train.ratings.toarray().tolist() == [[4, 0, 0], [0, 0, 3], [0, 0, 0]]
    assert train.timestamps.tolist() == [7, 1]
    assert train.items is d.items
    assert train.fingerprint != d.fingerprint


def test_fingerprint_is_stable_and_sensitive():
    assert tiny().fingerprint == tiny().fingerprint
    other = Dataset.from_interactions([10, 20], ["a", "c"], [4, 3], [7, 1], rating_scale=(1, 5))
    assert other.fingerprint != tiny().fingerprint


def test_implicit_data_gets_unit_values_and_genre_labels():
    d = Dataset.from_interactions([1, 2], [7, 8], genre_names=["Comedy", "Drama"],
                                  item_genres=[[1, 1], [0, 1]])
    assert not d.is_explicit
    assert d.ratings.data.tolist() == [1.0, 1.0]
    assert d.items["genres"].tolist() == ["Comedy|Drama", "Drama"]
    assert d.summary()["rating scale"] == "implicit"


def test_movielens_100k_shape_and_folds(ml100k):
    assert ml100k.shape == (943, 1682)
    assert ml100k.n_ratings == 100_000
    assert len(ml100k.genre_names) == 19
    assert all(mask.sum() == 20_000 for mask in ml100k.folds.values())
    assert ml100k.titles([0])[0] == "Toy Story (1995)"


def test_with_ratings_accepts_a_datasets_own_read_only_matrix():
    d = tiny()
    same = d.with_ratings(d.ratings)
    assert (same.ratings != d.ratings).nnz == 0 and same.timestamps is None
    with pytest.raises(ValueError, match="shape"):
        d.with_ratings(d.ratings[:2])
