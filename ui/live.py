"""Live mode of the Train page: moving a hyperparameter refits in the background.

For models whose fit on the current data takes about a second or less (WALS, EASE, SVD on
MovieLens 100K; MF with few epochs), every change of a hyperparameter widget submits the new
settings to a :class:`LiveTrainer`: one background thread fits the model on a validation split
carved from the training part (never the test part), scores it on that split's held-out part and
projects its item embeddings with PCA. The latest settings win: a fit for settings that were
replaced meanwhile is stopped at its next epoch through the progress callback (a closed-form fit
runs to its end and its result is dropped). A fragment polls the trainer and draws the metrics,
the loss curve and the map, with the previous result greyed for comparison. Nothing is saved:
"Save as run" trains the current settings normally on the whole training part, through the run
store.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from recsys_core.errors import RecsysError
from recsys_core.evaluation.metrics import evaluate_model
from recsys_core.evaluation.projection import project
from recsys_core.evaluation.split import validation_split as carve_validation

from . import charts, page, splits
from .training import loss_figure, objective_table

#: Fits expected to take longer than this (seconds) are not offered live.
LIVE_LIMIT_SECONDS = 1.5
#: Seconds between two looks at the trainer.
POLL_SECONDS = 0.1
#: Seconds the page's own run waits for a fit before leaving it to the poller (a short fit is
#: then drawn in the same run, without a second round trip).
WAIT_SECONDS = 1.0
#: Share of each user's training entries held out for the live validation metrics.
VALIDATION_FRACTION = 0.2
#: Shown while a fit is running (the browser benchmark waits for it to disappear).
PENDING_NOTE = "Refitting on the validation split…"
#: Grey of the previous result on the charts.
PREVIOUS_COLOUR = "rgba(140, 140, 140, 0.45)"

# Rough seconds per unit of work on this class of machine (measured on ml-100k, 2 cores,
# loaded): a prior for the fit time before one live fit has been timed.
_SECONDS_PER_WORK = {
    "wals": 2.5e-9,   # x ratings x iterations x factors   (64 x 15 on ml-100k: ~0.25 s)
    "mf": 1.5e-9,     # x ratings x epochs x factors       (numba SGD)
    "svd": 3e-9,      # x ratings x factors                (sparse truncated SVD)
    "ease": 8e-11,    # x items^3                          (one Gram inverse)
}


def estimate_fit_seconds(kind: str, params: dict, n_ratings: int, n_items: int) -> float | None:
    """Expected seconds of one fit, from the model's work; None for models never run live."""
    cost = _SECONDS_PER_WORK.get(kind)
    if cost is None:
        return None
    factors = float(params.get("factors", params.get("n_factors", 64)) or 64)
    if kind == "wals":
        work = n_ratings * float(params.get("iterations", 15)) * factors
    elif kind == "mf":
        work = n_ratings * float(params.get("epochs", params.get("n_epochs", 20))) * factors
    elif kind == "svd":
        work = n_ratings * factors
    else:
        work = float(n_items) ** 3
    return cost * work


@dataclass
class LiveResult:
    """One finished live fit.

    Attributes
    ----------
    generation : int, the submission it answers
    params : dict of hyperparameters
    history : list of dict, the model's per-epoch losses (one entry, the solution's, for a
        closed-form model)
    metrics : dict of validation metrics (NDCG@10, ...)
    coords : float32 (n_items, 2) PCA of the item embeddings, or None
    seconds : float, wall time of fit + metrics + map
    fit_seconds : float or None, wall time of the fit alone (None: a first fit, compiling)
    """

    generation: int
    params: dict
    history: list
    metrics: dict
    coords: np.ndarray | None
    seconds: float
    fit_seconds: float | None = None


class Stale(Exception):
    """Raised inside a live fit whose settings were replaced meanwhile."""


