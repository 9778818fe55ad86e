"""An item's related items by the run's model, for the Similarity page's item-to-item view.

Each model ranks them by its best item-item source (``related_items_source``): the cosine of its
item embeddings, EASE's learned weights, item-kNN's co-rater cosine. The page says which, in one
sentence, next to the list.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from recsys_core.data.dataset import Dataset
from recsys_core.runs.store import Run


def source_sentence(run: Run) -> str:
    """Where the run's related items come from, in one sentence for the page."""
    return f"Related items of this {run.info.model_kind} run come from " \
           f"{run.model.related_items_source}."


def show_related_items(run: Run, dataset: Dataset, item: int, k: int) -> None:
    """The k items most related to ``item`` by the run's model (itself left out), with their
    score and number of ratings, under a caption naming the source."""
    items, scores = run.model.related_items([item], k)
    listed = items[0] >= 0
    idx = items[0][listed]
    st.subheader(f"Related to {dataset.titles([item])[0]}")
    st.caption(source_sentence(run))
    if not len(idx):
        st.info("This model relates no other item to this one.")
        return
    st.dataframe(pd.DataFrame({"title": dataset.titles(idx), "score": scores[0][listed],
                               "ratings": dataset.item_popularity[idx]}),
                 hide_index=True, key="related_items", column_config={
                     "title": st.column_config.TextColumn(width="large"),
                     "score": st.column_config.NumberColumn(format="%.3f")})
