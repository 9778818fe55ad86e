"""Training a model in a background thread so the page can draw progress and stop it.

The job lives in the session. The page polls it (redrawing the bar and the loss curve); a click on
"Stop" reruns the page, which sets the job's stop flag; the model's progress callback returns True
and ``fit`` ends after the current epoch. After ``fit`` the thread also runs ``finish`` (evaluate
and save the run), so a run is saved even when the person leaves the page. The thread never calls
Streamlit.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
import plotly.express as px

from recsys_core.models.base import Recommender, TrainingProgress

from . import charts


@dataclass
class TrainingJob:
    """One fit in progress.

    Attributes
    ----------
    model : Recommender (being fitted; owned by the job until ``done``)
    train : Dataset the model is fitted on
    settings : dict describing the job for the page (model kind, ...)
    finish : callable(model) run on the thread after ``fit`` (evaluate and save); its return
        value becomes ``result``
    progress : list of TrainingProgress, appended by the training thread
    error : Exception raised by ``fit`` or ``finish``, if any
    """

    model: Recommender
    train: object
    settings: dict
    finish: Callable[[Recommender], object] | None = None
    progress: list = field(default_factory=list)
    result: object = None
    error: BaseException | None = None
    stop_requested: threading.Event = field(default_factory=threading.Event)
    fitted: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    stopped_early: bool = False

    def start(self) -> "TrainingJob":
        threading.Thread(target=self._run, name="recsys-train", daemon=True).start()
        return self

    def _run(self):
        try:
            self.model.fit(self.train, callback=self._callback)
            self.fitted.set()
            if self.finish is not None:
                self.result = self.finish(self.model)
        except BaseException as exc:  # reported to the page, which shows RecsysError messages
            self.error = exc
        finally:
            self.finished.set()

    def _callback(self, progress: TrainingProgress) -> bool:
        self.progress.append(progress)
        if self.stop_requested.is_set():
            self.stopped_early = progress.epoch < progress.n_epochs
            return True
        return False

    @property
    def fraction(self) -> float:
        if not self.progress:
            return 0.0
        last = self.progress[-1]
        return min(1.0, last.epoch / max(1, last.n_epochs))


def loss_figure(history: list[dict], title: str = ""):
    """Each loss component per epoch (log scale when all positive); None when nothing to draw.

    Colours and legend order come from the component names (ui.charts.LOSS_COLOURS), so the live
    chart and a saved run's chart (whose history is stored with sorted keys) agree.
    """
    rows = [{"epoch": h["epoch"], "component": k, "value": v} for h in history
            for k, v in h.items()
            if k not in ("epoch", "elapsed") and not k.startswith("val_") and v is not None]
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    components = charts.loss_order(frame["component"])
    positive = bool((frame["value"] > 0).all())
    fig = px.line(frame, x="epoch", y="value", color="component", markers=True,
                  title=title or None, category_orders={"component": components},
                  color_discrete_map={c: charts.loss_colour(c) for c in components})
    if positive:
        charts.readable_log_axis(fig, "y")
    # Whole epochs only (plotly would also mark 1.5, 2.5 on a short run).
    fig.update_xaxes(tick0=1, dtick=max(1, math.ceil(frame["epoch"].max() / 10)))
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40 if title else 10, b=10))
    return fig


def progress_history(progress: list[TrainingProgress]) -> list[dict]:
    return [{"epoch": p.epoch, **p.losses} for p in progress]


def train_with_defaults(kind: str, source: str, dataset, on_progress=None):
    """Train model ``kind`` with its default hyperparameters on the default split (holdout),
    evaluate and save it as a run; a saved run with exactly these settings is reused instead.

    ``on_progress(fraction, text)`` is called from the page's thread while the model trains (the
    fit runs on a training thread, which also evaluates and saves, as on the Train page).
    Returns the RunInfo.
    """
    from recsys_core.evaluation.metrics import evaluate_model
    from recsys_core.models import trainable_models
    from recsys_core.runs.store import run_cache_key

    from . import runs, splits

    model = trainable_models()[kind]()
    split_params = dict(splits.SPLITS["holdout"][1])
    split = splits.cached_split(source, dataset, split_params)
    existing = runs.store().find(run_cache_key(kind, model.get_params(), dataset.fingerprint,
                                               split.params))
    if existing is not None:
        return existing
    store = runs.store()

    def evaluate_and_save(fitted):
        metrics = evaluate_model(fitted, split.test, k=10)
        return store.save(fitted, dataset, split=split, metrics=metrics)

    job = TrainingJob(model, split.train, {"kind": kind}, finish=evaluate_and_save).start()
    while not job.finished.wait(0.25):
        if on_progress is not None:
            if job.fitted.is_set():
                on_progress(1.0, f"{kind}: evaluating and saving…")
            elif job.progress:
                last = job.progress[-1]
                on_progress(job.fraction, f"{kind}: epoch {last.epoch}/{last.n_epochs} · "
                                          f"{last.elapsed:.1f} s")
    if job.error is not None:
        raise job.error
    return job.result
