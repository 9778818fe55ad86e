"""The train/test split a run is evaluated on: chosen on the Train page, cached per dataset."""
from __future__ import annotations

import json

import streamlit as st

from recsys_core.data.dataset import Dataset
from recsys_core.evaluation.split import Split, make_split

from . import state

SPLITS = {
    "holdout": ("Random 20% of each user's ratings (seed 0)",
                {"method": "holdout", "test_fraction": 0.2, "seed": 0}),
    "last": ("Each user's most recent rating", {"method": "leave_last_k_out", "k": 1}),
}


def select_split(dataset: Dataset) -> dict:
    """A split choice (kept in the URL as ``split``); returns its parameters."""
    options = dict(SPLITS)
    for fold in sorted(dataset.folds):
        options[fold] = (f"MovieLens predefined fold {fold}", {"method": "predefined", "fold": fold})
    choice = state.selectbox("Test split", list(options), "split", "holdout",
                             format_func=lambda c: options[c][0],
                             help="Held-out ratings the run is evaluated on; the model never "
                                  "sees them while training.")
    return dict(options[choice][1])


def describe(params: dict) -> str:
    """A split's recorded parameters as a phrase, e.g. "a random 20% of each user's ratings
    (seed 0)"."""
    params = dict(params)
    method = params.pop("method", None)
    if method == "holdout":
        return (f"a random {params.get('test_fraction', 0.2):.0%} of each user's ratings "
                f"(seed {params.get('seed', 0)})")
    if method == "leave_last_k_out":
        k = int(params.get("k", 1))
        return "each user's most recent rating" if k == 1 else \
            f"each user's {k} most recent ratings"
    if method == "predefined":
        return f"MovieLens predefined fold {params.get('fold', '')}"
    settings = ", ".join(f"{k} {v}" for k, v in params.items())
    return f"the {method} split" + (f" ({settings})" if settings else "")


@st.cache_resource(show_spinner="Splitting the data…", max_entries=8)
def _split(source: str, fingerprint: str, params_json: str, _dataset: Dataset) -> Split:
    return make_split(_dataset, json.loads(params_json))


def cached_split(source: str, dataset: Dataset, params: dict) -> Split:
    """The split of ``dataset`` with ``params``, computed once per process."""
    return _split(source, dataset.fingerprint, json.dumps(params, sort_keys=True), dataset)
