"""The Tune page's background sweep and its charts (the search itself is recsys_core.tuning).

A :class:`SweepJob` runs :meth:`Sweep.run` on a thread (like ui/training.py's TrainingJob) and then
refits nothing: every trial is already a saved run, and the page offers the best one. The page polls
the job and redraws :func:`sweep_figure` from ``sweep.history()``; "Cancel" sets the job's event,
which stops the fit in progress without saving it. The thread never calls Streamlit.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from recsys_core.tuning import Sweep

from . import charts


@dataclass
class SweepJob:
    """One sweep in progress: ``finished`` is set when it ended (done, cancelled or failed)."""

    sweep: Sweep
    dataset: object
    split: object
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def start(self) -> "SweepJob":
        threading.Thread(target=self._run, name="recsys-sweep", daemon=True).start()
        return self

    def _run(self):
        try:
            self.sweep.run(self.dataset, self.split, cancel=self.cancel)
        except BaseException as exc:  # shown by the page
            self.error = exc
        finally:
            self.finished.set()


def sweep_figure(sweep: Sweep):
    """The validation metric against the tuned hyperparameters, best trial marked; None before
    the first trial. One: a scatter; two: a heat map (cells of a grid, or trials coloured by the
    metric for random and TPE draws); three: parallel coordinates (the best trial named in the
    title)."""
    rows = sweep.history()
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    metric, dims = sweep.metric, sweep.dimensions
    best = sweep.best()
    title = (f"validation {metric}: best {best.value:.4f} (trial {best.number}: "
             + ", ".join(f"{d.name}={_short(best.params[d.name])}" for d in dims) + ")")
    is_best = frame["trial"] == best.number
    if len(dims) == 1:
        d = dims[0]
        fig = px.scatter(frame, x=d.name, y=metric, hover_data=["trial", "run"])
        fig.add_trace(go.Scatter(x=frame.loc[is_best, d.name], y=frame.loc[is_best, metric],
                                 mode="markers", name="best",
                                 marker=dict(symbol="star", size=18, color="crimson")))
        if d.log:
            charts.readable_log_axis(fig, "x")
    elif len(dims) == 2:
        x, y = dims
        numeric = x.choices is None and y.choices is None
        if sweep.strategy == "grid" or not numeric:
            table = frame.pivot_table(index=y.name, columns=x.name, values=metric, aggfunc="max")
            fig = go.Figure(go.Heatmap(z=table.to_numpy(), x=[_short(v) for v in table.columns],
                                       y=[_short(v) for v in table.index],
                                       colorscale="Viridis", colorbar=dict(title=metric)))
            fig.add_trace(go.Scatter(x=[_short(best.params[x.name])],
                                     y=[_short(best.params[y.name])], mode="markers",
                                     name="best", marker=dict(symbol="star", size=18,
                                                              color="crimson")))
            fig.update_xaxes(type="category", title=x.name)
            fig.update_yaxes(type="category", title=y.name)
        else:
            fig = go.Figure(go.Scatter(
                x=frame[x.name], y=frame[y.name], mode="markers", name="trials",
                text=[f"trial {t}: {v:.4f}" for t, v in zip(frame["trial"], frame[metric])],
                marker=dict(size=14, color=frame[metric], colorscale="Viridis",
                            colorbar=dict(title=metric))))
            fig.add_trace(go.Scatter(x=frame.loc[is_best, x.name], y=frame.loc[is_best, y.name],
                                     mode="markers", name="best",
                                     marker=dict(symbol="star", size=20, color="crimson")))
            fig.update_xaxes(title=x.name, type="log" if x.log else "linear")
            fig.update_yaxes(title=y.name, type="log" if y.log else "linear")
    else:
        fig = go.Figure(go.Parcoords(
            dimensions=[_parallel_axis(d, frame[d.name]) for d in dims]
            + [dict(label=metric, values=frame[metric])],
            line=dict(color=frame[metric], colorscale="Viridis", showscale=True,
                      colorbar=dict(title=metric))))
        # The axis names sit above the axes, and the outer axes' tick labels beside them: room
        # for both under the title and inside the figure.
        fig.update_layout(title=dict(text=title, y=0.98, yanchor="top"), height=460,
                          margin=dict(l=70, r=70, t=110, b=30))
        return fig
    fig.update_layout(title=title, height=420, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def _parallel_axis(dimension, values: pd.Series) -> dict:
    """One axis of the parallel coordinates: a log-scale hyperparameter is placed by log10 but
    labelled with its values (the range's ends and round values between); a list of choices by
    position, labelled with the choices. The axis spans the searched range, not only the values
    tried so far."""
    if dimension.choices is not None:
        codes = {v: i for i, v in enumerate(dimension.choices)}
        return dict(label=dimension.name, values=values.map(lambda v: codes.get(v, np.nan)),
                    tickvals=list(codes.values()), ticktext=[_short(v) for v in codes],
                    range=[0, max(len(codes) - 1, 1)])
    low, high = float(dimension.low), float(dimension.high)
    if not dimension.log:
        return dict(label=dimension.name, values=values, range=[low, high])
    # Round values inside, and the searched range's ends (the axis line spans its ticks).
    span = np.log10(high) - np.log10(low)
    inside = [t for t in charts.log_ticks(low, high)
              if low <= t <= high and min(abs(np.log10(t / low)), abs(np.log10(high / t)))
              > 0.08 * span]
    ticks = [low, *inside, high] if high > low else [low]
    return dict(label=dimension.name, values=np.log10(values.astype(float)),
                range=[np.log10(low), np.log10(high)], tickvals=np.log10(ticks).tolist(),
                ticktext=[charts.tick_label(t) for t in ticks])


def _short(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)
