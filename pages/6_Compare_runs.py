"""Compare runs page: saved runs' settings and metrics, and their lists for the same user."""
import numpy as np
import pandas as pd
import streamlit as st

from ui import compare, data, lessons, page, pickers, runs, seeds, splits, state, training

page.page_header(
    "Compare runs",
    "Every training is saved as a run with its hyperparameters and its evaluation on held-out "
    "ratings. Sort the table by a metric, then pick runs to compare: accuracy (**NDCG, recall, "
    "precision**) against **coverage** and **novelty** shows whether a model only recommends "
    "the popular head, and the side-by-side lists show what the numbers mean for one user.",
)

with page.user_errors():
    source, dataset = data.select_dataset()
    lessons.arrive(source, dataset)  # "WALS vs SGD" picks its two runs

runs.warn_unreadable()
all_datasets = st.sidebar.checkbox("Show runs of every dataset", key="all_datasets")
infos = runs.all_runs() if all_datasets else runs.runs_for(dataset)
if not infos:
    st.info("No saved run yet for this dataset: train one on the Train page.")
    st.page_link("pages/2_Train.py", label="Go to Train")
    st.stop()

rows = []
for info in infos:
    row = {"run": info.name, "model": runs.kind_label(info),
           "dataset": info.dataset.get("name", ""),
           "created": info.created[:19].replace("T", " "),
           "epochs": len(info.history),
           "hyperparameters": ", ".join(f"{k}={v}" for k, v in info.params.items())}
    row.update({k: v for k, v in info.metrics.items() if isinstance(v, (int, float))
                and k not in training.EVALUATION_COUNTS})
    row["evaluated on"] = training.evaluation_note(info.metrics, short=True)
    row["test split"] = splits.describe(info.split) if info.split else ""
    rows.append(row)
table = pd.DataFrame(rows)
# NDCG@10 next to the run's name, then the other metrics, then the descriptive columns and the
# long hyperparameter text: scores stay visible on a narrow screen and sortable at a glance.
DESCRIPTIVE = ["model", "epochs", "evaluated on", "test split", "created", "dataset",
               "hyperparameters"]
metric_columns = sorted((c for c in table.columns if c != "run" and c not in DESCRIPTIVE),
                        key=lambda c: c != "ndcg@10")
table = table[["run", *metric_columns, *DESCRIPTIVE]]
numbers = [c for c in table.columns if table[c].dtype.kind == "f"]
page.dataframe(table.style.format("{:.4f}", subset=numbers, na_rep=page.UNDEFINED),
               hide_index=True, key="runs_table")

names = [i.name for i in runs.ordered(infos)]  # sweep trials after the others, by sweep
picked = state.multiselect("Runs to compare", names, "cmp",
                           [i.name for i in runs.preferred(infos, 2)],
                           help="Pick two or more; the choice is kept in the URL.")
if len(picked) < 2:
    st.info("Pick at least two runs to compare.")
    st.stop()
chosen = table[table["run"].isin(picked)]
metric_names = [c for c in chosen.columns
                if c not in ("run", *DESCRIPTIVE) and chosen[c].notna().any()]
default_metrics = [m for m in metric_names if m.split("@")[0] in
                   ("ndcg", "recall", "precision", "coverage", "novelty", "rmse")][:6]
shown = state.multiselect("Metrics", metric_names, "cmp_metrics",
                          default_metrics or metric_names[:4],
                          help="The choice is kept in the URL and when you switch pages.")

# ---------------------------------------------------------------- paired differences
by_name = {i.name: i for i in infos}
picked_infos = [by_name[n] for n in picked]
st.subheader("Are the differences real?")
st.markdown(compare.INTERVAL_TEXT)
reference = by_name[state.selectbox(
    "Reference run", picked, "cmp_ref", compare.default_reference(picked_infos),
    help="Every other picked run is compared with this one, user by user. By default the best "
         "by NDCG@10.")]
