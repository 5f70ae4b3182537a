"""Hand recommendations to a running setpoint server through its state directory (no network needed).

``submit`` drops a recommendation JSON into ``<state>/inbox/`` atomically; the server polls the inbox, publishes
what passes its checks and moves refused files to ``<state>/inbox/refused/`` with the reason beside them (so a
restart does not try them again). Either way it writes a verdict to ``<state>/verdicts/<id>.json``, which
``dosing publish --wait`` waits for.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from optimizer.recommendation import Recommendation


def inbox(state_dir: str | Path) -> Path:
    d = Path(state_dir) / "inbox"
    d.mkdir(parents=True, exist_ok=True)
    return d


def submit(rec_file: str | Path, state_dir: str | Path) -> Path:
    """Validate that ``rec_file`` is a recommendation, then place it in the inbox; returns its inbox path."""
    rec = Recommendation.from_json(rec_file)
    d = inbox(state_dir)
    verdict_file(state_dir, rec.recommendation_id).unlink(missing_ok=True)  # a re-send waits for a new verdict
    tmp = d / f".{rec.recommendation_id}.tmp"
    shutil.copyfile(rec_file, tmp)
    final = d / f"{rec.recommendation_id}.json"
    os.replace(tmp, final)
    return final


def pending(state_dir: str | Path) -> list[Path]:
    """Inbox files waiting to be published, oldest first (files that vanish meanwhile are left out)."""
    stamped = []
    for p in inbox(state_dir).glob("*.json"):
        try:
            stamped.append((p.stat().st_mtime, p))
        except FileNotFoundError:
            continue
    return [p for _, p in sorted(stamped)]


def refuse(path: Path, reason: str) -> Path:
    """Move a refused file aside with its reason; returns where it went."""
    d = path.parent / "refused"
    d.mkdir(exist_ok=True)
    os.replace(path, d / path.name)
    (d / f"{path.stem}.reason.txt").write_text(reason + "\n", encoding="utf-8")
    return d / path.name


def verdict_file(state_dir: str | Path, recommendation_id: str) -> Path:
    return Path(state_dir) / "verdicts" / f"{recommendation_id}.json"


def write_verdict(state_dir: str | Path, recommendation_id: str, verdict: dict) -> None:
    """The server's answer about one submitted recommendation: published (generation) or refused (reason)."""
    p = verdict_file(state_dir, recommendation_id)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(verdict), encoding="utf-8")
    os.replace(tmp, p)


def read_verdict(state_dir: str | Path, recommendation_id: str) -> dict | None:
    p = verdict_file(state_dir, recommendation_id)
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else None
