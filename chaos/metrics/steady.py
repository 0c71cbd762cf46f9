"""The steady-state hypothesis: every probe checked window by window in each of its phases.

    evaluate_hypothesis(probes, run, faults=..., baseline=..., slo=..., settings=...) -> HypothesisResult

Phases come from the fault windows (chaos.metrics.phases); inside a phase span a probe with
`window: 30s` is checked on back-to-back 30 s windows from the span's start (a 5-minute phase gives
10 checks; a trailing partial window shorter than half a window is dropped and noted), a probe
without a window once over the whole span (once per fault segment for `during`). Values come from
chaos.metrics.probes (TTFT by first-token time, TPOT/E2E/throughput/goodput by finish time of
completed requests, failures by the time the request left — as in summary.py and series.py).

Tolerances (bounds inclusive):
  max / min / range        lo <= value <= hi
  max_ratio_to_baseline r  value <= r * baseline_value   (baseline twin, same window)
  min_ratio_to_baseline r  value >= r * baseline_value
A value that is NaN — a latency over a window where nothing happened, slo_attainment with no
completion — is not evaluated: the check is "no data", does not fail the hypothesis and is counted
per phase. A relative check whose baseline value is NaN is "no data" too. Rates and counts are 0
over an empty window, never NaN, so a total outage fails a `min` throughput probe.
A phase that does not exist (no faults: no during/after) is "skipped" with the reason.
Verdict: "deviated" if any check failed, else "held".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from chaos.errors import InputError
from chaos.metrics.config import PHASES, HypothesisConfig, ProbeConfig
from chaos.metrics.phases import FaultWindow, phases, unique_names, windows
from chaos.metrics.probes import PROBES, RunData, nan_to_none, probe_values
from chaos.metrics.summary import Slo
from chaos.units import format_duration

FAILING_PER_PROBE = 3


def format_time(seconds: float) -> str:
    """A point on the run's clock: "0s", "45.00s", "3m00s"."""
    return "0s" if seconds == 0 else format_duration(seconds)


def format_value(probe: str, value: float | None) -> str:
    """A probe value in its unit: "1.25s", "5321 tok/s", "97.5%", "3 requests"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    spec = PROBES[probe]
    if spec.kind == "latency":
        return format_duration(value)
    if spec.kind == "fraction":
        return f"{100 * value:.4g}%"
    if spec.kind == "count":
        return f"{value:.0f} {spec.unit}"
    return f"{value:.4g} {spec.unit}".strip()


def tolerance_text(cfg: ProbeConfig, baseline_value: float | None = None) -> str:
    """The tolerance in words, the limit first: "<= 2.00s", "in [100 tok/s, 5000 tok/s]",
    ">= 688 tok/s (0.7 x baseline 982.8 tok/s)"; a relative one without a baseline value is the rule
    alone (">= 0.7 x baseline")."""
    p = cfg.probe
    if cfg.relative:
        lo, hi = cfg.min_ratio_to_baseline, cfg.max_ratio_to_baseline
        if baseline_value is None:
            if lo is not None and hi is not None:
                return f"in [{lo:g}, {hi:g}] x baseline"
            return f">= {lo:g} x baseline" if lo is not None else f"<= {hi:g} x baseline"
        base = f"baseline {format_value(p, baseline_value)}"
        if lo is not None and hi is not None:
            return (f"in [{format_value(p, lo * baseline_value)}, {format_value(p, hi * baseline_value)}] "
                    f"([{lo:g}, {hi:g}] x {base})")
        if lo is not None:
            return f">= {format_value(p, lo * baseline_value)} ({lo:g} x {base})"
        return f"<= {format_value(p, hi * baseline_value)} ({hi:g} x {base})"
    lo, hi = cfg.lower, cfg.upper
    if lo is not None and hi is not None:
        return f"in [{format_value(p, lo)}, {format_value(p, hi)}]"
    if hi is not None:
        return f"<= {format_value(p, hi)}"
    return f">= {format_value(p, lo)}"


def _bounds(cfg: ProbeConfig, baseline: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bound per window (-inf/inf when absent; NaN when the baseline has no data)."""
    if cfg.relative:
        base = baseline if baseline is not None else np.full(n, np.nan)
        lo = base * cfg.min_ratio_to_baseline if cfg.min_ratio_to_baseline is not None else np.full(n, -np.inf)
        hi = base * cfg.max_ratio_to_baseline if cfg.max_ratio_to_baseline is not None else np.full(n, np.inf)
        lo = np.where(np.isnan(base), np.nan, lo)
        hi = np.where(np.isnan(base), np.nan, hi)
        return lo, hi
    lo = np.full(n, -np.inf if cfg.lower is None else cfg.lower)
    hi = np.full(n, np.inf if cfg.upper is None else cfg.upper)
    return lo, hi


