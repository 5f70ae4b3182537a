"""The nightly report: one self-contained HTML page (plots inlined), readable in any browser, phone or desktop.

It answers, in order: what to do today (approve the plan, how; heats without a plan and why), what the plan saves
against today's practice (money; CO2 and its internal charge separately), what is risky (per heat: where each
predicted outcome lands in its grade window, confidence, extrapolation, binding limits; stock against inventory;
the day's expected use with ranges over the possible arrivals, inventory risk and the shadow prices),
then the detail: setpoints per heat, the CO2-price sensitivity, model health, data quality, model versions.
Savings use the one definition in :mod:`optimizer.savings`.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, ScalarFormatter

from connectors.report.health import assess, outcome_label
from connectors.report.strips import landings, strip_svg
from optimizer.config import PlantConfig
from optimizer.recommendation import Recommendation
from optimizer.savings import Savings, day_savings, practice_from_frame, totals_rows
from optimizer.schema import material_col, material_of

CSS = """body{font-family:system-ui,sans-serif;margin:1em auto;padding:0 1em;max-width:1200px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}h3{font-size:1em}
.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;font-size:.85em}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}
.bad{color:#b00}.warn{color:#a60}.ok{color:#171}.kpi{display:inline-block;margin:0 2em 1em 0}
.kpi b{display:block;font-size:1.4em}img{max-width:100%;height:auto}code{background:#f3f3f3;padding:0 .3em;
overflow-wrap:anywhere}.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,380px),1fr));
gap:.8em}.card{border:1px solid #ddd;border-radius:6px;padding:.5em;min-width:0}.card.risk{border-color:#c66}
.card p{margin:.2em 0;font-size:.85em}svg.strip{width:100%;height:auto;display:block}
p,li{overflow-wrap:anywhere}"""


@dataclass
class NightReport:
    """Everything the page shows. ``cfg`` gives the grade windows, prices and inventories; without it the
    savings, windows and stock sections say that they need it."""

    title: str
    recommendation: Recommendation
    baseline: pd.DataFrame  # per heat: heat_id, energy_kWh, samples, add_<m>_kg of today's practice
    pareto: list = field(default_factory=list)
    accuracy: dict[str, pd.DataFrame] = field(default_factory=dict)  # outcome -> actual/predicted on test heats
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    quality: pd.DataFrame = field(default_factory=pd.DataFrame)
    currency: str = "USD"
    schedule: pd.DataFrame = field(default_factory=pd.DataFrame)  # rejected schedule rows and warnings
    cfg: PlantConfig | None = None
    baseline_mae: dict[str, float] = field(default_factory=dict)  # outcome -> fixed-yield MAE on the test heats
    chosen: dict[str, str] = field(default_factory=dict)  # outcome -> promoted structure
    binding: dict[str, list[str]] = field(default_factory=dict)  # heat id -> limits the plan sits on
    extrapolation: dict[str, list[str]] = field(default_factory=dict)  # heat id -> outside the training data


def _png(fig, alt: str) -> str:  # noqa: ANN001
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _e(v: object) -> str:
    return html.escape(str(v))


def _table(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    th = "".join(f"<th class=l>{h}</th>" if i < left else f"<th>{h}</th>" for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f"<td class=l>{c}</td>" if i < left else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<div class=scroll><table><tr>{th}</tr>{body}</table></div>"


def render(r: NightReport) -> str:
    """The page as a string."""
    rec = r.recommendation
    gap = f"max gap {rec.mip_gap:.2%}" if rec.mip_gap is not None else "max gap n/a"
    solver = f"{_e(rec.solver)} ({_e(rec.solver_status) + ', ' if rec.solver_status else ''}{gap})"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' "
             f"content='width=device-width,initial-scale=1'><title>{_e(r.title)}</title><style>{CSS}</style>"
             f"</head><body><h1>{_e(r.title)}</h1>",
             f"<p>Recommendation <b>{_e(rec.recommendation_id)}</b>, created {rec.created_at:%Y-%m-%d %H:%M} UTC, "
             f"valid until {rec.valid_until:%Y-%m-%d %H:%M} UTC, status <b>{_e(rec.status)}</b>, solver "
             f"{solver}.</p>",
             _today(r), _savings(r), _risk(r), _stock(r), _day(r), _heat_table(r), _pareto(r), _accuracy(r),
             _quality(r.quality), _schedule(r.schedule), _models(rec), "</body></html>"]
    return "\n".join(parts)


# ---- 1. what to do today -------------------------------------------------------------------------------------

def _today(r: NightReport) -> str:
    rec = r.recommendation
    ok = [h for h in rec.heats if h.feasible]
    bad = [h for h in rec.heats if not h.feasible]
    check = [h.heat_id for h in ok if h.diagnosis or r.extrapolation.get(h.heat_id) or not _all_inside(r, h)]
    out = ["<section id=today><h2>What to do today</h2>"]
    if rec.status == "proposed" and ok:
        out.append(f"<p><b>Approve {len(ok)} heat(s)</b> of {len(rec.heats)} before "
                   f"{rec.valid_until:%Y-%m-%d %H:%M} UTC: run <code>dosing approve {_e(rec.recommendation_id)}"
                   f"</code> (or <code>dosing reject {_e(rec.recommendation_id)}</code>), or call the "
                   "<b>Approve</b> (<b>Reject</b>) method on the setpoint server's recommendation object "
                   "from the OPC UA client. Nothing reaches the furnace before approval.</p>")
    elif ok:
        by = f" by {_e(rec.status_by)}" if rec.status_by else ""
        out.append(f"<p>This recommendation is <b>{_e(rec.status)}</b>{by}: {len(ok)} heat(s) with a plan.</p>")
    else:
        out.append("<p class=bad>No heat has a plan today: run today's practice for all heats.</p>")
    if rec.day_use is not None and rec.day_use.risks:
        out.append("<p class=bad>Inventory risk: " + _e("; ".join(rec.day_use.risks))
                   + " (see <a href='#day'>Expected use for the day</a>).</p>")
    if check:
        out.append(f"<p class=warn>Check before approving: {_e(', '.join(check))} (see <a href='#risk'>What is "
                   "risky</a>).</p>")
    if bad:
        rows = [[_e(h.heat_id), _e(h.grade), _e(h.diagnosis)] for h in bad]
        out.append(f"<h3>Heats without a plan: run today's practice ({len(bad)})</h3>"
                   + _table(["heat", "grade", "why"], rows, left=3))
    else:
        out.append("<p>Every heat has a plan.</p>")
    out.append(_lowered_text(rec))
    return "".join(out) + "</section>"


def _lowered_text(rec: Recommendation) -> str:
    """Heats planned below their grade's confidence (window narrower than the models' band): only when any."""
    low = [h for h in rec.heats if h.feasible and h.diagnosis]
    if not low:
        return ""
    rows = [[_e(h.heat_id), _e(h.grade), _e(h.diagnosis)] for h in low]
    return (f"<h3>Heats planned below their grade's confidence</h3><p class=bad>{len(low)} heat(s): check "
            "before approving</p>" + _table(["heat", "grade", "why"], rows, left=3))


def _all_inside(r: NightReport, h) -> bool:  # noqa: ANN001
    if r.cfg is None or h.grade not in {g.name for g in r.cfg.grades}:
        return True
    return all(x.inside for x in landings(h, r.cfg.grade(h.grade)))


# ---- 2. what it saves ----------------------------------------------------------------------------------------

def savings_of(r: NightReport) -> Savings | None:
    """The day's savings (optimizer.savings) or None without a plant config."""
    if r.cfg is None:
        return None
    return day_savings(r.cfg, r.recommendation, practice_from_frame(r.cfg, r.baseline))