@dataclass
class LiveTrainer:
    """Background refits where the latest submitted settings win.

    ``work(params, is_stale)`` does one fit and returns a dict (``history``, ``metrics``,
    ``coords``); it should call ``is_stale()`` now and then (e.g. from the model's progress
    callback) and stop early when it is True. One thread at most runs, started on demand and
    ending when nothing is wanted; ``submit`` never blocks.

    Attributes
    ----------
    result, previous : LiveResult or None, the latest finished fit and the one before
    error : Exception or None, of the latest settings' fit
    discarded : int, fits stopped or dropped because newer settings came in
    """

    work: Callable[[dict, Callable[[], bool]], dict]
    result: LiveResult | None = None
    previous: LiveResult | None = None
    error: BaseException | None = None
    discarded: int = 0
    _wanted: tuple[int, dict] | None = None
    _done: int = 0
    _generation: int = 0
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _idle: threading.Condition = None  # type: ignore[assignment]
    _figure_cache: tuple | None = None

    def __post_init__(self):
        self._idle = threading.Condition(self._lock)

    def submit(self, params: dict) -> int:
        """Ask for a fit with ``params`` (ignored when they are the latest asked already);
        returns the generation that will answer them."""
        with self._lock:
            if self._wanted is not None and self._wanted[1] == params:
                return self._wanted[0]
            self._generation += 1
            self._wanted = (self._generation, dict(params))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="recsys-live",
                                                daemon=True)
                self._thread.start()
            return self._generation

    @property
    def pending(self) -> bool:
        """True while the latest settings have no result (or error) yet."""
        with self._lock:
            return self._wanted is not None and self._done != self._wanted[0]

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the latest settings are answered; False on timeout (tests)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._wanted is not None and self._done != self._wanted[0]:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _loop(self):
        while True:
            with self._lock:
                if self._wanted is None or self._done == self._wanted[0]:
                    self._thread = None
                    self._idle.notify_all()
                    return
                generation, params = self._wanted

            def is_stale(generation=generation) -> bool:
                return self._wanted is not None and self._wanted[0] != generation

            start = time.perf_counter()
            try:
                out = self.work(params, is_stale)
                error = None
            except Stale:
                out, error = None, None
            except Exception as exc:  # noqa: BLE001 - shown on the page
                out, error = None, exc
            seconds = time.perf_counter() - start
            with self._lock:
                if is_stale() or (out is None and error is None):
                    self.discarded += 1
                    continue
                if error is None:
                    self.previous, self.result = self.result, LiveResult(
                        generation, params, out.get("history", []), out.get("metrics", {}),
                        out.get("coords"), seconds, out.get("fit_seconds"))
                self.error = error
                self._done = generation
                self._idle.notify_all()


# ---------------------------------------------------------------------------- the fit itself
_VALIDATION: dict[str, object] = {}
#: Model classes fitted once in this process: a first fit also compiles numba kernels, so its
#: time says nothing about the next ones.
_WARM: set = set()


def validation_split(source: str, dataset, split_params: dict):
    """A per-user holdout carved from the training part of the page's split (seed 1), or the
    last part of its training period after a temporal split, computed once per split: live
    metrics never see the test part."""
    split = splits.cached_split(source, dataset, split_params)
    key = split.fingerprint
    inner = _VALIDATION.get(key)
    if inner is None:
        inner = carve_validation(split.train, split.params, VALIDATION_FRACTION, seed=1)
        _VALIDATION.clear()  # one at a time: the splits of ml-100k weigh a few MB each
        _VALIDATION[key] = inner
    return inner


def fit_and_measure(model_cls, inner) -> Callable[[dict, Callable[[], bool]], dict]:
    """The trainer's work: fit ``model_cls(**params)`` on ``inner.train``, score NDCG@10 and
    friends on ``inner.test``, PCA of the item embeddings."""

    def work(params: dict, is_stale: Callable[[], bool]) -> dict:
        model = model_cls(**params)
        start = time.perf_counter()
        model.fit(inner.train, callback=lambda progress: is_stale())
        fit_seconds = time.perf_counter() - start if model_cls in _WARM else None
        _WARM.add(model_cls)
        if is_stale():
            raise Stale
        metrics = evaluate_model(model, inner.test, k=10, beyond_accuracy=False)
        if is_stale():
            raise Stale
        items = getattr(model, "item_embeddings_", None)
        coords = None
        if items is not None and np.ndim(items) == 2 and items.shape[1] >= 2:
            coords = project(np.asarray(items, dtype=np.float32), "pca")
        return {"history": list(getattr(model, "history_", []) or []), "metrics": metrics,
                "coords": coords, "fit_seconds": fit_seconds}

    return work


