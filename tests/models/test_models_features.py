"""models/features.py: the one place for side features; both encodings bucket ages alike."""
import numpy as np
import pandas as pd

from recsys_core.models.features import (AGE_BUCKETS, age_bucket, age_bucket_index,
                                         encode_user_features, user_feature_matrix,
                                         year_bucket_matrix, year_bucket_starts)


def test_age_buckets_by_hand():
    ages = [0, 17.9, 18, 24, 25, 55, 56, 90, float("nan"), "x"]
    np.testing.assert_array_equal(age_bucket_index(ages), [0, 0, 1, 1, 2, 5, 6, 6, -1, -1])
    assert [age_bucket(a) for a in (17, 18, 44, 45, 56, None)] == \
        ["<18", "18-24", "35-44", "45-49", "56+", "unknown"]
    assert len(AGE_BUCKETS) + 1 == 7


def test_sparse_and_dense_user_encodings_put_a_user_in_the_same_age_bucket():
    users = pd.DataFrame({"age": [10, 30, 70, np.nan], "gender": ["F", "M", "F", "M"]})
    dense = user_feature_matrix(users, 4)
    sparse, names = encode_user_features(users, 4, columns=("age",))
    for user in range(4):
        label = names[sparse[user].indices[0]]
        dense_bucket = np.flatnonzero(dense[user, :7])
        if label == "age:unknown":
            assert dense_bucket.size == 0  # the dense block leaves an unknown age empty
        else:
            assert label == f"age:{age_bucket(users['age'][user])}"
            assert dense_bucket[0] == age_bucket_index([users["age"][user]])[0]


def test_year_buckets():
    np.testing.assert_array_equal(year_bucket_starts([1994, 1990, 2001], 10), [1990, 1990, 2000])
    assert np.isnan(year_bucket_starts([np.nan], 10)[0])
    onehot = year_bucket_matrix(np.array([1990, 1991, 2000, 2010, np.nan]), n_buckets=2)
    np.testing.assert_array_equal(onehot.sum(axis=1), 1)
    assert onehot[-1, -1] == 1  # unknown year: its own last column
