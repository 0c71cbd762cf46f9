"""journal.json: the machine-readable record of one run (stable layout, `journal_version`).

Nothing in it depends on the wall clock or the machine, so the same scenario and seed give a
byte-identical journal.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

import chaos

JOURNAL_VERSION = 1


def _plain(value):
    """JSON-ready: numpy scalars and arrays to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def build_journal(result) -> dict:
    """The journal as a dict: scenario (as resolved), versions, summary, time series, fleet placement."""
    scenario = result.scenario
    fleet = result.fleet
    return _plain({
        "journal_version": JOURNAL_VERSION,
        "fleetchaos_version": chaos.__version__,
        "scenario": {
            "name": scenario.name,
            "seed": scenario.seed,
            "hash": scenario.scenario_hash(),
            "resolved": scenario.resolved_dict(),
        },
        "fleet": {
            "model": fleet.model.name,
            "gpu": fleet.gpu.name,
            "replicas": [
                {"id": p.replica_id, "role": p.role, "tp": p.tp, "gpus": list(p.gpus),
                 "link_Bps": p.link_Bps, "cross_host": p.cross_host}
                for p in fleet.placements.values()
            ],
        },
        "horizon_s": result.horizon_s,
        "summary": result.summary.to_dict(),
        "time_series": result.series.to_dict(),
        "fleet_series": result.fleet_series.to_dict(),
    })


def write_journal(result, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(build_journal(result), indent=1, sort_keys=False) + "\n")
    return path
