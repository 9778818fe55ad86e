"""The sidebar's re-ranking knobs, each synced to the URL, as one RerankConfig."""
from __future__ import annotations

import streamlit as st

from recsys_core.dataset import Dataset
from recsys_core.pipeline import RerankConfig

from . import state

OFF = "off"


def rerank_knobs(dataset: Dataset, container=None) -> RerankConfig:
    """Draw every knob (neutral defaults) and return the configuration they describe."""
    box = container or st.sidebar
    box.markdown("### Re-ranking knobs")
    box.caption("Each knob starts neutral: the list then equals the model's ranking.")
    box.markdown("**Filters**")
    hide_disliked = None
    if dataset.is_explicit:
        low, high = dataset.rating_scale
        if state.checkbox("Hide items I disliked", "rr_dis", False, container=box,
                          help="Removes items the user rated at or below the threshold."):
            hide_disliked = state.slider("Disliked means rated at most", "rr_dis_t",
                                         float(low + 1), min_value=float(low),
                                         max_value=float(high), step=0.5, container=box)
    exclude = state.multiselect("Exclude genres", dataset.genre_names, "rr_genres", container=box)
    min_ratings = state.slider("Minimum number of ratings", "rr_min", 0, min_value=0,
                               max_value=200, container=box,
                               help="Hides obscure items with too little evidence.")
    box.markdown("**Score transforms**")
    half_life = state.slider("Freshness half-life (years, 0 = off)", "rr_fresh", 0.0,
                             min_value=0.0, max_value=50.0, step=1.0, container=box,
                             help="An item released this many years before the newest one gets "
                                  "half the boost.")
    penalty = state.slider("Popularity penalty b", "rr_pop", 0.0, min_value=0.0, max_value=1.0,
                           step=0.05, container=box,
                           help="Divides the score by n_ratings^b to lift the long tail.")
    box.markdown("**Diversity**")
    diversity = state.slider("MMR λ (1 = off)", "rr_mmr", 1.0, min_value=0.0, max_value=1.0,
                             step=0.05, container=box,
                             help="Lower values trade score for items unlike those above them.")
    similarity = state.selectbox("Similar means", ["genre", "embedding"], "rr_sim", "genre",
                                 container=box)
    per_genre = state.slider("Max items per genre (0 = off)", "rr_cap", 0, min_value=0,
                             max_value=10, container=box)
    box.markdown("**Fairness**")
    group = state.selectbox("Group to expose", [OFF, "long-tail", *dataset.genre_names], "rr_fair",
                            OFF, container=box)
    share = 0.0
    if group != OFF:
        share = state.slider("Minimum share of the list", "rr_share", 0.3, min_value=0.0,
                             max_value=1.0, step=0.05, container=box)
    return RerankConfig(
        hide_seen=True, hide_disliked=hide_disliked, exclude_genres=tuple(exclude),
        min_ratings=int(min_ratings),
        freshness_half_life=float(half_life) if half_life > 0 else None,
        popularity_penalty=float(penalty), diversity=float(diversity),
        diversity_similarity=similarity, max_per_genre=int(per_genre) if per_genre else None,
        fair_group=None if group == OFF else group, fair_share=float(share))
