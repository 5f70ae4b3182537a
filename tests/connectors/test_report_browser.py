"""The nightly report renders in a real headless browser (Debian's chromium) at phone and desktop widths: the
sections are there, and nothing makes the page scroll sideways on a phone (wide tables scroll inside their box)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from connectors.report.html import render
from tests.connectors.test_report_sections import sample_report

pytestmark = pytest.mark.slow  # headless Chromium

CHROMIUM = shutil.which("chromium")
SECTIONS = ["today", "savings", "risk", "stock", "day", "setpoints", "pareto", "models", "quality", "versions"]
# headless chromium lays --dump-dom out at 500 px or more, so the phone width is an iframe of that width; the
# wrapper measures the report inside it after load and writes the figures into its own page for --dump-dom
PROBE = """<!doctype html><html><body style="margin:0"><iframe id=f style="border:0;width:{width}px;height:2400px"
srcdoc="{page}"></iframe><script>document.getElementById('f').addEventListener('load', () => {{
  const w = document.getElementById('f').contentWindow, d = w.document, vw = w.innerWidth;
  const wide = [...d.querySelectorAll('body *')].filter(e => !e.closest('.scroll') || e.matches('.scroll'))
    .filter(e => e.getBoundingClientRect().right > vw + 1).map(e => e.tagName + '.' + e.className).slice(0, 10);
  const p = document.createElement('pre'); p.id = 'probe'; p.hidden = true;
  p.textContent = JSON.stringify({{vw, scroll_width: d.documentElement.scrollWidth, wide,
    sections: [...d.querySelectorAll('section')].map(s => s.id), text: d.body.innerText}});
  document.body.appendChild(p);
}});</script></body></html>"""


def _chromium(profile: Path, width: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},2400", *args],
                          capture_output=True, timeout=120, text=True)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("width", [390, 1280], ids=["phone", "desktop"])
def test_report_renders_at_phone_and_desktop_width(cfg, tmp_path, width):
    html_page = render(sample_report(cfg))
    page = tmp_path / "report.html"
    page.write_text(html_page, encoding="utf-8")
    shot = tmp_path / f"shot_{width}.png"
    run = _chromium(tmp_path / "profile", width, f"--screenshot={shot}", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 10_000, run.stderr[-2000:]
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(PROBE.format(width=width, page=html.escape(html_page)), encoding="utf-8")
    dom = _chromium(tmp_path / "profile", max(width, 1280), "--virtual-time-budget=5000", "--dump-dom",
                    probe_page.as_uri()).stdout
    probe = json.loads(html.unescape(re.search(r'<pre id="probe" hidden="">(.*?)</pre>', dom, re.S).group(1)))
    assert probe["vw"] == width
    assert probe["sections"] == SECTIONS
    assert probe["scroll_width"] <= width and not probe["wide"], probe
    assert "C max 0.5 wt% cannot be met <&> with the required confidence" in probe["text"]
    assert "dosing approve" in probe["text"]
