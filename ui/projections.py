"""2D projections of a run's embeddings, computed on a background thread and kept per process.

Every (run, embeddings, method, parameter values) gets one :class:`ProjectionJob`: the page
draws the instant PCA map and the job's progress (stage and fraction) while a UMAP or t-SNE job
runs, and can start the default UMAP map of a run before anyone asks for it. Jobs live in a
``st.cache_resource`` registry shared by sessions (results are plain arrays that nobody
mutates), bounded to the most recent ``MAX_ENTRIES``. The registry also holds the exact
neighbour graphs (:class:`recsys_core.evaluation.projection.NeighbourGraphs`), so new UMAP settings
or a t-SNE of the same embeddings skip the neighbour search.

Each job belongs to the sessions that asked for it: a job whose sessions have all left (closed
tabs) stops at its next progress report, and a queued one never starts; the same request from
several sessions (the same key) is one job, the instant PCA included, computed once while the
others wait for it.

A map of more than ``SAMPLE_FROM`` points (ml-25m's 59k items, its 162k users) comes first as a
*sampled* map of the ``SAMPLE_POINTS`` most-rated rows, on a worker of its own so that it never
waits behind a full map; the page shows it (and says so) while the full map computes, and swaps
it for the full one when that is done. Both are cached like any map, the sample being part of the
key.
"""
from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor, wait

import numpy as np
import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from recsys_core.evaluation.projection import NeighbourGraphs, project
from recsys_core.runs.store import Run

MAX_ENTRIES = 64
#: Maps of more points than this are offered as a sampled map first.
SAMPLE_FROM = 10_000
#: Points of that sampled map: the most-rated items (or most active users).
SAMPLE_POINTS = 5_000
DEFAULT_UMAP = {"n_neighbors": 15, "min_dist": 0.1, "perplexity": 30.0, "metric": "euclidean"}


#: Seconds between two checks, from the worker's progress reports, that the job's sessions are
#: still there.
OWNER_CHECK_SECONDS = 0.5


class ProjectionAbandoned(Exception):
    """Raised in the worker from a progress report when every session that asked for the job
    has left: the computation stops there."""


def current_session() -> str | None:
    """The id of the session whose script is running (None outside a script run)."""
    ctx = get_script_run_ctx()
    return getattr(ctx, "session_id", None) if ctx is not None else None


def session_active(session_id: str) -> bool:
    """Whether the session is still connected (always, without a Streamlit server: AppTest)."""
    if not Runtime.exists():
        return True
    return Runtime.instance().is_active_session(session_id)