with page.user_errors():
    comparisons, skipped = compare.against_reference(reference, picked_infos, source, dataset)
if skipped:
    st.warning("Not compared with the reference (a per-user comparison needs the same test "
               "users):\n" + "\n".join(f"- **{n}**: {why}" for n, why in skipped.items()))
accuracy = compare.metrics_of(comparisons, shown) or compare.metrics_of(
    comparisons, compare.DEFAULT_ACCURACY)
if comparisons:
    diffs = compare.difference_table(comparisons, accuracy, reference.name)
    first = next(iter(comparisons.values()))
    st.caption(f"Differences are *run − {reference.name}* over the same "
               f"{first.users.size:,} test users, k = {first.k}; green / red only where the "
               "95% interval excludes 0.")
    page.dataframe(compare.styled(diffs), hide_index=True, key="cmp_differences",
                   height=compare.table_height(len(diffs)),
                   column_config=compare.column_widths(diffs))
    if not diffs.empty:
        st.container(key="cmp_forest").markdown(compare.forest_svg(diffs, reference.name),
                                                unsafe_allow_html=True)

# ---------------------------------------------------------------- one view at a time
# Only the open tab is drawn (each is a few charts and tables: all of them at once doubled the
# time the page took to show its differences table); the choice is kept in the URL.
views = dict(zip(compare.VIEWS, st.tabs(compare.VIEWS, key="cmp_view", on_change="rerun",
                                        bind="query-params")))
with views["One pair"]:
    if views["One pair"].open:
        if not comparisons:
            st.info("No run to compare with the reference yet.")
        else:
            left, right = st.columns(2)
            pair_name = state.selectbox("Run against the reference", list(comparisons),
                                        "cmp_pair", container=left)
            pair = comparisons[pair_name]
            per_user = [m for m in pair.per_user_a if m in pair.differences]
            dist_metric = state.selectbox("Metric", per_user, "cmp_dist",
                                          accuracy[0] if accuracy else None, container=right)
            if dist_metric is not None:
                diff = compare.user_differences(pair, dist_metric)
                st.container(key="cmp_distribution").markdown(
                    compare.distribution_svg(diff, dist_metric, pair_name, reference.name),
                    unsafe_allow_html=True)
                st.caption(compare.distribution_note(diff, pair_name, reference.name))
            st.markdown(f"**Where the difference comes from** ({pair_name} − {reference.name}, "
                        "95% intervals): users by how many ratings they have (cold / light / "
                        "heavy), and the held-out items by popularity (the popular head / the "
                        "long tail).")
            st.caption("By user activity: users split in thirds by their number of training "
                       "ratings.")
            by_activity = compare.breakdown(pair, "activity", accuracy)
            page.dataframe(compare.styled_breakdown(by_activity), hide_index=True,
                           key="cmp_by_activity",
                           column_config=compare.column_widths(by_activity))
            st.caption(f"By item popularity: recall@{pair.k} counting only the held-out items of "
                       "the popular head (the 20% most rated items) or of the long tail.")
            by_popularity = compare.breakdown(pair, "popularity")
            page.dataframe(compare.styled_breakdown(by_popularity), hide_index=True,
                           key="cmp_by_popularity",
                           column_config=compare.column_widths(by_popularity))

with views["Beyond accuracy"]:
    if views["Beyond accuracy"].open:
        st.caption("Coverage (share of the catalogue recommended to someone) and the Gini of "
                   "exposure (0: every item shown equally often, 1: one item gets all slots; "
                   "lower is fairer) are measured over the whole set of lists, so their "
                   "interval comes from resampling users (paired bootstrap); novelty (bits of "
                   "surprise of the listed items) and intra-list diversity are per user, like "
                   "accuracy.")
        beyond = compare.metrics_of(comparisons, (), beyond=True)
        if not beyond:
            st.info("No run to compare with the reference yet.")
        else:
            side = compare.side_by_side(comparisons, beyond, reference.name)
            page.dataframe(side.style.format("{:.4f}", subset=beyond, na_rep=page.UNDEFINED),
                           hide_index=True, key="cmp_beyond")
            beyond_diffs = compare.difference_table(comparisons, beyond, reference.name)
            page.dataframe(compare.styled(beyond_diffs), hide_index=True,
                           key="cmp_beyond_diffs",
                           height=compare.table_height(len(beyond_diffs)),
                           column_config=compare.column_widths(beyond_diffs))
            st.container(key="cmp_beyond_forest").markdown(
                compare.forest_svg(beyond_diffs, reference.name), unsafe_allow_html=True)

