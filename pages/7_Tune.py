"""Tune page: a hyperparameter sweep in the background, its live chart, and the best trial."""
import time

import pandas as pd
import streamlit as st

from recsys_core.evaluation.split import require_test_ratings
from recsys_core.models import trainable_models
from recsys_core.errors import RecsysError
from recsys_core.tuning import (DEFAULT_FOLDS, MAX_FOLDS, STRATEGIES, Dimension, Sweep,
                                default_dimension, default_names, saved_sweeps, tunable_names)
from ui import data, page, runs, splits, state
from ui.tuning import SweepJob, sweep_figure

page.page_header(
    "Tune",
    "Search one to three hyperparameters at once: each trial trains the model on your training "
    "ratings minus a **validation** share, scores it there, and is saved as a run. **Grid** tries "
    "evenly spaced values, **random** draws them, **TPE** (Optuna) draws more where good trials "
    "were. The test split is never looked at while searching; iterative models stop early when "
    "the validation metric stops improving (WALS, whose metric levels off, runs all its "
    "iterations).",
)
JOB, LAST = "tune_job", "tune_last"
METRICS = ("ndcg@10", "recall@20", "recall@10", "precision@10", "map@10", "hit_rate@10", "rmse")

with page.user_errors():
    source, dataset = data.select_dataset()

models = trainable_models()
kinds = [k for k in sorted(models, key=lambda k: (k != "wals", k)) if tunable_names(models[k])]
kind = state.selectbox("Model", kinds, "tune_model", "wals" if "wals" in kinds else kinds[0],
                       format_func=lambda k: f"{k} — {models[k].__name__}")
model_cls = models[kind]
names = tunable_names(model_cls)
chosen = st.multiselect("Hyperparameters to tune (1 to 3)", names,
                        default=default_names(model_cls), max_selections=3,
                        key=f"tune_params_{kind}")

dimensions = []
for name in chosen:
    base = default_dimension(model_cls, name)
    cols = st.columns([2, 2, 1])
    if base.choices is not None:
        values = cols[0].multiselect(f"{name}: values", list(base.choices),
                                     default=list(base.choices), key=f"tune_{kind}_{name}_c")
        if values:
            dimensions.append(Dimension(name, choices=tuple(values)))
        continue
    step = 1.0 if base.integer else None
    low = cols[0].number_input(f"{name}: from", value=float(base.low), step=step,
                               format="%g", key=f"tune_{kind}_{name}_lo")
    high = cols[1].number_input(f"{name}: to", value=float(base.high), step=step,
                                format="%g", key=f"tune_{kind}_{name}_hi")
    log = cols[2].checkbox("log scale", value=base.log and base.low > 0,
                           key=f"tune_{kind}_{name}_log")
    with page.user_errors(stop=False):
        dimensions.append(Dimension(name, low, high, log=log, integer=base.integer))

left, mid, right = st.columns(3)
strategy = left.radio("Strategy", STRATEGIES, key="tune_strategy", horizontal=True,
                      format_func={"tpe": "TPE", "random": "random", "grid": "grid"}.get)
n_trials = mid.number_input("Trials", min_value=1, max_value=500, value=20, step=1,
                            key="tune_trials")
budget = right.number_input("Time budget (s, 0 = none)", min_value=0, value=0, step=10,
                            key="tune_budget")
left, mid = st.columns(2)
metric = left.selectbox("Metric (on the validation split)", METRICS, key="tune_metric")
folds = left.number_input("Validation folds", min_value=1, max_value=MAX_FOLDS,
                          value=DEFAULT_FOLDS, step=1, key="tune_folds",
                          help="Score each trial as the mean over this many validation splits "
                               "of the training ratings: less noise, one fit per fold.")
with mid:
    split_params = splits.select_split(dataset)

job: SweepJob | None = st.session_state.get(JOB)
start = st.button("Start sweep", type="primary", key="tune_start",
                  disabled=job is not None or not dimensions)
