"""Small charts drawn as inline SVG: the Compare runs page's forest plots and per-user histogram
(shown with ``st.markdown(..., unsafe_allow_html=True)``: ``st.html`` strips SVG).

A plotly chart costs the browser its plotly.js bundle and a layout pass per chart; on a page
opened with 10 runs they held back the drawing of the differences table by seconds on a busy
2-core machine (benchmarks/bench_compare_page.py). These charts are a few dozen SVG shapes, drawn
with the page; hovering a mark shows its numbers (an SVG ``<title>``). They are drawn at their
own width and shrink, text included, when the column is narrower.
"""
from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

WIDTH = 560  # px: the drawing's own width; narrower columns shrink it (text stays >= 11 px at 800)
AXIS, GRID, ZERO = "#6e7781", "#e6e8eb", "#444"


def nice_ticks(low: float, high: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [low, high] (steps of 1, 2 or 5 times a power
    of ten)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else [0.0]
    raw = (high - low) / max(n - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    # Whole multiples of the step, rounded: no 0.09999999999999998 from adding steps up.
    return [round(n * step, 12) + 0.0 for n in range(first, last + 1)]


def _tick_text(value: float, step: float) -> str:
    digits = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    return f"{value:.{digits}f}".replace("-", "−")


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _svg(height: float, body: list[str], label: str) -> str:
    # No font family: the text takes the page's.
    return (f"<svg viewBox='0 0 {WIDTH} {height:.0f}' width='{WIDTH}' role='img' "
            f"style='max-width: 100%; height: auto; display: block' aria-label='{_esc(label)}' "
            "xmlns='http://www.w3.org/2000/svg'>"
            + "".join(body) + "</svg>")


def forest(table: pd.DataFrame, reference: str, colours: dict[str, str]) -> str:
    """One panel per metric: each run's difference from the reference (a dot) with its 95%
    interval (a bar), a dotted line at 0; ``colours`` by the table's "result" column.

    ``table`` has the columns "run", "metric", "difference", "low", "high", "result",
    "95% interval" and "p-value" (:func:`ui.compare.difference_table`).
    """
    runs = list(dict.fromkeys(table["run"]))
    # Room for the longest run name (about 7 px a character at 13 px).
    label_w = int(min(220, max(60, 7 * max(len(str(r)) for r in runs) + 14)))
    right, row_h, top, axis_h = 16, 22, 26, 30
    plot_w = WIDTH - label_w - right
    panels, y0 = [], 0.0
    for metric, part in table.groupby("metric", sort=False):
        values = part[["low", "high", "difference"]].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        low = min(0.0, finite.min()) if finite.size else -1.0
        high = max(0.0, finite.max()) if finite.size else 1.0
        pad = (high - low) * 0.06 or 1.0
        low, high = low - pad, high + pad
        ticks = nice_ticks(low, high)
        step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0

        def x(v, low=low, high=high):
            return label_w + (v - low) / (high - low) * plot_w

        h = top + row_h * len(runs) + axis_h
        body = [f"<g transform='translate(0,{y0:.0f})'>",
                f"<text x='{label_w}' y='16' font-size='14' fill='#31333f'>"
                f"{_esc(metric)}: run − {_esc(reference)}</text>"]
        bottom = top + row_h * len(runs)
        for t in ticks:
            body.append(f"<line x1='{x(t):.1f}' x2='{x(t):.1f}' y1='{top}' y2='{bottom}' "
                        f"stroke='{GRID}'/><text x='{x(t):.1f}' y='{bottom + 16}' "
                        f"font-size='12' fill='{AXIS}' text-anchor='middle'>"
                        f"{_tick_text(t, step)}</text>")
        body.append(f"<line x1='{x(0):.1f}' x2='{x(0):.1f}' y1='{top - 4}' y2='{bottom}' "
                    f"stroke='{ZERO}' stroke-dasharray='3 3'/>")
        rows = {r["run"]: r for r in part.to_dict("records")}
        for i, name in enumerate(runs):
            cy = top + row_h * (i + 0.5)
            body.append(f"<text x='{label_w - 8}' y='{cy + 4:.1f}' font-size='13' "
                        f"fill='#31333f' text-anchor='end'>{_esc(name)}</text>")
            r = rows.get(name)
            if r is None or not math.isfinite(r["difference"]):
                continue
            colour = colours.get(r["result"], AXIS)
            tip = (f"{name} − {reference}, {metric}: {r['difference']:+.4f} "
                   f"{r['95% interval']}, p {r['p-value']} ({r['result']})")
            body.append(f"<g><title>{_esc(tip)}</title>")
            if math.isfinite(r["low"]) and math.isfinite(r["high"]):
                body.append(f"<line x1='{x(r['low']):.1f}' x2='{x(r['high']):.1f}' "
                            f"y1='{cy:.1f}' y2='{cy:.1f}' stroke='{colour}' stroke-width='2'/>"
                            + "".join(f"<line x1='{x(v):.1f}' x2='{x(v):.1f}' "
                                      f"y1='{cy - 5:.1f}' y2='{cy + 5:.1f}' stroke='{colour}' "
                                      f"stroke-width='2'/>" for v in (r["low"], r["high"])))
            body.append(f"<circle cx='{x(r['difference']):.1f}' cy='{cy:.1f}' r='5' "
                        f"fill='{colour}'/></g>")
        body.append("</g>")
        panels.append("".join(body))
        y0 += h + 10
    legend = " · ".join(f"<tspan fill='{c}'>● {_esc(k)}</tspan>" for k, c in colours.items()
                        if k in set(table["result"]))
    panels.append(f"<text x='{label_w}' y='{y0 + 6:.0f}' font-size='12'>{legend}</text>")
    return _svg(y0 + 14, panels, f"Differences from {reference} with 95% intervals")


def histogram(values: np.ndarray, title: str, *, bins: int = 41,
              colour: str = "#4c72b0", mean_colour: str = "#444") -> str:
    """Histogram of ``values`` with a dotted line at 0 and a line at their mean."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    left, right, top, bottom_h = 56, 16, 28, 46
    plot_w, plot_h = WIDTH - left - right, 200
    if not values.size:
        return _svg(60, [f"<text x='{left}' y='30' font-size='13'>no users</text>"], title)
    low, high = float(values.min()), float(values.max())
    low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    peak = max(int(counts.max()), 1)

    def x(v):
        return left + (v - low) / (high - low) * plot_w

    def y(c):
        return top + plot_h - c / peak * plot_h

    body = []
    for t in nice_ticks(0, peak, 4):
        body.append(f"<line x1='{left}' x2='{left + plot_w}' y1='{y(t):.1f}' y2='{y(t):.1f}' "
                    f"stroke='{GRID}'/><text x='{left - 6}' y='{y(t) + 4:.1f}' font-size='12' "
                    f"fill='{AXIS}' text-anchor='end'>{int(t)}</text>")
    for c, a, b in zip(counts, edges[:-1], edges[1:]):
        if c:
            body.append(f"<rect x='{x(a) + 0.5:.1f}' y='{y(c):.1f}' "
                        f"width='{max(x(b) - x(a) - 1, 0.5):.1f}' height='{y(0) - y(c):.1f}' "
                        f"fill='{colour}'><title>{a:+.3f} to {b:+.3f}: {c} users</title></rect>")
    ticks = nice_ticks(low, high)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    for t in ticks:
        body.append(f"<text x='{x(t):.1f}' y='{top + plot_h + 16}' font-size='12' "
                    f"fill='{AXIS}' text-anchor='middle'>{_tick_text(t, step)}</text>")
    mean = float(values.mean())
    body.append(f"<line x1='{x(0):.1f}' x2='{x(0):.1f}' y1='{top}' y2='{top + plot_h}' "
                f"stroke='{ZERO}' stroke-dasharray='3 3'/>")
    body.append(f"<line x1='{x(mean):.1f}' x2='{x(mean):.1f}' y1='{top - 6}' "
                f"y2='{top + plot_h}' stroke='{mean_colour}' stroke-width='2'/>"
                f"<text x='{x(mean):.1f}' y='{top - 10}' font-size='12' fill='{mean_colour}' "
                f"text-anchor='middle'>mean {mean:+.4f}</text>")
    body.append(f"<text x='{left + plot_w / 2:.0f}' y='{top + plot_h + 36}' font-size='13' "
                f"fill='#31333f' text-anchor='middle'>{_esc(title)}</text>")
    body.append(f"<text x='14' y='{top + plot_h / 2:.0f}' font-size='12' fill='{AXIS}' "
                f"transform='rotate(-90 14 {top + plot_h / 2:.0f})' text-anchor='middle'>"
                "users</text>")
    return _svg(top + plot_h + bottom_h, body, title)
