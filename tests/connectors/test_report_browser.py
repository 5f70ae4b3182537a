"""The nightly report renders in a real headless browser (Debian's chromium), not just as a string."""

from __future__ import annotations

import shutil
import subprocess

import pandas as pd
import pytest

from connectors.report.html import NightReport, render
from optimizer.recommendation import HeatRecommendation, Recommendation

pytestmark = pytest.mark.slow  # headless Chromium

CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_report_renders_in_chromium(tmp_path):
    heats = [HeatRecommendation(heat_id="H1", grade="S355J2", steel_weight_t=100.0,
                                additions_kg={"SiMn": 1900.0, "Lime": 400.0}, arc_energy_kWh=4000.0, n_samples=2,
                                expected_cost=3500.0, expected_co2_kg=9000.0),
             HeatRecommendation(heat_id="H2", grade="C45", steel_weight_t=100.0, feasible=False,
                                diagnosis="C max 0.5 wt% cannot be met <&> with the required confidence")]
    rec = Recommendation.new("LF-1", heats, 12.0)
    base = pd.DataFrame([{"heat_id": "H1", "cost": 4000.0, "co2_kg": 10000.0, "energy_kWh": 4500.0, "samples": 3,
                          "add_SiMn_kg": 2100.0, "add_Lime_kg": 400.0}])
    page = tmp_path / "report.html"
    page.write_text(render(NightReport("Night report", rec, base)), encoding="utf-8")
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    run = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={profile}", "--window-size=1200,1600", f"--screenshot={shot}",
                          page.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000, run.stderr[-2000:]
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                          "--no-first-run", "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                         capture_output=True, timeout=120, text=True).stdout
    assert "Per heat: recommended" in dom and "C max 0.5 wt% cannot be met &lt;&amp;&gt;" in dom