with views["Seeds"]:
    if views["Seeds"].open:
        st.caption("A model trained again with another random seed scores a little "
                   "differently. If that spread is as large as a difference between two runs, "
                   "the difference may be luck of the seed, however narrow its per-user "
                   "interval.")
        seeds.section(reference, picked_infos, infos, source, dataset, metrics=shown)

with views["Saved metrics"]:
    if views["Saved metrics"].open and shown:
        st.caption("The metrics each run saved when it was trained (the table above), as bars. "
                   "Bars alone hide how uncertain each value is: the differences above say "
                   "which gaps are real.")
        st.plotly_chart(compare.metrics_figure(chosen[["run", *shown]], tuple(shown)),
                        key="metrics_chart")

with views["Training curves"]:
    if views["Training curves"].open:
        frame = compare.training_curves(picked_infos)
        if frame.empty:
            st.info("None of these runs recorded a training loss (closed-form fits have none).")
        else:
            st.caption("Total training loss divided by its first-epoch value, against epochs "
                       "and against seconds: WALS typically converges in a few sweeps, SGD "
                       "needs many epochs. Objectives differ between models, so compare "
                       "shapes, not levels.")
            left, right = st.columns(2)
            for col, x in ((left, "epoch"), (right, "seconds")):
                # The runs named above the curves, not over them.
                col.plotly_chart(compare.curves_figure(frame, x), key=f"curves_{x}")

with views["Lists for one user"]:
    if views["Lists for one user"].open:
        same_data = [i for i in [reference, *picked_infos]
                     if i.dataset.get("fingerprint") == dataset.fingerprint]
        same_data = list({i.name: i for i in same_data}.values())  # the reference first, once
        if len(same_data) < len(picked):
            st.warning("Runs trained on another dataset are left out of the side-by-side lists; "
                       "choose their dataset in the sidebar to see them.")
        if not same_data:
            st.stop()
        if len(same_data) > compare.MAX_LISTS:
            st.caption(f"The lists of the reference and the next {compare.MAX_LISTS - 1} picked "
                       "runs (more would not fit side by side); make another run the reference "
                       "to see its list.")
            same_data = same_data[:compare.MAX_LISTS]
        user = pickers.select_user(dataset)
        k = state.slider("Items per list", "cmp_k", 10, min_value=5, max_value=30)
        cols = st.columns(len(same_data))
        lists = {}
        for col, info in zip(cols, same_data):
            with page.user_errors():
                run = runs.load(info)
            items, scores = run.model.recommend([user], k, exclude_seen=True)
            items = items[0][items[0] >= 0]
            lists[info.name] = set(items.tolist())
            col.markdown(f"**{info.name}** ({runs.kind_label(info)})")
            # The count before the title, so it stays visible when several lists share a
            # narrow page.
            col.dataframe(pd.DataFrame({"ratings": dataset.item_popularity[items],
                                        "title": dataset.titles(items)}),
                          hide_index=True, key=f"recs_{info.name}")
        common = set.intersection(*lists.values())
        st.caption(f"{len(common)} of {k} items appear in every list; median number of ratings "
                   "of the listed items: " + ", ".join(
                       f"{name} {int(np.median(dataset.item_popularity[list(s)])) if s else 0}"
                       for name, s in lists.items()))
