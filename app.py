"""recsys-studio home page: what the tool is, the chosen dataset at a glance, links to each page.

Run with ``streamlit run app.py``; the other pages live in ``pages/`` (Streamlit's folder-based
multipage app) and share the dataset choice through the session and the URL.
"""
import streamlit as st

from ui import data, lessons, page, projections, runs

page.page_header(
    "recsys-studio",
    "An interactive companion to the recommendation-systems course: train **embedding models** "
    "on ratings, look at the learned item and user embeddings in 2D, see how **dot product, "
    "cosine and Euclidean** similarity rank items differently, and turn the **re-ranking** "
    "knobs of a serving pipeline while the list updates.",
)

with page.user_errors():
    source, dataset = data.select_dataset()

summary = dataset.summary()
st.subheader(f"Dataset: {dataset.name}")
page.metric_grid([("Users", f"{summary['users']:,}"), ("Items", f"{summary['items']:,}"),
                  ("Ratings", f"{summary['ratings']:,}"),
                  ("Density", f"{summary['density']:.2%}"),
                  ("Rating scale", summary["rating scale"])])

st.subheader("Pages")
for path, label, what in page.PAGES[1:]:
    link, text = st.columns([1, 2])  # wide enough for the labels at 800 px
    link.page_link(path, label=label)
    text.markdown(what)

st.subheader("Lessons, one click away")
st.caption("Each lesson opens the runs it needs (model and settings, on this dataset); the "
           "first visit offers to train them in one click.")
lessons.links(source)

# Start the UMAP map of the run the Embeddings page opens on, so that it finds it ready (numba
# compiles UMAP on its first use in a process, which takes tens of seconds): a healthy run with
# embeddings, not a sweep trial (runs.preferred), never a model without embeddings (EASE).
with page.user_errors(stop=False):
    default = runs.preferred([i for i in runs.runs_for(dataset) if runs.has_embeddings(i)])
    if default:
        projections.precompute_default_map(runs.load(default[0]), dataset.item_popularity)

dataset_label, dataset_folder = data.source_caption(source)  # the folder on hover only
st.caption("The selected dataset, run, user and knobs are kept in the address bar: copy it to "
           f"share the exact view. {dataset_label}.", help=dataset_folder)
