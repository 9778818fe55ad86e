"""Plotly figures shared by the pages (data preparation is counting, no modelling)."""
from __future__ import annotations

import math
import zlib

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from recsys_core.data.stats import long_tail_curve

#: One colour per loss component name, wherever a loss is drawn (the live chart while training,
#: a saved run's chart): the order in which a model or a saved file lists the components must not
#: change the colours.
LOSS_COLOURS = {
    "total": "#333333",
    "observed": "#1F77B4",
    "unobserved": "#D62728",
    "gravity": "#FF7F0E",
    "regularization": "#2CA02C",
    "softmax": "#9467BD",
    "explained_variance": "#17BECF",
}
_OTHER_COLOURS = ("#8C564B", "#E377C2", "#BCBD22", "#7F7F7F", "#AB63FA", "#19D3F3")


def loss_colour(component: str) -> str:
    """The colour of a loss component: fixed for the known names, else chosen by the name alone."""
    if component in LOSS_COLOURS:
        return LOSS_COLOURS[component]
    return _OTHER_COLOURS[zlib.crc32(component.encode()) % len(_OTHER_COLOURS)]


def loss_order(components) -> list[str]:
    """Components in one fixed order (known names first, as in LOSS_COLOURS, then by name)."""
    known = list(LOSS_COLOURS)
    return sorted(set(components), key=lambda c: (known.index(c) if c in known else len(known), c))


#: Most decades labelled on a log axis: a range over more (a collapsed model's loss terms
#: from 1e-46 to 1e5) is labelled every second, third, ... power of ten.
MAX_LOG_TICKS = 8


