"""Shadow prices from the night plan to the advisor: a material scarce at night is used less per heat."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.cli import app
from connectors.recommendations import read_shadow_prices, write_recommendation
from optimizer.advisor import advisor_from_history
from optimizer.config import PlantConfig
from optimizer.dosing import optimize_heats, to_recommendation
from optimizer.errors import DataFileError
from optimizer.recommendation import Recommendation
from optimizer.schedule import HeatContext
from optimizer.simulator import simulate_history
from optimizer.stages.arrival import learn_expected_arrival
from optimizer.stages.state import HeatState, Sample
from optimizer.surrogates import prior_surrogates

GRADES = ("S235JR", "S355J2", "C45", "S45C") * 2
SCARCE = "HC_FeMn"  # S235JR's history heats use it beside SiMn: the advisor can substitute


@pytest.fixture(scope="module")
def plant(cfg: PlantConfig):  # noqa: ANN201
    """A history (heats and samples) and the day's eight heats planned from their grade's expected arrival."""
    heats, samples = simulate_history(cfg, 300, 7)
    expected = learn_expected_arrival(cfg, heats)
    day = [expected.expect(HeatContext(f"H{i}", g, 100.0, {}, 1600.0)) for i, g in enumerate(GRADES)]
    return heats, samples, expected, day


def _with_stock(cfg: PlantConfig, material: str, kg: float) -> PlantConfig:
    return cfg.model_copy(update={"materials": [m.model_copy(update={"daily_inventory_kg": kg})
                                                if m.name == material else m for m in cfg.materials]})


def _night(cfg: PlantConfig, day: list[HeatContext], out: Path) -> Path:
    """The night's program over the day (prior surrogates), written as the night writes its recommendation."""
    result = optimize_heats(cfg, day, prior_surrogates(cfg), workers=0)
    js, _ = write_recommendation(to_recommendation(cfg, day, result, {}), cfg, out)
    return js


def json_heats(path: Path) -> list:
    return Recommendation.from_json(path).heats


def _arrival(expected, grade: str) -> HeatState:  # noqa: ANN001
    c = expected.expect(HeatContext("A1", grade, 100.0, {}, 1600.0))
    return HeatState("A1", grade, 100.0, (Sample(0, 0.0, c.initial_temperature_degC, c.initial_wt_pct),),
                     oxygen_ppm=c.initial_oxygen_ppm)


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_a_material_scarce_at_night_is_priced_in_and_used_less(cfg: PlantConfig, plant, tmp_path: Path):  # noqa: ANN001
    heats, samples, expected, day = plant
    ample = _night(cfg, day, tmp_path / "ample")
    use = sum(h.additions_kg.get(SCARCE, 0.0) for h in json_heats(ample))
    assert use > 0
    scarce = _night(_with_stock(cfg, SCARCE, 0.7 * use), day, tmp_path / "scarce")
    prices, source = read_shadow_prices(tmp_path / "scarce")  # the night's recommendations dir (latest.json)
    assert prices.get(SCARCE, 0.0) > 0 and scarce.stem in source  # from the night's stock dual, not typed in
    none, _ = read_shadow_prices(ample)
    assert none == {}  # ample stock: nothing scarce, no price
    state = _arrival(expected, "S235JR")
    unpriced = advisor_from_history(cfg, heats, samples, shadow_price_per_kg=none).on_arrival(state)
    priced = advisor_from_history(cfg, heats, samples, shadow_price_per_kg=prices).on_arrival(state)
    assert unpriced.additions_kg.get(SCARCE, 0.0) > 0
    assert priced.additions_kg.get(SCARCE, 0.0) < unpriced.additions_kg[SCARCE]
    assert not priced.flags, priced.flags


def test_expired_or_missing_night_prices_are_refused(cfg: PlantConfig, plant, tmp_path: Path):  # noqa: ANN001
    js = _night(cfg, plant[3][:2], tmp_path)
    later = datetime.now(UTC) + timedelta(days=30)
    with pytest.raises(DataFileError, match="expired at .*another day's stock"):
        read_shadow_prices(js, now=later)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFileError, match="no current.json"):
        read_shadow_prices(tmp_path / "empty")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DataFileError, match="not a recommendation JSON"):
        read_shadow_prices(tmp_path / "x.json")


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_dosing_advise_reads_the_prices_from_the_servers_state_dir(cfg: PlantConfig, plant, tmp_path: Path):  # noqa: ANN001
    heats, samples, expected, day = plant
    use = sum(h.additions_kg.get(SCARCE, 0.0) for h in json_heats(_night(cfg, day, tmp_path / "a")))
    js = _night(_with_stock(cfg, SCARCE, 0.7 * use), day, tmp_path / "night")
    state_dir = tmp_path / "opcua"
    state_dir.mkdir()
    (state_dir / "current.json").write_text(js.read_text())  # what the setpoint server keeps of the published one
    data = tmp_path / "history"
    data.mkdir()
    heats.to_parquet(data / "heats.parquet", index=False)
    samples.to_csv(data / "samples.csv", index=False)
    line = json.dumps(_arrival(expected, "S235JR").to_dict()) + "\n"
    runner = CliRunner()
    plain = runner.invoke(app, ["advise", "--data", str(data)], input=line)
    priced = runner.invoke(app, ["advise", "--data", str(data), "--shadow-prices", str(state_dir)], input=line)
    assert plain.exit_code == 0 and priced.exit_code == 0, priced.output
    assert f"shadow prices {SCARCE}" in priced.output
    first = [json.loads(x) for x in plain.output.splitlines() if x.startswith("{")][0]
    second = [json.loads(x) for x in priced.output.splitlines() if x.startswith("{")][0]
    assert second["additions_kg"].get(SCARCE, 0.0) < first["additions_kg"][SCARCE]
    bad = runner.invoke(app, ["advise", "--data", str(data), "--shadow-prices", str(tmp_path / "nope.json")],
                        input=line)
    assert bad.exit_code == 2 and "shadow-price file not found" in bad.output
