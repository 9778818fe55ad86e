"""Seed to seed: train a run again with other seeds, as new runs, and show the spread of each
metric across those runs beside the per-user interval, so a person sees whether the seed or the
choice of test users moves a comparison more.

Only models with a ``random_state`` hyperparameter (their ``param_spec``) have a seed; the others
are deterministic and the page says so. The new runs are trained and saved the way the Train page
saves its runs (:func:`ui.training.start_local_job`), never replacing a run.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import streamlit as st

from recsys_core.data.dataset import Dataset
from recsys_core.errors import RecsysError
from recsys_core.models import MODEL_REGISTRY
from recsys_core.runs.store import RunInfo

from . import compare, page, state, training

#: Suffix of a run trained again with another seed ("wals-…-seed2").
_SEED_SUFFIX = re.compile(r"-seed\d+(-\d+)?$")
#: Seeds a person can ask for at most at once (each is a full training).
MAX_SEEDS = 5


def seed_param(kind: str) -> str | None:
    """The hyperparameter seeding model ``kind``'s randomness (``random_state``), or None for a
    deterministic model (the same data always gives the same model)."""
    cls = MODEL_REGISTRY.get(kind)
    if cls is None:
        return None
    return "random_state" if "random_state" in getattr(cls, "param_spec", {}) else None


def seed_note(kind: str) -> str | None:
    """What seeds mean for this model kind, when they need saying."""
    if seed_param(kind) is None:
        return (f"{kind} is deterministic: the same data and settings always give the same "
                "model, so other seeds would not change it. Its uncertainty is the per-user one.")
    if kind == "svd":
        return ("svd's seed only sets the solver's starting vector: the factors, and so the "
                "metrics, agree to rounding across seeds.")
    return None


def seed_base(name: str) -> str:
    """The run name seed runs are named after ("x-seed2" -> "x")."""
    return _SEED_SUFFIX.sub("", name)


def seed_siblings(info: RunInfo, infos: list[RunInfo]) -> list[RunInfo]:
    """The runs that differ from ``info`` only by their seed (same model kind, other settings,
    dataset and split; trained here), one per seed (``info`` for its own, else the oldest: two
    runs of one seed are the same training counted twice), by seed."""
    param = seed_param(info.model_kind)
    if param is None:
        return [info]

    def settings(i: RunInfo):
        return ({k: v for k, v in i.params.items() if k != param}, i.model_kind,
                i.dataset.get("fingerprint"), (i.split or {}).get("params"), i.engine)

    mine = settings(info)
    by_seed = {info.params.get(param): info}
    for other in sorted(infos, key=lambda i: i.created):
        if settings(other) == mine:
            by_seed.setdefault(other.params.get(param), other)
    return [by_seed[s] for s in sorted(by_seed, key=lambda s: (s is None, s))]


def train_seeds(info: RunInfo, seeds, source: str, dataset: Dataset, on_progress=None
                ) -> list[tuple[int, RunInfo, bool]]:
    """Train ``info``'s model kind with its settings and split again, once per seed, each as a
    new run named ``<run>-seed<s>`` (the store never replaces a run: a taken name gets "-2").

    A seed whose exact settings already have a run (e.g. the run's own seed) reuses that run
    instead of training a copy. Returns (seed, run info, reused) per seed; ``on_progress``
    (fraction, text) is called while each trains.
    """
    param = seed_param(info.model_kind)
    if param is None:
        raise RecsysError(f"{info.model_kind} has no seed: other seeds would give the same model")
    if info.split is None:
        raise RecsysError(f"run {info.name} was trained on all ratings: train it on a split first")
    from recsys_core.models import trainable_models

    cls = trainable_models().get(info.model_kind)
    if cls is None:
        raise RecsysError(f"{info.model_kind} runs cannot be trained here")
    seeds = list(seeds)
    out = []
    for n, seed in enumerate(seeds):
        model = cls(**{**info.params, param: int(seed)})
        job = training.start_local_job(model, info.model_kind, source, dataset,
                                       dict(info.split["params"]),
                                       name=f"{seed_base(info.name)}-seed{seed}")
        while not job.finished.wait(0.2):
            if on_progress is not None:
                on_progress((n + job.fraction) / len(seeds),
                            f"seed {seed} ({n + 1} of {len(seeds)}): {job.describe()}")
        if job.error is not None:
            raise job.error
        out.append((int(seed), job.result, job.reused))
    if on_progress is not None:
        on_progress(1.0, "done")
    return out


def seed_spread(siblings: list[RunInfo], metrics: list[str]) -> pd.DataFrame:
    """Per metric: mean, standard deviation, min and max across the seed runs' own
    evaluations (their saved metrics)."""
    rows = []
    for metric in metrics:
        values = np.array([i.metrics.get(metric) for i in siblings
                           if isinstance(i.metrics.get(metric), (int, float))], dtype=float)
        values = values[np.isfinite(values)]
        if values.size < 2:
            continue
        rows.append({"metric": metric, "seeds": int(values.size), "mean": values.mean(),
                     "std across seeds": values.std(ddof=1), "min": values.min(),
                     "max": values.max()})
    return pd.DataFrame(rows)


def seed_vs_users(spread: pd.DataFrame, pair: "compare.RunComparison | None") -> pd.DataFrame:
    """The spread table with, beside each metric's seed noise, the user-sampling noise of a
    difference between two seeds, and which one dominates.

    Two trainings that differ only by seed differ by about ±1.96·√2·std (95%) because of the
    seed; the paired interval of those two runs' difference is the user-sampling uncertainty of
    one such comparison.
    """
    if spread.empty:
        return spread
    out = spread.copy()
    out["seed: ±95% of a difference"] = 1.96 * math.sqrt(2) * out["std across seeds"]
    half = []
    for metric in out["metric"]:
        d = pair.differences.get(metric) if pair is not None else None
        half.append((d.ci_high - d.ci_low) / 2 if d is not None else float("nan"))
    out["users: ±95% interval"] = half

    def which(row):
        s, u = row["seed: ±95% of a difference"], row["users: ±95% interval"]
        if not math.isfinite(u):
            return "—"
        if s > 2 * u:
            return "seed variance dominates"
        if u > 2 * s:
            return "user sampling dominates"
        return "both matter"

    out["larger noise"] = out.apply(which, axis=1)
    return out


_NOTE = "_cmp_seed_note"  # session key: what the last seed training did, shown once


def section(reference: RunInfo, picked: list[RunInfo], infos: list[RunInfo], source: str,
            dataset: Dataset, *, metrics: list[str]) -> None:
    """The seeds part of the Compare runs page: a run to train again with seeds 1..N (with
    progress), then the seed-to-seed spread of its metrics beside the per-user interval."""
    by_name = {i.name: i for i in picked}
    left, right = st.columns(2)
    name = state.selectbox("Run to train again", list(by_name), "cmp_seed_run", reference.name,
                           container=left)
    info = by_name[name]
    note = seed_note(info.model_kind)
    if seed_param(info.model_kind) is None:
        st.info(note)
        return
    if note:
        st.caption(note)
    n = state.slider("Number of seeds", "cmp_seeds_n", 3, min_value=2, max_value=MAX_SEEDS,
                     container=right)
    if st.button(f"Train again with seeds 1..{n}", key="cmp_seed_train",
                 help=f"Trains {info.model_kind} with the settings and split of {info.name} "
                      f"{n} times, with random_state 1..{n}, each as a new run named "
                      f"{seed_base(info.name)}-seed<s> (an existing run is never replaced; a "
                      "seed whose exact settings already have a run reuses it)."):
        bar = st.progress(0.0, text="starting…")
        with page.user_errors(stop=False):
            done = train_seeds(info, range(1, n + 1), source, dataset,
                               lambda f, text: bar.progress(min(1.0, f), text=text))
            st.session_state[_NOTE] = "Seeds done: " + "; ".join(
                f"seed {s}: {'same settings as ' if reused else 'new run '}**{r.name}**"
                for s, r, reused in done) + "."
            st.rerun()  # the new runs join the list
    message = st.session_state.pop(_NOTE, None)
    if message:
        st.success(message)
    siblings = seed_siblings(info, infos)
    if len(siblings) < 2:
        st.info(f"{info.name} is the only run of its settings: train it again with other seeds "
                "to see how much the seed alone moves its metrics.")
        return
    spread = seed_spread(siblings, metrics)
    pair = compare.comparison(siblings[1], siblings[0], source, dataset)
    table = seed_vs_users(spread, None if isinstance(pair, str) else pair)
    st.caption(f"Runs of {info.model_kind} with the settings of {info.name} but other seeds: "
               + ", ".join(f"**{i.name}** (seed {i.params.get('random_state')})"
                           for i in siblings)
               + f". Users: the 95% interval of {siblings[1].name} − {siblings[0].name}, per user.")
    if table.empty:
        st.info("These runs have none of the chosen metrics.")
        return
    numbers = [c for c in table.columns if table[c].dtype.kind == "f"]
    page.dataframe(table.style.format("{:.4f}", subset=numbers, na_rep=page.UNDEFINED),
                   hide_index=True, key="cmp_seed_spread")
    st.caption("*seed: ±95% of a difference* is how far two trainings that differ only by seed "
               "land apart (1.96·√2 × the std across seeds); *users: ±95% interval* is how "
               "uncertain one paired comparison is because of which users were held out. When "
               "the seed term dominates, compare runs over several seeds, not one each.")
