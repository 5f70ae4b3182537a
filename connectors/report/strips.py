"""Per-heat strip chart (inline SVG): where each predicted outcome lands in its grade window, with its interval.

One row per limited outcome: the grade window is the green band (min..max; 0..max for a max-only limit), the
prediction is the dot and the interval at the heat's confidence is the bar. A bar that leaves the band is drawn
red: that outcome may end outside its window more often than the confidence says.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from optimizer.config import Grade
from optimizer.recommendation import HeatRecommendation

ROW_H = 20
WIDTH = 400
LABEL_W = 58
AXIS_W = 150
TEXT_X = LABEL_W + AXIS_W + 8


@dataclass(frozen=True)
class OutcomeLanding:
    """One predicted outcome against its window."""

    label: str  # e.g. "Mn, wt%"
    predicted: float
    low: float
    high: float
    window_low: float
    window_high: float
    decimals: int

    @property
    def inside(self) -> bool:
        """The whole interval lies inside the window."""
        return self.window_low - 1e-12 <= self.low and self.high <= self.window_high + 1e-12


def landings(h: HeatRecommendation, grade: Grade) -> list[OutcomeLanding]:
    """The heat's limited outcomes (chemistry in wt%, then temperature in degC) against the grade's windows."""
    out = []
    for el, iv in h.predicted_wt_pct.items():
        w = grade.chemistry_wt_pct.get(el)
        if w is None:
            continue
        hi = w.max if w.max is not None else max(iv.high, w.low) * 1.2
        out.append(OutcomeLanding(f"{el}, wt%", iv.predicted, iv.low, iv.high, w.low, hi, 3))
    t, tw = h.predicted_temperature_degC, grade.temperature_degC
    if t is not None:
        out.append(OutcomeLanding("T, degC", t.predicted, t.low, t.high, tw.low if tw.min is not None else t.low - 30,
                                  tw.max if tw.max is not None else t.high + 30, 0))
    return out


def strip_svg(rows: list[OutcomeLanding]) -> str:
    """The strip chart of one heat as an SVG element that scales to its container's width."""
    height = ROW_H * len(rows) + 4
    parts = [f'<svg class="strip" viewBox="0 0 {WIDTH} {height}" role="img" '
             'aria-label="predicted outcomes against the grade windows" xmlns="http://www.w3.org/2000/svg">']
    for i, r in enumerate(rows):
        parts.append(_row(r, 2 + i * ROW_H))
    parts.append("</svg>")
    return "".join(parts)


def _row(r: OutcomeLanding, y0: float) -> str:
    lo = min(r.window_low, r.low)
    hi = max(r.window_high, r.high)
    pad = 0.12 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad

    def x(v: float) -> float:
        return LABEL_W + AXIS_W * (v - lo) / (hi - lo)

    mid = y0 + ROW_H / 2
    colour = "#1a5" if r.inside else "#c00"
    d = r.decimals
    text = (f"{r.predicted:.{d}f} ({r.low:.{d}f}-{r.high:.{d}f}) in {r.window_low:.{d}f}-{r.window_high:.{d}f}")
    tip = html.escape(f"{r.label}: predicted {text}")
    return (f"<g><title>{tip}</title>"
            f'<text x="0" y="{mid + 3.5:.1f}" font-size="10">{html.escape(r.label)}</text>'
            f'<rect x="{x(r.window_low):.1f}" y="{y0 + 3:.1f}" width="{x(r.window_high) - x(r.window_low):.1f}" '
            f'height="{ROW_H - 6}" fill="#dff2e1" stroke="#8c8"/>'
            f'<line x1="{x(r.low):.1f}" x2="{x(r.high):.1f}" y1="{mid:.1f}" y2="{mid:.1f}" stroke="{colour}" '
            'stroke-width="2.5"/>'
            f'<circle cx="{x(r.predicted):.1f}" cy="{mid:.1f}" r="3.2" fill="{colour}"/>'
            f'<text x="{TEXT_X}" y="{mid + 3.5:.1f}" font-size="8.5" fill="{"#222" if r.inside else "#c00"}">'
            f"{html.escape(text)}</text></g>")
