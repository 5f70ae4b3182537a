"""Incremental ingest: only history files that are new or changed since the last night are read and validated.

State in the work directory: ``history.parquet`` (every good heat ingested so far) and ``ingested.json``
(file name -> SHA-256). A heat id that is already ingested is reported and not added twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from connectors.files import heat_files, load_heats
from optimizer.config import PlantConfig
from optimizer.errors import DataFileError
from optimizer.validation import REPORT_COLUMNS


@dataclass
class Ingested:
    """All good heats so far, this run's report, the files read this time and the manifest digest."""

    heats: pd.DataFrame
    report: pd.DataFrame
    new_files: list[str]
    digest: str


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ingest(history: Path, cfg: PlantConfig, workdir: Path) -> Ingested:
    """Read new or changed heat files from ``history`` into the work directory's consolidated table."""
    workdir.mkdir(parents=True, exist_ok=True)
    store, manifest_file = workdir / "history.parquet", workdir / "ingested.json"
    manifest: dict[str, str] = json.loads(manifest_file.read_text()) if manifest_file.exists() else {}
    files = heat_files(history)[0] if history.is_dir() else [history]
    new = [p for p in files if manifest.get(p.name) != _sha(p)]
    old = pd.read_parquet(store) if store.exists() else pd.DataFrame()
    goods, reports = [old] if not old.empty else [], []
    for p in new:
        try:
            loaded = load_heats(p, cfg)
        except DataFileError as exc:
            reports.append(pd.DataFrame([(str(p), 0, "", "<file>", str(exc))], columns=REPORT_COLUMNS))
            continue
        reports.append(loaded.report)
        fresh = loaded.heats
        if not old.empty:
            seen = fresh["heat_id"].isin(old["heat_id"])
            reports.append(pd.DataFrame({"source": str(p), "row": 0, "heat_id": fresh.loc[seen, "heat_id"],
                                         "field": "heat_id", "reason": "already ingested on an earlier night: kept "
                                         "the earlier row"}))
            fresh = fresh.loc[~seen]
        goods.append(fresh)
        manifest[p.name] = _sha(p)
    heats = pd.concat([g for g in goods if not g.empty], ignore_index=True) if goods else pd.DataFrame()
    if not heats.empty:
        heats = heats.drop_duplicates("heat_id", keep="first").sort_values("start_time", kind="stable")
        tmp = store.with_suffix(".tmp")
        heats.to_parquet(tmp, index=False)
        os.replace(tmp, store)
    manifest_file.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    report = pd.concat(reports, ignore_index=True) if reports else pd.DataFrame(columns=REPORT_COLUMNS)
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    return Ingested(heats.reset_index(drop=True), report, [p.name for p in new], digest)
