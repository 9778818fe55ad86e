"""Training a model in a background thread so the page can draw progress and stop it.

The job lives in the session. The page polls it (redrawing the bar and the loss curve); a click on
"Stop" reruns the page, which sets the job's stop flag; the model's progress callback returns True
and ``fit`` ends after the current epoch. Everything slow runs on the thread and reports a stage
the page shows from the first second: preparing the data (the split, which takes seconds at
ml-25m's size), the fit (an iterative model builds its matrices before the first epoch; a
closed-form one, such as EASE, says which of its ``fit_stages`` runs: building the item Gram
matrix, inverting it, computing the weights), the evaluation (on a fixed sample of test users
for big data,
:func:`recsys_core.evaluation.metrics.evaluate_sample`) and saving the run, so a run is saved
even when the person leaves the page. The thread never calls Streamlit.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
import plotly.express as px

from recsys_core.evaluation.metrics import (EVALUATED_USERS, EVALUATION_SAMPLE_USERS,
                                             TEST_USERS, evaluate_sample, evaluation_note)
from recsys_core.models.base import Recommender, TrainingProgress

from . import charts

#: The stages of a local training job, in order (``TrainingJob.stage``).
STAGES = ("preparing the data", "training", "evaluating", "saving the run")


@dataclass
class TrainingJob:
    """One fit in progress.

    Attributes
    ----------
    model : Recommender (being fitted; owned by the job until ``done``)
    train : Dataset the model is fitted on, or None when ``prepare`` makes it on the thread
    settings : dict describing the job for the page (model kind, ...)
    finish : callable(model) run on the thread after ``fit`` (evaluate and save); its return
        value becomes ``result``
    prepare : callable() run on the thread before ``fit``, returning the training data; when it
        returns None there is nothing to fit (it set ``result`` itself, e.g. a reused run)
    progress : list of TrainingProgress, appended by the training thread after each epoch
    fit_stage : TrainingProgress or None, the latest stage report of a model without epochs
        (``fit_stages``: which stage of its one solve runs)
    stage : str, one of :data:`STAGES` (or "starting"); ``stage_fraction`` (0..1) its progress
        when known and ``stage_note`` a detail ("10,000 of 129,000 test users")
    error : Exception raised by ``prepare``, ``fit`` or ``finish``, if any
    """

    model: Recommender
    train: object
    settings: dict
    finish: Callable[[Recommender], object] | None = None
    prepare: Callable[[], object] | None = None
    progress: list = field(default_factory=list)
    fit_stage: TrainingProgress | None = None
    result: object = None
    error: BaseException | None = None
    stop_requested: threading.Event = field(default_factory=threading.Event)
    fitted: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    stopped_early: bool = False
    reused: bool = False
    stage: str = "starting"
    stage_fraction: float | None = None
    stage_note: str = ""
    started: float = field(default_factory=time.monotonic)

    def start(self) -> "TrainingJob":
        self.started = time.monotonic()
        threading.Thread(target=self._run, name="recsys-train", daemon=True).start()
        return self

    def report(self, stage: str, fraction: float | None = None, note: str = "") -> None:
        """Called from the thread (each attribute is replaced whole, so readers see no tear)."""
        self.stage_note, self.stage_fraction, self.stage = note, fraction, stage

    def _run(self):
        try:
            if self.prepare is not None:
                self.report(STAGES[0])
                self.train = self.prepare()
            if self.train is not None:
                self.report(STAGES[1])
                self.model.fit(self.train, callback=self._callback)
                self.fitted.set()
                if self.finish is not None:
                    self.report(STAGES[2])
                    self.result = self.finish(self.model)
        except BaseException as exc:  # reported to the page, which shows RecsysError messages
            self.error = exc
        finally:
            self.finished.set()

    def _callback(self, progress: TrainingProgress) -> bool:
        if progress.stage:  # a closed-form fit's stage starts: progress, not an epoch
            self.fit_stage = progress
            return False
        self.progress.append(progress)
        if self.stop_requested.is_set():
            self.stopped_early = progress.epoch < progress.n_epochs
            return True
        return False

    @property
    def fit_stages(self) -> tuple[str, ...]:
        """The stages of the model's one solve when it has no epochs (e.g. EASE), else ()."""
        return tuple(getattr(self.model, "fit_stages", ()))

    @property
    def fraction(self) -> float:
        """Progress of the current stage (the epochs, or the fit's own stages, while training),
        0..1."""
        if self.stage != STAGES[1] and self.stage_fraction is not None:
            return min(1.0, max(0.0, self.stage_fraction))
        if self.stage == STAGES[1] and not self.progress and self.fit_stage is not None \
                and self.fit_stage.stage in self.fit_stages:
            return self.fit_stages.index(self.fit_stage.stage) / len(self.fit_stages)
        if not self.progress or self.stage not in STAGES[1:2]:
            return 0.0 if self.stage in ("starting", *STAGES[:2]) else 1.0
        last = self.progress[-1]
        return min(1.0, last.epoch / max(1, last.n_epochs))

    def describe(self) -> str:
        """What the job is doing, for the progress bar: stage n/4, its detail, seconds so far."""
        elapsed = time.monotonic() - self.started
        unit = self.settings.get("unit", "epoch")
        stages = self.fit_stages
        if self.stage == STAGES[1] and stages:  # a closed-form fit: its own stages, no epochs
            current = self.fit_stage.stage if self.fit_stage is not None else ""
            if self.progress:
                detail = "training: solved"
            elif current in stages:
                detail = (f"training: {current} (part {stages.index(current) + 1}/"
                          f"{len(stages)} of one closed-form solve)")
            else:
                detail = "training: reading the data…"
        elif self.stage == STAGES[1]:
            if self.progress:
                last = self.progress[-1]
                detail = f"training: {unit} {last.epoch}/{last.n_epochs}"
            else:
                detail = f"training: building the matrices, then the first {unit}…"
        elif self.stage == "starting":
            detail = "starting…"
        else:
            detail = self.stage + (f" ({self.stage_fraction:.0%})"
                                   if self.stage_fraction is not None else "…")
        number = STAGES.index(self.stage) + 1 if self.stage in STAGES else 0
        prefix = f"step {number}/{len(STAGES)} · " if number else ""
        note = f" · {self.stage_note}" if self.stage_note else ""
        return f"{prefix}{detail}{note} · {elapsed:.0f} s"


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
    return charts.legend_above(fig, height=340, title=bool(title))  # legend never on the curves