def trainer(kind: str, model_cls, source: str, dataset, split_params: dict) -> LiveTrainer:
    """This session's trainer for the model and split (a new one when either changed)."""
    key = (kind, dataset.fingerprint, repr(sorted(split_params.items())))
    held = st.session_state.get("_live_trainer")
    if held is None or held[0] != key:
        inner = validation_split(source, dataset, split_params)
        held = (key, LiveTrainer(fit_and_measure(model_cls, inner)))
        st.session_state["_live_trainer"] = held
    return held[1]


# ---------------------------------------------------------------------------- drawing
def _aligned(coords: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
    """PCA axes have arbitrary signs: flip each to agree with the previous map."""
    if reference is None or reference.shape != coords.shape:
        return coords
    out = coords.copy()
    for axis in range(2):
        if float(out[:, axis] @ reference[:, axis]) < 0:
            out[:, axis] *= -1
    return out


def metrics_table(result: LiveResult, previous: LiveResult | None) -> pd.DataFrame:
    names = sorted(result.metrics, key=lambda m: m != "ndcg@10")
    table = pd.DataFrame({"metric": names, "value": [result.metrics[m] for m in names]})
    if previous is not None:
        table["previous"] = [previous.metrics.get(m, np.nan) for m in names]
        table["change"] = table["value"] - table["previous"]
    return table


def loss_chart(result: LiveResult, previous: LiveResult | None) -> go.Figure | None:
    fig = loss_figure(result.history)
    if fig is None:
        return None
    if previous is not None and previous.history:
        for component in charts.loss_order({k for h in previous.history for k in h
                                            if k not in ("epoch", "elapsed")
                                            and not k.startswith("val_")}):
            points = [(h["epoch"], h[component]) for h in previous.history
                      if h.get(component) is not None]
            if points:
                x, y = zip(*points)
                fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"{component} (previous)",
                                         line=dict(color=PREVIOUS_COLOUR, dash="dot")))
    return fig


def objective_comparison(result: LiveResult, previous: LiveResult | None) -> pd.DataFrame | None:
    """A closed-form fit's loss terms (its one solution: no curve to draw), beside the previous
    settings' when there are some."""
    table = objective_table(result.history)
    if table is None:
        return None
    before = objective_table(previous.history) if previous is not None else None
    if before is not None:
        old = dict(zip(before["component"], before["value"]))
        table["previous"] = [old.get(c, np.nan) for c in table["component"]]
    return table


def map_chart(result: LiveResult, previous: LiveResult | None, titles=None) -> go.Figure | None:
    if result.coords is None:
        return None
    before = previous.coords if previous is not None else None
    coords = _aligned(result.coords, before)
    result.coords = coords  # the next result aligns to what is on screen
    text = list(titles) if titles is not None and len(titles) == len(coords) else None
    fig = go.Figure()
    if before is not None and before.shape == coords.shape:
        fig.add_trace(go.Scattergl(x=before[:, 0], y=before[:, 1], mode="markers",
                                   name="previous", hoverinfo="skip",
                                   marker=dict(size=4, color=PREVIOUS_COLOUR)))
    fig.add_trace(go.Scattergl(x=coords[:, 0], y=coords[:, 1], mode="markers", name="current",
                               text=text, hoverinfo="text" if text else "x+y",
                               marker=dict(size=4, color="#1f77b4", opacity=0.8)))
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=30, b=10),
                      title="Item embeddings (PCA)", legend=dict(orientation="h"))
    return fig


def _figures(live: LiveTrainer, result: LiveResult, previous: LiveResult | None, titles):
    """The loss and map figures of ``result`` against ``previous``, built once per pair (the
    poller redraws them while the next fit runs)."""
    key = (result.generation, previous.generation if previous is not None else None)
    cached = getattr(live, "_figure_cache", None)
    if cached is None or cached[0] != key:
        cached = (key, loss_chart(result, previous), map_chart(result, previous, titles))
        live._figure_cache = cached
    return cached[1], cached[2]


