"""The day of advised heats, read back from the advisor service's decision log (``dosing advice-report``).

The service (``dosing advise-serve``) appends one JSON line per answer and per event (docs/advisor.md, "Decision
log"). This module reads such a log and tells the engineer, per heat: how many posts were answered and how
(written, refused, awaiting approval, no answer, today's practice), every flag the advisor raised (extrapolated
decisions first), whether the heat went on with today's practice and why, and where its last sample landed in the
grade's window. Lines that are not JSON or not a log record are listed with their line number and skipped; the
others are kept.
"""

from __future__ import annotations

import html
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimizer.config import PlantConfig

WRITTEN, AWAITING, REFUSED, NO_ANSWER, PRACTICE, BAD_INPUT = (
    "written", "awaiting approval", "refused", "no answer", "today's practice", "bad input")  # as the service logs


@dataclass
class HeatAdvice:
    """What the log says of one heat."""

    heat_id: str
    grade: str = ""
    answers: Counter[str] = field(default_factory=Counter)  # status -> count
    flags: list[str] = field(default_factory=list)  # unique, in order of appearance
    reasons: list[str] = field(default_factory=list)  # why a post was not written (unique)
    finished_by_advisor: bool = False
    practice: str = ""  # why the heat went on with today's practice ("" = it did not)
    last_sample: dict[str, float] = field(default_factory=dict)  # temperature_degC and wt_pct of the last input
    answer_ms: list[float] = field(default_factory=list)

    @property
    def extrapolated(self) -> list[str]:
        return [f for f in self.flags if "extrapolated" in f]

    def needs_attention(self) -> bool:
        """Anything an engineer should look at: a flag, a refusal, no answer, today's practice, bad input."""
        return bool(self.flags or self.practice or self.answers[REFUSED] or self.answers[NO_ANSWER]
                    or self.answers[BAD_INPUT] or self.answers[AWAITING])


@dataclass
class AdviceDay:
    """The whole log: heats in order of first appearance, events, and the lines that could not be read."""

    source: str
    heats: dict[str, HeatAdvice] = field(default_factory=dict)
    events: Counter[str] = field(default_factory=Counter)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)

    @property
    def answers(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for h in self.heats.values():
            total.update(h.answers)
        return total


def read_decision_log(path: str | Path) -> AdviceDay:
    """Parse the decision log at ``path`` (FileNotFoundError / OSError when it cannot be opened)."""
    p = Path(path)
    day = AdviceDay(str(p))
    with p.open(encoding="utf-8", errors="replace") as f:
        for no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                day.bad_lines.append((no, f"not JSON ({exc.msg} at column {exc.colno})"))
                continue
            why = _add(day, record)
            if why:
                day.bad_lines.append((no, why))
    return day


def _add(day: AdviceDay, record: Any) -> str:
    """Fold one record into ``day``; returns why it was skipped ("" = used)."""
    if not isinstance(record, Mapping):
        return f"a log record is a JSON object, got {type(record).__name__}"
    if "event" in record:
        day.events[str(record["event"])] += 1
        heat_id = record.get("heat_id")
        if record.get("event") == "disconnect" and heat_id:
            _heat(day, str(heat_id)).practice = str(record.get("outcome", "went on with today's practice")) + \
                " after a DCS disconnect"
        return ""
    if "heat_id" not in record or "status" not in record:
        return "neither an event nor a decision (no heat_id/status)"
    h = _heat(day, str(record["heat_id"]))
    status = str(record["status"])
    h.answers[status] += 1
    inputs = record.get("inputs") if isinstance(record.get("inputs"), Mapping) else None
    if inputs:
        h.grade = str(inputs.get("grade", h.grade))
        h.last_sample = _last_sample(inputs) or h.last_sample
    decision = record.get("decision") if isinstance(record.get("decision"), Mapping) else None
    if decision:
        for flag in decision.get("flags") or []:
            if str(flag) not in h.flags:
                h.flags.append(str(flag))
        if decision.get("finish") and status == WRITTEN and record.get("setpoints_written", True):
            h.finished_by_advisor = True
    if status == PRACTICE and not h.practice:
        h.practice = str(record.get("reason", ""))
    if status not in (WRITTEN,) and record.get("reason") and str(record["reason"]) not in h.reasons:
        h.reasons.append(f"{status}: {record['reason']}")
    ms = record.get("answer_ms")
    if isinstance(ms, int | float) and math.isfinite(ms):
        h.answer_ms.append(float(ms))
    return ""


def _heat(day: AdviceDay, heat_id: str) -> HeatAdvice:
    return day.heats.setdefault(heat_id, HeatAdvice(heat_id))


def _last_sample(inputs: Mapping[str, Any]) -> dict[str, float]:
    samples = inputs.get("samples")
    if not isinstance(samples, list) or not samples or not isinstance(samples[-1], Mapping):
        return {}
    last = samples[-1]
    out = {"temperature_degC": float(last.get("temperature_degC", math.nan))}
    for el, v in (last.get("wt_pct") or {}).items():
        out[f"{el}_wt_pct"] = float(v)
    return out


def window_misses(h: HeatAdvice, cfg: PlantConfig) -> list[str]:
    """Where the heat's last logged sample is outside its grade's window (empty: inside, or grade unknown)."""
    try:
        grade = cfg.grade(h.grade)
    except (KeyError, ValueError):
        return []
    windows = {"temperature_degC": (grade.temperature_degC.min, grade.temperature_degC.max)}
    windows.update({f"{el}_wt_pct": (w.min, w.max) for el, w in grade.chemistry_wt_pct.items()})
    out = []
    for name, (lo, hi) in windows.items():
        v = h.last_sample.get(name)
        if v is None or not math.isfinite(v):
            continue
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            out.append(f"{name} {v:.4g} outside [{lo}, {hi}]")
    return out


def _p95(values: Iterable[float]) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, math.ceil(0.95 * len(v)) - 1)] if v else math.nan


