"""Train page: pick a model and its hyperparameters, train with live loss, evaluate, save a run."""
import pandas as pd
import streamlit as st

from recsys_core.errors import HyperparameterError, RecsysError
from recsys_core.evaluation.split import require_test_ratings
from recsys_core.models import trainable_models
from recsys_core.runs.store import check_run_name
from ui import (data, live, model_guides, page, projections, runs, spark_training, splits,
                state)
from ui.params import hyperparameter_widgets
from ui.training import (EVALUATION_COUNTS, TrainingJob, cost_note, evaluation_note,
                         loss_figure, objective_table, progress_history, start_local_job,
                         trains_in_one_solve)

page.page_header(
    "Train",
    "Matrix factorization learns a user embedding U and an item embedding V so that U Vᵀ "
    "approximates the feedback matrix. **SGD** minimises the objective by gradient steps; "
    "**WALS** alternates exact least-squares solves and usually converges in a few sweeps. Watch "
    "each loss term: without the unobserved term (or gravity) a model has no negatives and "
    "**folds** unrelated items together; **regularization** keeps rare items' norms small.",
)
JOB = "train_job"

with page.user_errors():
    source, dataset = data.select_dataset()

# ---------------------------------------------------------------- model and settings
order = ["wals", "mf", "svd", "ease", "item_knn", "content", "popularity", "softmax",
         "two-tower"]
models = trainable_models()
kinds = sorted(models, key=lambda k: (order.index(k) if k in order else len(order), k))
kind = state.selectbox("Model", kinds, "model", "wals" if "wals" in kinds else kinds[0],
                       format_func=lambda k: f"{k} — {models[k].__name__}")
model_cls = models[kind]
explanation = model_guides.guide(model_cls)  # written for the user, not the docstring
if explanation:
    with st.expander(f"How {model_cls.__name__} works"):
        st.markdown(explanation)

with st.expander("Hyperparameters", expanded=True):
    with page.user_errors():
        params = hyperparameter_widgets(model_cls, key_prefix=f"hp_{kind}_")
try:
    cost = cost_note(model_cls(**params), dataset)  # said before the fit starts
except (TypeError, RecsysError):  # bad settings: the Train button says why
    cost = None
if cost:
    st.info(cost)
spark_params = spark_training.spark_option(kind)  # None: train here
live_on = spark_params is None and live.live_toggle(kind, params, dataset)

left, mid, right = st.columns([2, 2, 1])
with left:
    split_params = splits.select_split(dataset)
    with page.user_errors():
        split_note = splits.choice_note(source, dataset, split_params)
        if split_note:
            st.caption(split_note)
with mid:
    # Kept as a synced value, so switching model or page does not clear it.
    run_name = st.text_input("Run name (optional)",
                             key=state.seed_widget("run_name", state.get("run_name", "")),
                             help="Letters, digits, '.', '_' and '-'. Defaults to the model and "
                                  "the time; an existing name gets -2, -3, ...")
    state.put_quiet("run_name", run_name)
    name_error = None
    if run_name.strip():
        try:  # checked as it is typed, not after the training
            check_run_name(run_name.strip())
        except RecsysError as exc:
            name_error = str(exc)
            st.error(name_error)
with right:
    reuse = st.checkbox("Reuse identical run", value=True, key="reuse",
                        help="Training with exactly the settings of a saved run loads that run "
                             "instead of recomputing.")
    train_clicked = st.button("Train", type="primary", key="train",
                              disabled=JOB in st.session_state or name_error is not None)


def start_training():
    """Build the model and start the job: the split, the fit, the evaluation and the save all
    run on its thread (a saved run with the same settings is reused instead)."""
    with page.user_errors():
        name = check_run_name(run_name.strip()) if run_name.strip() else None
        try:
            model = model_cls(**params)
        except TypeError as exc:
            raise HyperparameterError(str(exc)) from None
        if spark_params is not None:
            split = require_test_ratings(splits.cached_split(source, dataset, split_params))
            st.session_state[JOB] = spark_training.start_job(spark_params, split, dataset,
                                                             runs.store(), name)
            return
        st.session_state[JOB] = start_local_job(model, kind, source, dataset, split_params,
                                                name=name, reuse=reuse)


if train_clicked:
    start_training()

# ---------------------------------------------------------------- live mode
if live_on and live.live_section(kind, model_cls, params, source, dataset, split_params,
                                 busy=JOB in st.session_state or name_error is not None):
    start_training()

