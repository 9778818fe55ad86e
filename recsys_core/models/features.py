"""One-hot encodings of user attributes and item genres for generalized WALS.

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
#: Upper bounds of the age buckets (MovieLens 1M's groups), last bucket open-ended.
AGE_BUCKETS = (18, 25, 35, 45, 50, 56)


def age_bucket(age) -> str:
    """The bucket label of an age in years ("<18", "18-24", ..., "56+"); "unknown" for NaN."""
    try:
        age = float(age)
    except (TypeError, ValueError):
        return "unknown"
    if not np.isfinite(age):
        return "unknown"
    lower = 0
    for upper in AGE_BUCKETS:
        if age < upper:
            return f"<{upper}" if lower == 0 else f"{lower}-{upper - 1}"
        lower = upper
    return f"{AGE_BUCKETS[-1]}+"


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
