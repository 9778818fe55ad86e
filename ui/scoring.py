"""The candidate-generation and scoring stages for the Recommend page, fitted once per run.

Generators: the run's model, overall popularity and (with timestamps) recent trending items, all
built from the run's training split. The scorer is trained on the split's held-out ratings of a
fixed sample of users and compared, on another sample, with ranking by each generator's raw score
(the course's argument for a separate scoring model).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from recsys_core.runs.store import Run
from recsys_core.serving.candidates import ModelGenerator, PopularityGenerator, TrendingGenerator
from recsys_core.serving.ranker import CandidateScorer, evaluate_scorer

#: Users whose pools train the scorer, and other users on which it is compared.
TRAIN_USERS = 300
EVAL_USERS = 200
POOL_PER_GENERATOR = 100


@dataclass
class ScoringStage:
    generators: list
    scorer: CandidateScorer
    comparison: pd.DataFrame  # ranking -> AUC, NDCG@10 on users the scorer did not see


@st.cache_resource(show_spinner="Training the scoring model on held-out ratings…", max_entries=8)
def _stage(run_name: str, created: str, split_fingerprint: str, _run: Run, _split) -> ScoringStage:
    train, test = _split.train, _split.test
    generators = [ModelGenerator(_run.model, name=_run.info.model_kind),
                  PopularityGenerator(train)]
    if train.timestamps is not None:
        generators.append(TrendingGenerator(train))
    users = np.flatnonzero(test.user_activity > 0)
    rng = np.random.default_rng(0)
    users = rng.permutation(users)
    fit_users = np.sort(users[:TRAIN_USERS])
    eval_users = np.sort(users[TRAIN_USERS:TRAIN_USERS + EVAL_USERS])
    scorer = CandidateScorer(n_per_generator=POOL_PER_GENERATOR).fit(generators, train, test,
                                                                     users=fit_users)
    comparison = evaluate_scorer(scorer, generators, train, test, eval_users) \
        if len(eval_users) else {}
    table = pd.DataFrame([{"ranking by": ("scoring model (" + scorer.classifier_ + ")"
                                          if name == "scorer" else f"{name} score only"),
                           **values} for name, values in comparison.items()])
    return ScoringStage(generators, scorer, table)


def scoring_stage(run: Run, split) -> ScoringStage:
    """Generators, fitted scorer and its comparison for ``run`` (computed once per process)."""
    return _stage(run.info.name, run.info.created, split.fingerprint, run, split)
