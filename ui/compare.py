"""Honest comparisons for the Compare runs page: each run against a reference run, user by user.

Two runs evaluated on the same held-out ratings are compared per user (the difference of each
user's metric, then its mean with a 95% interval: :mod:`recsys_core.evaluation.compare`), so the
users who are hard for every model cancel out and the interval is much narrower than two separate
ones. A run on another split is never compared; it is listed with the reason. Seeds: a run can be
trained again with other seeds as new runs, and the spread of a metric across those runs is shown
beside the per-user interval, to tell seed noise from user-sampling noise.

The per-user evaluations are cached per pair of runs (names and creation times), k and the user
cap, so the page reopens without recomputing anything.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots
import streamlit as st

from recsys_core.data.dataset import Dataset
from recsys_core.errors import SplitMismatchError
from recsys_core.evaluation.compare import (LOWER_IS_BETTER, NO_BETTER_DIRECTION, RunComparison,
                                         check_comparable,
                                           compare_runs)
from recsys_core.evaluation.metrics import EVALUATION_SAMPLE_USERS
from recsys_core.runs.store import RunInfo

from . import charts, runs, splits, svg_charts

#: List length of the comparisons (the saved runs' metrics are at 10 too).
K = 10
#: Users compared at most: the same fixed sample as the runs' own evaluation for big data.
MAX_USERS = EVALUATION_SAMPLE_USERS
#: The confidence of every interval on the page.
CONFIDENCE = 0.95

#: Beyond-accuracy measures, by the start of their name.
BEYOND_ACCURACY = ("coverage", "novelty", "diversity", "gini")

#: The page's tabs below the differences table (only the open one is drawn).
VIEWS = ("One pair", "Beyond accuracy", "Seeds", "Saved metrics", "Training curves",
         "Lists for one user")
#: Runs whose recommendation lists the page shows side by side at most (more would not fit).
MAX_LISTS = 4
#: Metrics compared when none of the chosen ones is per user.
DEFAULT_ACCURACY = (f"ndcg@{K}", f"recall@{K}", f"precision@{K}")

GREEN, RED, GREY = "#1a7f37", "#c62828", "#6e7781"
#: Colour of each kind of verdict in the table and the forest plot.
VERDICT_COLOURS = {"better": GREEN, "worse": RED, "not distinguishable": GREY,
                   "higher": "#0b5cad", "lower": "#0b5cad"}

INTERVAL_TEXT = (
    "**How to read the intervals.** Each run is compared with the reference *user by user* on the "
    "same held-out ratings: the 95% interval is the range of differences that fit these users' "
    "results; had we drawn other users from the same population, the difference would land in "
    "such a range 95 times in 100. **Why per user (paired)?** Some users are easy for every model "
    "and some are hard; comparing each user's score under both runs cancels that out, so a real "
    "difference shows up with far fewer users than two separate averages would need. **Why not "
    "rank runs inside the interval?** When the interval contains 0 the data cannot tell which "
    "run is better: their order in a leaderboard would be decided by which users happened to be "
    "held out, so the page says *not distinguishable* instead of ranking them."
)


# ---------------------------------------------------------------------------- choosing runs
def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is the better one (RMSE, MAE, exposure Gini)."""
    return metric.split("@")[0] in LOWER_IS_BETTER


def is_beyond_accuracy(metric: str) -> bool:
    """Whether ``metric`` is a beyond-accuracy measure (coverage, novelty, diversity, Gini)."""
    return metric.split("@")[0].lower().startswith(BEYOND_ACCURACY)


def default_reference(infos: list[RunInfo]) -> str:
    """The run the others are compared with by default: the best by NDCG@10, else the first."""
    scored = [(i.metrics.get(f"ndcg@{K}"), n) for n, i in enumerate(infos)]
    scored = [(v, n) for v, n in scored if isinstance(v, (int, float)) and math.isfinite(v)]
    if not scored:
        return infos[0].name
    return infos[max(scored, key=lambda s: (s[0], -s[1]))[1]].name


def not_comparable(reference: RunInfo, other: RunInfo) -> str | None:
    """Why ``other`` cannot be compared user by user with ``reference`` (the engine's
    :func:`~recsys_core.evaluation.compare.check_comparable`, in its words), or None."""
    try:
        check_comparable(other, reference)
    except SplitMismatchError as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------------------- cached evaluation