def _draw(live: LiveTrainer, titles, one_solve: bool = False) -> None:
    with live._lock:  # a consistent pair, while the worker may be publishing the next one
        result, previous = live.result, live.previous
    if live.error is not None:
        message = str(live.error) if isinstance(live.error, RecsysError) else repr(live.error)
        st.error(f"Live fit failed: {message}")
    if live.pending:
        st.caption(PENDING_NOTE)
    if result is None:
        return
    st.caption(f"Live fit #{result.generation}: {result.seconds:.2f} s "
               "(validation split carved from the training part; nothing saved)")
    left, right = st.columns(2)
    with left:
        page.dataframe(metrics_table(result, previous), hide_index=True, key="live_metrics",
                       column_config={c: st.column_config.NumberColumn(format="%.4f")
                                      for c in ("value", "previous", "change")})
    loss, points = _figures(live, result, previous, titles)
    with left:
        objective = objective_comparison(result, previous) if one_solve else None
        if objective is not None:
            st.caption("Loss terms of the closed-form solution (one solve, no epochs)")
            page.dataframe(objective, hide_index=True, key="live_objective",
                           column_config={c: st.column_config.NumberColumn(format="%.6g")
                                          for c in ("value", "previous")})
        elif loss is not None and not one_solve:
            st.plotly_chart(loss, key="live_loss")
    with right:
        if points is not None:
            st.plotly_chart(points, key="live_map")


def show_live(live: LiveTrainer, titles=None, one_solve: bool = False) -> None:
    """The live results, redrawn by a poller until the latest settings are answered
    (``one_solve``: the model fits in one closed-form solve, so its loss terms are a table)."""
    live.wait(WAIT_SECONDS)

    @st.fragment(run_every=POLL_SECONDS)
    def poll():
        _draw(live, titles, one_solve)
        if not live.pending:
            from .impact import _stop_polling

            _stop_polling()

    poll()


# ---------------------------------------------------------------------------- the page's part
def expected_seconds(kind: str, params: dict, dataset) -> float | None:
    """Seconds a live fit of ``params`` should take: the last live fit of this session (the fit
    alone) scaled by the work's ratio, else the prior estimate; None for models never run
    live."""
    estimate = estimate_fit_seconds(kind, params, dataset.n_ratings, dataset.n_items)
    if estimate is None:
        return None
    held = st.session_state.get("_live_trainer")
    if (held is not None and held[0][0] == kind and held[1].result is not None
            and held[1].result.fit_seconds is not None):
        last = held[1].result
        then = estimate_fit_seconds(kind, last.params, dataset.n_ratings, dataset.n_items)
        if then:
            return last.fit_seconds * estimate / then
    return estimate


def live_toggle(kind: str, params: dict, dataset) -> bool:
    """The "Live" toggle (offered only when a fit is short enough); True when live is on."""
    seconds = expected_seconds(kind, params, dataset)
    if seconds is None:
        st.toggle("Live", value=False, key="live_unavailable", disabled=True,
                  help="Live refitting is offered for WALS, EASE, SVD and MF, whose fits are "
                       "short; train this model with the Train button.")
        return False
    # Once on, live mode stays on through a slower fit (the machine may be busy for a moment).
    too_slow = seconds > LIVE_LIMIT_SECONDS * (2 if st.session_state.get("live") else 1)
    on = st.toggle("Live", key="live", disabled=too_slow,
                   help=f"Refit on a validation split at every change (expected {seconds:.1f} s"
                        " per fit). Nothing is saved until you click Save as run." +
                        (" These settings take too long for live mode." if too_slow else ""))
    return on and not too_slow


def live_section(kind: str, model_cls, params: dict, source: str, dataset, split_params: dict,
                 busy: bool) -> bool:
    """Submit the current settings and show the live results; True when "Save as run" was
    clicked (the page then trains these settings as usual)."""
    live = trainer(kind, model_cls, source, dataset, split_params)
    try:
        model_cls(**params).validate_params()
    except (TypeError, RecsysError) as exc:
        st.error(f"Live: {exc}")
        return False
    live.submit(params)
    head, button = st.columns([5, 1])
    head.markdown("**Live** — metrics on a validation split carved from the training part; "
                  "the previous settings' result in grey.")
    clicked = button.button("Save as run", key="live_save", disabled=busy,
                            help="Train these settings on the whole training part, evaluate "
                                 "on the test part and save the run.")
    n_items = dataset.n_items
    titles = dataset.titles(np.arange(n_items)) if n_items <= 20_000 else None
    show_live(live, titles, one_solve=bool(model_cls.fit_stages))
    return clicked
