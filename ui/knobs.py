"""The sidebar's re-ranking knobs, each synced to the URL, as one RerankConfig.

Every knob is always drawn (a knob that appears or disappears with another one would need the
whole page to rerun), so a knob's ``on_change`` can rerun only the fragment that shows the list;
:func:`current_config` reads the same values there without drawing anything.
"""
from __future__ import annotations

from typing import Callable

import streamlit as st

from recsys_core.data.dataset import Dataset
from recsys_core.serving.pipeline import RerankConfig, RerankResult
from recsys_core.serving.rerank import prefix_minimums

from . import state

OFF = "off"


def _neutral(dataset: Dataset) -> dict:
    """Each knob's key and neutral value (the list then equals the model's ranking)."""
    low = dataset.rating_scale[0] if dataset.is_explicit else 0.0
    return {"rr_dis": False, "rr_dis_t": float(low + 1), "rr_genres": [], "rr_min": 0,
            "rr_fresh": 0.0, "rr_pop": 0.0, "rr_mmr": 1.0, "rr_sim": "genre", "rr_cap": 0,
            "rr_fair": OFF, "rr_share": 0.3}


def _config(v: dict) -> RerankConfig:
    return RerankConfig(
        hide_seen=True, hide_disliked=float(v["rr_dis_t"]) if v["rr_dis"] else None,
        exclude_genres=tuple(v["rr_genres"]), min_ratings=int(v["rr_min"]),
        freshness_half_life=float(v["rr_fresh"]) if v["rr_fresh"] > 0 else None,
        popularity_penalty=float(v["rr_pop"]), diversity=float(v["rr_mmr"]),
        diversity_similarity=v["rr_sim"], max_per_genre=int(v["rr_cap"]) or None,
        fair_group=None if v["rr_fair"] == OFF else v["rr_fair"],
        fair_share=float(v["rr_share"]) if v["rr_fair"] != OFF else 0.0)


def current_config(dataset: Dataset) -> RerankConfig:
    """The configuration the knobs hold now, without drawing them (after they were drawn once)."""
    return _config({key: state.value(key, neutral)
                    for key, neutral in _neutral(dataset).items()})


def rerank_knobs(dataset: Dataset, container=None,
                 on_change: Callable[[], None] | None = None) -> RerankConfig:
    """Draw every knob (neutral defaults) and return the configuration they describe.

    ``on_change`` is called after a knob changed (its new value already recorded), e.g. to rerun
    only the fragment that shows the list.
    """
    box = container or st.sidebar
    n = _neutral(dataset)
    kw = {"container": box, "on_change": on_change}
    v = {}
    box.markdown("### Re-ranking knobs")
    box.caption("Each knob starts neutral: the list then equals the model's ranking.")
    box.markdown("**Filters**")
    v["rr_dis"], v["rr_dis_t"] = False, n["rr_dis_t"]
    if dataset.is_explicit:
        low, high = dataset.rating_scale
        v["rr_dis"] = state.checkbox("Hide items I disliked", "rr_dis", False, **kw,
                                     help="Removes items the user rated at or below the "
                                          "threshold below.")
        v["rr_dis_t"] = state.slider("Disliked means rated at most", "rr_dis_t", n["rr_dis_t"],
                                     min_value=float(low), max_value=float(high), step=0.5, **kw)
    v["rr_genres"] = state.multiselect("Exclude genres", dataset.genre_names, "rr_genres", **kw)
    v["rr_min"] = state.slider("Minimum number of ratings", "rr_min", 0, min_value=0,
                               max_value=200, **kw,
                               help="Hides obscure items with too little evidence.")
    box.markdown("**Score transforms**")
    v["rr_fresh"] = state.slider("Freshness half-life (years, 0 = off)", "rr_fresh", 0.0,
                                 min_value=0.0, max_value=50.0, step=1.0, **kw,
                                 help="An item released this many years before the newest one "
                                      "gets half the boost.")
    v["rr_pop"] = state.slider("Popularity penalty b", "rr_pop", 0.0, min_value=0.0,
                               max_value=1.0, step=0.05, **kw,
                               help="Divides the score by n_ratings^b to lift the long tail.")
    box.markdown("**Diversity**")
    v["rr_mmr"] = state.slider("MMR λ (1 = off)", "rr_mmr", 1.0, min_value=0.0, max_value=1.0,
                               step=0.05, **kw,
                               help="Lower values trade score for items unlike those above "
                                    "them.")
    v["rr_sim"] = state.selectbox("Similar means", ["genre", "embedding"], "rr_sim", "genre", **kw)
    v["rr_cap"] = state.slider("Max items per genre (0 = off)", "rr_cap", 0, min_value=0,
                               max_value=10, **kw)
    box.markdown("**Fairness**")
    v["rr_fair"] = state.selectbox("Group to expose", [OFF, "long-tail", *dataset.genre_names],
                                   "rr_fair", OFF, **kw)
    v["rr_share"] = state.slider("Minimum share of every prefix", "rr_share", n["rr_share"],
                                 min_value=0.0, max_value=1.0, step=0.05, **kw,
                                 help="Used when a group to expose is chosen: at every rank n "
                                      "the top n holds at least floor(share × n) of the group "
                                      "(0.3: 1 of the top 4, 2 of the top 7, 3 of the top "
                                      "10), so the group is seen near the top, not only at "
                                      "the bottom of the list.")
    return _config(v)


def filtered_text(filtered: dict[str, int], config: RerankConfig) -> str | None:
    """The candidates each filter removed, in words ("68 in an excluded genre (Horror), 52 with
    fewer than 20 ratings"), not by the engine's filter names; None when none was removed."""
    def said(why: str, n: int) -> str:
        if why == "seen":
            return f"{n:,} already rated by this user"
        if why == "disliked":
            return f"{n:,} this user rated {config.hide_disliked:g} or less"
        if why == "genre":
            genres = ", ".join(config.exclude_genres)
            return f"{n:,} in an excluded genre ({genres})" if genres else f"{n:,} in an " \
                "excluded genre"
        if why == "min_ratings":
            return f"{n:,} with fewer than {config.min_ratings:,} ratings"
        return f"{n:,} removed by a filter"  # any other filter of the engine
    parts = [said(why, n) for why, n in (filtered or {}).items() if n]
    return "Left out of the candidates: " + "; ".join(parts) + "." if parts else None


def fairness_text(result: RerankResult, config: RerankConfig) -> tuple[str, bool] | None:
    """The fairness line under the list and whether it is a warning (some prefixes fall short:
    the catalogue has too few group items passing the filters); None without a group."""
    if result.group_target is None:
        return None
    group, n = config.fair_group, len(result.items)
    text = (f"Share of the list from **{group}**: {result.group_share:.0%} (target: at least "
            f"{result.group_target:.0%} of every prefix")
    if n:
        text += f", {int(prefix_minimums(config.fair_share, n)[-1])} of the top {n}"
    text += ")"
    short = result.group_prefixes_short or 0
    if not short:
        return text + ".", False
    return (text + f" — {short} of the {n} prefixes (top 1 to top {n}) fall short: the "
            f"catalogue has too few {group} items that pass the filters.", True)
