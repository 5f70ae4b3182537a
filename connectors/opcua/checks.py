"""What a recommendation must pass before the setpoint server shows it (used by the server and ``dosing publish``).

Schema (a readable recommendation), structure (heat ids unique and usable in node ids) and the hard-limit
safety check (``optimizer.safety``, with the currently published recommendation as the max-change reference).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from pydantic import ValidationError

from optimizer.config import PlantConfig
from optimizer.recommendation import Recommendation
from optimizer.safety import check_recommendation

HEAT_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")  # '.' separates node-id parts


def publish_problems(rec: Recommendation, cfg: PlantConfig, previous: Recommendation | None) -> list[str]:
    """Why ``rec`` may not be published (empty list: it may); its status field is ignored."""
    rec = rec.model_copy(update={"status": "proposed", "status_by": ""})
    out = [f"heat id {h!r} is listed {n} times" for h, n in Counter(h.heat_id for h in rec.heats).items() if n > 1]
    out += [f"heat id {h.heat_id!r} is not 1-64 letters, digits, '_' or '-'" for h in rec.heats
            if not HEAT_ID.match(h.heat_id)]
    if not rec.heats:
        out.append("the recommendation has no heats")
    out += [f"heat {p.heat_id} {p.field}={p.value}: {p.reason} (allowed {p.limit})"
            for p in check_recommendation(rec, cfg, previous)]
    return out


def read_recommendation(path: str | Path) -> Recommendation:
    """The recommendation in ``path``; a ValueError naming the file and the first invalid fields otherwise."""
    try:
        return Recommendation.from_json(path)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise ValueError(f"{path}: not a recommendation ({exc.error_count()} invalid fields: {fields})") from None
    except (OSError, ValueError) as exc:  # unreadable or not JSON
        raise ValueError(f"{path}: not a readable recommendation JSON ({exc})") from None


def summary(problems: list[str], limit: int = 10) -> str:
    """The first ``limit`` problems on one line, with a count of the rest."""
    more = f"; ... and {len(problems) - limit} more" if len(problems) > limit else ""
    return "; ".join(problems[:limit]) + more
