"""Plant config: the shipped example loads; bad configs name the file, the key and the problem."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from optimizer.config import default_config_path, load_config, parse_config
from optimizer.errors import ConfigError, UnknownGradeError

RAW = tomllib.loads(default_config_path().read_text())


def test_example_config_loads(cfg):
    assert cfg.plant.nominal_steel_weight_t == pytest.approx(100.0)
    assert {"C", "Mn", "Si", "Al", "P", "S", "Cr", "Ni", "Cu"} <= set(cfg.elements)
    assert "SiMn" in cfg.material_names and "S355J2" in cfg.grade_names
    simn = cfg.material("SiMn")
    assert simn.composition_wt_pct["Mn"] > 60 and 0 < simn.prior_recovery["Mn"] <= 1
    assert cfg.grade("S355J2").chemistry_wt_pct["Mn"].min == pytest.approx(1.30)
    assert cfg.sampling.cost_per_sample > cfg.sampling.chemistry_sample_cost


def _bad(mutate) -> ConfigError:
    raw = copy.deepcopy(RAW)
    mutate(raw)
    with pytest.raises(ConfigError) as info:
        parse_config(raw, source="bad.toml")
    assert "bad.toml" in str(info.value)
    return info.value


@pytest.mark.parametrize(
    ("mutate", "key", "words"),
    [
        (lambda r: r["materials"][3].__setitem__("price_per_kg", -1.0), "materials[3](SiMn).price_per_kg",
         "greater than or equal to 0"),
        (lambda r: r["energy"].__setitem__("pricee_per_kWh", 1.0), "energy.pricee_per_kWh", "unknown key"),
        (lambda r: r["energy"].pop("price_per_kWh"), "energy.price_per_kWh", "required key is missing"),
        (lambda r: r["grades"][0].__setitem__("temperature_degC", {"min": 1858.0, "max": 1900.0}),
         "grades[0](S235JR).temperature_degC", "Kelvin"),
        (lambda r: r["grades"][1]["chemistry_wt_pct"].__setitem__("Mn", {"min": 1.6, "max": 1.3}),
         "grades[1](S355J2).chemistry_wt_pct.Mn", "min <= aim <= max"),
        (lambda r: r["materials"][0].__setitem__("composition_wt_pct", {"Mn": 0.76, "C": 0.07}),
         "materials[0](HC_FeMn)", "fractions"),
        (lambda r: r["materials"][0].__setitem__("prior_recovery", {"Mn": 92.0, "C": 0.85, "Si": 0.75, "P": 1.0}),
         "materials[0](HC_FeMn).prior_recovery.Mn", "less than or equal to 1"),
        (lambda r: r["materials"][0].__setitem__("min_kg_per_heat", 5000.0), "materials[0](HC_FeMn)",
         "min_kg_per_heat"),
        (lambda r: r["materials"][1].__setitem__("composition_wt_pct", {"Mn": 80.0, "Xx": 1.0}),
         "materials[1](MC_FeMn)", "prior_recovery has no value"),
        (lambda r: r["grades"][0].__setitem__("share", 0.9), "<top level>", "share values sum"),
        (lambda r: r["materials"][2].__setitem__("name", "HC_FeMn"), "<top level>", "duplicate names"),
        (lambda r: r["sampling"].__setitem__("samples_per_heat_min", 9), "sampling", "samples_per_heat_min"),
        (lambda r: r["opcua"].__setitem__("endpoint", "http://x"), "opcua.endpoint", "opc.tcp://"),
        (lambda r: r["plant"].__setitem__("steel_weight_range_t", [120.0, 150.0]), "plant", "nominal"),
        (lambda r: r["grades"][0]["chemistry_wt_pct"].__setitem__("Nb", {"max": 0.05}), "<top level>",
         "not in 'elements'"),
        (lambda r: r["solver"].__setitem__("worker_deadline_s", 0.0), "solver.worker_deadline_s", "greater than 0"),
    ],
)
def test_bad_config_names_key_and_reason(mutate, key, words):
    err = _bad(mutate)
    keys = [k for k, _ in err.problems]
    assert any(k.startswith(key) for k in keys), keys
    assert words in str(err)


def test_unreadable_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[plant\nname = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


def test_unknown_grade_lists_known(cfg):
    with pytest.raises(UnknownGradeError, match="S355J2"):
        cfg.grade("S999")


def test_config_roundtrip_file(tmp_path: Path):
    p = tmp_path / "plant.toml"
    p.write_text(default_config_path().read_text())
    assert load_config(p).grade_names == load_config().grade_names


def test_extensible_elements():
    raw = copy.deepcopy(RAW)
    raw["elements"] = [*raw["elements"], "Nb"]
    raw["materials"].append({
        "name": "FeNb", "kind": "ferroalloy", "composition_wt_pct": {"Nb": 65.0}, "prior_recovery": {"Nb": 0.95},
        "price_per_kg": 22.0, "co2_kg_per_kg": 5.0, "max_kg_per_heat": 100.0,
    })
    cfg = parse_config(raw)
    assert "Nb" in cfg.elements and cfg.material("FeNb").prior_recovery["Nb"] == pytest.approx(0.95)