@dataclass(frozen=True, slots=True)
class ProbeCheck:
    """One probe checked on one window. `ok` is False only for a measured value outside the
    tolerance; a window without data is ok with no_data=True. `index` is the probe's position in
    steady_state."""
    probe: str
    phase: str
    t0: float
    t1: float
    value: float
    baseline_value: Optional[float]
    tolerance_text: str
    ok: bool
    faults_active: list[str]
    no_data: bool = False
    index: int = 0
    rule: str = ""
    """The tolerance as written (">= 0.7 x baseline"), the same for every window of the probe."""
    tenant: Optional[str] = None

    def describe(self) -> str:
        """"steady_state[0] ttft_p99 = 4.10s in during window [3m00s, 3m30s) while faults[0] gpu_crash:
        tolerance <= 2.00s"."""
        where = f"{self.phase} window [{format_time(self.t0)}, {format_time(self.t1)})"
        during = f" while {', '.join(self.faults_active)}" if self.faults_active else ""
        value = "no data" if self.no_data else format_value(self.probe, self.value)
        who = f"[{self.tenant}]" if self.tenant else ""
        return (f"steady_state[{self.index}] {self.probe}{who} = {value} in {where}{during}: "
                f"tolerance {self.tolerance_text}")

    def to_dict(self) -> dict:
        extra = {"tenant": self.tenant} if self.tenant else {}
        return nan_to_none({**extra, "index": self.index, "probe": self.probe, "phase": self.phase, "t0_s": self.t0,
                            "t1_s": self.t1, "value": self.value, "baseline_value": self.baseline_value,
                            "tolerance": self.tolerance_text, "rule": self.rule, "ok": self.ok, "no_data": self.no_data,
                            "faults_active": list(self.faults_active)})


@dataclass(frozen=True, slots=True)
class HypothesisResult:
    """Verdict, every check in (probe, phase, time) order, the first few failing checks per probe,
    and per phase: status (evaluated | skipped), spans, check/failed/no-data counts and notes."""
    verdict: str
    checks: list[ProbeCheck]
    failing: list[ProbeCheck]
    per_phase: dict[str, dict]

    @property
    def held(self) -> bool:
        return self.verdict == "held"

    def describe(self) -> list[str]:
        """One line per failing check shown (see `failing`)."""
        return [c.describe() for c in self.failing]

    def per_probe(self) -> list[dict]:
        """Per steady_state entry (in order): probe, checks, failed, no_data."""
        out: dict[int, dict] = {}
        for c in self.checks:
            row = out.setdefault(c.index, {"index": c.index, "probe": c.probe, "tolerance": c.rule, "checks": 0,
                                           "failed": 0, "no_data": 0})
            row["checks"] += 1
            row["failed"] += int(not c.ok)
            row["no_data"] += int(c.no_data)
        return [out[k] for k in sorted(out)]

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "deviated": not self.held,
                "failing": [c.to_dict() for c in self.failing], "per_probe": self.per_probe(),
                "per_phase": nan_to_none(self.per_phase),
                "checks": [c.to_dict() for c in self.checks]}


def _tenant_view(cfg: ProbeConfig, i: int, run: RunData, baseline: RunData | None, slo: Slo | None):
    """(run, baseline, slo) a probe judges: one tenant's requests and SLO when it names a tenant."""
    if cfg.tenant is None:
        return run, baseline, slo
    from chaos.metrics.tenants import find_tenant, tenant_run
    try:
        info = find_tenant(run.tenants, cfg.tenant)
    except ValueError as exc:
        raise InputError(str(exc), field=f"steady_state[{i}].tenant") from None
    return (tenant_run(run, info), tenant_run(baseline, info) if baseline is not None else None,
            info.slo if info.slo is not None else slo)


