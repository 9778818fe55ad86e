"""Recommend page: a user's list (or yours, by fold-in), explained, with live re-ranking knobs."""
import numpy as np
import pandas as pd
import streamlit as st

from recsys_core.diagnostics import rated_item_contributions
from recsys_core.retrieval import top_k
from ui import data, newuser, page, pickers, runs, state

page.page_header(
    "Recommend",
    "A recommendation is the top of the scored catalogue. A **new user** gets an embedding at "
    "once by **fold-in**: one least-squares solve against the fixed item embeddings, no "
    "retraining (the course's answer to cold start). Each **re-ranking** knob then trades "
    "relevance for freshness, diversity or fairness: watch which items move and what the "
    "metrics below say it costs.",
)

with page.user_errors():
    source, dataset = data.select_dataset()
    run = runs.select_run(dataset)
model = run.model

who = state.radio("Recommend for", ["user", "new"], "who", "user", horizontal=True,
                  format_func={"user": "A user in the data", "new": "Me, as a new user"}.get)
k = state.slider("List length", "k", 10, min_value=5, max_value=30, container=st.sidebar)

if who == "user":
    user = pickers.select_user(dataset)
    rated = dataset.user_items(user).astype(np.int64)
    user_ratings = dataset.ratings[user].data
    scores = model.score([user])[0]
else:
    st.markdown("**Rate a handful of titles**; your list appears as soon as one is rated.")
    left, right = st.columns([3, 2])
    with left:
        item = pickers.search_item(dataset, key="rate_item", label="Find a title to rate")
    with right:
        low, high = dataset.rating_scale or (1.0, 1.0)
        value = (st.slider("Your rating", min_value=float(low), max_value=float(high),
                           value=float(high), step=0.5 if high - low <= 5 else 1.0,
                           key="rate_value") if dataset.is_explicit else 1.0)
        if st.button("Add rating", key="add_rating", disabled=item is None):
            newuser.set_rating(dataset.item_ids[item].item(), value)
    profile = newuser.profile()
    if profile["items"]:
        idx = dataset.item_indices(profile["items"])
        mine = pd.DataFrame({"title": dataset.titles(idx), "your rating": profile["ratings"]})
        st.dataframe(mine, hide_index=True, key="my_ratings")
        if st.button("Clear my ratings", key="clear_ratings"):
            newuser.clear()
            st.rerun()
    with page.user_errors():
        folded = newuser.fold_in(run)
    if folded is None:
        st.info("Rate at least one title to get recommendations.")
        st.stop()
    vector, rated, user_ratings = folded
    scores = model.score_embeddings(vector)[0]

seen = np.zeros(dataset.n_items, dtype=bool)
seen[rated] = True
items, item_scores = top_k(scores, k, seen[None, :])
items, item_scores = items[0][items[0] >= 0], item_scores[0][: (items[0] >= 0).sum()]

center = None
if dataset.is_explicit and len(user_ratings):
    center = float(np.mean(user_ratings))
contributors, support = rated_item_contributions(model.item_embeddings_, items, rated,
                                                 user_ratings, top=2, rating_center=center)
titles = np.asarray(dataset.titles(np.arange(dataset.n_items)), dtype=object)
st.subheader(f"Top {k}")
st.dataframe(pd.DataFrame({
    "rank": np.arange(1, len(items) + 1),
    "title": titles[items],
    "score": item_scores,
    "ratings": dataset.item_popularity[items],
    "genres": dataset.items["genres"].to_numpy()[items],
    "because you rated": [" · ".join(titles[c]) for c in contributors],
}), hide_index=True, key="rec_list",
    column_config={"score": st.column_config.NumberColumn(format="%.3f")})
