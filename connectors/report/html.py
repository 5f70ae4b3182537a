"""The nightly report: one self-contained HTML page (plots inlined as PNG), readable in any browser."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from optimizer.recommendation import Recommendation  # noqa: E402

CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.bad{color:#b00}.kpi{display:inline-block;margin:0 2em 1em 0}
.kpi b{display:block;font-size:1.4em}"""


@dataclass
class NightReport:
    """Everything the page shows."""

    title: str
    recommendation: Recommendation
    baseline: pd.DataFrame  # per heat: cost, co2_kg, energy_kWh, samples, add_<m>_kg of today's practice
    pareto: list = field(default_factory=list)
    accuracy: dict[str, pd.DataFrame] = field(default_factory=dict)  # outcome -> actual/predicted on test heats
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    quality: pd.DataFrame = field(default_factory=pd.DataFrame)
    currency: str = "USD"
    schedule: pd.DataFrame = field(default_factory=pd.DataFrame)  # rejected schedule rows and warnings


def _png(fig) -> str:  # noqa: ANN001
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def render(r: NightReport) -> str:
    """The page as a string."""
    rec = r.recommendation
    rows = rec.to_frame()
    ok = rows[rows["feasible"]]
    base = r.baseline.set_index("heat_id").reindex(ok["heat_id"])
    gap = rec.mip_gap if rec.mip_gap is not None else float("nan")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(r.title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{html.escape(r.title)}</h1>",
             f"<p>Recommendation <b>{rec.recommendation_id}</b>, created {rec.created_at:%Y-%m-%d %H:%M} UTC, valid "
             f"until {rec.valid_until:%Y-%m-%d %H:%M} UTC, status <b>{rec.status}</b>, solver {rec.solver} "
             f"({html.escape(rec.solver_status)}, max gap {gap:.2%})."
             "</p>", _totals(ok, base, r.currency), _heat_table(ok, base, r.currency), _infeasible(rec), _lowered(rec),
             _materials(ok, base), _pareto(r.pareto, r.currency), _accuracy(r.accuracy, r.metrics),
             _quality(r.quality), _schedule(r.schedule), _models(rec), "</body></html>"]
    return "\n".join(parts)


def _kpi(label: str, ours: float, today: float, unit: str) -> str:
    pct = 100 * (ours - today) / today if today else float("nan")
    return f"<div class='kpi'>{label}<b>{ours:,.0f} {unit}</b>today's practice {today:,.0f} ({pct:+.1f} %)</div>"


def _totals(ok: pd.DataFrame, base: pd.DataFrame, cur: str) -> str:
    return ("<h2>Totals for the planned heats</h2>" + _kpi("cost", ok["expected_cost"].sum(), base["cost"].sum(), cur)
            + _kpi("CO2", ok["expected_co2_kg"].sum(), base["co2_kg"].sum(), "kg")
            + _kpi("arc energy", ok["arc_energy_kWh"].sum(), base["energy_kWh"].sum(), "kWh")
            + _kpi("samples", ok["n_samples"].sum(), base["samples"].sum(), ""))


def _heat_table(ok: pd.DataFrame, base: pd.DataFrame, cur: str) -> str:
    mats = [c for c in ok.columns if c.startswith("add_") and ok[c].sum() > 0]
    head = "".join(f"<th>{html.escape(c[4:-3])} kg</th>" for c in mats)
    out = [f"<h2>Per heat: recommended (today's practice)</h2><table><tr><th class=l>heat</th><th class=l>grade</th>"
           f"{head}<th>arc kWh</th><th>samples</th><th>cost {cur}</th><th>CO2 kg</th></tr>"]
    for _, h in ok.iterrows():
        b = base.loc[h["heat_id"]]
        cells = "".join(f"<td>{h[c]:.0f} ({b.get(c, 0.0):.0f})</td>" for c in mats)
        out.append(f"<tr><td class=l>{html.escape(str(h['heat_id']))}</td><td class=l>{html.escape(h['grade'])}</td>"
                   f"{cells}<td>{h['arc_energy_kWh']:.0f} ({b['energy_kWh']:.0f})</td><td>{h['n_samples']} "
                   f"({b['samples']:.0f})</td><td>{h['expected_cost']:.0f} ({b['cost']:.0f})</td>"
                   f"<td>{h['expected_co2_kg']:.0f} ({b['co2_kg']:.0f})</td></tr>")
    return "".join(out) + "</table>"


def _infeasible(rec: Recommendation) -> str:
    bad = [h for h in rec.heats if not h.feasible]
    if not bad:
        return "<h2>Infeasible heats</h2><p>None.</p>"
    rows = "".join(f"<tr><td class=l>{html.escape(h.heat_id)}</td><td class=l>{html.escape(h.grade)}</td>"
                   f"<td class=l>{html.escape(h.diagnosis)}</td></tr>" for h in bad)
    return (f"<h2>Infeasible heats: no setpoints, run today's practice</h2><p class=bad>{len(bad)} heat(s)</p>"
            f"<table><tr><th class=l>heat</th><th class=l>grade</th><th class=l>diagnosis</th></tr>{rows}</table>")