def _savings(r: NightReport) -> str:
    head = "<section id=savings><h2>What it saves against today's practice</h2>"
    s = savings_of(r)
    if s is None:
        return head + "<p class=warn>Savings need the plant config (prices): not given to the report.</p></section>"
    cur = r.currency

    def kpi(label: str, f: str, unit: str, fmt: str = ",.0f") -> str:
        return (f"<div class=kpi>{label}<b>{s.saved(f):{fmt}} {unit}</b>{s.pct(f):+.1f} % of today's "
                f"{getattr(s.today, f):{fmt}}</div>")

    rows = [[f"<b>{_e(row[0])}</b>" if row[0].startswith("money") else _e(row[0]), *row[1:]]
            for row in totals_rows(s, cur)]
    return (head + f"<p>Over the {s.heats} heat(s) with a plan (heats without one run today's practice and save "
            "nothing). Money is what the plant pays: material, arc energy and sampling. CO2 is shown on its own; "
            "the internal CO2 charge is what the optimizer weighs CO2 at, not money paid, and is not in the "
            "money figure.</p>"
            + kpi("money saved", "money", cur) + kpi("CO2 saved", "co2_t", "t", ",.2f")
            + "<h3>Totals for the planned heats</h3>"
            + _table(["", "today's practice", "recommended", "saved", "saved %"], rows)
            + "</section>")


