"""Turn the ladle-furnace export into one row per heat and a sample table, with a data-quality report.

Units: arc energy per interval = active power (MW) x duration (s) / 3.6 -> kWh (active, not apparent, power:
that is what heats the steel and what the plant pays). Bulk and wire additions are kg; gas is the export's
volume unit (m3 assumed). The material identities behind Bulk n / Wire n are not published, so these heats do
not use the plant config's materials: additions stay ``add_bulk_<n>_kg`` / ``add_wire_<n>_kg``.

Kept per heat (decision-time "plan" view: what was decided for the heat as a whole): first temperature and its
time, arc energy, arc time, number of arc intervals, additions, gas, number of temperature measurements (the
sampling frequency) and the minutes from the first to the last measurement. Target: the last temperature.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_PLAUSIBLE_DEGC, MAX_PLAUSIBLE_DEGC = 1450.0, 1750.0


def build_heats(t: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(heats, samples, quality report). Heats that cannot be used are reported and left out."""
    report: list[tuple] = []
    samples = _samples(t["temp"], report)
    arc = _arc(t["arc"], report)
    good_t = samples.dropna(subset=["temperature_degC"])
    first = good_t.groupby("key").first()
    last = good_t.groupby("key").last()
    n = good_t.groupby("key").size()
    heats = pd.DataFrame({"heat_id": first.index.astype(str), "start_time": first["time"],
                          "end_time": last["time"], "initial_temperature_degC": first["temperature_degC"],
                          "final_temperature_degC": last["temperature_degC"], "n_samples": n}, index=first.index)
    heats["treatment_time_min"] = (heats["end_time"] - heats["start_time"]).dt.total_seconds() / 60
    single = heats.index[heats["n_samples"] < 2]
    report += [("data_temp", k, "temperature_degC", "single valid measurement: no final temperature") for k in single]
    heats = heats.drop(index=single)
    heats = heats.join(arc, how="left")
    no_arc = heats.index[heats["arc_energy_kWh"].isna()]
    report += [("data_arc", k, "key", "heat has temperatures but no arc heating record") for k in no_arc]
    heats = heats.drop(index=no_arc)
    for name, prefix in (("bulk", "add_bulk"), ("wire", "add_wire")):
        heats = _join_additions(heats, t[name], prefix, name, report)
    gas = t["gas"].set_index("key")["gas_1"].rename("gas_1_m3")
    heats = heats.join(gas, how="left")
    no_gas = heats.index[heats["gas_1_m3"].isna()]
    report += [("data_gas", k, "gas_1", "no gas record: taken as 0") for k in no_gas]
    heats["gas_1_m3"] = heats["gas_1_m3"].fillna(0.0)
    late = heats.index[heats["arc_end_last"] > heats["end_time"]]
    report += [("data_arc", k, "arc_end", "arc heating after the last measurement: the last measurement may "
                "not be the final temperature") for k in late]
    heats = heats.drop(columns=["arc_end_last"]).reset_index(drop=True)
    heats = heats.sort_values("start_time", kind="stable").reset_index(drop=True)
    return heats, samples, pd.DataFrame(report, columns=["file", "key", "field", "reason"])


def _samples(temp: pd.DataFrame, report: list) -> pd.DataFrame:
    s = temp.copy()
    s["time"] = pd.to_datetime(s["time"], errors="coerce")
    s["temperature_degC"] = pd.to_numeric(s["temperature_degC"], errors="coerce")
    missing = s["temperature_degC"].isna()
    report += [("data_temp", k, "temperature_degC", "temperature not recorded") for k in s.loc[missing, "key"]]
    bad = ~missing & ~s["temperature_degC"].between(MIN_PLAUSIBLE_DEGC, MAX_PLAUSIBLE_DEGC)
    report += [("data_temp", k, "temperature_degC", f"implausible temperature {v:g} degC (outside "
                f"{MIN_PLAUSIBLE_DEGC:g}..{MAX_PLAUSIBLE_DEGC:g}): measurement ignored")
               for k, v in s.loc[bad, ["key", "temperature_degC"]].itertuples(index=False)]
    s.loc[bad, "temperature_degC"] = np.nan
    s = s.sort_values(["key", "time"], kind="stable")
    s["sample_no"] = s.groupby("key").cumcount()
    return s[["key", "sample_no", "time", "temperature_degC"]]


def _arc(arc: pd.DataFrame, report: list) -> pd.DataFrame:
    a = arc.copy()
    a["arc_start"] = pd.to_datetime(a["arc_start"], errors="coerce")
    a["arc_end"] = pd.to_datetime(a["arc_end"], errors="coerce")
    dur_s = (a["arc_end"] - a["arc_start"]).dt.total_seconds()
    neg = dur_s < 0
    report += [("data_arc", k, "arc_end", "arc interval ends before it starts: interval ignored")
               for k in a.loc[neg, "key"]]
    react = pd.to_numeric(a["reactive_MVAr"], errors="coerce")
    report += [("data_arc", k, "reactive_MVAr", f"negative reactive power {v:g}: value ignored")
               for k, v in zip(a.loc[react < 0, "key"], react[react < 0], strict=True)]
    a = a.loc[~neg]
    a["kWh"] = pd.to_numeric(a["active_MW"], errors="coerce") * dur_s[~neg] / 3.6
    g = a.groupby("key")
    return pd.DataFrame({"arc_energy_kWh": g["kWh"].sum(), "arc_time_min": g.apply(
        lambda x: (x["arc_end"] - x["arc_start"]).dt.total_seconds().sum() / 60, include_groups=False),  # type: ignore[call-overload]  # pandas-stubs lacks include_groups
        "n_arc_intervals": g.size(), "arc_end_last": g["arc_end"].max()})


def _join_additions(heats: pd.DataFrame, table: pd.DataFrame, prefix: str, name: str, report: list) -> pd.DataFrame:
    t = table.set_index("key")
    cols = {c: f"{prefix}_{c.split()[-1]}_kg" for c in t.columns if c.lower().startswith(name)}
    t = t[list(cols)].rename(columns=cols).apply(pd.to_numeric, errors="coerce")
    absent = heats.index.difference(t.index)
    report += [(f"data_{name}", k, "key", f"no {name} record: no {name} additions assumed") for k in absent]
    out = heats.join(t, how="left")
    out[list(cols.values())] = out[list(cols.values())].fillna(0.0)
    return out
