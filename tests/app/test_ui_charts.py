"""Figures shared by the pages: one colour per loss component wherever a loss is drawn, and log
axes labelled 1, 10, 100, ... (issue 9: "Broken today" 6 and "Defaults that teach")."""
from __future__ import annotations

import json

import numpy as np

from recsys_core.data.demo import make_demo_dataset
from recsys_core.models import MODEL_REGISTRY
from recsys_core.runs.store import RunStore
from ui import charts
from ui.training import loss_figure, progress_history


def _colours(fig) -> dict[str, str]:
    """Trace name -> line colour, read from the figure's JSON as the browser receives it."""
    spec = json.loads(fig.to_json())
    return {t["name"]: t["line"]["color"] for t in spec["data"]}


def _y_values(fig) -> list[float]:
    spec = json.loads(fig.to_json())
    return [v for t in spec["data"] for v in charts.decode_plotly_array(t["y"])]


def test_live_and_saved_loss_charts_give_each_component_the_same_colour(tmp_path):
    """The live chart draws the components in the model's order; a saved run's history comes
    back from JSON with sorted keys. The same component must keep its colour."""
    dataset = make_demo_dataset(seed=0, n_users=200, n_items=150)
    progress = []
    model = MODEL_REGISTRY["wals"](factors=4, iterations=3).fit(
        dataset, callback=lambda p: progress.append(p) and False)
    info = RunStore(tmp_path).save(model, dataset, name="colours")
    saved = RunStore(tmp_path).info(info.name).history
    assert list(saved[0]) != list(progress_history(progress)[0])  # the orders do differ

    live = _colours(loss_figure(progress_history(progress)))
    stored = _colours(loss_figure(saved, title="saved"))
    assert set(live) == {"observed", "unobserved", "regularization", "total"}
    assert live == stored
    assert len(set(live.values())) == len(live)  # and the components are told apart
    assert all(live[c] == charts.loss_colour(c) for c in live)


def test_loss_colour_is_fixed_for_unknown_component_names():
    assert charts.loss_colour("my_term") == charts.loss_colour("my_term")
    assert charts.loss_order(["total", "zeta", "observed", "alpha"]) == \
        ["total", "observed", "alpha", "zeta"]


def test_log_axes_are_labelled_with_plain_numbers():
    counts = np.array([583, 400, 120, 60, 20, 5, 1] * 3)
    fig = charts.long_tail(counts, "ratings", "item")
    axis = json.loads(fig.to_json())["layout"]["yaxis"]
    assert axis["type"] == "log"
    visible = [text for value, text in zip(axis["tickvals"], axis["ticktext"])
               if 1 <= value <= 583]
    assert visible == ["1", "10", "100"]

    # A loss over a narrow range still gets at least three readable ticks.
    history = [{"epoch": e, "total": 3500.0 - 100 * e} for e in range(1, 6)]
    fig = loss_figure(history)
    axis = json.loads(fig.to_json())["layout"]["yaxis"]
    low, high = min(_y_values(fig)), max(_y_values(fig))
    shown = [t for v, t in zip(axis["tickvals"], axis["ticktext"]) if low <= v <= high]
    assert len(shown) >= 3 and all("e" not in t and "k" not in t for t in shown)
    assert charts.tick_label(1000.0) == "1,000" and charts.tick_label(0.01) == "0.01"


def test_a_collapsed_models_loss_axis_stays_readable():
    """Issue 20.3: WALS at regularization 50 (observed type) on ml-100k drives its unobserved and
    regularization terms from 1e-6 to 1e-46 beside an observed term of 8e4; the log axis printed
    52 ticks such as '0.0000000000001', a block of text. Now a few powers of ten, written short."""
    history = [{"epoch": e, "observed": 8.0e4, "unobserved": 3.4e-6 * 1e-5 ** (e - 1),
                "regularization": 112.0 * 3e-3 ** (e - 1), "total": 8.01e4}
               for e in range(1, 10)]
    axis = json.loads(loss_figure(history).to_json())["layout"]["yaxis"]
    assert 3 <= len(axis["ticktext"]) <= charts.MAX_LOG_TICKS
    assert all(len(text) <= 7 for text in axis["ticktext"]), axis["ticktext"]
    assert "10⁻¹⁶" in axis["ticktext"] and "100,000" in axis["ticktext"]
    assert charts.tick_label(2e-13) == "2×10⁻¹³" and charts.tick_label(1e8) == "10⁸"