# ---------------------------------------------------------------- a job in progress
job: TrainingJob | None = st.session_state.get(JOB)
if job is not None:
    st.subheader(f"Training {job.settings['kind']}")
    stop_col, bar_col = st.columns([1, 5])
    stop_slot = stop_col.empty()
    one_solve = bool(job.fit_stages)  # a closed-form fit (EASE): stages, no epochs to stop at
    if stop_slot.button("Stop", key="stop", disabled=one_solve,
                        help="A closed-form fit is one solve: it cannot stop part-way."
                        if one_solve else "Ends training after the current epoch; the model "
                                          "trained so far is evaluated and saved."):
        job.stop_requested.set()
    bar = bar_col.progress(0.0, text=job.describe())
    chart = st.empty()
    drawn = -1
    while True:
        finished = job.finished.wait(0.25)
        bar.progress(job.fraction, text=job.describe())
        n = len(job.progress)
        if n != drawn and not one_solve:  # one solve has one objective, not a curve
            fig = loss_figure(progress_history(job.progress))
            if fig is not None:
                chart.plotly_chart(fig, key=f"live_loss_{n}")
            drawn = n
        if finished:
            break
    stop_slot.empty()
    del st.session_state[JOB]
    if job.error is not None:
        if isinstance(job.error, RecsysError):
            st.error(f"Training failed: {job.error}")
            st.stop()
        raise job.error
    info = job.result
    state.put("run", info.name)
    if job.reused:
        st.success(f"These settings were trained before: reusing run **{info.name}**.")
    else:
        stopped = " (stopped early)" if job.stopped_early else ""
        try:
            if runs.has_embeddings(info):
                projections.precompute_default_map(runs.load(info), dataset.item_popularity)
        except RecsysError as exc:  # e.g. another session deleted the run at once
            st.warning(f"Run **{info.name}** was saved{stopped} but cannot be opened now: {exc}")
        else:
            st.success(f"Saved run **{info.name}**{stopped}.")

# ---------------------------------------------------------------- saved runs
st.subheader("Runs on this dataset")
runs.show_delete_note()
runs.warn_unreadable()
infos = runs.ordered(runs.runs_for(dataset))  # sweep trials after the others, by sweep
damaged = runs.damaged_runs()  # every one, so that any can be deleted here
if not infos and not damaged:
    st.info("No run yet: choose a model and press Train.")
    st.stop()
by_name = {i.name: i for i in [*infos, *damaged]}
name = state.selectbox("Inspect run", list(by_name), "run",
                       runs.preferred(infos)[0].name if infos else damaged[0].name,
                       format_func=lambda n: runs.label(by_name[n]))
info = by_name[name]
if isinstance(info, runs.DamagedRun):
    runs.show_damaged(info)
    runs.delete_controls(info.name)
    st.stop()
with page.user_errors():
    if runs.collapsed(info):
        st.warning(f"**{runs.COLLAPSED_NOTE}**: every embedding of run {info.name} shrank to "
                   "about zero, so its scores are numerical noise and its charts show rounding "
                   "errors. Train it again with a smaller regularization.")
left, right = st.columns(2)  # half each: the evaluation table keeps its values visible at 800 px
with left:
    objective = objective_table(info.history) if trains_in_one_solve(info.model_kind) else None
    fig = None if trains_in_one_solve(info.model_kind) else \
        loss_figure(info.history, title=f"Loss per epoch: {info.name}")
    if objective is not None:
        st.markdown(f"**Objective of the closed-form solution**: {info.name}")
        st.caption("One solve, no epochs: these are the loss terms of the exact solution"
                   + (f", reached in {info.history[-1]['elapsed']:.1f} s."
                      if "elapsed" in info.history[-1] else "."))
        st.dataframe(objective, hide_index=True, key="run_objective",
                     column_config={"value": st.column_config.NumberColumn(format="%.6g")})
    elif fig is not None:
        st.plotly_chart(fig, key="run_loss")
    else:
        st.caption("This model has no iterative training (closed form or counting).")
with right:
    st.markdown("**Evaluation** on held-out ratings" +
                (f": {splits.describe(info.split)}, never seen in training."
                 if info.split else "."))
    whom = evaluation_note(info.metrics)
    if whom:
        st.caption(f"Averaged over {whom}.")
    shown = sorted((m for m in info.metrics if m not in EVALUATION_COUNTS),
                   key=lambda m: m != "ndcg@10")  # the headline metric first
    metrics = pd.DataFrame({"metric": shown,
                            "value": [runs.format_metric(info.metrics[m], ".4f") for m in shown]})
    st.dataframe(metrics, hide_index=True, key="run_metrics")
    if shown and dataset.is_explicit and not any(m.endswith("rmse") for m in shown):
        st.caption("No RMSE or MAE: this run's scores rank items but are not rating estimates.")
    st.markdown("**Hyperparameters**")
    st.json(info.params, expanded=False)
    runs.delete_controls(info.name)
