"""traffic_spike: extra arrivals on top of the workload's own, so the base arrivals stay identical to the
fault-free twin. Inside the window the extra rate is (factor - 1) x the workload's own rate, ramped
linearly from 0 over `ramp_up` and back to 0 over `ramp_down`; the base rate is read from
`FleetControl.workload_rate` in bins of SPIKE_BIN_S, so the spike follows a trace's own ups and downs.

Arrivals are a non-homogeneous Poisson process drawn by thinning (Lewis & Shedler): candidates at the
peak rate, each kept with probability rate(t) / peak. Lengths are resampled with replacement from
the workload's own (FleetControl.workload_lengths), prompt lengths x `prompt_factor` (rounded, >= 1).
Spike requests carry no prefix hashes; with tenants each keeps the tenant of the request it copies. Every draw comes from the stream "spike:<i>:<occurrence>".
"""
from __future__ import annotations

import math
from typing import Any, Callable, ClassVar, Literal

import numpy as np
from pydantic import field_validator, model_validator

from chaos.faults.base import FAULTS, PlanContext, PlannedFault, TimedFault
from chaos.faults.errors import FaultError
from chaos.faults.target import FleetControl, FleetView
from chaos.rng import stream
from chaos.units import format_duration, parse_duration

SPIKE_BIN_S = 10.0
"""Seconds per bin in which the workload's own rate is measured (the whole window when shorter)."""


def ramp(t: np.ndarray, t0: float, t1: float, up_s: float, down_s: float) -> np.ndarray:
    """Linear ramp in [0, 1]: 0 at t0 rising over up_s, 1 in the middle, falling to 0 at t1 over down_s."""
    r = np.ones_like(t, dtype=float)
    if up_s > 0:
        r = np.minimum(r, (t - t0) / up_s)
    if down_s > 0:
        r = np.minimum(r, (t1 - t) / down_s)
    return np.clip(r, 0.0, 1.0)


def spike_arrivals(rate: Callable[[float, float], float], t0: float, t1: float, factor: float, up_s: float,
                   down_s: float, rng: np.random.Generator, bin_s: float = SPIKE_BIN_S) -> np.ndarray:
    """Sorted extra arrival times in [t0, t1): rate (factor - 1) x rate(bin) x ramp(t), by thinning."""
    if factor <= 1 or t1 <= t0:
        return np.empty(0)
    edges = np.append(np.arange(t0, t1, bin_s), t1)
    if len(edges) > 2 and edges[-1] - edges[-2] < 1e-9:
        edges = edges[:-1]
        edges[-1] = t1
    base = np.array([max(0.0, float(rate(a, b))) for a, b in zip(edges[:-1], edges[1:])])
    extra = (factor - 1.0) * base
    peak = float(extra.max(initial=0.0))
    if peak <= 0:
        return np.empty(0)
    n = int(rng.poisson(peak * (t1 - t0)))
    cand = np.sort(rng.uniform(t0, t1, size=n))
    bins = np.clip(np.searchsorted(edges, cand, side="right") - 1, 0, len(extra) - 1)
    keep = rng.uniform(0.0, 1.0, size=n) * peak < extra[bins] * ramp(cand, t0, t1, up_s, down_s)
    return cand[keep]


