"""Recommend page: a user's list (or yours, by fold-in), explained, with live re-ranking knobs."""
import numpy as np
import pandas as pd
import streamlit as st

from recsys_core.serving.candidates import query_generator
from recsys_core.evaluation.diagnostics import model_item_contributions
from recsys_core.serving.pipeline import pool_size, recommend_pipeline
from recsys_core.retrieval.similarity import MEASURES
from ui import data, impact, knobs, lessons, newuser, page, pickers, runs, scoring, splits, state

page.page_header(
    "Recommend",
    "A recommendation is the top of the scored catalogue. A **new user** gets an embedding at "
    "once by **fold-in**: one least-squares solve against the fixed item embeddings, no "
    "retraining (the course's answer to cold start). Each **re-ranking** knob then trades "
    "relevance for freshness, diversity or fairness: watch which items move and what the "
    "metrics below say it costs.",
)
page.steady_reruns()  # a knob's list arrives within ~0.1 s: no fade on each key press

with page.user_errors():
    source, dataset = data.select_dataset()
    lessons.arrive(source, dataset)  # a lesson's link: its runs
    run = runs.select_run(dataset, needs_embeddings=False)  # the baseline has a list too


# Who the list is for: changing it changes which inputs are drawn, so it reruns the page.
who = state.radio("Recommend for", ["user", "new"], "who", "user", horizontal=True,
                  format_func={"user": "A user in the data", "new": "Me, as a new user"}.get)
user = pickers.select_user(dataset) if who == "user" else None


@st.fragment
def recommendations(who: str, user: int | None) -> None:
    """Everything below the user picker. A fragment: a knob or a new rating reruns only this
    part (the list, its breakdown, before/after); the metric impact follows from a background
    job (ui.impact)."""
    model = run.model
    k = state.slider("List length", "k", 10, min_value=5, max_value=30, container=st.sidebar)
    measures = ["model"] + (list(MEASURES) if getattr(model, "user_embeddings_", None) is not None
                            else [])
    measure = state.selectbox("Retrieval score", measures, "measure", "model",
                              container=st.sidebar,
                              help="model: the model's own score (with its biases). Or compare "
                                   "the user's embedding with the item embeddings under a "
                                   "similarity measure (tempered with α = 0.5); see the "
                                   "Similarity page.")
    stage = "model"
    if who == "user" and run.info.split:  # a new user has no features for the scoring model
        stage = state.radio("Candidates", ["model", "pipeline"], "cand", "model",
                            container=st.sidebar,
                            format_func={"model": "This run's scores",
                                         "pipeline": "Several generators + scoring model"}.get,
                            help="The course's serving stages: candidate generation, scoring, "
                                 "re-ranking.")
    # The knobs are drawn before anything that may stop this run (a new user without ratings,
    # an error), so they always show the values in use.
    config = knobs.rerank_knobs(dataset)

    if who == "user":
        rated = dataset.user_items(user).astype(np.int64)
        user_ratings = dataset.ratings[user].data
        vector = None
    else:
        st.markdown("**Rate a handful of titles**; your list appears as soon as one is rated.")
        left, right = st.columns([3, 2])
        with left:
            item = pickers.search_item(dataset, key="rate_item", label="Find a title to rate")
        with right:
            low, high = dataset.rating_scale or (1.0, 1.0)
            value = (state.slider("Your rating", "rate", float(high), min_value=float(low),
                                  max_value=float(high), step=0.5 if high - low <= 5 else 1.0)
                     if dataset.is_explicit else 1.0)
            st.button("Add rating", key="add_rating", disabled=item is None,
                      on_click=newuser.set_rating,
                      args=(None if item is None else dataset.item_ids[item].item(), value))
        idx, my_ratings = newuser.rated_in(dataset)
        if len(idx):
            mine = pd.DataFrame({"title": dataset.titles(idx), "your rating": my_ratings})
            st.dataframe(mine, hide_index=True, key="my_ratings")
            st.button("Clear my ratings", key="clear_ratings", on_click=newuser.clear)
        with page.user_errors():
            folded = newuser.fold_in(run)
        if folded is None:
            st.info("Rate at least one title to get recommendations.")
            return
        vector, rated, user_ratings = folded

    # Candidates: the model's best items (seen ones left out), or the pools of several
    # generators ranked by the scoring model; then the knobs re-rank them.
    with page.user_errors():  # one engine call builds pool -> (group retrieval) -> re-rank
        if stage == "pipeline":
            split = splits.cached_split(source, dataset, run.info.split["params"])
            scoring_stage = scoring.scoring_stage(run, split)
            result = recommend_pipeline(user, scoring_stage.generators, dataset, k=k,
                                        config=config, scorer=scoring_stage.scorer,
                                        item_embeddings=getattr(model, "item_embeddings_", None))
        else:
            generator = query_generator(model, user=user, vector=vector, name="model",
                                        measure=None if measure == "model" else measure)
            result = recommend_pipeline(user, generator, dataset, k=k, config=config,
                                        item_embeddings=getattr(model, "item_embeddings_", None),
                                        seen=rated)
    # The base score is the model's own score (a rating estimate for some models) only when
    # the model retrieved the candidates by it.
    own_score = stage == "model" and measure == "model"
    ratings = own_score and runs.scores_are_ratings(model, folded_in=who == "new")
    base = "predicted rating" if ratings else "base score"
    show_list(result, k, rated, user_ratings, config, base)

    if stage == "pipeline":
        with st.expander("Why a separate scoring model?", expanded=True):
            st.markdown("Each generator's raw score (a dot product, a count, a recency-weighted "
                        "count) ranks only its own nominations well and the scales are not "
                        "comparable. The scoring model combines them with item age, popularity, "
                        "genre affinity and user features, trained on held-out ratings. On users "
                        "it was not trained on:")
            st.dataframe(scoring_stage.comparison_table, hide_index=True,
                         key="scorer_comparison")

    st.subheader("What the knobs cost and buy")
    st.caption(f"Over a fixed sample of test users of the run's split (top {k}); the lists are "
               f"re-ranked from each user's {pool_size(k)} best-scored items.")
    with page.user_errors():
        impact.show_impact(source, dataset, run, config, k)