def _lowered(rec: Recommendation) -> str:
    """Heats planned below their grade's confidence (window narrower than the models' band): only when any."""
    low = [h for h in rec.heats if h.feasible and h.diagnosis]
    if not low:
        return ""
    rows = "".join(f"<tr><td class=l>{html.escape(h.heat_id)}</td><td class=l>{html.escape(h.grade)}</td>"
                   f"<td class=l>{html.escape(h.diagnosis)}</td></tr>" for h in low)
    return (f"<h2>Heats planned below their grade's confidence</h2><p class=bad>{len(low)} heat(s): check before "
            "approving</p><table><tr><th class=l>heat</th><th class=l>grade</th><th class=l>why</th></tr>"
            f"{rows}</table>")


def _materials(ok: pd.DataFrame, base: pd.DataFrame) -> str:
    mats = [c for c in ok.columns if c.startswith("add_")]
    ours = ok[mats].sum()
    today = base[[c for c in mats if c in base.columns]].sum().reindex(mats).fillna(0.0)
    fig, ax = plt.subplots(figsize=(9, 3.2))
    x = range(len(mats))
    ax.bar([i - 0.2 for i in x], today.to_numpy(), 0.4, label="today's practice")
    ax.bar([i + 0.2 for i in x], ours.to_numpy(), 0.4, label="recommended")
    ax.set_xticks(list(x), [m[4:-3] for m in mats], rotation=30)
    ax.set_ylabel("kg for the day")
    ax.legend()
    return "<h2>Material use</h2>" + _png(fig)


def _pareto(points: list, cur: str) -> str:
    if not points:
        return ""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([p.co2_kg / 1000 for p in points], [p.cost for p in points], "o-")
    for p in points:
        ax.annotate(f"{p.co2_price_per_t:g}", (p.co2_kg / 1000, p.cost), fontsize=7)
    ax.set(xlabel="CO2, t", ylabel=f"cost, {cur}", title="cost vs CO2 (labels: CO2 price per t)")
    return "<h2>Cost versus CO2</h2>" + _png(fig)


def _accuracy(acc: dict[str, pd.DataFrame], metrics: dict[str, dict[str, float]]) -> str:
    if not acc:
        return ""
    keys = [k for k in acc if k in ("final_Mn_wt_pct", "final_Si_wt_pct", "final_Al_wt_pct",
                                    "final_temperature_degC")]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3))
    for ax, k in zip(axes if len(keys) > 1 else [axes], keys, strict=True):
        d = acc[k]
        ax.scatter(d["actual"], d["predicted"], s=5)
        lo, hi = float(d[["actual", "predicted"]].min().min()), float(d[["actual", "predicted"]].max().max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        ax.set_title(k, fontsize=8)
    rows = "".join(f"<tr><td class=l>{html.escape(k)}</td><td>{m.get('mae', float('nan')):.4g}</td>"
                   f"<td>{m.get('coverage_90', float('nan')):.2f}</td><td>{m.get('coverage_95', float('nan')):.2f}</td>"
                   "</tr>" for k, m in metrics.items())
    return ("<h2>Surrogate accuracy and interval calibration (latest heats)</h2>" + _png(fig)
            + f"<table><tr><th class=l>outcome</th><th>MAE</th><th>coverage 90 %</th><th>coverage 95 %</th></tr>"
            f"{rows}</table>")


def _quality(q: pd.DataFrame) -> str:
    if q.empty:
        return "<h2>Data quality</h2><p>No rejected rows.</p>"
    by = q.groupby(["field", "reason"]).size().sort_values(ascending=False).head(20)
    rows = "".join(f"<tr><td class=l>{html.escape(str(f))}</td><td class=l>{html.escape(str(r))}</td><td>{n}</td>"
                   "</tr>" for (f, r), n in by.items())
    return (f"<h2>Data quality</h2><p>{len(q)} rejected rows (kept out of training).</p><table><tr><th class=l>"
            f"field</th><th class=l>reason</th><th>rows</th></tr>{rows}</table>")


def _schedule(q: pd.DataFrame) -> str:
    if q.empty:
        return "<h2>Schedule checks</h2><p>Every planned heat passed the checks.</p>"
    rows = "".join(f"<tr><td class=l>{r.row}</td><td class=l>{html.escape(str(r.heat_id))}</td><td class=l>"
                   f"{html.escape(str(r.field))}</td><td class=l>{html.escape(str(r.reason))}</td></tr>"
                   for r in q.head(50).itertuples(index=False))
    return (f"<h2>Schedule checks</h2><p>{len(q)} problems (rejected rows are not planned; warnings are).</p>"
            f"<table><tr><th class=l>row</th><th class=l>heat</th><th class=l>field</th><th class=l>reason</th>"
            f"</tr>{rows}</table>")


def _models(rec: Recommendation) -> str:
    rows = "".join(f"<tr><td class=l>{html.escape(k)}</td><td class=l>{html.escape(v)}</td></tr>"
                   for k, v in rec.model_versions.items())
    return f"<h2>Model versions</h2><table>{rows}</table>"
