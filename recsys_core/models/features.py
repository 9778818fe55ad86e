"""Side features of users and items: the ONE place that buckets ages and release years and
encodes user attributes, for every model that uses them.

Two encodings of the same attributes serve two kinds of model, each pinned by its tests:

* :func:`encode_user_features` / :func:`encode_item_features` (generalized WALS): a *sparse,
  named* one-hot matrix, one column per label seen in the data ("age:25-34", "gender:F",
  "age:unknown"), because WALS learns one embedding per label and shows it by name;
* :func:`user_feature_matrix` / :func:`year_bucket_matrix` (the softmax and two-tower query and
  item towers): a *dense*, fixed-layout one-hot block (every age bucket has a column, an unknown
  age is all zeros), the input of a dense layer;
* :func:`year_bucket_starts` (content-based): fixed-width decades ("year:1990"), readable
  feature names a user can state as a preference.

Generalized WALS (the course's "side features") factorises the block matrix

    [[ A (users x items),              U (users x user features) ],
     [ G^T (item features x items),    0                          ]]

so every user attribute (age bucket, gender, occupation) and every genre gets an embedding in the
same space as users and items. These helpers build ``U`` and ``G^T`` with readable feature names
("age:25-34", "gender:F", "genre:Comedy") that also name the learned embeddings.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataError

#: User-table columns encoded by default (those present are used; ``zip_code`` is too fine-grained).
DEFAULT_USER_COLUMNS = ("age", "gender", "occupation")
#: Upper bounds of the age buckets (MovieLens 1M's groups), last bucket open-ended: bucket 0 is
#: "<18", bucket i (1..5) is [AGE_BUCKETS[i-1], AGE_BUCKETS[i]), bucket 6 is "56+".
AGE_BUCKETS = (18, 25, 35, 45, 50, 56)


def age_bucket_index(ages) -> np.ndarray:
    """Bucket of each age in years (int64 array, 0..len(AGE_BUCKETS)); -1 for a missing age.

    Text that is not a number and non-finite values count as missing.
    """
    ages = pd.to_numeric(pd.Series(np.atleast_1d(np.asarray(ages, dtype=object))),
                         errors="coerce").to_numpy(dtype=float)
    known = np.isfinite(ages)
    bucket = np.searchsorted(np.asarray(AGE_BUCKETS, float), np.where(known, ages, 0), "right")
    return np.where(known, bucket, -1).astype(np.int64)


def age_bucket_label(bucket: int) -> str:
    """The label of an age bucket index ("<18", "18-24", ..., "56+"); "unknown" for -1."""
    if bucket < 0:
        return "unknown"
    if bucket == 0:
        return f"<{AGE_BUCKETS[0]}"
    if bucket == len(AGE_BUCKETS):
        return f"{AGE_BUCKETS[-1]}+"
    return f"{AGE_BUCKETS[bucket - 1]}-{AGE_BUCKETS[bucket] - 1}"


def age_bucket(age) -> str:
    """The bucket label of an age in years ("<18", "18-24", ..., "56+"); "unknown" for NaN."""
    try:
        age = float(age)
    except (TypeError, ValueError):
        return "unknown"
    return age_bucket_label(int(age_bucket_index([age])[0]))


def _attribute_label(column: str, value) -> str:
    if column == "age":
        return f"age:{age_bucket(value)}"
    return f"{column}:{value}"


def encode_user_features(users: pd.DataFrame | None, n_users: int,
                         columns: Sequence[str] = DEFAULT_USER_COLUMNS
                         ) -> tuple[sp.csr_matrix, list[str]]:
    """One-hot user attributes.

    Parameters
    ----------
    users : DataFrame with ``n_users`` rows, or None (no features)
    n_users : int
    columns : column names to encode; missing ones are skipped. ``age`` is bucketed.

    Returns
    -------
    features : csr_matrix of float32, shape (n_users, n_features), one 1 per user and column
    names : list of str, the feature labels ("age:25-34", "gender:M", ...), sorted per column
    """
    if users is None:
        return sp.csr_matrix((n_users, 0), dtype=np.float32), []
    if len(users) != n_users:
        raise DataError(f"user table has {len(users)} rows for {n_users} users")
    labels_per_column = []
    for column in columns:
        if column in users.columns:
            labels_per_column.append([_attribute_label(column, v) for v in users[column].tolist()])
    names = sorted({label for labels in labels_per_column for label in labels})
    index = {name: j for j, name in enumerate(names)}
    rows = np.concatenate([np.arange(n_users)] * len(labels_per_column)) if labels_per_column \
        else np.zeros(0, np.int64)
    cols = np.array([index[label] for labels in labels_per_column for label in labels], np.int64)
    data = np.ones(len(cols), np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(n_users, len(names))), names


def encode_user_attributes(attributes: Mapping, feature_names: Sequence[str]) -> np.ndarray:
    """Indices into ``feature_names`` of one person's attributes, e.g. ``{"age": 23, "gender": "F"}``.

    Attributes whose label was never seen in training (an occupation absent from the data) are
    ignored, as they have no embedding.
    """
    index = {name: j for j, name in enumerate(feature_names)}
    found = [index.get(_attribute_label(column, value)) for column, value in attributes.items()]
    return np.array(sorted({j for j in found if j is not None}), dtype=np.int64)


def encode_item_features(item_genres: np.ndarray, genre_names: Sequence[str]
                         ) -> tuple[sp.csr_matrix, list[str]]:
    """The transposed genre matrix ``G^T`` (n_genres, n_items) as float32 CSR, and the
    "genre:..." labels."""
    genres = sp.csr_matrix(np.asarray(item_genres, dtype=np.float32).T)
    return genres, [f"genre:{g}" for g in genre_names]


def user_feature_matrix(users: pd.DataFrame | None, n_users: int) -> np.ndarray:
    """Dense one-hot user side features for the neural towers: age bucket, gender, occupation
    (those columns present), in that order.

    The age block always has ``len(AGE_BUCKETS) + 1`` columns (an unknown age is a zero row);
    gender and occupation have one column per distinct value (as text, sorted). Unlike
    :func:`encode_user_features` the columns are not named: the query tower's first layer
    reads them positionally.

    Returns float32 (n_users, n_features); (n_users, 0) without a user table.
    """
    if users is None:
        return np.zeros((n_users, 0), np.float32)
    blocks = []
    if "age" in users:
        bucket = age_bucket_index(users["age"].to_numpy())
        block = np.zeros((n_users, len(AGE_BUCKETS) + 1), np.float32)
        known = bucket >= 0
        block[np.flatnonzero(known), bucket[known]] = 1
        blocks.append(block)
    for column in ("gender", "occupation"):
        if column in users:
            values = users[column].astype(str).to_numpy()
            categories, codes = np.unique(values, return_inverse=True)
            block = np.zeros((n_users, len(categories)), np.float32)
            block[np.arange(n_users), codes] = 1
            blocks.append(block)
    return np.hstack(blocks) if blocks else np.zeros((n_users, 0), np.float32)


def year_bucket_starts(years: np.ndarray, width: int) -> np.ndarray:
    """Start year of the ``width``-year bucket of each year (float array, NaN stays NaN).

    Fixed-width buckets (decades for 10) give the content model readable, stable feature names
    ("year:1990") that a new user can state as a preference.
    """
    years = np.asarray(years, dtype=np.float64)
    return np.floor(years / width) * width


def year_bucket_matrix(years: np.ndarray, n_buckets: int = 8) -> np.ndarray:
    """One-hot release-year buckets (quantiles of the known years) plus an "unknown" column.

    Quantile buckets, unlike :func:`year_bucket_starts`, hold about as many items each, so no
    column of the towers' dense input is nearly always zero.

    Returns float32 (n_items, n_distinct_buckets + 1); (n_items, 0) when no year is known.
    """
    years = np.asarray(years, dtype=float)
    known = ~np.isnan(years)
    if not known.any():
        return np.zeros((len(years), 0), np.float32)
    edges = np.unique(np.quantile(years[known], np.linspace(0, 1, n_buckets + 1)[1:-1]))
    bucket = np.searchsorted(edges, np.where(known, years, 0), side="right")
    out = np.zeros((len(years), len(edges) + 2), np.float32)
    out[np.arange(len(years)), np.where(known, bucket, len(edges) + 1)] = 1
    return out
