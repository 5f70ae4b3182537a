"""One row per stage: the interval between two consecutive valid temperature measurements of a heat.

Stage ``i`` (1-based) of a heat runs from its measurement ``i-1`` (``temp_prev_degC`` at ``time_prev``) to
measurement ``i`` (``temp_next_degC`` at ``time_next``). What happened in between:

* ``arc_kWh``, ``arc_min``: arc intervals overlapping the stage, each contributing energy (active MW x s / 3.6)
  and minutes in proportion to its overlap (11 of 9,865 measurements of the shared data fall inside an arc);
  ``arc_kVAh`` the same for the apparent power (negative reactive power taken as 0); ``arc_end_min``: minutes
  from the stage's start to the end of its last arc (NaN without arc);
* ``add_bulk_<n>_kg`` / ``add_wire_<n>_kg``: additions whose recorded time lies in ``(time_prev, time_next]``;
* ``gas_m3``: the export has one gas volume per heat, so each stage gets the heat's gas per minute of treatment
  (first to last measurement) times its minutes; the heat's total is taken as planned;
* ``minutes``: time between the measurements; ``stage_no`` and ``n_stages`` of the heat; ``is_last``.

Arc energy and additions before the first measurement are already in the first temperature, those after the
last measurement in nothing we can observe: neither enters a stage (``pre_arc_kWh`` per heat keeps the former).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def stage_additions(kind: str, n: str | int) -> str:
    """The column name of an addition kind within a stage (the same name as the heat-level column)."""
    return f"add_{kind}_{n}_kg"


def build_stages(tables: dict[str, pd.DataFrame], heats: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """Stage table of the usable ``heats`` (from ``adapter.build_heats``), in heat start order then stage order."""
    keys = heats["heat_id"].astype(int)
    s = samples.dropna(subset=["temperature_degC"])
    s = s[s["key"].isin(keys)].sort_values(["key", "time"], kind="stable")
    s = s.assign(stage_no=s.groupby("key").cumcount())
    nxt = s.groupby("key").shift(-1)
    st = pd.DataFrame({"key": s["key"], "stage_no": s["stage_no"] + 1, "time_prev": s["time"],
                       "time_next": nxt["time"], "temp_prev_degC": s["temperature_degC"],
                       "temp_next_degC": nxt["temperature_degC"]}).dropna(subset=["time_next"])
    st["stage_no"] = st["stage_no"].astype(int)
    st["minutes"] = (st["time_next"] - st["time_prev"]).dt.total_seconds() / 60
    st = st.reset_index(drop=True)
    st = _add_arc(st, tables["arc"])
    for kind in ("bulk", "wire"):
        st = _add_timed(st, tables[kind], tables[f"{kind}_time"], kind)
    h = heats.assign(key=keys).set_index("key")
    span = h["treatment_time_min"].clip(lower=1e-6)
    st["gas_m3"] = st["minutes"] * st["key"].map(h["gas_1_m3"] / span).fillna(0.0)
    st["n_stages"] = st.groupby("key")["stage_no"].transform("max")
    st["is_last"] = st["stage_no"] == st["n_stages"]
    st["heat_start"] = st["key"].map(h["start_time"])
    st["pre_arc_kWh"] = st["key"].map(_pre_arc(tables["arc"], s)).fillna(0.0)
    return st.sort_values(["heat_start", "key", "stage_no"], kind="stable").reset_index(drop=True)


def _arc_times(arc: pd.DataFrame) -> pd.DataFrame:
    a = arc[["key"]].copy()
    a["start"] = pd.to_datetime(arc["arc_start"], errors="coerce")
    a["end"] = pd.to_datetime(arc["arc_end"], errors="coerce")
    dur_s = (a["end"] - a["start"]).dt.total_seconds()
    p_MW = pd.to_numeric(arc["active_MW"], errors="coerce")
    q_MVAr = pd.to_numeric(arc["reactive_MVAr"], errors="coerce").clip(lower=0.0).fillna(0.0)
    a["kWh"] = p_MW * dur_s / 3.6
    a["kVAh"] = np.sqrt(p_MW ** 2 + q_MVAr ** 2) * dur_s / 3.6
    return a[(dur_s > 0) & a["kWh"].notna()]


def _add_arc(st: pd.DataFrame, arc: pd.DataFrame) -> pd.DataFrame:
    a = _arc_times(arc)
    m = st[["key", "time_prev", "time_next"]].reset_index().merge(a, on="key")
    lo = np.maximum(m["start"].to_numpy("datetime64[ns]"), m["time_prev"].to_numpy("datetime64[ns]"))
    hi = np.minimum(m["end"].to_numpy("datetime64[ns]"), m["time_next"].to_numpy("datetime64[ns]"))
    overlap_s = np.clip((hi - lo) / np.timedelta64(1, "s"), 0.0, None)
    dur_s = (m["end"] - m["start"]).dt.total_seconds().to_numpy()
    m["arc_kWh"] = m["kWh"].to_numpy() * overlap_s / dur_s
    m["arc_kVAh"] = m["kVAh"].to_numpy() * overlap_s / dur_s
    m["arc_min"] = overlap_s / 60
    end_min = (hi - m["time_prev"].to_numpy("datetime64[ns]")) / np.timedelta64(1, "m")
    m["arc_end_min"] = np.where(overlap_s > 0, end_min, np.nan)
    g = m.groupby("index")
    agg = g[["arc_kWh", "arc_kVAh", "arc_min"]].sum().join(g["arc_end_min"].max())
    return st.join(agg).fillna({"arc_kWh": 0.0, "arc_kVAh": 0.0, "arc_min": 0.0})


def _add_timed(st: pd.DataFrame, masses: pd.DataFrame, times: pd.DataFrame, kind: str) -> pd.DataFrame:
    cols = [c for c in masses.columns if c.lower().startswith(kind)]
    mass = masses.set_index("key")[cols].apply(pd.to_numeric, errors="coerce")
    when = times.set_index("key")[[c for c in cols if c in times.columns]].apply(pd.to_datetime, errors="coerce")
    long = pd.concat({"kg": mass.stack(), "time": when.stack()}, axis=1).dropna().reset_index()
    long.columns = ["key", "col", "kg", "time"]
    long["name"] = [stage_additions(kind, c.split()[-1]) for c in long["col"]]
    m = st[["key", "time_prev", "time_next"]].reset_index().merge(long, on="key")
    m = m[(m["time"] > m["time_prev"]) & (m["time"] <= m["time_next"])]
    wide = m.pivot_table(index="index", columns="name", values="kg", aggfunc="sum")
    names = sorted({stage_additions(kind, c.split()[-1]) for c in cols}, key=lambda x: int(x.split("_")[2]))
    return st.join(wide.reindex(columns=names)).fillna(dict.fromkeys(names, 0.0))


def _pre_arc(arc: pd.DataFrame, s: pd.DataFrame) -> pd.Series:
    """Arc energy (kWh) before each heat's first valid measurement (already in its first temperature)."""
    a = _arc_times(arc)
    a = a.join(s.groupby("key")["time"].min().rename("t0"), on="key")
    lo_end = np.minimum(a["end"].to_numpy("datetime64[ns]"), a["t0"].to_numpy("datetime64[ns]"))
    before_s = np.clip((lo_end - a["start"].to_numpy("datetime64[ns]")) / np.timedelta64(1, "s"), 0.0, None)
    dur_s = (a["end"] - a["start"]).dt.total_seconds().to_numpy()
    return (a["kWh"] * before_s / dur_s).groupby(a["key"]).sum()
