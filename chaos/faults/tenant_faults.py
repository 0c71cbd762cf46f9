"""Noisy neighbours: one tenant's traffic grows (tenant_spike) or its requests get expensive (cost_shift).

tenant_spike: extra arrivals for one tenant on top of its own, as traffic_spike does for the whole
  workload: inside the window the extra rate is (factor - 1) x that tenant's own rate (measured in
  bins of SPIKE_BIN_S from its arrivals), ramped over ramp_up / ramp_down; lengths are resampled from
  the tenant's own requests, prompts x prompt_factor. Draws come from "tenant-spike:<i>:<occurrence>".
cost_shift: while active, the tenant's arriving requests have prompt_factor x their prompt and
  output_factor x their output tokens (rounded, >= 1), at the same arrival times as in the fault-free
  twin. Their prefix hash ids are kept, so only the original prefix can hit the cache.
Both name the tenant by its `tenants:` name.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import field_validator, model_validator

from chaos.faults.base import FAULTS, PlanContext, PlannedFault, TimedFault
from chaos.faults.errors import FaultError
from chaos.faults.target import FleetControl, FleetView
from chaos.faults.traffic_spike import spike_arrivals
from chaos.rng import stream
from chaos.units import format_duration, parse_duration


def _factor(v: Any, what: str, low: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v >= low and v > 0 and math.isfinite(v)):
        raise ValueError(f"expected {what} but got {v!r}")
    return float(v)


class _TenantFault(TimedFault):
    tenant: str
    """The tenant (a name from tenants:)."""

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
        pass

    def effect(self, view: FleetView, targets: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return (), ()


@FAULTS.register("tenant_spike")
class TenantSpike(_TenantFault):
    """`{type: tenant_spike, tenant: batch, at: 10m, duration: 5m, factor: 5, ramp_up: 30s, prompt_factor: 8}`."""

    type: Literal["tenant_spike"] = "tenant_spike"
    factor: float
    """The tenant's arrival rate during the spike / its own rate, >= 1."""
    ramp_up: float = 0.0
    ramp_down: float = 0.0
    prompt_factor: float = 1.0
    """Multiplier of the spike requests' prompt lengths, > 0."""

    @field_validator("factor", mode="before")
    @classmethod
    def _f(cls, v: Any) -> Any:
        return _factor(v, "a rate multiplier factor >= 1 (5 = five times the tenant's arrivals)", 1.0)

    @field_validator("prompt_factor", mode="before")
    @classmethod
    def _p(cls, v: Any) -> Any:
        return _factor(v, "a positive prompt length multiplier like 8", 0.0)

    @field_validator("ramp_up", "ramp_down", mode="before")
    @classmethod
    def _ramp(cls, v: Any) -> Any:
        return parse_duration(v)

    @model_validator(mode="after")
    def _ramps_fit(self) -> "TenantSpike":
        if self.duration is not None and self.ramp_up + self.ramp_down > self.duration:
            raise ValueError(f"ramp_up: ramp_up + ramp_down ({format_duration(self.ramp_up + self.ramp_down)}) "
                             f"exceeds duration ({format_duration(self.duration)})")
        return self

    def params(self) -> dict:
        return {"tenant": self.tenant, "factor": self.factor, "ramp_up_s": self.ramp_up,
                "ramp_down_s": self.ramp_down, "prompt_factor": self.prompt_factor}

    def _check_window(self, ctx: PlanContext, start: float, end: float) -> None:
        if self.ramp_up + self.ramp_down > end - start:
            raise FaultError(f"ramp_up + ramp_down ({format_duration(self.ramp_up + self.ramp_down)}) exceed the "
                             f"spike's {format_duration(end - start)} before the end of the run",
                             field=f"{ctx.field}.ramp_up")

    def apply(self, fleet: FleetControl, pf: PlannedFault) -> None:
        tenant = fleet.tenant_id(self.tenant)
        rng = stream(pf.seed, f"tenant-spike:{pf.index}:{pf.occurrence}")
        times = spike_arrivals(lambda a, b: fleet.workload_rate(a, b, tenant=tenant), pf.start_s, pf.end_s,
                               self.factor, self.ramp_up, self.ramp_down, rng)
        inputs, outputs = fleet.workload_lengths(tenant=tenant)
        if len(times) == 0 or len(inputs) == 0:
            return
        pick = rng.integers(0, len(inputs), size=len(times))
        prompt = np.maximum(1, np.rint(np.asarray(inputs, dtype=float)[pick] * self.prompt_factor)).astype(np.int64)
        output = np.asarray(outputs, dtype=np.int64)[pick]
        fleet.add_arrivals(times, prompt, output, None, pf.cause, tenant=np.full(len(times), tenant, dtype=np.int64))


@FAULTS.register("cost_shift")
class CostShift(_TenantFault):
    """`{type: cost_shift, tenant: batch, at: 10m, duration: 5m, prompt_factor: 8, output_factor: 2}`."""

    type: Literal["cost_shift"] = "cost_shift"
    prompt_factor: float = 1.0
    """Multiplier of the tenant's prompt lengths while active, > 0."""
    output_factor: float = 1.0
    """Multiplier of the tenant's output lengths while active, > 0."""

    @field_validator("prompt_factor", "output_factor", mode="before")
    @classmethod
    def _p(cls, v: Any) -> Any:
        return _factor(v, "a positive length multiplier like 8 or 0.5", 0.0)

    @model_validator(mode="after")
    def _does_something(self) -> "CostShift":
        if self.prompt_factor == 1.0 and self.output_factor == 1.0:
            raise ValueError("prompt_factor: a cost_shift needs prompt_factor or output_factor other than 1")
        return self

    def params(self) -> dict:
        return {"tenant": self.tenant, "prompt_factor": self.prompt_factor, "output_factor": self.output_factor}

    def apply(self, fleet: FleetControl, pf: PlannedFault) -> None:
        fleet.shift_cost(fleet.tenant_id(self.tenant), self.prompt_factor, self.output_factor, pf.cause)

    def revert(self, fleet: FleetControl, pf: PlannedFault) -> None:
        fleet.unshift_cost(fleet.tenant_id(self.tenant), pf.cause)