def progress_history(progress: list[TrainingProgress]) -> list[dict]:
    return [{"epoch": p.epoch, **p.losses} for p in progress]


def trains_in_one_solve(kind: str) -> bool:
    """Whether models of ``kind`` fit in one closed-form solve (``fit_stages``) rather than
    epochs: their run has one objective value per component, not a loss curve."""
    from recsys_core.models import MODEL_REGISTRY

    return bool(getattr(MODEL_REGISTRY.get(kind), "fit_stages", ()))


def objective_table(history: list[dict]) -> pd.DataFrame | None:
    """The loss components of a one-shot fit's single history entry, as a two-column table
    ("component", "value") in the chart's legend order; None when there is nothing to show."""
    if not history:
        return None
    last = history[-1]
    values = {k: v for k, v in last.items()
              if k not in ("epoch", "elapsed") and not k.startswith("val_") and v is not None}
    if not values:
        return None
    names = charts.loss_order(list(values))
    return pd.DataFrame({"component": names, "value": [float(values[n]) for n in names]})


def cost_note(model: Recommender, dataset) -> str | None:
    """What a fit of ``model`` on ``dataset`` would cost, said before it starts, for models
    that estimate it (softmax and two-tower: minutes per epoch at ml-25m's size); None for the
    others."""
    summary = getattr(model, "cost_summary", None)
    if summary is None:
        return None
    return (f"Expected cost on {dataset.n_users:,} users × {dataset.n_items:,} items: "
            f"{summary(dataset.n_users, dataset.n_items, dataset.n_ratings)} (a rough estimate "
            "for a 2-core machine; Stop keeps the model trained so far).")


#: Keys of a run's metrics that count users rather than measure the model.
EVALUATION_COUNTS = (EVALUATED_USERS, TEST_USERS)


def start_local_job(model: Recommender, kind: str, source: str, dataset, split_params: dict, *,
                    name: str | None = None, reuse: bool = True) -> TrainingJob:
    """Split, fit, evaluate and save a run, all on the job's thread, reporting each stage.

    With ``reuse``, a saved run with exactly these settings is taken instead (``job.reused``,
    ``job.result`` its RunInfo) once the split is known. The evaluation covers every test user,
    or a fixed seeded sample of ``EVALUATION_SAMPLE_USERS`` of them for big data; the run's
    metrics record how many (``evaluated_users`` of ``test_users``).
    """
    from recsys_core.evaluation.split import require_test_ratings
    from recsys_core.runs.store import run_cache_key

    from . import runs, splits

    store = runs.store()
    job = TrainingJob(model, None, {"kind": kind})
    holder = {}

    def prepare():
        split = require_test_ratings(splits.cached_split(source, dataset, split_params))
        holder["split"] = split
        if reuse:
            existing = store.find(run_cache_key(kind, model.get_params(), dataset.fingerprint,
                                                split.params))
            if existing is not None:
                job.reused, job.result = True, existing
                return None
        return split.train

    def evaluate_and_save(fitted):
        split = holder["split"]
        n_test = int((split.test.user_activity > 0).sum())
        note = "on " + evaluation_note({EVALUATED_USERS: min(n_test, EVALUATION_SAMPLE_USERS),
                                         TEST_USERS: n_test})
        job.report(STAGES[2], 0.0, note)
        metrics = evaluate_sample(fitted, split.test, k=10, max_users=EVALUATION_SAMPLE_USERS,
                                  progress=lambda f: job.report(STAGES[2], f, note))
        job.report(STAGES[3])
        return store.save(fitted, dataset, name=name, split=split, metrics=metrics)

    job.prepare, job.finish = prepare, evaluate_and_save
    return job.start()


def train_with_settings(kind: str, settings: dict, source: str, dataset, split_params: dict,
                        on_progress=None):
    """Train model ``kind`` with its defaults changed by ``settings`` on the split of
    ``split_params``, evaluate and save it as a run; a saved run with exactly these settings is
    reused instead (a lesson's one-click setup: :mod:`ui.lessons`).

    ``on_progress(fraction, text)`` is called from the page's thread while the job runs on its
    own thread (the same job as the Train page's: :func:`start_local_job`). Returns the RunInfo.
    """
    from recsys_core.models import trainable_models

    job = start_local_job(trainable_models()[kind](**settings), kind, source, dataset,
                          dict(split_params))
    while not job.finished.wait(0.25):
        if on_progress is not None:
            on_progress(job.fraction, f"{kind}: {job.describe()}")
    if job.error is not None:
        raise job.error
    return job.result
