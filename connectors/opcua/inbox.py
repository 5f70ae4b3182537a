"""Hand recommendations to a running setpoint server through its state directory (no network needed).

``submit`` drops a recommendation JSON into ``<state>/inbox/`` atomically; the server polls the inbox, publishes
what passes the safety check and moves refused files to ``<state>/inbox/refused/`` with the reason beside them.
"""

from __future__ import annotations

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
    tmp = d / f".{rec.recommendation_id}.tmp"
    shutil.copyfile(rec_file, tmp)
    final = d / f"{rec.recommendation_id}.json"
    os.replace(tmp, final)
    return final


def pending(state_dir: str | Path) -> list[Path]:
    """Inbox files waiting to be published, oldest first."""
    return sorted(inbox(state_dir).glob("*.json"), key=lambda p: p.stat().st_mtime)


def refuse(path: Path, reason: str) -> None:
    """Move a refused file aside with its reason."""
    d = path.parent / "refused"
    d.mkdir(exist_ok=True)
    os.replace(path, d / path.name)
    (d / f"{path.stem}.reason.txt").write_text(reason, encoding="utf-8")