def log_ticks(low: float, high: float) -> list[float]:
    """Tick values for a log axis showing ``low..high`` (both > 0): powers of ten (1, 10, 100),
    every n-th one over more than :data:`MAX_LOG_TICKS` decades, with 2 and 5 (then every digit)
    added only when fewer than three ticks would be visible; for a range narrower than that,
    evenly spaced round numbers."""
    low, high = float(min(low, high)), float(max(low, high))
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    if last - first + 1 > MAX_LOG_TICKS:
        every = math.ceil((last - first + 1) / MAX_LOG_TICKS)
        start = last - every * ((last - first) // every)  # keeps 1 (10^0) when it is shown
        return [10.0 ** e for e in range(start, last + 1, every)]
    for mantissas in ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [m * 10.0 ** e for e in range(first, last + 1) for m in mantissas]
        ticks = [t for t in ticks if t <= high * 10]
        if sum(low <= t <= high for t in ticks) >= 3:
            return ticks
    step = 10.0 ** math.floor(math.log10(high - low)) if high > low else 10.0 ** first
    if (high - low) / step < 3:
        step /= 5 if (high - low) / step < 1.5 else 2
    start = math.floor(low / step) * step
    return [start + i * step for i in range(int((high - start) / step) + 2) if start + i * step > 0]


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
#: Magnitudes written out in full on an axis; smaller and larger ones as powers of ten.
PLAIN_TICKS = (1e-4, 1e7)


def tick_label(value: float) -> str:
    """A number as people write it on an axis: 1, 10, 1,000, 0.01, 2.5 (no 2e1, no 1k); below
    0.0001 and from 10 million on, a power of ten (10⁻¹³, 2×10⁻⁶, 10⁸) instead of a row of
    zeros."""
    if value and not PLAIN_TICKS[0] <= abs(value) < PLAIN_TICKS[1]:
        exponent = math.floor(math.log10(abs(value)))
        mantissa = float(f"{value / 10.0 ** exponent:.3g}")
        if abs(mantissa) >= 10:  # rounding reached the next power
            mantissa, exponent = mantissa / 10, exponent + 1
        power = "10" + str(exponent).translate(_SUPERSCRIPT)
        return power if mantissa == 1 else f"{mantissa:g}×{power}"
    text = np.format_float_positional(value, precision=4, unique=True, fractional=False,
                                      trim="-")
    whole, dot, fraction = text.partition(".")
    return f"{int(whole):,}" + dot + fraction if abs(value) >= 1000 else text


def readable_log_axis(fig: go.Figure, axis: str = "y") -> go.Figure:
    """Make ``axis`` ("x" or "y") of ``fig`` a log axis labelled 1, 10, 100, ... from its data.

    Plotly's own log ticks read "2", "5" between unlabelled decades or "2e1"; these are the
    values written out. Uses the positive values of every trace on that axis.
    """
    values = [np.asarray(getattr(trace, axis), dtype=float) for trace in fig.data
              if getattr(trace, axis, None) is not None]
    values = np.concatenate(values) if values else np.empty(0)
    values = values[np.isfinite(values) & (values > 0)]
    update = fig.update_yaxes if axis == "y" else fig.update_xaxes
    if not len(values):
        return update(type="log")
    ticks = log_ticks(values.min(), values.max())
    return update(type="log", tickmode="array", tickvals=ticks,
                  ticktext=[tick_label(t) for t in ticks])


def long_tail(counts: np.ndarray, what: str, per: str) -> go.Figure:
    """Counts sorted from largest to smallest against their rank: the head and the long tail
    (at most about 1,000 points, whatever the number of counts)."""
    ranks, ordered, head = long_tail_curve(counts)
    fig = px.area(pd.DataFrame({f"{per} rank": ranks, f"{what} per {per}": ordered}),
                  x=f"{per} rank", y=f"{what} per {per}", log_y=True)
    readable_log_axis(fig, "y")
    if head:
        fig.add_vline(x=head, line_dash="dot",
                      annotation_text=f"{head:,} {per}s: half the {what}")
    fig.update_layout(margin=dict(l=10, r=10, t=30, b=10), height=320)
    return fig


def rating_distribution(values: np.ndarray, counts: np.ndarray | None = None) -> go.Figure:
    """Bars of ratings per value: from every rating, or from distinct ``values`` and ``counts``."""
    vals, counts = (np.unique(np.asarray(values), return_counts=True) if counts is None
                    else (np.asarray(values), np.asarray(counts)))
    fig = px.bar(pd.DataFrame({"rating": [f"{v:g}" for v in vals], "ratings": counts}),
                 x="rating", y="ratings")
    fig.update_layout(margin=dict(l=10, r=10, t=30, b=10), height=320)
    return fig


def genre_counts(genre_names, item_counts: np.ndarray, rating_counts: np.ndarray) -> go.Figure:
    """Items and ratings per genre (an item with several genres counts in each), from the
    counts of :class:`recsys_core.data.stats.RatingCounts`."""
    df = pd.DataFrame({"genre": list(genre_names), "items": item_counts,
                       "ratings": rating_counts}).sort_values("ratings", ascending=False)
    fig = px.bar(df.melt(id_vars="genre", var_name="count of", value_name="n"),
                 x="genre", y="n", color="count of", barmode="group", log_y=True)
    readable_log_axis(fig, "y")
    # Legend above the bars, so that the bars keep the width at 800 px.
    fig.update_layout(margin=dict(l=10, r=10, t=30, b=10), height=360,
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    return fig


def legend_above(fig: go.Figure, height: int, title: bool = False) -> go.Figure:
    """Put the legend in rows above the plot (as many as a narrow chart needs) instead of beside
    it, so it never covers data nor squeezes the plot at 800 px; a title, if any, sits above the
    legend at the top left. The legend is placed in the figure's own coordinates under the
    title, and plotly pushes the plot down by the legend's height."""
    top = 34 if title else 4  # pixels kept for the title
    fig.update_layout(legend=dict(orientation="h", xanchor="left", x=0, yanchor="top",
                                  yref="container", y=1 - top / height, title_text=""),
                      height=height, margin=dict(l=10, r=10, t=top + 24, b=10))
    if title:
        fig.update_layout(title=dict(x=0, xanchor="left", xref="container", y=1, yanchor="top",
                                     yref="container", pad=dict(t=8, l=10)))
    return fig


def decode_plotly_array(value):
    """plotly 7 stores arrays in figure JSON as {"dtype", "bdata"}; return a plain list."""
    import base64

    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return list(value)
