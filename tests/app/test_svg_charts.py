"""The Compare runs page's SVG charts (ui.svg_charts): round ticks, one mark per run and metric,
the zero line where 0 is, and no chart text that could break the page's HTML."""
import re

import numpy as np
import pandas as pd

from ui import svg_charts


def test_nice_ticks_are_round_and_cover_the_range():
    assert svg_charts.nice_ticks(-0.43, 0.02) == [-0.4, -0.2, 0.0]
    assert svg_charts.nice_ticks(-0.3, 0.1) == [-0.3, -0.2, -0.1, 0.0, 0.1]
    assert svg_charts.nice_ticks(0, 200, 4) == [0, 100, 200]
    assert svg_charts.nice_ticks(1.0, 1.0) == [1.0]


def test_forest_draws_each_run_with_its_interval_and_the_zero_line():
    table = pd.DataFrame({
        "run": ["a", "b<&>", "a", "b<&>"], "metric": ["ndcg@10", "ndcg@10", "gini", "gini"],
        "difference": [-0.2, 0.0, 0.1, np.nan], "low": [-0.3, -0.1, 0.05, np.nan],
        "high": [-0.1, 0.1, 0.15, np.nan], "result": ["worse", "not distinguishable", "worse",
                                                     "not distinguishable"],
        "95% interval": ["[-0.3, -0.1]", "[-0.1, 0.1]", "[0.05, 0.15]", "—"],
        "p-value": ["0.001", "1", "0.01", "—"]})
    svg = svg_charts.forest(table, "ref", {"worse": "#c62828", "not distinguishable": "#6e7781"})
    assert svg.count("<circle") == 3  # the undefined difference has no mark
    assert "ndcg@10: run − ref" in svg and "gini: run − ref" in svg
    assert "b&lt;&amp;&gt;" in svg and "b<&>" not in svg  # names are escaped
    # ndcg@10's panel spans [-0.3, 0.1] widened by 6% of 0.4 each side: 0 sits at
    # 0.324 / 0.448 of the plot's width.
    zero = [float(x) for x in re.findall(r"<line x1='([\d.]+)' x2='\1' y1='22'", svg)][0]
    label_w = int(min(220, max(60, 7 * 4 + 14)))
    plot_w = svg_charts.WIDTH - label_w - 16
    assert abs((zero - label_w) / plot_w - 0.324 / 0.448) < 0.002


def test_histogram_marks_zero_and_the_mean():
    svg = svg_charts.histogram(np.array([-1.0, -1.0, 0.0, 1.0]), "d")
    assert "mean −0.2500" in svg.replace("-", "−") and svg.count("<rect") == 3
    assert "no users" in svg_charts.histogram(np.array([np.nan]), "d")