@st.cache_resource(show_spinner=False, max_entries=128)
def _comparison(root: str, name_a: str, created_a: str, name_b: str, created_b: str, k: int,
                max_users: int, source: str, split_json: str, _dataset: Dataset):
    """The comparison of runs a and b (or the reason it is impossible, as a string). Keyed on
    both runs' names AND creation times (a name deleted and trained again is recomputed), k,
    the user cap, and the split."""
    import json

    run_a = runs._load(root, name_a, created_a)
    run_b = runs._load(root, name_b, created_b)
    try:
        split = splits.cached_split(source, _dataset, json.loads(split_json))
        return compare_runs(run_a, run_b, k=k, max_users=max_users, split=split)
    except SplitMismatchError as exc:
        return str(exc)


def comparison(a: RunInfo, b: RunInfo, source: str, dataset: Dataset, *, k: int = K,
               max_users: int = MAX_USERS) -> RunComparison | str:
    """Run ``a`` against run ``b`` per user (differences are a - b), cached; a string saying
    why when they cannot be paired."""
    import json

    reason = not_comparable(b, a)
    if reason is not None:
        return reason
    return _comparison(str(Path(a.path).parent), a.name, a.created, b.name, b.created, int(k),
                       int(max_users), source, json.dumps(b.split["params"], sort_keys=True),
                       dataset)


def against_reference(reference: RunInfo, others: list[RunInfo], source: str,
                      dataset: Dataset) -> tuple[dict[str, RunComparison], dict[str, str]]:
    """Every other run against the reference: ({run: comparison}, {run: why not compared})."""
    done, skipped = {}, {}
    todo = [o for o in others if o.name != reference.name]
    bar = None
    for n, other in enumerate(todo):
        reason = not_comparable(reference, other)
        if reason is None and bar is None and n == 0 and len(todo) > 1:
            bar = st.empty()
        if bar is not None:
            bar.progress(n / len(todo), text=f"Evaluating {other.name} user by user ({n + 1} of "
                                             f"{len(todo)})…")
        result = reason or comparison(other, reference, source, dataset)
        if isinstance(result, str):
            skipped[other.name] = result
        else:
            done[other.name] = result
    if bar is not None:
        bar.empty()
    return done, skipped


# ---------------------------------------------------------------------------- tables and plots
def direction(difference, metric: str) -> str:
    """"better", "worse" (for the run against the reference) or "not distinguishable";
    "higher" / "lower" for a metric without a better direction (popularity percentile)."""
    if not difference.significant:
        return "not distinguishable"
    if metric.split("@")[0] in NO_BETTER_DIRECTION:
        return "higher" if difference.diff > 0 else "lower"
    improved = difference.diff < 0 if lower_is_better(metric) else difference.diff > 0
    return "better" if improved else "worse"


def short_verdict(metric: str, diff: float, ci_low: float, ci_high: float, n_users: int) -> str:
    """The verdict on a row's run against the reference (``diff`` = run - reference) in a few
    words for a table cell: "better by 0.0147", "worse by 0.159", "not distinguishable on these
    943 users"; the interval and p-value have columns of their own (the engine's
    :meth:`PairedDifference.verdict` says all of it in one sentence)."""
    if ci_low == ci_high == diff == 0:
        return "the same for every user"
    if not (ci_low > 0 or ci_high < 0):
        return f"not distinguishable on these {int(n_users):,} users"
    # Said of the row's run against the reference (the row names both): long run names made
    # "<name> is better by" push the numbers out of view at 800 px.
    base = metric.split("@")[0]
    if base in NO_BETTER_DIRECTION:
        return f"{'higher' if diff > 0 else 'lower'} by {abs(diff):.3g}"
    run_better = (diff < 0) if base in LOWER_IS_BETTER else (diff > 0)
    return f"{'better' if run_better else 'worse'} by {abs(diff):.3g}"


def metrics_of(comparisons: dict[str, RunComparison], wanted, *, beyond: bool = False) -> list[str]:
    """The compared metrics among ``wanted`` (in its order), accuracy ones or, with ``beyond``,
    the beyond-accuracy ones (every one the comparisons have, in the engine's order)."""
    available = []
    for c in comparisons.values():
        available.extend(m for m in c.differences if m not in available)
    if beyond:
        return [m for m in available if is_beyond_accuracy(m)]
    return [m for m in wanted if m in available and not is_beyond_accuracy(m)]


def _fmt(value: float) -> str:
    return runs.format_metric(value, ".4f")


