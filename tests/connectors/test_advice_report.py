"""``dosing advice-report``: the day of advised heats read back from the service's decision log, written by the
service's own :class:`DecisionLog`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from connectors.cli import app
from connectors.opcua.advisor_service import DecisionLog
from connectors.report.advice import read_decision_log, text_summary, window_misses
from optimizer.stages.state import HeatState, Sample, StageDecision, StageRecord

IN_WINDOW = {"C": 0.17, "Mn": 1.45, "Si": 0.35, "Al": 0.035, "P": 0.01, "S": 0.01}


def state(heat_id: str, temperatures: list[float], mn: float = 1.45) -> HeatState:
    samples = tuple(Sample(i, 12.0 * i, t, {**IN_WINDOW, "Mn": mn if i == len(temperatures) - 1 else 1.2})
                    for i, t in enumerate(temperatures))
    stages = tuple(StageRecord({"SiMn": 300.0}, 2500.0) for _ in temperatures[1:])
    return HeatState(heat_id, "S355J2", 100.0, samples, stages)


def answer(log: DecisionLog, st: HeatState, status: str, decision: StageDecision | None, reason: str) -> None:
    """A decision line as the service writes it (connectors/opcua/advisor_service.py, ``_answer``)."""
    log.write({"decision_id": f"{st.heat_id}/{st.n_stages}", "heat_id": st.heat_id, "sample_no": str(st.n_stages),
               "status": status, "reason": reason, "setpoints_written": status == "written", "outcome": status,
               "inputs": st.to_dict(), "decision": None if decision is None else decision.to_dict(),
               "model_versions": {"stage_models": "test"}, "answer_ms": 120.0})


def write_day(path: Path) -> None:
    log = DecisionLog(path)
    log.write({"event": "connected", "endpoint": "opc.tcp://127.0.0.1:4840/", "session": 1})
    good = state("H1", [1560.0])
    answer(log, good, "written", StageDecision(False, {"SiMn": 900.0}, 3000.0, reason="stage 1"), "stage 1")
    good = state("H1", [1560.0, 1592.0])
    answer(log, good, "written", StageDecision(True, reason="in window"), "in window")
    trim = state("H2", [1565.0, 1590.0], mn=1.25)
    flagged = StageDecision(False, {"FeMn": 900.0}, 0.0, flags=("FeMn 900 kg in one trim stage, above the most "
                                                                "the history has (300 kg): extrapolated",))
    answer(log, trim, "refused", flagged, "extrapolated (FeMn 900 kg ...); the DCS keeps its level-2 value")
    cut = state("H3", [1570.0])
    answer(log, cut, "written", StageDecision(False, {"SiMn": 800.0}, 2800.0), "stage 1")
    log.write({"event": "disconnect", "heat_id": "H3", "outcome": "went on with today's practice"})
    answer(log, state("H3", [1570.0, 1595.0]), "today's practice", None,
           "the heat went on with today's practice after a DCS disconnect")
    answer(log, state("H4", [1575.0]), "no answer", None, "no decision within 5 s; the DCS uses its level-2 value")
    with path.open("a", encoding="utf-8") as f:
        f.write("{this is not json\n")
        f.write('["a list"]\n')


def test_the_day_per_heat(cfg, tmp_path: Path):
    log = tmp_path / "decisions.jsonl"
    write_day(log)
    day = read_decision_log(log)
    assert list(day.heats) == ["H1", "H2", "H3", "H4"]
    h1, h2, h3, h4 = day.heats.values()
    assert h1.finished_by_advisor and not h1.needs_attention() and not window_misses(h1, cfg)
    assert h2.extrapolated and h2.answers["refused"] == 1 and not h2.finished_by_advisor
    assert window_misses(h2, cfg) == ["Mn_wt_pct 1.25 outside [1.3, 1.6]"]
    assert "disconnect" in h3.practice and h3.answers["today's practice"] == 1
    assert h4.answers["no answer"] == 1 and h4.needs_attention()
    assert [no for no, _ in day.bad_lines] == [9, 10]  # the good lines before and after are kept
    assert day.events == {"connected": 1, "disconnect": 1}
    lines = text_summary(day, cfg)
    assert lines[0].startswith(f"{log}: 4 heats, 6 answers: 3 written, 1 refused, 1 no answer, 1 today's practice")
    assert "finished on the advisor's word: 1; went on with today's practice: 1; extrapolated decisions in 1" \
        in lines[1]
    assert not any(line.startswith("  H1 ") for line in lines)


def test_advice_report_command(tmp_path: Path):
    log = tmp_path / "decisions.jsonl"
    write_day(log)
    page = tmp_path / "advice.html"
    res = CliRunner().invoke(app, ["advice-report", str(log), "--html", str(page)])
    assert res.exit_code == 1, res.output  # heats need attention
    assert "H2 (S355J2): flag: FeMn 900 kg" in res.output and "last sample: Mn_wt_pct 1.25" in res.output
    assert f"{log} line 9: skipped, not JSON" in res.output
    text = page.read_text(encoding="utf-8")
    assert text.index("H2") < text.index(">H1<")  # heats needing attention first
    quiet = tmp_path / "quiet.jsonl"
    answer(DecisionLog(quiet), state("H9", [1592.0]), "written", StageDecision(True), "in window")
    res = CliRunner().invoke(app, ["advice-report", str(quiet)])
    assert res.exit_code == 0 and "1 heats, 1 answers: 1 written" in res.output, res.output
    res = CliRunner().invoke(app, ["advice-report", str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 2 and "cannot read the decision log" in res.output
