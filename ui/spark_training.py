"""Training WALS on Spark from the Train page: the widgets, and a job the page polls like any other.

:class:`SparkFit` stands in for a model inside :class:`ui.training.TrainingJob`: its ``fit`` runs
:class:`recsys_core.runs.spark.SparkWALS` on the job's thread and reports Spark's finished stages
as progress (Spark exposes no per-iteration losses); the job's finish step evaluates the WALS it
returns and saves it as a run with its engine record. Nothing here imports pyspark: the engine
does, inside its functions.
"""
from __future__ import annotations

import streamlit as st

from recsys_core.evaluation.metrics import evaluate_sample
from recsys_core.models.base import TrainingProgress
from recsys_core.runs import spark as spark_engine

from .training import TrainingJob

MASTER = "local[*]"


def unavailable() -> str | None:
    """Why Spark cannot train here (what to install), None when it can."""
    return spark_engine.spark_unavailable_reason()


def spark_option(kind: str) -> dict | None:
    """The "Train on Spark" switch (WALS only) and, when on, Spark's hyperparameters; None when
    training locally. Without pyspark or Java the switch is disabled and its help (shown to
    whoever asks, on hover) says what to install: no install note on the page itself."""
    if kind != "wals":
        return None
    reason = unavailable()
    on = st.checkbox("Train on Spark", key="on_spark", disabled=reason is not None,
                     help=f"Not available here: {reason}." if reason else
                     f"Spark MLlib's ALS on {MASTER} (JVM start included); the result is an "
                     "ordinary WALS run with Spark's objective.")
    if not on or reason is not None:
        return None
    d = spark_engine.SPARK_DEFAULTS
    cols = st.columns(4)
    return {
        "factors": int(cols[0].number_input("rank (factors)", 1, 512, d["factors"],
                                            key="spark_factors")),
        "iterations": int(cols[1].number_input("maxIter", 1, 100, d["iterations"],
                                               key="spark_iterations")),
        "regularization": float(cols[2].number_input(
            "regParam", 1e-6, 100.0, d["regularization"], format="%.4f", key="spark_reg",
            help="Scaled by each user's and item's number of ratings, as Spark does "
                 '(our regularization_type="count").')),
        "alpha": float(cols[3].number_input("alpha", 0.0, 1000.0, d["alpha"], key="spark_alpha",
                                            help="Confidence 1 + alpha r of a rating r.")),
    }


class SparkFit:
    """A fit on Spark with the two calls :class:`TrainingJob` makes of a model.

    Progress: one "epoch" per finished Spark stage, out of an estimate (ALS runs about two stages
    per iteration plus a few to prepare and collect).
    """

    def __init__(self, params: dict, master: str = MASTER):
        self.params, self.master = dict(params), master
        self.trainer = spark_engine.SparkWALS(**params, master=master)
        self.trainer.wals()  # bad settings fail on the page, before a thread starts

    def fit(self, train, callback=None) -> "SparkFit":
        planned = 2 * int(self.params.get("iterations", 15)) + 8

        def on_stage(progress: spark_engine.SparkProgress) -> bool:
            done = min(progress.stages_done, planned - 1)
            return bool(callback and callback(TrainingProgress(done, planned, {}, {},
                                                               progress.elapsed)))

        try:
            self.trainer.fit(train, callback=on_stage)
        except InterruptedError:
            from recsys_core.errors import RecsysError

            raise RecsysError("the Spark fit was stopped; no run was saved") from None
        if callback:
            callback(TrainingProgress(planned, planned, {}, {},
                                      self.trainer.engine_["fit_seconds"]))
        return self


def start_job(params: dict, split, dataset, store, name: str | None) -> TrainingJob:
    """Train on Spark in the background, then evaluate and save the run (engine "spark")."""

    def evaluate_and_save(fitted: SparkFit):
        model = fitted.trainer.model_
        metrics = evaluate_sample(model, split.test, k=10)  # the local runs' fixed sample
        return store.save(model, dataset, name=name, split=split, metrics=metrics,
                          engine=fitted.trainer.engine_)

    return TrainingJob(SparkFit(params), split.train,
                       {"kind": f"wals on Spark ({MASTER})", "unit": "Spark stage"},
                       finish=evaluate_and_save).start()