# ---- 3. what is risky ----------------------------------------------------------------------------------------

def _risk(r: NightReport) -> str:
    rec = r.recommendation
    ok = [h for h in rec.heats if h.feasible]
    out = ["<section id=risk><h2>What is risky</h2><p>Per heat: each predicted outcome (dot) with its interval at "
           "the heat's confidence (bar) inside its grade window (green band). A red bar leaves the window. "
           "<i>Binding</i> limits are the ones the plan sits on; <i>outside the training data</i> means the models "
           "extrapolate for this heat.</p>"]
    if not ok:
        return "".join(out) + "<p>No planned heats.</p></section>"
    if r.cfg is None:
        out.append("<p class=warn>Grade windows need the plant config: not given to the report.</p>")
    out.append("<div class=cards>")
    for h in ok:
        rows = landings(h, r.cfg.grade(h.grade)) if r.cfg is not None else []
        extra = r.extrapolation.get(h.heat_id, [])
        risky = bool(h.diagnosis or extra or any(not x.inside for x in rows))
        conf = f"{h.confidence:.1%}" if h.confidence is not None else "n/a"
        conf_cls = " class=bad" if h.diagnosis else ""
        bind = r.binding.get(h.heat_id)
        out.append(f"<div class='card{' risk' if risky else ''}'><p><b>{_e(h.heat_id)}</b> {_e(h.grade)}, "
                   f"{h.steel_weight_t:g} t, {h.n_samples} sample(s); confidence per limit <span{conf_cls}>{conf}"
                   "</span></p>" + (strip_svg(rows) if rows else "")
                   + (f"<p class=bad>outside the training data: {_e('; '.join(extra))}</p>" if extra else "")
                   + (f"<p>binding: {_e('; '.join(bind))}</p>" if bind else
                      ("<p>binding: none</p>" if bind is not None else ""))
                   + "</div>")
    out.append("</div>")
    return "".join(out) + "</section>"


