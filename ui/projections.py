"""2D projections of a run's embeddings, computed on a background thread and kept per process.

Every (run, embeddings, method, knob values) gets one Future: the page draws the instant PCA
map while a UMAP or t-SNE future runs, and can start the default UMAP map of a run before anyone
asks for it. Futures live in a ``st.cache_resource`` registry shared by sessions (results are
plain arrays that nobody mutates), bounded to the most recent ``MAX_ENTRIES``.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import streamlit as st

from recsys_core.projection import project
from recsys_core.runs import Run

MAX_ENTRIES = 64
DEFAULT_UMAP = {"n_neighbors": 15, "min_dist": 0.1, "perplexity": 30.0, "metric": "euclidean"}


class _Registry:
    def __init__(self):
        # One worker: projections are CPU-bound and the machine may have two cores.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="projection")
        self.futures: OrderedDict[tuple, Future] = OrderedDict()
        self.lock = threading.Lock()

    def submit(self, key: tuple, fn, *args, **kwargs) -> Future:
        with self.lock:
            future = self.futures.get(key)
            if future is None or (future.done() and future.exception() is not None
                                  and not _is_user_error(future.exception())):
                future = self.executor.submit(fn, *args, **kwargs)
                self.futures[key] = future
            self.futures.move_to_end(key)
            while len(self.futures) > MAX_ENTRIES:
                oldest = next(iter(self.futures))
                if not self.futures[oldest].done():
                    break
                del self.futures[oldest]
            return future


def _is_user_error(exc: BaseException) -> bool:
    from recsys_core.errors import RecsysError

    return isinstance(exc, RecsysError)


@st.cache_resource(show_spinner=False)
def _registry() -> _Registry:
    return _Registry()


def embeddings_of(run: Run, which: str) -> np.ndarray:
    """The run's item or user embeddings (read-only use of the cached model's array)."""
    return run.model.item_embeddings_ if which == "items" else run.model.user_embeddings_


def _normalised(method: str, n_neighbors, min_dist, perplexity, metric) -> tuple:
    """Knobs a method ignores are blanked so they do not split its cache."""
    if method != "umap":
        n_neighbors, min_dist = 0, 0.0
    if method != "tsne":
        perplexity = 0.0
    if method == "pca":
        metric = "euclidean"
    return int(n_neighbors), float(min_dist), float(perplexity), str(metric)


def submit(run: Run, which: str, method: str, *, n_neighbors: int = 15, min_dist: float = 0.1,
           perplexity: float = 30.0, metric: str = "euclidean") -> Future:
    """The (possibly running) projection of a run's embeddings; started if new."""
    nn, md, perp, met = _normalised(method, n_neighbors, min_dist, perplexity, metric)
    key = (run.info.name, run.info.created, which, method, nn, md, perp, met)
    if method == "pca":
        # Instant: computed inline so it never waits behind a UMAP job on the worker.
        registry = _registry()
        with registry.lock:
            future = registry.futures.get(key)
        if future is None:
            future = Future()
            try:
                future.set_result(project(embeddings_of(run, which), "pca"))
            except BaseException as exc:  # reported by result(), like a worker's failure
                future.set_exception(exc)
            with registry.lock:
                registry.futures[key] = future
        return future
    return _registry().submit(key, project, embeddings_of(run, which), method, n_neighbors=max(nn, 2),
                              min_dist=md, perplexity=max(perp, 1.0), metric=met, random_state=0)


def projection(run: Run, which: str, method: str, **knobs) -> np.ndarray:
    """(n, 2) coordinates, waiting for the computation if needed."""
    return submit(run, which, method, **knobs).result()


#: Set to 0 to switch background UMAP precomputation off (the AppTest suite does, so that it
#: does not pay numba's compile time).
PRECOMPUTE_ENV = "RECSYS_PRECOMPUTE_UMAP"


def precompute_default_map(run: Run) -> None:
    """Start the default UMAP map of a run's items in the background.

    This hides numba's compile time (tens of seconds on the first UMAP of a process) behind the
    pages people visit before the Embeddings page.
    """
    if os.environ.get(PRECOMPUTE_ENV, "1") != "0":
        submit(run, "items", "umap", **DEFAULT_UMAP)
