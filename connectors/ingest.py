"""Incremental ingest: only history files that are new or changed since the last night are read and validated.

State in the work directory: ``history.parquet`` (every good heat ingested so far) and ``ingested.json``, the
manifest: file name -> ``{"sha256", "status", "good_rows", "rejected_rows"}``. ``status`` is ``ingested`` (some
good heats kept) or ``rejected`` (the file could not be read, or none of its rows is valid): a rejected file is
reported once, on the night it appears, and is not read again until its content changes. A heat id that is
already ingested is reported and not added twice. (A manifest of the older form, name -> SHA-256, is read too.)
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
from optimizer.schema import KEY
from optimizer.validation import REPORT_COLUMNS, empty_report, file_error, rejected_rows

INGESTED, REJECTED = "ingested", "rejected"


@dataclass
class Ingested:
    """All good heats so far, this run's report, the files read this time, their notes and the manifest digest."""

    heats: pd.DataFrame
    report: pd.DataFrame
    new_files: list[str]
    digest: str
    rejected_files: list[str]
    notes: list[str]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(path: Path) -> dict[str, dict]:
    """The manifest (see module doc); an older ``name -> sha`` manifest is converted."""
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    return {k: v if isinstance(v, dict) else {"sha256": v, "status": INGESTED} for k, v in raw.items()}


def history_files(history: Path) -> list[Path]:
    """The heat files of a history file or directory (DataFileError when there are none)."""
    if not history.exists():
        raise DataFileError(f"{history}: history file or directory not found")
    return heat_files(history)[0] if history.is_dir() else [history]


def ingest(history: Path, cfg: PlantConfig, workdir: Path) -> Ingested:
    """Read new or changed heat files from ``history`` into the work directory's consolidated table."""
    workdir.mkdir(parents=True, exist_ok=True)
    store, manifest_file = workdir / "history.parquet", workdir / "ingested.json"
    manifest = read_manifest(manifest_file)
    files = history_files(history)
    shas = {p.name: _sha(p) for p in files}
    new = [p for p in files if manifest.get(p.name, {}).get("sha256") != shas[p.name]]
    old = pd.read_parquet(store) if store.exists() else pd.DataFrame()
    goods, reports, notes, rejected = [old] if not old.empty else [], [], [], []
    for p in new:
        fresh, report, file_notes, status = _read_new(p, cfg, old)
        reports.append(report)
        notes += file_notes
        goods.append(fresh)
        rejected += [p.name] if status == REJECTED else []
        manifest[p.name] = {"sha256": shas[p.name], "status": status, "good_rows": len(fresh),
                            "rejected_rows": rejected_rows(report)}
    frames = [g for g in goods if not g.empty]
    heats = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not heats.empty:
        heats = heats.drop_duplicates(KEY, keep="first").sort_values("start_time", kind="stable")
        tmp = store.with_suffix(".tmp")
        heats.to_parquet(tmp, index=False)
        os.replace(tmp, store)
    _write_json(manifest_file, manifest)
    report = pd.concat([r for r in reports if not r.empty] or [empty_report()], ignore_index=True)
    digest = hashlib.sha256(json.dumps({k: v["sha256"] for k, v in manifest.items()}, sort_keys=True).encode())
    return Ingested(heats.reset_index(drop=True), report, [p.name for p in new], digest.hexdigest(), rejected, notes)


def _read_new(path: Path, cfg: PlantConfig,
              old: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str], str]:
    """Good new heats of one file (possibly none), its report, reading notes and manifest status."""
    try:
        loaded = load_heats(path, cfg)
    except DataFileError as exc:
        why = "file rejected; it is read again when its content changes"
        return pd.DataFrame(), file_error(path, exc, why), [], REJECTED
    fresh, reports = loaded.heats, [loaded.report]
    if fresh.empty:  # every row bad: nothing to add, the report says why
        return fresh, loaded.report, loaded.notes, REJECTED
    if not old.empty:
        seen = fresh[KEY].isin(old[KEY])
        reports.append(pd.DataFrame({"source": str(path), "row": 0, "heat_id": fresh.loc[seen, KEY],
                                     "field": KEY, "reason": "already ingested on an earlier night: kept the "
                                     "earlier row"}, columns=REPORT_COLUMNS))
        fresh = fresh.loc[~seen]
    report = pd.concat([r for r in reports if not r.empty] or [empty_report()], ignore_index=True)
    return fresh, report, loaded.notes, INGESTED


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)
