"""Load the surrogates a run uses and store recommendations (JSON + Parquet) after a last safety check."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from optimizer.config import PlantConfig
from optimizer.errors import DataFileError
from optimizer.recommendation import Recommendation
from optimizer.surrogates import prior_surrogates


def load_surrogates(cfg: PlantConfig, which: str, tracking_uri: str | None = None):
    """'prior' -> the config's fixed-yield calculation; 'champion' -> the champion models in MLflow."""
    if which == "prior":
        return prior_surrogates(cfg)
    if which == "champion":
        from connectors.model_registry import load_champions

        return load_champions(cfg, tracking_uri)
    raise ValueError(f"--surrogates must be 'champion' or 'prior', got {which!r}")


def write_recommendation(rec: Recommendation, cfg: PlantConfig, out_dir: str | Path) -> tuple[Path, Path]:
    """Check every setpoint against the hard limits once more, then write ``<id>.json`` and ``<id>.parquet``.

    Raises ValueError listing the violations (and writes nothing) if any setpoint is unsafe.
    """
    from optimizer.safety import check_recommendation

    problems = check_recommendation(rec, cfg)
    if problems:
        lines = "\n".join(f"  - heat {p.heat_id}: {p.field} = {p.value}: {p.reason}" for p in problems)
        raise ValueError(f"recommendation {rec.recommendation_id} refused by the safety check:\n{lines}")
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    js = rec.to_json(d / f"{rec.recommendation_id}.json")
    pq = d / f"{rec.recommendation_id}.parquet"
    rec.to_frame().to_parquet(pq, index=False)
    (d / "latest.json").write_text(js.read_text(encoding="utf-8"), encoding="utf-8")
    return js, pq


def read_shadow_prices(path: str | Path, now: datetime | None = None) -> tuple[dict[str, float], str]:
    """The night plan's shadow prices of scarce materials (currency per kg) and where they came from, for the
    heat-by-heat advisor. ``path``: a recommendation JSON written by the night, or a directory holding one: the
    setpoint server's state directory (``current.json``, the published recommendation) or the night's
    recommendations directory (``latest.json``). An expired recommendation's prices are refused (they priced
    another day's stock)."""
    p = Path(path)
    if p.is_dir():
        found = [p / n for n in ("current.json", "latest.json") if (p / n).is_file()]
        if not found:
            raise DataFileError(f"{p}: no current.json (setpoint server state) or latest.json (night's "
                                "recommendations) to read the shadow prices from")
        p = found[0]
    if not p.is_file():
        raise DataFileError(f"{p}: shadow-price file not found (give the night's recommendation JSON)")
    try:
        rec = Recommendation.from_json(p)
    except (ValueError, OSError) as exc:
        raise DataFileError(f"{p}: not a recommendation JSON ({str(exc).splitlines()[0]})") from exc
    if rec.is_expired(now):
        raise DataFileError(f"{p}: recommendation {rec.recommendation_id} expired at {rec.valid_until:%Y-%m-%d %H:%M} "
                            "UTC; its shadow prices priced another day's stock (run the night, or leave "
                            "--shadow-prices out)")
    return dict(rec.shadow_price_per_kg), f"night recommendation {rec.recommendation_id} ({p})"