def evaluate_hypothesis(probes: Sequence[ProbeConfig], run: RunData, *, faults: Sequence[FaultWindow] = (),
                        baseline: RunData | None = None, slo: Slo | None = None,
                        settings: HypothesisConfig | None = None) -> HypothesisResult:
    """Check every probe in each of its phases, window by window (see the module docstring).

    `run` is the faulted run; `baseline` its fault-free twin (needed by *_ratio_to_baseline
    tolerances); `faults` the fault occurrences (FaultWindow.from_dict on the journal's records);
    `slo` the per-request targets (needed by goodput_rps and slo_attainment). Raises InputError
    naming steady_state[i] when a probe needs a baseline or an SLO that is missing."""
    settings = settings or HypothesisConfig()
    horizon = float(run.horizon_s)
    views = [_tenant_view(cfg, i, run, baseline, slo) for i, cfg in enumerate(probes)]
    for i, cfg in enumerate(probes):
        if cfg.relative and baseline is None:
            raise InputError(f"{cfg.probe} with a *_ratio_to_baseline tolerance needs the baseline twin; "
                             f"run with --baseline", field=f"steady_state[{i}]")
        if PROBES[cfg.probe].needs_slo and views[i][2] is None:
            raise InputError(f"{cfg.probe} needs per-request targets: add slo: {{ttft_p99: ..., tpot_p99: ...}}",
                             field=f"steady_state[{i}].probe")
    faults = unique_names(faults)
    phase_map = phases(faults, horizon, settle_s=settings.settle, warmup_s=settings.warmup)
    active = [(f.name, *f.span(horizon, settings.settle)) for f in faults]
    per_phase: dict[str, dict] = {}
    for name in PHASES:
        ph = phase_map[name]
        per_phase[name] = {"status": "evaluated" if ph.exists else "skipped", "reason": ph.reason,
                           "spans_s": [[s.t0, s.t1] for s in ph.segments],
                           "faults": sorted({f for s in ph.segments for f in s.faults}),
                           "checks": 0, "failed": 0, "no_data": 0, "notes": []}
    checks: list[ProbeCheck] = []
    for i, cfg in enumerate(probes):
        for name in PHASES:
            ph = phase_map[name]
            if name not in cfg.phases or not ph.exists:
                continue
            win = windows(ph, cfg.window, active)
            summary = per_phase[name]
            for note in win.notes:
                summary["notes"].append(f"steady_state[{i}] {cfg.probe}: {note}")
            if len(win.t0) == 0:
                continue
            run_i, base_i, slo_i = views[i]
            values = probe_values(cfg.probe, run_i, win.t0, win.t1, slo=slo_i)
            base = probe_values(cfg.probe, base_i, win.t0, win.t1, slo=slo_i) if base_i is not None else None
            lo, hi = _bounds(cfg, base if cfg.relative else None, len(values))
            no_data = np.isnan(values) | np.isnan(lo) | np.isnan(hi)
            with np.errstate(invalid="ignore"):
                ok = no_data | ((values >= lo) & (values <= hi))
            for k in range(len(values)):
                b = None if base is None or math.isnan(base[k]) else float(base[k])
                checks.append(ProbeCheck(
                    probe=cfg.probe, phase=name, t0=float(win.t0[k]), t1=float(win.t1[k]), value=float(values[k]),
                    baseline_value=b, tolerance_text=tolerance_text(cfg, b if cfg.relative else None),
                    ok=bool(ok[k]), faults_active=list(win.faults[k]), no_data=bool(no_data[k]), index=i,
                    rule=tolerance_text(cfg), tenant=cfg.tenant))
            summary["checks"] += len(values)
            summary["failed"] += int((~ok).sum())
            summary["no_data"] += int(no_data.sum())
    failing: list[ProbeCheck] = []
    shown: dict[int, int] = {}
    for c in checks:
        if not c.ok and shown.get(c.index, 0) < FAILING_PER_PROBE:
            failing.append(c)
            shown[c.index] = shown.get(c.index, 0) + 1
    verdict = "held" if all(c.ok for c in checks) else "deviated"
    return HypothesisResult(verdict, checks, failing, per_phase)
