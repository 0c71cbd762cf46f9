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

JOURNAL_VERSION = 2


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


def build_journal(result, experiment=None) -> dict:
    """The journal as a dict: scenario (as resolved), versions, summary, time series, fleet placement;
    with an experiment also the baseline twin, the hypothesis, the resilience analysis and the verdict."""
    scenario = result.scenario
    fleet = result.fleet
    journal = _plain({
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
            "latency": getattr(fleet, "latency_source", None),
            "replicas": [
                {"id": p.replica_id, "role": p.role, "tp": p.tp, "gpus": list(p.gpus),
                 "link_Bps": p.link_Bps, "cross_host": p.cross_host}
                for p in fleet.placements.values()
            ],
        },
        "horizon_s": result.horizon_s,
        **_supervision(result),
        "summary": _with_tenants(result.summary.to_dict(), getattr(result, "tenant_summaries", {})),
        "time_series": _with_tenants(result.series.to_dict(), getattr(result, "tenant_series", {})),
        "fleet_series": result.fleet_series.to_dict(),
    })
    if result.stats.get("tenancy"):
        journal["tenancy"] = _plain(result.stats["tenancy"])
    if experiment is not None:
        journal.update(_plain(_experiment(experiment)))
    return journal


def _experiment(experiment) -> dict:
    """Baseline twin, difference, hypothesis, resilience and verdict (journal_version 2)."""
    out: dict = {"verdict": experiment.verdict}
    twin = experiment.baseline
    if twin is not None:
        faulted, base = experiment.result.summary.to_dict(), twin.summary.to_dict()
        base = _with_tenants(base, getattr(twin, "tenant_summaries", {}))
        faulted = _with_tenants(faulted, getattr(experiment.result, "tenant_summaries", {}))
        out["baseline"] = {"summary": base,
                           "time_series": _with_tenants(twin.series.to_dict(), getattr(twin, "tenant_series", {})),
                           "fleet_series": twin.fleet_series.to_dict()}
        out["difference"] = _difference(faulted, base)
    if experiment.hypothesis is not None:
        out["hypothesis"] = experiment.hypothesis.to_dict()
    if experiment.resilience is not None:
        out["resilience"] = experiment.resilience.to_dict(curves=True)
        tenants = getattr(experiment, "tenant_resilience", None)
        if tenants:
            out["resilience"]["tenants"] = {name: rep.to_dict(curves=False) for name, rep in tenants.items()}
    return out


def _with_tenants(section: dict, per_tenant: dict) -> dict:
    """`section` (a summary or time series dict) with `tenants: {name: same shape}` when there are tenants."""
    if per_tenant:
        section = dict(section)
        section["tenants"] = {name: value.to_dict() for name, value in per_tenant.items()}
    return section


def _difference(faulted: dict, base: dict) -> dict:
    """Faulted minus baseline for every number of the summary (nested like it)."""
    out: dict = {}
    for key, value in faulted.items():
        other = base.get(key)
        if isinstance(value, dict) and isinstance(other, dict):
            out[key] = _difference(value, other)
        elif isinstance(value, (int, float)) and isinstance(other, (int, float)) and not isinstance(value, bool):
            out[key] = value - other
    return out


def _supervision(result) -> dict:
    """Faults as planned and played, what detection concluded, what the controller and router did."""
    sup = result.supervision
    if sup is None:
        return {}
    return {
        "faults": [
            {"type": pf.type, "index": pf.index, "occurrence": pf.occurrence, "cause": pf.cause,
             "start_s": pf.start_s, "end_s": pf.end_s, "permanent": pf.permanent,
             "target_kind": pf.target_kind, "targets": list(pf.targets),
             "replicas_lost": list(pf.replicas_lost), "replicas_degraded": list(pf.replicas_degraded),
             "detail": pf.detail}
            for pf in sup.planned
        ],
        "detections": [{"t_s": d.t_s, "replica": d.replica, "healthy": d.healthy, "reason": d.reason}
                       for d in sup.detections],
        "controller": [{"t_s": a.t_s, "action": a.action, "replicas": list(a.replicas), "detail": a.detail}
                       for a in result.fleet.actions],
        "router": result.stats.get("router", {}),
        "request_path": dict(sorted(result.stats.get("request_path", {}).items())),
    }


def write_journal(result, path: Path, experiment=None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(build_journal(result, experiment), indent=1, sort_keys=False) + "\n")
    return path
