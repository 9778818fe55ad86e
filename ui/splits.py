"""The train/test split a run is evaluated on: chosen on the Train page, cached per dataset."""
from __future__ import annotations

import json

import streamlit as st

from recsys_core.data.dataset import Dataset
from recsys_core.evaluation.split import Split, describe_split, make_split

from . import state

SPLITS = {
    "holdout": ("Random 20% of each user's ratings (seed 0)",
                {"method": "holdout", "test_fraction": 0.2, "seed": 0}),
    "last": ("Each user's most recent rating", {"method": "leave_last_k_out", "k": 1}),
}
#: The global temporal split, offered for datasets with timestamps (docs/splits.md); the share
#: of ratings after its cut-off time is chosen beside it (20% unless changed).
TEMPORAL = ("Global temporal split: train before a cut-off time, test after it",
            {"method": "temporal", "test_fraction": 0.2})


def select_split(dataset: Dataset) -> dict:
    """A split choice (kept in the URL as ``split``); returns its parameters."""
    options = dict(SPLITS)
    if dataset.timestamps is not None:
        options["temporal"] = TEMPORAL
    for fold in sorted(dataset.folds):
        options[fold] = (f"MovieLens predefined fold {fold}", {"method": "predefined", "fold": fold})
    choice = state.selectbox("Test split", list(options), "split", "holdout",
                             format_func=lambda c: options[c][0],
                             help="Held-out ratings the run is evaluated on; the model never "
                                  "sees them while training. The random and most-recent "
                                  "choices hold out part of each user's history, so training "
                                  "still sees ratings made after the test ones; the global "
                                  "temporal split trains on everything before one cut-off time "
                                  "and tests on what came after, as a deployed model meets it.")
    params = dict(options[choice][1])
    if params["method"] == "temporal":
        share = state.slider("Ratings after the cut-off (%)", "cutoff_pct", 20, min_value=5,
                             max_value=50, step=5,
                             help="The cut-off time is put where this share of all ratings "
                                  "comes at or after it; the time is said below.")
        params["test_fraction"] = share / 100
    return params


def describe(record: dict) -> str:
    """A split in words (:func:`recsys_core.evaluation.split.describe_split`), from a run's
    split record (``{"params", "counts"}``) or bare split params; e.g. "a random 20% of each
    user's ratings (seed 0)" or "a global temporal split at 1998-03-07: ... not scorable"."""
    if "params" in record:
        return describe_split(record["params"], record.get("counts"))
    return describe_split(record)


def choice_note(source: str, dataset: Dataset, params: dict) -> str | None:
    """What the chosen split holds out, said before training when it depends on the data (the
    temporal split's cut-off time and its new users and items); None for the others."""
    if params.get("method") != "temporal":
        return None
    return cached_split(source, dataset, params).describe().capitalize() + "."


@st.cache_resource(show_spinner="Splitting the data…", max_entries=8)
def _split(source: str, fingerprint: str, params_json: str, _dataset: Dataset) -> Split:
    return make_split(_dataset, json.loads(params_json))


def cached_split(source: str, dataset: Dataset, params: dict) -> Split:
    """The split of ``dataset`` with ``params``, computed once per process."""
    return _split(source, dataset.fingerprint, json.dumps(params, sort_keys=True), dataset)