def text_summary(day: AdviceDay, cfg: PlantConfig | None = None) -> list[str]:
    """Lines for the console: totals, then one line per heat that needs attention, then unreadable lines."""
    a = day.answers
    ms = [m for h in day.heats.values() for m in h.answer_ms]
    out = [f"{day.source}: {len(day.heats)} heats, {sum(a.values())} answers: " + ", ".join(
        f"{a[s]} {s}" for s in (WRITTEN, AWAITING, REFUSED, NO_ANSWER, PRACTICE, BAD_INPUT) if a[s]) +
        (f"; answer p95 {_p95(ms):.0f} ms" if ms else "")]
    finished = sum(h.finished_by_advisor for h in day.heats.values())
    out.append(f"finished on the advisor's word: {finished}; went on with today's practice: "
               f"{sum(bool(h.practice) for h in day.heats.values())}; extrapolated decisions in "
               f"{sum(bool(h.extrapolated) for h in day.heats.values())} heats")
    if day.events:
        out.append("events: " + ", ".join(f"{n} {e}" for e, n in sorted(day.events.items())))
    for h in day.heats.values():
        misses = window_misses(h, cfg) if cfg is not None else []
        if not (h.needs_attention() or misses):
            continue
        parts = [*(f"flag: {f}" for f in h.flags), *h.reasons]
        if h.practice and not any(h.practice in r for r in h.reasons):
            parts.append(f"today's practice: {h.practice}")
        parts += [f"last sample: {m}" for m in misses]
        out.append(f"  {h.heat_id} ({h.grade or 'grade unknown'}): " + " | ".join(parts))
    for no, why in day.bad_lines:
        out.append(f"  {day.source} line {no}: skipped, {why}")
    return out


def render_html(day: AdviceDay, cfg: PlantConfig | None = None) -> str:
    """A self-contained page: the totals, then a table of every heat (attention first)."""
    e = html.escape
    rows = []
    order = sorted(day.heats.values(), key=lambda h: not (h.needs_attention() or
                                                        (cfg is not None and window_misses(h, cfg))))
    for h in order:
        misses = window_misses(h, cfg) if cfg is not None else []
        cls = "bad" if (h.extrapolated or misses or h.answers[NO_ANSWER] or h.answers[BAD_INPUT]) else \
            ("warn" if h.needs_attention() else "ok")
        answers = ", ".join(f"{n} {s}" for s, n in h.answers.items())
        notes = "<br>".join(e(x) for x in [*h.flags, *h.reasons, *(f"last sample: {m}" for m in misses)]
                            + ([f"today's practice: {h.practice}"] if h.practice else []))
        rows.append(f"<tr class={cls}><td class=l>{e(h.heat_id)}</td><td class=l>{e(h.grade)}</td>"
                    f"<td class=l>{e(answers)}</td><td>{'yes' if h.finished_by_advisor else 'no'}</td>"
                    f"<td class=l>{notes or 'in window, no flags'}</td></tr>")
    bad = "".join(f"<li>line {no}: {e(why)}</li>" for no, why in day.bad_lines)
    summary = "".join(f"<p>{e(line)}</p>" for line in text_summary(day, None)[:3])
    return ("<!doctype html><html><head><meta charset=utf-8><meta name=viewport content='width=device-width,"
            "initial-scale=1'><title>Advised heats</title><style>body{font-family:system-ui,sans-serif;margin:1em"
            " auto;padding:0 1em;max-width:1200px}table{border-collapse:collapse;font-size:.85em}td,th{border:1px"
            " solid #ddd;padding:3px 6px;text-align:right}.l{text-align:left}.bad{color:#b00}.warn{color:#a60}"
            ".ok{color:#171}div{overflow-x:auto}</style></head><body>"
            f"<h1>Advised heats ({e(day.source)})</h1>{summary}"
            "<h2>Per heat (needing attention first)</h2><div><table><tr><th class=l>heat</th><th class=l>grade"
            "</th><th class=l>answers</th><th>finished on the advisor's word</th><th class=l>flags, refusals, "
            f"last sample</th></tr>{''.join(rows)}</table></div>"
            + (f"<h2>Lines skipped</h2><ul>{bad}</ul>" if bad else "") + "</body></html>")
