"""Metric impact of a re-ranking configuration, cached per (run, configuration, k)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from recsys_core.pipeline import RerankConfig, evaluate_rerank
from recsys_core.runs import Run

from . import splits

#: Test users sampled for the live impact (a fixed sample, so settings compare fairly).
IMPACT_USERS = 200


@st.cache_data(show_spinner=False, max_entries=256)
def _impact(run_name: str, created: str, config_key: str, k: int, _config: RerankConfig,
            _run: Run, _split) -> dict:
    return evaluate_rerank(_config, _run.model, _split, users=IMPACT_USERS, k=k, seed=0)


def impact_table(source: str, dataset, run: Run, config: RerankConfig, k: int) -> pd.DataFrame | None:
    """Metrics with neutral knobs, with the current knobs, and the change; None without a split."""
    if not run.info.split:
        return None
    split = splits.cached_split(source, dataset, run.info.split["params"])
    neutral = RerankConfig()
    before = _impact(run.info.name, run.info.created, repr(neutral), k, neutral, run, split)
    after = _impact(run.info.name, run.info.created, repr(config), k, config, run, split)
    names = [m for m in before if m in after]
    return pd.DataFrame({"metric": names, "model order": [before[m] for m in names],
                         "re-ranked": [after[m] for m in names],
                         "change": [after[m] - before[m] for m in names]})
