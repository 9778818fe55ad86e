"""The scoring stage of the Recommend page, fitted once per run and split (the engine work is
:func:`recsys_core.serving.pipeline.fit_scoring_stage`; this module only caches it)."""
from __future__ import annotations

import streamlit as st

from recsys_core.runs.store import Run
from recsys_core.serving.pipeline import ScoringStage, fit_scoring_stage


@st.cache_resource(show_spinner="Training the scoring model on held-out ratings…", max_entries=8)
def _stage(run_name: str, created: str, split_fingerprint: str, _run: Run, _split) -> ScoringStage:
    return fit_scoring_stage(_run.model, _split)


def scoring_stage(run: Run, split) -> ScoringStage:
    """Generators, fitted scorer and its comparison for ``run`` (computed once per process)."""
    return _stage(run.info.name, run.info.created, split.fingerprint, run, split)