def _stock(r: NightReport) -> str:
    """Day's material need (plans for planned heats, today's practice for the others) against inventory."""
    head = "<section id=stock><h2>Stock use against inventory</h2>"
    if r.cfg is None:
        return head + "<p class=warn>Inventories need the plant config: not given to the report.</p></section>"
    rec = r.recommendation
    base = r.baseline.set_index("heat_id") if not r.baseline.empty else pd.DataFrame()
    rows, need = [], {}
    for m in r.cfg.materials:
        col = material_col(m.name)
        practice = base[col].astype(float) if col in base.columns else pd.Series(dtype=float)  # kg per heat
        ours = sum(h.additions_kg.get(m.name, 0.0) for h in rec.heats if h.feasible)
        rest = sum(float(practice[h.heat_id]) for h in rec.heats if not h.feasible and h.heat_id in practice.index
                   and pd.notna(practice[h.heat_id]))
        today = float(practice.fillna(0.0).sum())
        if ours + rest + today == 0:
            continue
        inv = m.daily_inventory_kg
        used = (ours + rest) / inv if inv != float("inf") and inv > 0 else None
        cls = "bad" if used is not None and used > 0.9 else ""
        need[m.name] = (ours + rest, today, inv)
        rows.append([_e(m.name), f"{ours:,.0f}", f"{rest:,.0f}", f"{today:,.0f}",
                     "no limit set" if inv == float("inf") else f"{inv:,.0f}",
                     f"<span class='{cls}'>{used:.0%}</span>" if used is not None else "-"])
    if not rows:
        return head + "<p>No material is used.</p></section>"
    return (head + "<p>The day's need is the plan for planned heats plus today's practice for heats without a "
            "plan; above 90 % of the daily inventory is red.</p>"
            + _table(["material", "plan, kg", "no-plan heats (practice), kg", "today's practice, all heats, kg",
                      "daily inventory, kg", "need / inventory"], rows)
            + _stock_plot(need) + "</section>")


def _day(r: NightReport) -> str:
    """The day's expected materials and energy with ranges over the heats' possible arrivals, inventory risks and
    the shadow prices handed to the advisor (optimizer/dosing/ranges.py)."""
    rec = r.recommendation
    head = "<section id=day><h2>Expected use for the day</h2>"
    prices = ", ".join(f"{_e(m)} {p:.3g} {_e(rec.currency)}/kg" for m, p in rec.shadow_price_per_kg.items())
    price_line = (f"<p>Shadow prices of scarce materials, handed to the heat-by-heat advisor: {prices}.</p>"
                  if prices else "<p>No stock binds the plan: no shadow price is handed to the advisor.</p>")
    day = rec.day_use
    if day is None:
        return head + price_line + "<p>No ranges this night (the point plan only).</p></section>"
    lo, hi = day.quantiles
    rows = []
    for m, u in day.materials_kg.items():
        stock = "no limit set" if u.stock is None else f"{u.stock:,.0f}"
        risk = (f"<span class=bad>at risk, P(need &gt; stock) {u.p_over_stock:.0%}</span>" if u.at_risk
                else (f"P(need &gt; stock) {u.p_over_stock:.0%}" if u.p_over_stock > 0 else "ok"))
        rows.append([_e(m), f"{u.plan:,.0f}", f"{u.expected:,.0f}", f"{u.low:,.0f} - {u.high:,.0f}", stock, risk])
    if day.energy_kWh is not None:
        e = day.energy_kWh
        rows.append(["arc energy, kWh", f"{e.plan:,.0f}", f"{e.expected:,.0f}", f"{e.low:,.0f} - {e.high:,.0f}",
                     "-", "-"])
    note = (f"<p class=warn>{day.no_plan_draws} drawn arrival states had no plan; their use is not in the "
            "ranges.</p>" if day.no_plan_draws else "")
    return (head + f"<p>The plan is made for each heat's expected arrival; the real arrival is known only when the "
            f"heat arrives. The range is the {lo:.0%}-{hi:.0%} spread of the day's use when every heat is dosed "
            f"for an arrival drawn from its grade's history ({_e(day.method)}). A material whose high end exceeds "
            "its stock is at risk.</p>" + price_line + note
            + _table(["material", "plan, kg", "expected, kg", f"range {lo:.0%}-{hi:.0%}, kg", "stock, kg",
                      "inventory risk"], rows) + "</section>")


def _stock_plot(need: dict[str, tuple[float, float, float]]) -> str:
    names = [n for n, (_, _, inv) in need.items() if inv != float("inf") and inv > 0]
    if not names:
        return ""
    fig = Figure(figsize=(6.5, 0.35 * len(names) + 1.2))
    ax = fig.subplots()
    y = range(len(names))
    ax.barh([i + 0.2 for i in y], [100 * need[n][1] / need[n][2] for n in names], 0.4, label="today's practice",
            color="#bbb")
    ax.barh([i - 0.2 for i in y], [100 * need[n][0] / need[n][2] for n in names], 0.4, label="recommended day",
            color="#36a")
    ax.axvline(100, color="r", lw=1.5, label="daily inventory")
    ax.set_yticks(list(y), names)
    ax.invert_yaxis()
    ax.set_xlabel("material for the day, % of the daily inventory")
    ax.set_xlim(0, max(105, *(100 * max(need[n][:2]) / need[n][2] + 5 for n in names)))
    ax.legend(fontsize=8, loc="lower right")
    return "<h3>Material use</h3>" + _png(fig, "material for the day against the daily inventory")


