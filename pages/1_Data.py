"""Data page: choose, download or upload a dataset and look at its shape."""
import streamlit as st

from ui import page

page.page_header(
    "Data",
    "Collaborative filtering learns only from the **feedback matrix**: which users rated which "
    "items. Look at how sparse it is and at the **long tail**: a few popular items and very "
    "active users hold most ratings, which is why popular items get large embeddings and why "
    "re-ranking for the tail matters later.",
)
# Imported after the header: pandas, SciPy and plotly take a second or two to import in a new
# server, and the page (the first one many people open) shows its title and lesson meanwhile.
import numpy as np  # noqa: E402

from recsys_core.data.download import MOVIELENS_ARCHIVES  # noqa: E402
from recsys_core.errors import RecsysError  # noqa: E402
from ui import charts, data, state  # noqa: E402

with page.user_errors():
    source, dataset = data.select_dataset()

if st.session_state.pop("_downloaded", None) == source:
    st.success(f"{source} downloaded, verified and unpacked: it is the dataset shown now.")

with st.expander("Get another dataset: download MovieLens or upload a ratings CSV"):
    left, right = st.columns(2)
    with left:
        st.markdown("**Download** MovieLens from GroupLens (needs the internet; checked against "
                    "pinned checksums, resumed if cut; saved under `data/`)")
        on_disk = data.found_datasets()
        names = list(MOVIELENS_ARCHIVES)
        name = st.selectbox("Release", names, key="download_choice",
                            index=next((i for i, n in enumerate(names) if n not in on_disk), 0),
                            format_func=lambda n: data.release_label(n, n in on_disk))
        present = name in on_disk
        if st.button(f"Download {name}", key=f"download_{name}", disabled=present,
                     help="already on disk" if present else None):
            try:
                data.download(name)
            except RecsysError as exc:
                st.error(str(exc))
            else:
                state.put("data", name)
                st.session_state["_downloaded"] = name
                st.rerun()
    with right:
        st.markdown("**Upload** a ratings CSV (`user,item,rating[,timestamp]`) and optionally "
                    "an items CSV (`item,title[,year][,genres]` with genres joined by `|`).")
        ratings_file = st.file_uploader("Ratings CSV", type=["csv", "tsv", "txt"], key="up_ratings")
        items_file = st.file_uploader("Items CSV (optional)", type=["csv", "tsv", "txt"],
                                      key="up_items")
        if ratings_file is not None and st.button("Use this upload", key="use_upload"):
            with page.user_errors():  # e.g. a NUL byte in the file's name
                key = data.register_upload(ratings_file, items_file)
            try:
                data.load_source(key)
            except RecsysError as exc:
                st.error(f"This file cannot be used: {data.upload_message(key, exc)}")
                data.forget_upload(key)
            else:
                state.put("data", key)
                st.rerun()

summary = dataset.summary()
st.subheader(dataset.name)
page.metric_grid([("Users", f"{summary['users']:,}"), ("Items", f"{summary['items']:,}"),
                  ("Ratings", f"{summary['ratings']:,}"),
                  ("Density", f"{summary['density']:.2%}",
                   "Share of the user x item matrix that is observed."),
                  ("Rating scale", summary["rating scale"]), ("Genres", summary["genres"])])
report = dataset.report.lines()
if len(report) > 1:
    st.caption("Loading: " + "; ".join(report))

# ---------------------------------------------------------------- filters
st.sidebar.markdown("**Filter the charts**")
genres = state.multiselect("Genres", dataset.genre_names, "genres", container=st.sidebar,
                           help="Keep ratings of items having any of these genres.")
occupations = []
if dataset.users is not None and "occupation" in dataset.users:
    occupations = state.multiselect("Occupations",
                                    sorted(dataset.users["occupation"].astype(str).unique()),
                                    "occupations", container=st.sidebar,
                                    help="Keep ratings by users with these occupations.")
# Counts, not ratings, reach the charts: a few hundred kB whatever the size of the dataset.
counts = data.rating_counts(dataset, genres, occupations)
if counts.n_ratings == 0:
    st.warning("No ratings match these filters; clear some of them in the sidebar.")
    st.stop()
if genres or occupations:
    st.info(f"Charts show {counts.n_ratings:,} of {dataset.n_ratings:,} ratings "
            f"({', '.join(genres + occupations)}).")

left, right = st.columns(2)
with left:
    st.markdown("**Ratings per item** (sorted; log scale)")
    item_counts = counts.item_counts
    st.plotly_chart(charts.long_tail(item_counts[item_counts > 0], "ratings", "item"),
                    key="chart_items")
with right:
    st.markdown("**Ratings per user** (sorted; log scale)")
    user_counts = counts.user_counts
    st.plotly_chart(charts.long_tail(user_counts[user_counts > 0], "ratings", "user"),
                    key="chart_users")
left, right = st.columns(2)
with left:
    if dataset.is_explicit:
        st.markdown("**Rating distribution**")
        st.plotly_chart(charts.rating_distribution(counts.rating_values, counts.rating_counts),
                        key="chart_ratings")
    else:
        st.markdown("Implicit feedback: every interaction counts as 1, there is no rating "
                    "distribution.")
with right:
    if dataset.genre_names:
        st.markdown("**Genres**: items and ratings per genre")
        st.plotly_chart(charts.genre_counts(dataset.genre_names, counts.genre_items,
                                            counts.genre_ratings), key="chart_genres")

st.markdown("**Most rated items**")
top = np.argsort(-counts.item_counts, kind="stable")[:20]
# The count right after the title, the long genre text last: readable on a narrow screen.
most_rated = dataset.items.iloc[top][["title"]].assign(ratings=counts.item_counts[top])
st.dataframe(most_rated.join(dataset.items.iloc[top][["year", "genres"]]), hide_index=True)
