"""Plotly figures shared by the pages (data preparation is counting, no modelling)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import scipy.sparse as sp


def long_tail(counts: np.ndarray, what: str, per: str) -> go.Figure:
    """Counts sorted from largest to smallest against their rank: the head and the long tail."""
    ordered = np.sort(np.asarray(counts))[::-1]
    share = np.cumsum(ordered) / max(1, ordered.sum())
    head = int(np.searchsorted(share, 0.5) + 1) if len(ordered) else 0
    fig = px.area(pd.DataFrame({f"{per} rank": np.arange(1, len(ordered) + 1),
                                f"{what} per {per}": ordered}),
                  x=f"{per} rank", y=f"{what} per {per}", log_y=True)
    if head:
        fig.add_vline(x=head, line_dash="dot",
                      annotation_text=f"{head} {per}s hold half of the {what}")
    fig.update_layout(margin=dict(l=10, r=10, t=30, b=10), height=320)
    return fig


def rating_distribution(values: np.ndarray) -> go.Figure:
    vals, counts = np.unique(np.asarray(values), return_counts=True)
    fig = px.bar(pd.DataFrame({"rating": vals.astype(str), "ratings": counts}),
                 x="rating", y="ratings")
    fig.update_layout(margin=dict(l=10, r=10, t=30, b=10), height=320)
    return fig


def genre_counts(item_genres: np.ndarray, genre_names, ratings: sp.csr_matrix) -> go.Figure:
    """Items and ratings per genre (an item with several genres counts in each)."""
    item_counts = np.asarray(item_genres, dtype=np.int64).sum(axis=0)
    per_item = np.bincount(ratings.indices, minlength=ratings.shape[1])
    rating_counts = per_item @ np.asarray(item_genres, dtype=np.int64)
    df = pd.DataFrame({"genre": list(genre_names), "items": item_counts,
                       "ratings": rating_counts}).sort_values("ratings", ascending=False)
    fig = px.bar(df.melt(id_vars="genre", var_name="count of", value_name="n"),
                 x="genre", y="n", color="count of", barmode="group", log_y=True)
    fig.update_layout(margin=dict(l=10, r=10, t=30, b=10), height=360)
    return fig


def decode_plotly_array(value):
    """plotly 7 stores arrays in figure JSON as {"dtype", "bdata"}; return a plain list."""
    import base64

    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return list(value)