# ---- detail --------------------------------------------------------------------------------------------------

def _heat_table(r: NightReport) -> str:
    rows_df = r.recommendation.to_frame()
    ok = rows_df[rows_df["feasible"]]
    ok = ok.fillna({c: 0.0 for c in ok.columns if material_of(c) is not None})
    if ok.empty:
        return ""
    base = r.baseline.set_index("heat_id").reindex(ok["heat_id"])
    mats = [c for c in ok.columns if material_of(c) is not None and ok[c].fillna(0).sum() > 0]
    head = ["heat", "grade"] + [f"{_e(str(material_of(c)))}, kg" for c in mats] + ["arc energy, kWh", "samples"]
    rows = []
    for _, h in ok.iterrows():
        b = base.loc[h["heat_id"]]
        cells = [f"{h[c]:.0f} ({b.get(c, 0.0) if b.get(c, 0.0) == b.get(c, 0.0) else 0.0:.0f})" for c in mats]
        rows.append([_e(h["heat_id"]), _e(h["grade"])] + cells
                    + [f"{h['arc_energy_kWh']:.0f} ({b['energy_kWh']:.0f})", f"{h['n_samples']} ({b['samples']:.0f})"])
    return ("<section id=setpoints><h2>Per heat: recommended setpoints (today's practice)</h2>"
            + _table(head, rows, left=2) + "</section>")


def pareto_is_flat(points: list, gap: float) -> bool:
    """True when the front's money and CO2 spans both lie inside the MIP gap: the CO2 price changes nothing
    the solver can tell apart."""
    costs, co2 = [p.cost for p in points], [p.co2_kg for p in points]
    tol = max(gap, 1e-4)
    return max(costs) - min(costs) <= tol * max(abs(max(costs)), 1.0) and \
        max(co2) - min(co2) <= tol * max(abs(max(co2)), 1.0)


def _pareto(r: NightReport) -> str:
    points = r.pareto
    if not points:
        return ""
    gap = max(r.recommendation.mip_gap or 0.0, r.cfg.solver.mip_gap if r.cfg is not None else 0.005)
    head = "<section id=pareto><h2>Cost versus CO2 price</h2>"
    prices = ", ".join(f"{p.co2_price_per_t:g}" for p in sorted(points, key=lambda p: p.co2_price_per_t))
    if pareto_is_flat(points, gap):
        costs, co2 = [p.cost for p in points], [p.co2_kg / 1000 for p in points]
        return (head + f"<p><b>The CO2 price does not change today's plan.</b> Re-planned at CO2 prices {prices} "
                f"{_e(r.currency)}/t, money varies by {max(costs) - min(costs):,.0f} {_e(r.currency)} and CO2 by "
                f"{max(co2) - min(co2):.2f} t, both inside the solver's optimality gap ({gap:.1%}).</p></section>")
    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    front = [p for p in points if not p.dominated]
    dom = [p for p in points if p.dominated]
    ax.plot([p.co2_kg / 1000 for p in front], [p.cost for p in front], "o-", color="#36a", label="plans")
    if dom:
        ax.plot([p.co2_kg / 1000 for p in dom], [p.cost for p in dom], "x", color="#999",
                label="dominated (within the MIP gap)")
    for i, p in enumerate(sorted(front, key=lambda p: p.co2_kg)):
        ax.annotate(f"{p.co2_price_per_t:g}", (p.co2_kg / 1000, p.cost), textcoords="offset points",
                    xytext=(6, 6 if i % 2 == 0 else -12), fontsize=8)
    ax.margins(0.15)
    for axis in (ax.xaxis, ax.yaxis):
        fmt = ScalarFormatter(useOffset=False)
        fmt.set_scientific(False)
        axis.set_major_formatter(fmt)
        axis.set_major_locator(MaxNLocator(4))
    ax.set(xlabel="CO2 emitted by the planned heats, t",
           ylabel=f"money cost, {r.currency} (without CO2 charge)")
    ax.legend(fontsize=8)
    ax.set_title(f"labels: CO2 price, {r.currency}/t", fontsize=9)
    return (head + f"<p>The schedule re-planned at CO2 prices {prices} {_e(r.currency)}/t.</p>"
            + _png(fig, "money cost against CO2 emitted") + "</section>")


