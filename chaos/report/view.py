"""Read a journal.json into typed records for the report (the loader: no raw dict travels further).

Sections other sessions add (`baseline`, `hypothesis`, `resilience`, `verdict`) are optional and read
by key: a missing or partial section becomes None or an empty field, and the report says
"not evaluated" instead of failing.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chaos.errors import InputError

REQUESTS_CSV = "requests.csv"
BASELINE_REQUESTS_CSV = "baseline_requests.csv"

TIME_SERIES_COLUMNS = ("arrivals", "completions", "throughput_tok_s", "ttft_p50_s", "ttft_p99_s",
                       "tpot_p99_s", "goodput_rps", "failed", "rejected")


class JournalError(InputError):
    """A journal file that cannot be read: missing, not JSON, or not a fleetchaos journal."""


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _arr(values: Any) -> np.ndarray:
    """A float array; None (NaN in the journal) stays NaN."""
    if not isinstance(values, list):
        return np.zeros(0)
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


@dataclass
class Windows:
    """Per-window request metrics (the journal's `time_series`): start times and named columns."""

    t_s: np.ndarray
    window_s: float | None
    cols: dict[str, np.ndarray]

    @classmethod
    def read(cls, raw: Any) -> "Windows | None":
        raw = _dict(raw)
        if not raw.get("t_s"):
            return None
        t = _arr(raw["t_s"])
        cols = {k: _arr(raw.get(k)) for k in TIME_SERIES_COLUMNS if len(_list(raw.get(k))) == len(t)}
        return cls(t_s=t, window_s=_num(raw.get("window_s")), cols=cols)

    def col(self, name: str) -> np.ndarray | None:
        return self.cols.get(name)


@dataclass
class FleetWindows:
    """Per-window fleet state (the journal's `fleet_series`)."""

    t_s: np.ndarray
    replicas_up: dict[str, np.ndarray]
    queue_depth: np.ndarray | None
    running: np.ndarray | None
    kv_use_frac: np.ndarray | None
    replica_load: dict[str, np.ndarray]

    @classmethod
    def read(cls, raw: Any) -> "FleetWindows | None":
        raw = _dict(raw)
        if not raw.get("t_s"):
            return None
        t = _arr(raw["t_s"])

        def same(v):
            a = _arr(v)
            return a if len(a) == len(t) else None
        up = {k: a for k, v in _dict(raw.get("replicas_up")).items() if (a := same(v)) is not None}
        load = {k: a for k, v in _dict(raw.get("replica_load")).items() if (a := same(v)) is not None}
        return cls(t_s=t, replicas_up=up, queue_depth=same(raw.get("queue_depth")),
                   running=same(raw.get("running")), kv_use_frac=same(raw.get("kv_use_frac")),
                   replica_load=load)


@dataclass(frozen=True)
class Replica:
    id: str
    role: str
    tp: int
    gpus: tuple[str, ...]
    cross_host: bool


@dataclass(frozen=True)
class Fault:
    """One played fault occurrence."""

    type: str
    cause: str
    start_s: float
    end_s: float | None
    permanent: bool
    target_kind: str
    targets: tuple[str, ...]
    replicas_lost: tuple[str, ...]
    replicas_degraded: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class Action:
    """One controller action."""

    t_s: float
    action: str
    replicas: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class Check:
    """One steady-state probe evaluation (hypothesis.checks[])."""

    probe: str
    phase: str
    t0: float | None
    t1: float | None
    value: float | None
    baseline_value: float | None
    tolerance: str
    ok: bool | None
    faults_active: tuple[str, ...]
    index: int | None = None
    rule: str = ""


@dataclass
class Hypothesis:
    verdict: str | None
    checks: list[Check]
    per_phase: dict[str, Any]


@dataclass
class FaultScore:
    """Resilience numbers of one fault (resilience.per_fault[])."""

    fault: str
    time_to_detect_s: float | None
    time_to_recover_s: float | None
    max_throughput_drop: float | None
    lost_output_tokens: float | None
    extra: dict[str, Any]


@dataclass(frozen=True)
class Cliff:
    """A performance cliff: `drop` is the fraction of throughput lost, or for kind "ttft" the factor
    TTFT p99 rose by."""

    t_s: float | None
    drop: float | None
    cause: str
    kind: str = "throughput"


@dataclass(frozen=True)
class ScorePart:
    """One component of the score as the journal states it: label, what it measures, the amount in
    words with its unit, the points it cost of its weight, and its curve."""

    label: str
    what: str
    amount: str
    penalty: float
    weight: float
    curve: str


@dataclass
class Resilience:
    score: float | None
    breakdown: dict[str, Any]
    per_fault: list[FaultScore]
    cliffs: list[Cliff]
    parts: list[ScorePart] = field(default_factory=list)


@dataclass
class Twin:
    """The fault-free baseline run of the same scenario and seed."""

    summary: dict[str, Any]
    series: Windows | None
    fleet: FleetWindows | None


@dataclass
class RunView:
    """One journal, read for reporting."""

    path: Path
    name: str
    seed: Any
    scenario_hash: str
    journal_version: Any
    fleetchaos_version: str
    resolved: dict[str, Any]
    model: str
    gpu: str
    replicas: list[Replica]
    horizon_s: float
    summary: dict[str, Any]
    series: Windows | None
    fleet: FleetWindows | None
    faults: list[Fault]
    detections: list[dict[str, Any]]
    actions: list[Action]
    router: dict[str, Any]
    request_path: dict[str, Any]
    baseline: Twin | None
    hypothesis: Hypothesis | None
    resilience: Resilience | None
    verdict: str | None
    verdict_reason: str
    requests_csv: Path | None = None
    baseline_csv: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    tenant_series: dict[str, Any] = field(default_factory=dict)      # tenant -> Windows (time_series.tenants)
    tenant_resilience: dict[str, Any] = field(default_factory=dict)  # tenant -> resilience dict (no curves)
    tenancy: dict[str, Any] = field(default_factory=dict)            # tenant -> {rejection reason: count}

    @property
    def slo(self) -> dict[str, float]:
        """SLO targets in seconds ({"ttft": 5.0, "tpot": 0.1}), only those set."""
        return {k: v for k, v in ((k, _num(v)) for k, v in _dict(self.resolved.get("slo")).items())
                if v is not None}

    @property
    def label(self) -> str:
        return self.name


def _faults(raw: Any, horizon_s: float) -> list[Fault]:
    out = []
    for f in _list(raw):
        f = _dict(f)
        start = _num(f.get("start_s"))
        if start is None:
            continue
        out.append(Fault(
            type=str(f.get("type", "fault")), cause=str(f.get("cause") or f.get("type") or ""),
            start_s=start, end_s=_num(f.get("end_s")), permanent=bool(f.get("permanent", False)),
            target_kind=str(f.get("target_kind") or ""), targets=tuple(map(str, _list(f.get("targets")))),
            replicas_lost=tuple(map(str, _list(f.get("replicas_lost")))),
            replicas_degraded=tuple(map(str, _list(f.get("replicas_degraded")))),
            detail=str(f.get("detail") or "")))
    return out


def _hypothesis(raw: Any) -> Hypothesis | None:
    if not isinstance(raw, dict):
        return None
    checks = []
    for c in _list(raw.get("checks")):
        c = _dict(c)
        ok = c.get("ok")
        tol = c.get("tolerance")
        if isinstance(tol, dict):
            tol = ", ".join(f"{k} {v}" for k, v in tol.items())
        checks.append(Check(
            probe=str(c.get("probe", "?")), phase=str(c.get("phase", "")),
            t0=_num(c.get("t0", c.get("t0_s"))), t1=_num(c.get("t1", c.get("t1_s"))), value=_num(c.get("value")),
            baseline_value=_num(c.get("baseline_value")), tolerance="" if tol is None else str(tol),
            ok=None if c.get("no_data") else (ok if isinstance(ok, bool) else None),
            faults_active=tuple(map(str, _list(c.get("faults_active")))),
            index=c.get("index") if isinstance(c.get("index"), int) else None, rule=str(c.get("rule") or "")))
    verdict = raw.get("verdict")
    return Hypothesis(verdict=str(verdict) if verdict is not None else None, checks=checks,
                      per_phase=_dict(raw.get("per_phase")))


_FAULT_SCORE_KEYS = ("fault", "name", "time_to_detect_s", "time_to_recover_s", "max_throughput_drop",
                     "lost_output_tokens")


def _resilience(raw: Any) -> Resilience | None:
    """Either the shape in the report issue ({score, breakdown, per_fault, cliffs}) or
    chaos.metrics.resilience's ResilienceReport.to_dict() ({score: {score, components, per_fault},
    faults, cliffs, run})."""
    if not isinstance(raw, dict):
        return None
    score_raw = raw.get("score")
    score_dict = _dict(score_raw)
    score = _num(score_dict.get("score")) if score_dict else _num(score_raw)
    breakdown = _dict(raw.get("breakdown"))
    if not breakdown and score_dict.get("components"):
        for c in map(_dict, _list(score_dict.get("components"))):
            pen, w = _num(c.get("penalty")), _num(c.get("weight"))
            if c.get("name") is None or pen is None:
                continue
            text = f"-{pen:.1f} of {w:g}" if w is not None else f"-{pen:.1f}"
            measure = _num(c.get("measure"))
            if measure is not None:
                text += f" (measure {measure:.3g})"
            breakdown[str(c["name"])] = text
    parts = [ScorePart(label=str(c.get("label") or c.get("name")), what=str(c.get("what") or ""),
                       amount=str(c["amount"]), penalty=_num(c.get("penalty")) or 0.0,
                       weight=_num(c.get("weight")) or 0.0, curve=str(c.get("curve") or ""))
             for c in map(_dict, _list(score_dict.get("components"))) if c.get("amount") is not None]
    shares = _dict(score_dict.get("per_fault"))
    per_fault = []
    for f in map(_dict, _list(raw.get("per_fault") or raw.get("faults"))):
        name = str(f.get("fault") or f.get("name") or "?")
        extra = {k: v for k, v in f.items() if k not in _FAULT_SCORE_KEYS}
        if name in shares and "score_penalty" not in extra:
            extra = {"score_penalty": _num(shares[name]), **extra}
        per_fault.append(FaultScore(
            fault=name, time_to_detect_s=_num(f.get("time_to_detect_s")),
            time_to_recover_s=_num(f.get("time_to_recover_s")),
            max_throughput_drop=_num(f.get("max_throughput_drop")),
            lost_output_tokens=_num(f.get("lost_output_tokens")), extra=extra))
    cliffs = []
    for c in map(_dict, _list(raw.get("cliffs"))):
        kind = str(c.get("kind") or "throughput")
        cliffs.append(Cliff(t_s=_num(c.get("t_s")), drop=_num(c.get("drop", c.get("change"))),
                            cause=str(c.get("cause") or ", ".join(map(str, _list(c.get("caused_by"))))),
                            kind=kind))
    return Resilience(score=score, breakdown=breakdown, per_fault=per_fault, cliffs=cliffs, parts=parts)


def _verdict(raw: dict, hyp: Hypothesis | None) -> tuple[str | None, str]:
    v = raw.get("verdict")
    if isinstance(v, dict):
        text = v.get("verdict") or v.get("status") or v.get("result")
        reason = v.get("reason") or v.get("detail") or ""
        return (str(text) if text is not None else None), str(reason)
    if isinstance(v, str) and v.lower() == "none":
        return None, "no steady_state probes in the scenario: nothing to hold or deviate"
    if isinstance(v, (str, bool)) and v != "":
        return (("held" if v else "deviated") if isinstance(v, bool) else v), ""
    if hyp is not None and hyp.verdict:
        return hyp.verdict, ""
    return None, ""


def read_journal(path: str | Path) -> RunView:
    """Read `path` (a journal.json, or the run folder holding one) into a RunView."""
    p = Path(path)
    if p.is_dir():
        p = p / "journal.json"
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JournalError(f"no journal at {str(p)!r}: pass a journal.json written by `fleetchaos run`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise JournalError(f"{str(p)!r} is not a readable JSON journal: {err}") from None
    if not isinstance(raw, dict) or "scenario" not in raw:
        raise JournalError(f"{str(p)!r} is not a fleetchaos journal (no 'scenario' section)")
    sc = _dict(raw.get("scenario"))
    fleet = _dict(raw.get("fleet"))
    series = Windows.read(raw.get("time_series"))
    horizon = _num(raw.get("horizon_s")) or _num(_dict(sc.get("resolved")).get("duration"))
    if horizon is None:
        horizon = float(series.t_s[-1] + (series.window_s or 0)) if series is not None else 0.0
    hyp = _hypothesis(raw.get("hypothesis"))
    verdict, reason = _verdict(raw, hyp)
    base_raw = raw.get("baseline")
    baseline = None
    if isinstance(base_raw, dict):
        baseline = Twin(summary=_dict(base_raw.get("summary")), series=Windows.read(base_raw.get("time_series")),
                        fleet=FleetWindows.read(base_raw.get("fleet_series")))
    req = p.parent / REQUESTS_CSV
    base_req = p.parent / BASELINE_REQUESTS_CSV
    return RunView(
        path=p, name=str(sc.get("name") or p.parent.name), seed=sc.get("seed"),
        scenario_hash=str(sc.get("hash") or ""), journal_version=raw.get("journal_version"),
        fleetchaos_version=str(raw.get("fleetchaos_version") or "?"),
        resolved=_dict(sc.get("resolved")), model=str(fleet.get("model") or ""), gpu=str(fleet.get("gpu") or ""),
        replicas=[Replica(id=str(r.get("id")), role=str(r.get("role", "")), tp=int(r.get("tp") or 0),
                          gpus=tuple(map(str, _list(r.get("gpus")))), cross_host=bool(r.get("cross_host")))
                  for r in map(_dict, _list(fleet.get("replicas")))],
        horizon_s=float(horizon), summary=_dict(raw.get("summary")), series=series,
        fleet=FleetWindows.read(raw.get("fleet_series")), faults=_faults(raw.get("faults"), horizon),
        detections=[_dict(d) for d in _list(raw.get("detections"))],
        actions=[Action(t_s=t, action=str(a.get("action", "")), replicas=tuple(map(str, _list(a.get("replicas")))),
                        detail=str(a.get("detail") or ""))
                 for a in map(_dict, _list(raw.get("controller"))) if (t := _num(a.get("t_s"))) is not None],
        router=_dict(raw.get("router")), request_path=_dict(raw.get("request_path")),
        baseline=baseline, hypothesis=hyp, resilience=_resilience(raw.get("resilience")),
        verdict=verdict, verdict_reason=reason,
        requests_csv=req if req.is_file() else None, baseline_csv=base_req if base_req.is_file() else None,
        tenant_series={str(k): Windows.read(v) for k, v in _dict(_dict(raw.get("time_series")).get("tenants")).items()},
        tenant_resilience=_dict(_dict(raw.get("resilience")).get("tenants")), tenancy=_dict(raw.get("tenancy")))
