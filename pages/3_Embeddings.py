"""Embeddings page: a run's item and user embeddings in 2D, and the norm vs popularity check."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from recsys_core.evaluation.projection import PROJECTION_METHODS, norm_vs_popularity
from recsys_core.retrieval.topk import top_k
from recsys_core.retrieval.similarity import MEASURES, similarity_scores
from ui import charts, data, lessons, page, projections, runs, state

page.page_header(
    "Embeddings",
    "Each item (and user) is a point in the embedding space; similar items should sit close "
    "together. **UMAP** and **t-SNE** keep neighbourhoods, **PCA** is the linear view. Compare "
    "runs: stronger **regularization** or **gravity** shrinks the embeddings of rarely rated "
    "items, and a model trained without negatives **folds** unrelated groups on top of each "
    "other. The last chart is the course's diagnostic: norm against number of ratings.",
)

with page.user_errors():
    source, dataset = data.select_dataset()
    lessons.arrive(source, dataset)  # a lesson's link: its runs
    run = runs.select_run(dataset)

sidebar = st.sidebar
which = state.radio("Embeddings", ["items", "users"], "emb", "items", container=sidebar,
                    horizontal=True)
LABELS = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}
method = state.selectbox("Projection", list(PROJECTION_METHODS), "proj", "umap", container=sidebar,
                         format_func=LABELS.get)
knobs = {"n_neighbors": 15, "min_dist": 0.1, "perplexity": 30.0, "metric": "euclidean"}
if method == "umap":
    knobs["n_neighbors"] = state.slider("UMAP neighbours", "nn", 15, min_value=2, max_value=100,
                                        container=sidebar,
                                        help="Larger keeps more global structure.")
    knobs["min_dist"] = state.slider("UMAP min-dist", "md", 0.1, min_value=0.0, max_value=1.0,
                                     step=0.05, container=sidebar,
                                     help="Smaller packs clusters tighter.")
if method == "tsne":
    knobs["perplexity"] = state.slider("t-SNE perplexity", "perp", 30.0, min_value=2.0,
                                       max_value=100.0, step=1.0, container=sidebar)
if method != "pca":
    knobs["metric"] = state.selectbox("Distance", ["euclidean", "cosine"], "metric", "euclidean",
                                      container=sidebar,
                                      help="Cosine ignores the norms, Euclidean keeps them.")

embeddings = projections.embeddings_of(run, which)
n = embeddings.shape[0]
norms = np.linalg.norm(embeddings.astype(np.float64), axis=1)
if which == "items":
    names = dataset.items["title"].astype(str).to_numpy()
    counts = dataset.item_popularity
    colour_options = ["genre", "popularity", "norm", "year"] + (
        ["cluster"] if "cluster" in dataset.items else [])
else:
    names = np.array([f"user {u}" for u in dataset.user_ids.tolist()])
    counts = dataset.user_activity
    colour_options = ["popularity", "norm"] + [c for c in ("age", "occupation", "gender", "cluster")
                                               if dataset.users is not None and c in dataset.users]
colour = state.selectbox("Colour by", colour_options, "colour", colour_options[0],
                         container=sidebar)
highlight = None
if colour == "genre":
    # The most common genre lights up the most points (ml-100k's first genre is "unknown").
    genre_sizes = np.asarray(dataset.item_genres.sum(axis=0)).ravel()
    highlight = state.selectbox("Highlight genre", list(dataset.genre_names), "hl_genre",
                                dataset.genre_names[int(np.argmax(genre_sizes))],
                                container=sidebar)

# Colour values for one single trace, so a selection's point indices are row indices.
if colour == "genre":
    g = dataset.genre_names.index(highlight)
    values, scale, title = dataset.item_genres[:, g].astype(float), [[0, "#cfd4dc"], [1, "#d62728"]], highlight
elif colour == "popularity":
    values, scale, title = np.log10(1 + counts), "Viridis", "log10 ratings"
elif colour == "norm":
    values, scale, title = norms, "Viridis", "norm"
elif colour == "year":
    values, scale, title = dataset.items["year"].to_numpy(dtype=float), "Viridis", "year"
else:
    table = dataset.items if which == "items" else dataset.users
    codes, labels = pd.factorize(table[colour].astype(str), sort=True)
    values, scale, title = codes.astype(float), "Turbo", colour


def map_figure(coords: np.ndarray, label: str, rows: np.ndarray | None = None) -> go.Figure:
    """The map of all points, or of ``rows`` only (a sampled map: ``coords`` has one row each)."""
    shown = slice(None) if rows is None else rows
    fig = go.Figure(go.Scattergl(
        x=coords[:, 0], y=coords[:, 1], mode="markers", hovertext=names[shown], hoverinfo="text",
        marker=dict(size=5, color=values[shown], colorscale=scale, showscale=True,
                    colorbar=dict(title=title), opacity=0.85)))
    fig.update_layout(height=560, margin=dict(l=10, r=10, t=40, b=10), dragmode="lasso",
                      title=label, xaxis=dict(showticklabels=False),
                      yaxis=dict(showticklabels=False))
    return fig


def progress_bar(label: str):
    """The bar :func:`wait_for` moves, drawn before the preview map is computed and drawn, so
    something moves within a second of arriving."""
    return st.progress(0.0, text=f"{label}: starting")


def wait_for(job, bar, label: str) -> None:
    """Block, moving ``bar``, until ``job`` is done (a changed knob reruns the page and the
    job carries on); asks again when newer settings superseded it while queued."""
    while not job.wait(0.25):
        bar.progress(job.fraction, text=f"{label}: {job.stage} ({job.fraction:.0%})")
    bar.empty()
    if job.cancelled():  # superseded by newer settings (another tab's): ask again
        st.rerun()


st.caption(f"{n:,} {which} of run **{run.info.name}** ({run.info.model_kind}, "
           f"{embeddings.shape[1]} dimensions). Box- or lasso-select points to list them.")
slot = st.empty()
rows = None  # the rows on the map: all (None) or a sample's
sample = projections.map_sample(counts) if method != "pca" else None
top = f"most-rated {which}" if which == "items" else "most active users"
with page.user_errors():
    if method == "pca":
        coords = projections.projection(run, which, "pca")
        projections.precompute_default_map(run, dataset.item_popularity)
    else:
        job = projections.submit(run, which, method, **knobs)
        if not job.done() and sample is not None:
            # A big map: the sampled map first (its own worker), the full one in the background.
            sample_job = projections.submit(run, which, method, sample=sample, **knobs)
            if not sample_job.done():
                sample_label = f"{LABELS[method]} of the {len(sample):,} {top}"
                bar = progress_bar(sample_label)
                preview = projections.projection(run, which, "pca")[sample]
                slot.plotly_chart(map_figure(preview, f"PCA preview of the {len(sample):,} {top} "
                                             f"— {LABELS[method]} is computing…", sample))
                wait_for(sample_job, bar, sample_label)
        if not job.done() and sample is not None:
            coords, rows = sample_job.result(), sample
            label = (f"Sampled map: {LABELS[method]} of the {len(sample):,} {top} of {n:,} "
                     "(the full map replaces it when ready)")

            @st.fragment(run_every=1.0)
            def full_map_progress():
                if job.done():
                    st.rerun(scope="app")  # draw the full map
                st.progress(job.fraction, text=f"Full {LABELS[method]} map of all {n:,} "
                                               f"{which}: {job.stage} ({job.fraction:.0%})")

            full_map_progress()
        else:
            if not job.done():
                # Instant linear preview while the non-linear map computes on the worker; the
                # bar follows the job's stages.
                bar = progress_bar(LABELS[method])
                preview = projections.projection(run, which, "pca")
                slot.plotly_chart(map_figure(preview,
                                             f"PCA preview — {LABELS[method]} is computing…"))
                wait_for(job, bar, LABELS[method])
            coords = job.result()
if rows is None:
    label = LABELS[method]
event = slot.plotly_chart(map_figure(coords, label, rows), on_select="rerun",
                          selection_mode=("points", "box", "lasso"),
                          key="emb_map" if rows is None else "emb_map_sampled")

selected = []
if event:
    selection = event["selection"] if isinstance(event, dict) else event.selection
    on_map = len(coords)
    picked = {int(i) for i in selection.get("point_indices", []) if 0 <= int(i) < on_map}
    selected = sorted(picked if rows is None else {int(rows[i]) for i in picked})
if selected:
    measure = state.selectbox("Neighbours under", list(MEASURES), "nb_measure", "cosine")
    chosen = np.array(selected[:200], dtype=np.int64)
    st.markdown(f"**{len(selected)} selected** (first {len(chosen)} listed) with their 5 nearest "
                f"{which} in the original {embeddings.shape[1]}-d space under **{measure}**")
    scores = similarity_scores(embeddings[chosen], embeddings, measure)
    scores[np.arange(len(chosen)), chosen] = -np.inf
    neighbours, _ = top_k(scores, 5)
    st.dataframe(pd.DataFrame({
        "name": names[chosen], "ratings": counts[chosen], "norm": norms[chosen].round(3),
        "nearest neighbours": [" · ".join(names[nb[nb >= 0]]) for nb in neighbours],
    }), hide_index=True, key="selected_table")
else:
    st.caption("Nothing selected yet.")

# ---------------------------------------------------------------- norm vs popularity
st.subheader("Norm vs number of ratings")
st.markdown("If frequent items get larger norms, the **dot product** will recommend them to "
            "everyone; **cosine** similarity removes the effect. Regularization and gravity "
            "reduce it. Compare two runs side by side.")
others = runs.ordered([i for i in runs.runs_for(dataset)
                       if i.name != run.info.name and runs.has_embeddings(i)])
compare_name = state.selectbox("Compare with", ["(none)"] + [i.name for i in others],
                               "emb_cmp", "(none)")
panels = [run]
if compare_name != "(none)":
    with page.user_errors():
        panels.append(runs.load(next(i for i in others if i.name == compare_name)))
cols = st.columns(len(panels))
for col, r in zip(cols, panels):
    emb = projections.embeddings_of(r, which)
    diag = norm_vs_popularity(emb, counts)
    # One WebGL trace built directly: plotly express took 1.3 s per rerun at 59k items.
    fig = go.Figure(go.Scattergl(x=diag["count"], y=diag["norm"], mode="markers", opacity=0.6,
                                 hovertext=names, hoverinfo="text+x+y", marker=dict(size=5)))
    fig.update_xaxes(type="log", title="ratings")
    fig.update_yaxes(title="norm")
    charts.readable_log_axis(fig, "x")
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10),
                      title=f"{r.info.name} ({r.info.model_kind})")
    col.plotly_chart(fig, key=f"norm_pop_{r.info.name}")
    if r is not run and runs.collapsed(r.info):  # the page's own run is flagged by its picker
        col.warning(f"{runs.COLLAPSED_NOTE}: these norms are rounding noise.")
    col.caption(f"Spearman rank correlation {diag['spearman']:.2f}; slope of norm on "
                f"log(1 + ratings) {diag['slope']:.3f}.")