def _accuracy(r: NightReport) -> str:
    if not r.metrics and not r.accuracy:
        return ""
    out = ["<section id=models><h2>Model health</h2>"]
    verdicts = [assess(k, m, r.baseline_mae.get(k), r.chosen.get(k)) for k, m in r.metrics.items()]
    bad = [v for v in verdicts if v.level == "bad"]
    out.append("<p class=bad><b>Miscalibrated: " + _e(", ".join(outcome_label(v.outcome) for v in bad))
               + ".</b> Check those heats' intervals before approving.</p>" if bad
               else "<p class=ok>All intervals are calibrated on the latest heats.</p>" if verdicts else "")
    out.append("<ul>" + "".join(f"<li class={v.level}>{_e(v.text)}</li>" for v in verdicts) + "</ul>")
    keys = [k for k in r.accuracy if k.startswith("final_")][:4]
    if keys:
        fig = Figure(figsize=(3.2 * len(keys), 3.1))
        axes = fig.subplots(1, len(keys))
        for ax, k in zip(axes if len(keys) > 1 else [axes], keys, strict=True):
            d = r.accuracy[k]
            ax.scatter(d["actual"], d["predicted"], s=5)
            lo, hi = float(d[["actual", "predicted"]].min().min()), float(d[["actual", "predicted"]].max().max())
            ax.plot([lo, hi], [lo, hi], "k--", lw=1)
            label = outcome_label(k)
            ax.set_xlabel(f"measured {label}", fontsize=8)
            ax.set_ylabel(f"predicted {label}", fontsize=8)
            ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.tick_params(labelsize=7)
        fig.tight_layout()
        out.append("<h3>Surrogate accuracy and interval calibration (latest heats)</h3>"
                   + _png(fig, "predicted against measured on the latest heats"))
    rows = [[_e(outcome_label(k)), f"{m.get('mae', float('nan')):.4g}",
             f"{r.baseline_mae[k]:.4g}" if k in r.baseline_mae else "-", f"{m.get('coverage_90', float('nan')):.2f}",
             f"{m['closed_loop_coverage_90']:.2f}" if "closed_loop_coverage_90" in m else "-"]
            for k, m in r.metrics.items()]
    out.append(_table(["outcome", "MAE", "fixed-yield MAE", "coverage 90 %", "closed-loop coverage 90 %"], rows))
    return "".join(out) + "</section>"


def _quality(q: pd.DataFrame) -> str:
    if q.empty:
        return "<section id=quality><h2>Data quality</h2><p>No rejected rows.</p></section>"
    by = q.groupby(["field", "reason"]).size().sort_values(ascending=False).head(20).reset_index(name="rows")
    rows = [[_e(f), _e(reason), str(n)] for f, reason, n in zip(by["field"], by["reason"], by["rows"], strict=True)]
    return (f"<section id=quality><h2>Data quality</h2><p>{len(q)} rejected rows (kept out of training).</p>"
            + _table(["field", "reason", "rows"], rows, left=2) + "</section>")


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
    rows = [[_e(k), _e(v)] for k, v in rec.model_versions.items()]
    return "<section id=versions><h2>Model versions</h2>" + _table(["outcome", "version"], rows, left=2) + "</section>"