def show_list(result, k, rated, user_ratings, config, base: str) -> None:
    """The re-ranked list with its score breakdown (the base score named ``base``: "predicted
    rating" when it is the model's rating estimate), the fairness share, and before/after."""
    table = result.table
    items = result.items
    before = result.before  # the pool's top k by base score
    model = run.model
    center = None
    if dataset.is_explicit and len(user_ratings):
        center = float(np.mean(user_ratings))
    contributors, _ = model_item_contributions(model, items, rated,
                                               user_ratings, top=2, rating_center=center)
    listed_titles = np.asarray(dataset.titles(items), dtype=object)
    named = np.unique(np.concatenate([np.asarray(c, dtype=np.int64) for c in contributors]
                                     + [np.zeros(0, np.int64)]))
    names = dict(zip(named.tolist(), dataset.titles(named)))

    st.subheader(f"Top {k}")
    left_out = knobs.filtered_text(result.filtered, config)  # in words, not filter names
    if left_out:
        st.caption(left_out)
    if len(items) < k:
        st.warning(f"Only {len(items)} items pass the filters and caps; loosen a knob.")
    # Scores right after the title, so a narrow window (800 px) still shows them.
    listed = pd.DataFrame({
        "rank": table["rank"].to_numpy(),
        "title": listed_titles,
        "final": table["final_score"].to_numpy(),
        "move": result.moves,
        "moved by": table["moved_by"].to_numpy(),
        base: table["base_score"].to_numpy(),
        "relevance": table["relevance"].to_numpy(),
        "freshness ×": table["freshness"].to_numpy(),
        "popularity ×": table["popularity_penalty"].to_numpy(),
        "ratings": dataset.item_popularity[items],
        "genres": dataset.items["genres"].to_numpy()[items],
        "because you rated": [" · ".join(names[int(i)] for i in c) for c in contributors],
    })
    if len(result.pool.generators) > 1 or result.pool.group is not None:
        listed.insert(5, "nominated by", table["nominated_by"].to_numpy())
    # The long explanation after the knobs' factors, so those stay in view at 1280 px.
    listed.insert(listed.columns.get_loc("genres"), "why", table["why"].to_numpy())
    number = st.column_config.NumberColumn(format="%.3f", width="small")
    columns = {c: number for c in ("final", base, "relevance", "freshness ×", "popularity ×")}
    # Rank and title stay in place when the table is scrolled sideways to its last columns.
    columns.update({"rank": st.column_config.NumberColumn(width=40, pinned=True),
                    "title": st.column_config.TextColumn(width="medium", pinned=True),
                    "move": st.column_config.TextColumn(width=50),
                    "why": st.column_config.TextColumn(
                        width="large", help="Why the item is at this rank: the filter or knob "
                                            "that moved it; for an item promoted for a fairness "
                                            "group, by how much, which prefix needed it and why "
                                            "its score is low.")})
    st.dataframe(listed, hide_index=True, key="rec_list", column_config=columns)
    last = list(listed.columns[listed.columns.get_loc("why") + 1:])
    st.caption("Wider than the page: scroll the table sideways for " + ", ".join(last[:-1])
               + f" and **{last[-1]}** (the titles stay in place).")
    if dataset.is_explicit and not model.predicts_ratings:
        st.caption("This run's scores rank items but are not rating estimates; a model that "
                   "predicts ratings (MF with the observed objective) shows a predicted rating.")
    fairness = knobs.fairness_text(result, config)
    if fairness is not None:
        text, short = fairness
        (st.warning if short else st.caption)(text)

    st.subheader("Before and after re-ranking")
    n = max(len(before), len(items))  # one table: fewer elements for the browser to redraw
    page.dataframe(pd.DataFrame({
        "rank": np.arange(1, n + 1),
        "model order": _padded(dataset.titles(before), n),
        "still listed": _padded(np.isin(before, items), n),
        "re-ranked": _padded(listed_titles, n),
        "new to the list": _padded(~np.isin(items, before), n),
    }), hide_index=True, key="before_after")


def _padded(values, n: int) -> list:
    """``values`` as a list of length ``n`` (None after the end): the re-ranked list can be
    shorter than the model's when filters leave too few items."""
    values = list(values)
    return values + [None] * (n - len(values))

recommendations(who, user)