class ProjectionJob:
    """A projection computing (or computed) on the worker, with its latest progress report.

    ``fraction`` (0..1) and ``stage`` are written by the worker thread and read by page runs;
    each is replaced whole, so a reader never sees a torn value. ``owners`` are the sessions
    that asked for it; when none of them is connected any more, the next progress report raises
    :class:`ProjectionAbandoned` in the worker (a job asked for outside any session has no
    owner and always runs to its end).
    """

    def __init__(self, owner: str | None = None):
        self.future: Future = Future()
        self.fraction = 0.0
        self.stage = "waiting for the worker"
        self.owners: set[str] = set()
        self._checked = float("-inf")
        self.adopt(owner)

    def adopt(self, owner: str | None) -> None:
        """Count session ``owner`` among those waiting for this job."""
        if owner is not None:
            self.owners = self.owners | {owner}

    def abandoned(self) -> bool:
        """Whether every session that asked for the job has left."""
        owners = self.owners
        return bool(owners) and not any(session_active(o) for o in owners)

    def report(self, fraction: float, stage: str) -> None:
        """Called by the worker; stops the computation (raises) once it is abandoned."""
        self.fraction, self.stage = float(min(max(fraction, 0.0), 1.0)), stage
        now = time.monotonic()
        if now - self._checked >= OWNER_CHECK_SECONDS:
            self._checked = now
            if self.abandoned():
                raise ProjectionAbandoned("every session that asked for this map has left")

    def done(self) -> bool:
        return self.future.done()

    def cancelled(self) -> bool:
        """Cancelled before it started, because newer settings were asked for, or stopped
        because its sessions had left (a page that still wants it asks again)."""
        if self.future.cancelled():
            return True
        return self.future.done() and isinstance(self.future.exception(), ProjectionAbandoned)

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the result; True when done."""
        return bool(wait([self.future], timeout=seconds).done)

    def result(self, timeout: float | None = None) -> np.ndarray:
        return self.future.result(timeout)


class _Registry:
    def __init__(self):
        # One worker for full maps: projections are CPU-bound and the machine may have two
        # cores. Sampled maps have their own, so they come at once even while a full map runs.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="projection")
        self.sample_executor = ThreadPoolExecutor(max_workers=1,
                                                  thread_name_prefix="projection-sample")
        self.jobs: OrderedDict[tuple, ProjectionJob] = OrderedDict()
        self.graphs = NeighbourGraphs(max_entries=8)
        self.lock = threading.Lock()

    def submit(self, key: tuple, fn, *args, supersede: tuple | None = None,
               sampled: bool = False, owner: str | None = None, **kwargs) -> ProjectionJob:
        """The job of ``key``, started if new (or if it failed for a reason other than the
        person's input, or was abandoned), with session ``owner`` among its owners. A new job
        cancels the queued, not yet started jobs whose keys begin with ``supersede``: a slider
        dragged over five values computes the last map next, not four stale ones first."""
        with self.lock:
            job = self.jobs.get(key)
            if job is None or _failed(job):
                if supersede is not None:
                    for other in [k for k in self.jobs if k[:len(supersede)] == supersede]:
                        if self.jobs[other].future.cancel():  # only succeeds if not started
                            del self.jobs[other]
                job = ProjectionJob(owner)
                executor = self.sample_executor if sampled else self.executor
                future = executor.submit(fn, *args, graphs=self.graphs, progress=job.report,
                                         **kwargs)
                job.future = future
                self.jobs[key] = job
            else:
                job.adopt(owner)
            self.jobs.move_to_end(key)
            while len(self.jobs) > MAX_ENTRIES:
                oldest = next(iter(self.jobs))
                if not self.jobs[oldest].done():
                    break
                del self.jobs[oldest]
            return job


def _is_user_error(exc: BaseException) -> bool:
    from recsys_core.errors import RecsysError

    return isinstance(exc, RecsysError)


def _failed(job: ProjectionJob) -> bool:
    """Done without a map, for a reason a new request may not meet again (not the person's
    input): abandoned by its sessions, or a failure of the computation."""
    if not job.done() or job.future.cancelled():
        return False
    exc = job.future.exception()
    return exc is not None and not _is_user_error(exc)


@st.cache_resource(show_spinner=False)
def _registry() -> _Registry:
    return _Registry()


def embeddings_of(run: Run, which: str) -> np.ndarray:
    """The run's item or user embeddings (read-only use of the cached model's array)."""
    return run.model.item_embeddings_ if which == "items" else run.model.user_embeddings_


def _normalised(method: str, n_neighbors, min_dist, spread, n_epochs, perplexity, metric) -> tuple:
    """Knobs a method ignores are blanked so they do not split its cache."""
    if method != "umap":
        n_neighbors, min_dist, spread, n_epochs = 0, 0.0, 0.0, 0
    if method != "tsne":
        perplexity = 0.0
    if method == "pca":
        metric = "euclidean"
    return (int(n_neighbors), float(min_dist), float(spread), int(n_epochs or 0),
            float(perplexity), str(metric))


def map_sample(counts: np.ndarray) -> np.ndarray | None:
    """Rows of the sampled map: the ``SAMPLE_POINTS`` rows with the largest ``counts`` (ties by
    smaller index), sorted; None when there are at most ``SAMPLE_FROM`` rows (map them all)."""
    counts = np.asarray(counts)
    if len(counts) <= SAMPLE_FROM:
        return None
    return np.sort(np.argsort(-counts, kind="stable")[:SAMPLE_POINTS])


def _project_rows(embeddings: np.ndarray, rows: np.ndarray | None, method: str, **kwargs):
    return project(embeddings if rows is None else embeddings[rows], method, **kwargs)


def submit(run: Run, which: str, method: str, *, n_neighbors: int = 15, min_dist: float = 0.1,
           spread: float = 1.0, n_epochs: int | None = None, perplexity: float = 30.0,
           metric: str = "euclidean", supersede: bool = True,
           sample: np.ndarray | None = None) -> ProjectionJob:
    """The (possibly running) projection of a run's embeddings; started if new.

    Cached per (run, embeddings, sample, method and every parameter the method uses). With
    ``sample`` (row indices, from :func:`map_sample`) only those rows are mapped, on the
    sampled maps' own worker; the result has one row per sampled row. With ``supersede``,
    queued maps of the same run's embeddings (and the same sample) are cancelled (a page waiting
    for one of them sees ``job.cancelled()`` and asks again).
    """
    nn, md, spr, epochs, perp, met = _normalised(method, n_neighbors, min_dist, spread, n_epochs,
                                                 perplexity, metric)
    rows = None if sample is None else np.asarray(sample, dtype=np.int64)
    # The sample's size and a digest of its rows name it in the key.
    sample_key = None if rows is None else (len(rows), hash(rows.tobytes()))
    key = (run.info.name, run.info.created, which, sample_key, method, nn, md, spr, epochs, perp,
           met)
    owner = current_session()
    if method == "pca":
        # Instant (bounded by projection.EXACT_PCA_WIDTH): computed inline, so it never waits
        # behind a UMAP job on the worker. The job is registered before it computes, so the
        # same request from another session waits for this one instead of computing it again.
        registry = _registry()
        with registry.lock:
            job = registry.jobs.get(key)
            mine = job is None or _failed(job)
            if mine:
                job = registry.jobs[key] = ProjectionJob(owner)
            else:
                job.adopt(owner)
        if mine:
            try:
                job.future.set_result(_project_rows(embeddings_of(run, which), rows, "pca"))
                job.fraction, job.stage = 1.0, "done"
            except BaseException as exc:  # reported by result(), like a worker's failure
                job.future.set_exception(exc)
        return job
    if method == "umap":
        knobs = {"n_neighbors": max(nn, 2), "min_dist": md, "spread": spr,
                 "n_epochs": epochs or None}  # None: the engine's default for the size
    else:
        knobs = {"perplexity": max(perp, 1.0)}
    return _registry().submit(key, _project_rows, embeddings_of(run, which), rows, method,
                              metric=met, random_state=0, sampled=rows is not None,
                              supersede=key[:4] if supersede else None, owner=owner, **knobs)


def projection(run: Run, which: str, method: str, **knobs) -> np.ndarray:
    """(n, 2) coordinates, waiting for the computation if needed (asked again if another
    request superseded it while queued)."""
    while True:
        job = submit(run, which, method, **knobs)
        try:
            return job.result()
        except (CancelledError, ProjectionAbandoned):
            continue


#: Set to 0 to switch background UMAP precomputation off (the AppTest suite does, so that it
#: does not pay numba's compile time).
PRECOMPUTE_ENV = "RECSYS_PRECOMPUTE_UMAP"


def precompute_default_map(run: Run, item_counts: np.ndarray | None = None) -> None:
    """Start the default UMAP map of a run's items in the background (and first its sampled
    map, when ``item_counts``, the items' numbers of ratings, say the catalogue is big).

    This hides numba's compile time (tens of seconds on the first UMAP of a process) behind the
    pages people visit before the Embeddings page.
    """
    if os.environ.get(PRECOMPUTE_ENV, "1") != "0":
        sample = map_sample(item_counts) if item_counts is not None else None
        if sample is not None:
            submit(run, "items", "umap", supersede=False, sample=sample, **DEFAULT_UMAP)
        submit(run, "items", "umap", supersede=False, **DEFAULT_UMAP)