if start:
    with page.user_errors():
        split = require_test_ratings(splits.cached_split(source, dataset, split_params))
        name = f"sweep-{kind}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
        sweep = Sweep(runs.store(), name, kind, dimensions, strategy=strategy,
                      n_trials=int(n_trials), budget_seconds=float(budget) or None,
                      metric=metric, folds=int(folds))
        job = st.session_state[JOB] = SweepJob(sweep, dataset, split).start()


def unfinished_sweeps() -> list[Sweep]:
    """Sweeps of this dataset saved in the run store that stopped before their last trial
    (cancelled, or the app was restarted)."""
    found = []
    for name in saved_sweeps(runs.store()):
        try:
            sweep = Sweep.resume(runs.store(), name)
        except RecsysError:
            continue
        if not sweep.finished() and sweep.data_record.get("dataset") == dataset.fingerprint:
            found.append(sweep)
    return found


if job is None:
    waiting = unfinished_sweeps()
    if waiting:
        with st.expander(f"Unfinished sweeps ({len(waiting)})"):
            by_name = {s.name: s for s in waiting}
            def progress(n: str) -> str:
                planned = by_name[n].planned_trials() or "∞"
                return f"{n}: {len(by_name[n].trials)}/{planned} trials"

            name = st.selectbox("Sweep", list(by_name), key="tune_resume_name",
                                format_func=progress)
            if st.button("Resume", key="tune_resume"):
                with page.user_errors():
                    sweep = by_name[name]
                    params = sweep.data_record.get("split_params")
                    split = (splits.cached_split(source, dataset, params) if params else None)
                    job = st.session_state[JOB] = SweepJob(sweep, dataset, split).start()

# ---------------------------------------------------------------- the sweep in progress
if job is not None:
    sweep = job.sweep
    st.subheader(f"Sweep {sweep.name}")
    cancel_slot, bar_col = st.columns([1, 5])
    if cancel_slot.button("Cancel", key="tune_cancel",
                          help="Stops the trial in progress (not saved); finished trials stay."):
        job.cancel.set()
    bar = bar_col.progress(0.0, text="starting…")
    chart = st.empty()
    drawn = -1
    planned = sweep.planned_trials()
    while True:
        finished = job.finished.wait(0.25)
        n = len(sweep.trials)
        if planned:
            bar.progress(min(1.0, n / planned), text=f"trial {n}/{planned}")
        if n != drawn:
            fig = sweep_figure(sweep)
            if fig is not None:
                chart.plotly_chart(fig, key=f"tune_live_{n}")
            drawn = n
        if finished:
            break
    cancel_slot.empty()
    del st.session_state[JOB]
    st.session_state[LAST] = sweep
    if job.error is not None:
        with page.user_errors():
            raise job.error
    st.rerun()

# ---------------------------------------------------------------- the last sweep's result
sweep: Sweep | None = st.session_state.get(LAST)
if sweep is None:
    st.info("No sweep yet in this session: choose the hyperparameters and press Start sweep.")
    st.stop()
st.subheader(f"Sweep {sweep.name}")
best = sweep.best()
if best is None:
    st.warning("The sweep was cancelled before its first trial finished; nothing was saved.")
    st.stop()
planned = sweep.planned_trials()
st.caption(f"{len(sweep.trials)} of {planned or 'unlimited'} trials finished"
           + ("" if sweep.finished() else " (stopped: cancelled or out of time; resume it above)")
           + ". Each trial is a saved run, scored on a validation split of the training ratings"
           + (" (their latest part in time: the test split is a global temporal split)"
              if (sweep.data_record.get("split_params") or {}).get("method") == "temporal"
              else "") + ".")
fig = sweep_figure(sweep)
st.plotly_chart(fig, key="tune_result")
page.dataframe(pd.DataFrame(sweep.history()), hide_index=True, key="tune_table")
st.success(f"Best: trial {best.number}, validation {sweep.metric} {best.value:.4f}, "
           f"saved as run **{best.run}**.")
if st.button("Open the best trial's run", key="tune_open", disabled=best.run is None):
    state.put("run", best.run)
    st.switch_page("pages/2_Train.py")