class FleetWindowFault(TimedFault):
    """A fault on the fleet's traffic, not on a component: no target, no mtbf; active over [at, at +
    duration) or, without duration, to the end of the run (traffic_spike, tenant_spike, cost_shift)."""

    takes_target: ClassVar[bool] = False
    allows_mtbf: ClassVar[bool] = False
    selector_unit: ClassVar[None] = None
    target_kind: ClassVar[str] = "fleet"

    def plan(self, ctx: PlanContext) -> list[PlannedFault]:
        if self.duration is None and ctx.horizon_s is None:
            raise FaultError(f"a {self.type} without duration lasts until the end of the run, but the run has "
                             f"no duration; set duration:", field=f"{ctx.field}.duration")
        out = []
        for k, start in enumerate(self.starts(ctx)):
            end = ctx.end_s if self.duration is None else start + self.duration
            self._check_window(ctx, start, end)
            out.append(self.planned(ctx, k, (), start, end, self.duration is None))
        return out

    def _check_window(self, ctx: PlanContext, start: float, end: float) -> None:
        """Refuse a planned window this fault cannot fill (FaultError naming the field)."""

    def effect(self, view: FleetView, targets: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return (), ()


@FAULTS.register("traffic_spike")
class TrafficSpike(FleetWindowFault):
    """`{type: traffic_spike, at: 15m, duration: 2m, factor: 3, ramp_up: 20s, ramp_down: 20s, prompt_factor: 1.5}`."""

    type: Literal["traffic_spike"] = "traffic_spike"
    factor: float
    """Total arrival rate during the spike / the workload's own rate, factor >= 1 (3 = triple)."""
    ramp_up: float = 0.0
    """Seconds for the extra rate to rise linearly from 0 to full."""
    ramp_down: float = 0.0
    """Seconds for it to fall back to 0 before the end."""
    prompt_factor: float = 1.0
    """Multiplier of the spike requests' prompt lengths (2 = twice as long), > 0."""

    _stream: ClassVar[str] = "spike"

    @field_validator("factor", mode="before")
    @classmethod
    def _factor(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v >= 1 and math.isfinite(v)):
            raise ValueError(f"expected a rate multiplier factor >= 1 (3 = three times the arrivals) but got {v!r}")
        return float(v)

    @field_validator("prompt_factor", mode="before")
    @classmethod
    def _prompt_factor(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v > 0 and math.isfinite(v)):
            raise ValueError(f"expected a positive prompt length multiplier like 1.5 but got {v!r}")
        return float(v)

    @field_validator("ramp_up", "ramp_down", mode="before")
    @classmethod
    def _ramp(cls, v: Any) -> Any:
        return parse_duration(v)

    @model_validator(mode="after")
    def _ramps_fit(self) -> "TrafficSpike":
        if self.duration is not None and self.ramp_up + self.ramp_down > self.duration:
            raise ValueError(f"ramp_up: ramp_up + ramp_down ({format_duration(self.ramp_up + self.ramp_down)}) "
                             f"exceeds duration ({format_duration(self.duration)})")
        return self

    def params(self) -> dict:
        return {"factor": self.factor, "ramp_up_s": self.ramp_up, "ramp_down_s": self.ramp_down,
                "prompt_factor": self.prompt_factor}

    def _check_window(self, ctx: PlanContext, start: float, end: float) -> None:
        if self.ramp_up + self.ramp_down > end - start:
            raise FaultError(f"ramp_up + ramp_down ({format_duration(self.ramp_up + self.ramp_down)}) exceed "
                             f"the spike's {format_duration(end - start)} before the end of the run",
                             field=f"{ctx.field}.ramp_up")

    def apply(self, fleet: FleetControl, pf: PlannedFault) -> None:
        self._add_spike(fleet, pf, None)

    def _add_spike(self, fleet: FleetControl, pf: PlannedFault, tenant: int | None) -> None:
        """Draw the spike's arrivals over the base rate (of one tenant, or of the whole workload) and add
        them with lengths resampled from the same requests."""
        rng = stream(pf.seed, f"{self._stream}:{pf.index}:{pf.occurrence}")
        rate = fleet.workload_rate if tenant is None else (lambda a, b: fleet.workload_rate(a, b, tenant=tenant))
        times = spike_arrivals(rate, pf.start_s, pf.end_s, self.factor, self.ramp_up, self.ramp_down, rng)
        inputs, outputs = fleet.workload_lengths() if tenant is None else fleet.workload_lengths(tenant=tenant)
        if len(times) == 0 or len(inputs) == 0:
            return
        pick = rng.integers(0, len(inputs), size=len(times))
        prompt = np.maximum(1, np.rint(np.asarray(inputs, dtype=float)[pick] * self.prompt_factor)).astype(np.int64)
        output = np.asarray(outputs, dtype=np.int64)[pick]
        if tenant is not None:
            fleet.add_arrivals(times, prompt, output, None, pf.cause, tenant=np.full(len(times), tenant, dtype=np.int64))
            return
        tenants = fleet.workload_tenants()
        if tenants is None:
            fleet.add_arrivals(times, prompt, output, None, pf.cause)
        else:                        # a resampled request belongs to the tenant of the one it copies
            fleet.add_arrivals(times, prompt, output, None, pf.cause, tenant=np.asarray(tenants)[pick])
