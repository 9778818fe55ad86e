"""Choosing a user or an item: synced selectors and title search."""
from __future__ import annotations

import numpy as np
import streamlit as st

from recsys_core.data.dataset import Dataset

from . import state


def _id_parser(ids: np.ndarray):
    return (lambda s: int(s)) if ids.dtype.kind in "iu" else str


#: Above this many users a typed id replaces the drop-down list.
MAX_LISTED_USERS = 5000


def select_user(dataset: Dataset, key: str = "user", *, container=st, label: str = "User"
                ) -> int:
    """A user picked by raw id (kept in the URL); returns the user's index."""
    if dataset.n_users > MAX_LISTED_USERS:
        first = str(dataset.user_ids[0])
        wkey = state.seed_widget(key, str(state.get(key, first)))
        typed = container.text_input(f"{label} id", key=wkey,
                                     help=f"{dataset.n_users:,} users: type a raw user id.")
        state.put_quiet(key, typed)
        try:
            return int(dataset.user_indices([typed])[0])
        except KeyError as exc:  # UnknownIdError
            container.error(f"{exc}; showing user {first} instead.")
            return 0
    ids = dataset.user_ids.tolist()
    activity = dataset.user_activity
    raw = state.selectbox(label, ids, key, ids[0], parse=_id_parser(dataset.user_ids),
                          container=container,
                          format_func=lambda u: f"{u} ({activity[dataset.user_index[u]]} ratings)")
    return dataset.user_index[raw]


def search_titles(dataset: Dataset, text: str, limit: int = 50) -> np.ndarray:
    """Indices of items whose title contains ``text`` (case-insensitive), most rated first."""
    text = text.strip()
    if not text:
        return np.zeros(0, np.int64)
    titles = dataset.items["title"].astype(str)
    hits = np.flatnonzero(titles.str.contains(text, case=False, regex=False).to_numpy())
    order = np.argsort(-dataset.item_popularity[hits], kind="stable")
    return hits[order][:limit].astype(np.int64)


def search_item(dataset: Dataset, key: str = "item", *, container=st,
                label: str = "Search a title") -> int | None:
    """A title search box plus the matching items; returns the chosen item's index or None.

    The box starts empty (a hint names a popular title to try); the search text is kept in the
    URL (``<key>_q``) and the chosen item by raw id.
    """
    example = dataset.titles([int(np.argmax(dataset.item_popularity))])[0].split(" (")[0]
    wkey = state.seed_widget(f"{key}_q", state.get(f"{key}_q", ""))
    text = container.text_input(label, key=wkey, placeholder=f"e.g. {example}",
                                help="Part of a title, any case.")
    state.put_quiet(f"{key}_q", text)
    if not text.strip():
        container.caption(f"Type part of a title, for example *{example}*.")
        return None
    hits = search_titles(dataset, text)
    if len(hits) == 0:
        container.error(f"No title contains {text!r}; try a shorter part of the title.")
        return None
    ids = dataset.item_ids[hits].tolist()
    raw = state.selectbox("Matching titles", ids, key, ids[0],
                          parse=_id_parser(dataset.item_ids), container=container,
                          format_func=lambda i: dataset.titles([dataset.item_index[i]])[0])
    return dataset.item_index[raw]
