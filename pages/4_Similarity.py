"""Similarity page: one query ranked under dot, cosine, Euclidean and tempered similarity, and an
item's related items by the run's own item-item source."""
import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from recsys_core.evaluation.diagnostics import compare_measures
from recsys_core.evaluation.projection import embedding_norms
from recsys_core.retrieval.similarity import MEASURES, similarity_scores
from ui import charts, data, lessons, newuser, page, pickers, related, runs, state

page.page_header(
    "Similarity",
    "The same query embedding ranks items differently under each **similarity measure**. The "
    "**dot product** rewards items with large norms, which tend to be the popular ones; "
    "**cosine** looks only at the angle; **Euclidean** distance favours items close in space; "
    "the **tempered** measure ||q||^α ||x||^α cos sits between cosine (α=0) and dot (α=1). "
    "Look at the items only one measure ranks high, and at their norms and popularity. For an "
    "item, its **related items** come first, ranked by the model's own best item-item source.",
)

with page.user_errors():
    source, dataset = data.select_dataset()
    lessons.arrive(source, dataset)  # a lesson's link: its runs
    run = runs.select_run(dataset, or_related_items=True)
model = run.model
items_emb = model.item_embeddings_ if model.has_embeddings else None

k = state.slider("Top-k", "k", 10, min_value=3, max_value=30, container=st.sidebar)
alpha = 0.5  # the tempered measure compares embeddings: no knob for a model without them
if items_emb is not None:
    alpha = state.slider("Tempered α", "alpha", 0.5, min_value=0.0, max_value=1.0, step=0.05,
                         container=st.sidebar, help="0 = cosine, 1 = dot product.")


def query_comparison() -> None:
    """The chosen query ranked under each measure. Returns early (no st.stop) when there is no
    query yet or it is unusable, so the toy example below is always drawn. A model without
    embeddings (item-kNN) has only the item query and its related items."""
    if items_emb is None:
        st.info(f"Run **{run.info.name}** ({run.info.model_kind}) has no embeddings, so there is "
                "no dot, cosine or Euclidean comparison to draw: pick an item to see the items "
                "it is related to.")
        kind = "item"
    else:
        kind = state.radio("Query", ["user", "item", "new user"], "query", "user",
                           horizontal=True,
                           format_func={"user": "A user", "item": "An item (title search)",
                                        "new user": "You, as a new user (from Recommend)"}.get)
    exclude = np.zeros(dataset.n_items, dtype=bool)
    if kind == "user":
        user = pickers.select_user(dataset)
        query = model.user_embeddings_[user]
        exclude[dataset.user_items(user)] = True
        st.caption(f"Query: user {dataset.user_ids[user]}'s embedding; their "
                   f"{dataset.user_activity[user]} rated items are left out.")
    elif kind == "item":
        item = pickers.search_item(dataset)
        if item is None:
            return
        with page.user_errors(stop=False):
            related.show_related_items(run, dataset, item, k)
        if items_emb is None:
            return
        query = items_emb[item]
        exclude[item] = True
        st.caption(f"Query: the embedding of *{dataset.titles([item])[0]}* (itself left out).")
    else:
        folded = None
        with page.user_errors(stop=False):
            folded = newuser.fold_in(run)
        if folded is None:
            st.info("Rate a few titles on the Recommend page (\"be a new user\") first; your "
                    "folded-in embedding then appears here as a query.")
            st.page_link("pages/5_Recommend.py", label="Go to Recommend")
            return
        query, rated, _ = folded
        exclude[rated] = True
        st.caption(f"Query: your folded-in embedding from {len(rated)} rated titles.")

    comparison = None
    with page.user_errors(stop=False):
        comparison = compare_measures(query, items_emb, k, alpha=alpha, exclude=exclude)
    if comparison is None:
        return

    norms = embedding_norms(items_emb)
    popularity = dataset.item_popularity
    norm_pct = pd.Series(norms).rank(pct=True).to_numpy()
    pop_pct = pd.Series(popularity).rank(pct=True).to_numpy()

    st.subheader(f"Top {k} under each measure")
    st.caption("★ marks items that no other measure puts in its top-k. Norm and popularity are "
               "shown as percentiles over the catalogue.")
    # Two tables per row. The numbers first, in narrow columns, and the title last with the
    # width left: at 800 px every number stays in view and the title is cut at its end.
    columns = [col for _ in range(0, len(MEASURES), 2) for col in st.columns(2)]
    for col, measure in zip(columns, MEASURES):
        idx = comparison.top_items[measure]
        idx = idx[idx >= 0]
        only = set(comparison.only_in[measure].tolist())
        table = pd.DataFrame({
            "score": comparison.top_scores[measure][:len(idx)],
            "norm %": (100 * norm_pct[idx]).round(0),
            "pop. %": (100 * pop_pct[idx]).round(0),
            "title": [("★ " if i in only else "") + t for i, t in zip(idx, dataset.titles(idx))],
        })
        col.markdown(f"**{measure}**" + (f" (α={alpha:g})" if measure == "tempered" else ""))
        col.dataframe(table, hide_index=True, key=f"top_{measure}", column_config={
            "score": st.column_config.NumberColumn(format="%.3f", width=62),
            "norm %": st.column_config.NumberColumn(format="%d", width=62,
                                                    help="Percentile of the item's norm"),
            "pop. %": st.column_config.NumberColumn(format="%d", width=62,
                                                    help="Percentile of its number of ratings"),
            "title": st.column_config.TextColumn(width="large")})
        col.caption(f"mean norm {norms[idx].mean():.2f} · "
                    f"mean ratings {popularity[idx].mean():.0f}")

    st.subheader("How much the measures agree")
    left, right = st.columns(2)
    pairs = list(comparison.overlap)
    agreement = pd.DataFrame({
        "pair": [f"{a} vs {b}" for a, b in pairs],
        "top-k overlap": [comparison.overlap[p] for p in pairs],
        "rank correlation": [comparison.rank_correlation[p] for p in pairs],
    })
    left.dataframe(agreement, hide_index=True, key="agreement", column_config={
        "top-k overlap": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0,
                                                         format="%.2f", width="small"),
        "rank correlation": st.column_config.NumberColumn(
            format="%.2f", help="Spearman correlation of the two measures' scores over all items")})
    only_rows = [(m, int(i)) for m in MEASURES for i in comparison.only_in[m]]
    if only_rows:
        uniq = pd.DataFrame({"only in": [m for m, _ in only_rows],
                             "title": dataset.titles([i for _, i in only_rows]),
                             "norm": [float(norms[i]) for _, i in only_rows],
                             "ratings": [int(popularity[i]) for _, i in only_rows]})
        right.markdown("**Items only one measure ranks high**")
        right.dataframe(uniq, hide_index=True, key="only_in")
    else:
        right.success("All measures agree on the same top-k items for this query.")

    # Where each measure's picks sit in the catalogue: norm against popularity.
    listed = np.full(dataset.n_items, "not listed", dtype=object)
    for measure in ("euclidean", "cosine", "tempered", "dot"):  # dot drawn last: it wins ties
        idx = comparison.top_items[measure]
        listed[idx[idx >= 0]] = measure
    frame = pd.DataFrame({"ratings": popularity, "norm": norms, "listed by": listed,
                          "title": dataset.items["title"]})
    fig = px.scatter(frame, x="ratings", y="norm", color="listed by", hover_name="title",
                     log_x=True, opacity=0.8,
                     category_orders={"listed by": ["dot", "tempered", "cosine", "euclidean",
                                                    "not listed"]},
                     color_discrete_map={"not listed": "lightgrey"})
    charts.readable_log_axis(fig, "x")
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10))
    st.markdown("**Norm vs number of ratings**, top-k picks coloured (an item listed by several "
                "measures shows the last of dot, tempered, cosine, euclidean)")
    st.plotly_chart(fig, key="norm_scatter")


