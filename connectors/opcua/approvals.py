"""Approval state and the audit trail, kept in the server's state directory.

The status of a recommendation comes only from here: ``decide`` (called by the OPC UA Methods
``Dosing.Approve``/``Dosing.Reject`` and by ``dosing approve|reject`` at the optimizer host, one code path)
appends an authenticated decision to ``<state>/audit.jsonl``; ``status_of`` reads the latest decision for a
recommendation id. A status written into a recommendation file is never used. Publishes and refusals are
appended to the same log, so it is the whole trail: who decided what, when, through which door, about which id.
"""

from __future__ import annotations

import fcntl
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from optimizer.recommendation import Recommendation

Decision = Literal["approved", "rejected"]
VERBS: dict[str, Decision] = {"approve": "approved", "reject": "rejected"}


class ApprovalRefused(ValueError):
    """The decision was not recorded (no current recommendation, another id, expired); the message says why."""


def audit_file(state_dir: str | Path) -> Path:
    return Path(state_dir) / "audit.jsonl"


def append_audit(state_dir: str | Path, event: dict) -> dict:
    """Append one event (time added) to the audit log under an exclusive lock; returns the event."""
    entry = {"time": datetime.now(UTC).isoformat(), **event}
    path = audit_file(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(json.dumps(entry) + "\n")
        f.flush()
    return entry


def read_audit(state_dir: str | Path) -> list[dict]:
    """Every event of the audit log, oldest first (a torn last line from a crash is skipped)."""
    path = audit_file(state_dir)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def status_of(state_dir: str | Path, recommendation_id: str) -> tuple[Decision, str] | None:
    """(status, user) of the latest decision about ``recommendation_id``, or None when nobody decided."""
    for e in reversed(read_audit(state_dir)):
        if e.get("recommendation_id") == recommendation_id and e.get("event") in VERBS.values():
            return e["event"], e["user"]
    return None


def with_decided_status(rec: Recommendation, state_dir: str | Path) -> Recommendation:
    """``rec`` with the status and user of its latest authenticated decision ("proposed" when none)."""
    decided = status_of(state_dir, rec.recommendation_id)
    status, by = decided if decided is not None else ("proposed", "")
    return rec.model_copy(update={"status": status, "status_by": by})


def decide(state_dir: str | Path, current: Recommendation | None, recommendation_id: str, decision: Decision,
           user: str, comment: str, via: str) -> dict:
    """Record an authenticated engineer's decision about the current recommendation; returns the audit entry.

    ``user`` must already be authenticated as an engineer (OPC UA session or users file); raises
    :class:`ApprovalRefused` when nothing is published, ``recommendation_id`` is not the current one, or the
    current one has expired."""
    if current is None:
        raise ApprovalRefused("no recommendation is published: nothing to decide about")
    if recommendation_id != current.recommendation_id:
        raise ApprovalRefused(f"recommendation {recommendation_id!r} is not the current one "
                              f"({current.recommendation_id!r}); decisions apply only to the current one")
    if current.is_expired():
        raise ApprovalRefused(f"recommendation {recommendation_id!r} expired at {current.valid_until.isoformat()}")
    return append_audit(state_dir, {"event": decision, "recommendation_id": recommendation_id, "user": user,
                                    "comment": comment, "via": via})
