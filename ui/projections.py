"""Cached 2D projections of a run's embeddings (st.cache_data, keyed by run and every knob)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from recsys_core.projection import project
from recsys_core.runs import Run


@st.cache_data(show_spinner=False, max_entries=64)
def _projection(run_name: str, created: str, which: str, method: str, n_neighbors: int,
                min_dist: float, perplexity: float, metric: str, _embeddings: np.ndarray
                ) -> np.ndarray:
    return project(_embeddings, method, n_neighbors=n_neighbors, min_dist=min_dist,
                   perplexity=perplexity, metric=metric, random_state=0)


def embeddings_of(run: Run, which: str) -> np.ndarray:
    """The run's item or user embeddings (read-only view of the cached model's array)."""
    return run.model.item_embeddings_ if which == "items" else run.model.user_embeddings_


def projection(run: Run, which: str, method: str, *, n_neighbors: int = 15,
               min_dist: float = 0.1, perplexity: float = 30.0, metric: str = "euclidean"
               ) -> np.ndarray:
    """(n, 2) coordinates, computed once per (run, which, method, knobs) in this process."""
    # Knobs that do not affect a method are normalised so they do not split its cache.
    if method != "umap":
        n_neighbors, min_dist = 0, 0.0
    if method != "tsne":
        perplexity = 0.0
    if method == "pca":
        metric = "euclidean"
    return _projection(run.info.name, run.info.created, which, method, int(n_neighbors),
                       float(min_dist), float(perplexity), metric,
                       embeddings_of(run, which))
