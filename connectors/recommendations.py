"""Load the surrogates a run uses and store recommendations (JSON + Parquet) after a last safety check."""

from __future__ import annotations

from pathlib import Path

from optimizer.config import PlantConfig
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