query_comparison()

# ---------------------------------------------------------------- the course's toy example
st.subheader("Toy example: one query, three items")
st.markdown("Move the vectors. Under the **dot product** a long vector wins even at a wide angle; "
            "**cosine** picks the best-aligned one whatever its length; **Euclidean** picks the "
            "nearest point.")
TOY = {"q": (1.0, 1.0), "A": (0.3, 0.3), "B": (4.0, 1.0), "C": (1.2, 0.7)}
sliders = st.columns(4)
vectors = {}
for col, (name, (x0, y0)) in zip(sliders, TOY.items()):
    col.markdown(f"**{'query' if name == 'q' else 'item ' + name}**")
    x = state.slider(f"{name} x", f"toy_{name}x", x0, min_value=-5.0, max_value=5.0, step=0.1,
                     container=col)
    y = state.slider(f"{name} y", f"toy_{name}y", y0, min_value=-5.0, max_value=5.0, step=0.1,
                     container=col)
    vectors[name] = np.array([x, y], dtype=np.float32)
toy_items = np.stack([vectors[n] for n in "ABC"])
toy_rows = {m: similarity_scores(vectors["q"], toy_items, m)[0]
            for m in ("dot", "cosine", "euclidean")}
toy_table = pd.DataFrame({"item": list("ABC"), "dot": toy_rows["dot"],
                          "cosine": toy_rows["cosine"],
                          "Euclidean distance": -toy_rows["euclidean"]})
winners = {m: "ABC"[int(np.argmax(v))] for m, v in toy_rows.items()}
left, right = st.columns([3, 2])
fig = go.Figure()
for name, vec in vectors.items():
    fig.add_trace(go.Scatter(x=[0, vec[0]], y=[0, vec[1]], mode="lines+markers+text",
                             text=["", name], textposition="top center", name=name,
                             line=dict(width=4 if name == "q" else 2,
                                       dash="dash" if name == "q" else "solid")))
fig.update_layout(height=380, margin=dict(l=10, r=10, t=10, b=10), showlegend=False,
                  xaxis=dict(range=[-5.2, 5.2], zeroline=True),
                  yaxis=dict(range=[-5.2, 5.2], scaleanchor="x"))
left.plotly_chart(fig, key="toy_plot")
right.dataframe(toy_table, hide_index=True, key="toy_table")
right.markdown(f"Most similar under **dot**: {winners['dot']} · **cosine**: "
               f"{winners['cosine']} · **Euclidean**: {winners['euclidean']}")
