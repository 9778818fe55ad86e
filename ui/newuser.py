"""The "be a new user" profile shared by the Recommend and Similarity pages (per session)."""
from __future__ import annotations

import numpy as np
import streamlit as st

_KEY = "new_user_profile"  # {"items": [raw ids], "ratings": [floats]}


def profile() -> dict:
    """The items the person rated in this session: {"items": [...], "ratings": [...]}."""
    return st.session_state.setdefault(_KEY, {"items": [], "ratings": []})


def set_rating(raw_item, rating: float) -> None:
    p = profile()
    items, ratings = list(p["items"]), list(p["ratings"])
    if raw_item in items:
        ratings[items.index(raw_item)] = float(rating)
    else:
        items.append(raw_item)
        ratings.append(float(rating))
    st.session_state[_KEY] = {"items": items, "ratings": ratings}


def remove(raw_item) -> None:
    p = profile()
    keep = [n for n, it in enumerate(p["items"]) if it != raw_item]
    st.session_state[_KEY] = {"items": [p["items"][n] for n in keep],
                              "ratings": [p["ratings"][n] for n in keep]}


def clear() -> None:
    st.session_state[_KEY] = {"items": [], "ratings": []}


def rated_in(dataset) -> tuple[np.ndarray, list[float]]:
    """(item indices, ratings) of the profile's items that ``dataset`` has (others skipped:
    the person may have rated them while another dataset was selected)."""
    idx, ratings = [], []
    for raw, rating in zip(profile()["items"], profile()["ratings"]):
        try:
            idx.append(int(dataset.item_indices([raw])[0]))
        except KeyError:  # UnknownIdError
            continue
        ratings.append(rating)
    return np.asarray(idx, dtype=np.int64), ratings


def fold_in(run) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(embedding, item indices, ratings) of the profile in ``run``'s model, None when empty.

    Raw ids unknown to the run (another dataset's items) are skipped.
    """
    p = profile()
    pairs = []
    for raw, rating in zip(p["items"], p["ratings"]):
        try:
            pairs.append((int(run.item_indices([raw])[0]), float(rating)))
        except KeyError:
            continue
    if not pairs:
        return None
    items = np.array([i for i, _ in pairs], dtype=np.int64)
    ratings = np.array([r for _, r in pairs], dtype=np.float32)
    return run.model.fold_in(items, ratings), items, ratings