def _p(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return "< 0.0001" if value < 1e-4 else f"{value:.4f}"


#: Columns of :func:`difference_table` as shown: the short verdict and the interval first, so
#: they stay in view on a narrow screen; the sentence after the numbers.
DIFFERENCE_COLUMNS = ["run", "metric", "verdict", "difference", "95% interval", "p-value",
                      "run value", "reference value", "users", "test", "result"]


def difference_table(comparisons: dict[str, RunComparison], metrics: list[str],
                     reference: str) -> pd.DataFrame:
    """One row per (run, metric): the difference run - reference with its 95% interval and
    p-value, the result in a word ("better", "worse", "not distinguishable"), both means and
    the verdict in a sentence (the bounds are also kept as numbers in "low" and "high")."""
    rows = []
    for name, c in comparisons.items():
        for metric in metrics:
            d = c.differences.get(metric)
            if d is None:
                continue
            rows.append({"run": name, "metric": metric, "run value": d.mean_a,
                         "reference value": d.mean_b, "difference": d.diff,
                         "95% interval": f"[{_fmt(d.ci_low)}, {_fmt(d.ci_high)}]",
                         "p-value": _p(d.p_value), "result": direction(d, metric),
                         "verdict": short_verdict(metric, d.diff, d.ci_low, d.ci_high,
                                                  d.n_users),
                         "users": d.n_users,
                         "test": d.method, "low": d.ci_low, "high": d.ci_high})
    return pd.DataFrame(rows, columns=[*DIFFERENCE_COLUMNS, "low", "high"])


def styled(table: pd.DataFrame):
    """The difference table for display: green or red only where the difference is
    significant, the interval columns used by the plot left out."""
    shown = table.drop(columns=["low", "high"])

    def colour(row):
        tint = {"better": f"color: {GREEN}; font-weight: 600",
                "worse": f"color: {RED}; font-weight: 600"}.get(row["result"], "")
        return [tint if c in ("difference", "verdict", "95% interval") else ""
                for c in row.index]

    return (shown.style.apply(colour, axis=1)
            .format("{:.4f}", subset=["run value", "reference value", "difference"],
                    na_rep="—"))


#: Widths (px) of the difference table's columns that must not be cut.
DIFFERENCE_WIDTHS = {"95% interval": 150, "verdict": 290, "group": 160}


def column_widths(table: pd.DataFrame) -> dict:
    """``column_config`` for :func:`difference_table`'s (or a breakdown's) text columns; the
    "result" column (one word, which colours the row) is hidden: the verdict says it."""
    config = {c: st.column_config.TextColumn(width=w) for c, w in DIFFERENCE_WIDTHS.items()
              if c in table.columns}
    if "result" in table.columns:
        config["result"] = None
    return config


def table_height(rows: int, limit: int = 30) -> int:
    """Pixels for a data grid showing up to ``limit`` rows without an inner scroll bar."""
    return 38 + 35 * min(max(rows, 1), limit)


def forest_svg(table: pd.DataFrame, reference: str) -> str:
    """The difference table as a forest plot (inline SVG: :func:`ui.svg_charts.forest`): per
    metric, each run's difference from the reference with its 95% interval and a line at 0;
    green / red when significantly better / worse, grey when not distinguishable."""
    return svg_charts.forest(table, reference, VERDICT_COLOURS)


def user_differences(c: RunComparison, metric: str) -> np.ndarray:
    """Each compared user's metric under the run minus under the reference (NaN users left
    out: those without held-out items for this metric)."""
    diff = np.asarray(c.per_user_a[metric], dtype=float) - np.asarray(c.per_user_b[metric],
                                                                         dtype=float)
    return diff[np.isfinite(diff)]


def distribution_svg(diff: np.ndarray, metric: str, name: str, reference: str) -> str:
    """Histogram of the per-user differences (inline SVG), with 0 and the mean marked."""
    mean = float(diff.mean()) if diff.size else 0.0
    return svg_charts.histogram(diff, f"{metric}: {name} − {reference}, per user",
                                mean_colour=RED if mean < 0 else GREEN)


@st.cache_resource(show_spinner=False, max_entries=32)
def metrics_figure(table: pd.DataFrame, metrics: tuple[str, ...]) -> go.Figure:
    """The picked runs' saved metrics as bars, one panel per metric (three to a row), each run
    in its own colour. One trace per panel (plotly express drew one per run and panel: 50
    traces for 10 runs and 5 metrics, seconds to build); cached on the table."""
    names = table["run"].tolist()
    palette = px.colors.qualitative.Plotly
    colours = [palette[n % len(palette)] for n in range(len(names))]
    rows = math.ceil(len(metrics) / 3)
    fig = make_subplots(rows=rows, cols=min(3, len(metrics)), subplot_titles=list(metrics),
                        horizontal_spacing=0.1, vertical_spacing=0.35 / rows if rows > 1 else 0.1)
    for n, metric in enumerate(metrics):
        fig.add_trace(go.Bar(x=names, y=table[metric], marker_color=colours, name=metric,
                             showlegend=False, hovertemplate="%{x}: %{y:.4f}<extra></extra>"),
                      row=n // 3 + 1, col=n % 3 + 1)
    fig.update_layout(height=300 * rows, showlegend=False, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def training_curves(infos: list[RunInfo]) -> pd.DataFrame:
    """Each run's total training loss per epoch ("run", "epoch", "seconds", "loss" and
    "relative loss": divided by the run's first value); empty when no run recorded one."""
    rows = []
    for info in infos:
        for h in info.history:
            loss = h.get("total", next((v for k, v in h.items() if k not in ("epoch", "elapsed")
                                        and not k.startswith("val_")), None))
            if loss is not None:
                rows.append({"run": info.name, "epoch": h["epoch"], "seconds": h["elapsed"],
                             "loss": loss})
    frame = pd.DataFrame(rows, columns=["run", "epoch", "seconds", "loss"])
    frame["relative loss"] = frame["loss"] / frame.groupby("run")["loss"].transform("first")
    return frame


@st.cache_resource(show_spinner=False, max_entries=32)
def curves_figure(frame: pd.DataFrame, x: str) -> go.Figure:
    """Relative training loss of each run against ``x`` ("epoch" or "seconds"), the runs named
    above the curves; cached on the curves."""
    fig = go.Figure([go.Scatter(x=part[x], y=part["relative loss"], mode="lines+markers",
                                name=name) for name, part in frame.groupby("run", sort=False)])
    fig.update_layout(xaxis_title=x, yaxis_title="relative loss")
    return charts.legend_above(fig, height=320)


def distribution_note(diff: np.ndarray, name: str, reference: str) -> str:
    """How many users each run serves better, and how many it ties."""
    n = max(diff.size, 1)
    up, down = int((diff > 0).sum()), int((diff < 0).sum())
    tied = diff.size - up - down
    return (f"{up:,} users ({up / n:.0%}) score higher with {name}, {down:,} ({down / n:.0%}) "
            f"with {reference}, {tied:,} ({tied / n:.0%}) the same (often both lists miss every "
            "held-out item). The interval above is about the *mean* of this histogram.")


def breakdown(c: RunComparison, by: str, metrics: list[str] | None = None) -> pd.DataFrame:
    """The engine's breakdown by user activity ("activity": cold / light / heavy users) or by
    item popularity ("popularity": recall counting only the head's or the long tail's held-out
    items), one row per (metric, group) of ``metrics`` (default: all): both means, the
    difference with its 95% interval and p-value, and the verdict."""
    frame = c.breakdown(by)
    if metrics is not None:
        frame = frame[frame["metric"].isin(metrics)]
    if by == "activity":
        low, high = c.activity_cutoffs
        sizes = {"cold": f"≤ {low:.0f} ratings", "light": f"{low:.0f}–{high:.0f} ratings",
                 "heavy": f"> {high:.0f} ratings"}
        group = frame["group"].map(lambda g: f"{g} ({sizes[g]})" if g in sizes else g)
    else:
        group = frame["group"]
    out = pd.DataFrame({
        "metric": frame["metric"], "group": group,
        "verdict": [short_verdict(m, d, lo, hi, n) for m, d, lo, hi, n in
                    zip(frame["metric"], frame["diff"], frame["ci_low"], frame["ci_high"],
                        frame["n_users"])],
        "difference": frame["diff"],
        "95% interval": [f"[{_fmt(lo)}, {_fmt(hi)}]"
                         for lo, hi in zip(frame["ci_low"], frame["ci_high"])],
        "p-value": [_p(p) for p in frame["p_value"]], "users": frame["n_users"],
        "run value": frame["mean_a"], "reference value": frame["mean_b"]})
    order = {m: n for n, m in enumerate(metrics or dict.fromkeys(frame["metric"]))}
    out = out.sort_values("metric", key=lambda s: s.map(order), kind="stable")
    return out.reset_index(drop=True)


def styled_breakdown(table: pd.DataFrame):
    """A breakdown for display, numbers to 4 decimals."""
    return table.style.format("{:.4f}", subset=["run value", "reference value", "difference"],
                              na_rep="—")


def side_by_side(comparisons: dict[str, RunComparison], metrics: list[str],
                 reference: str) -> pd.DataFrame:
    """One row per run (the reference first), each metric's value over the compared users
    (the differences and their intervals are in :func:`difference_table`)."""
    first = next(iter(comparisons.values()))
    rows = [{"run": reference, **{m: first.differences[m].mean_b for m in metrics
                                  if m in first.differences}}]
    for name, c in comparisons.items():
        rows.append({"run": name, **{m: c.differences[m].mean_a for m in metrics
                                     if m in c.differences}})
    return pd.DataFrame(rows)
