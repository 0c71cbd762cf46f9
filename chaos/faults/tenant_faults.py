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

from pydantic import field_validator, model_validator

from chaos.faults.base import FAULTS, PlannedFault
from chaos.faults.target import FleetControl
from chaos.faults.traffic_spike import FleetWindowFault, TrafficSpike


def _factor(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v > 0 and math.isfinite(v)):
        raise ValueError(f"expected {what} but got {v!r}")
    return float(v)


@FAULTS.register("tenant_spike")
class TenantSpike(TrafficSpike):
    """`{type: tenant_spike, tenant: batch, at: 10m, duration: 5m, factor: 5, ramp_up: 30s, prompt_factor: 8}`:
    a traffic_spike over one tenant's own rate and lengths (factor, ramps and prompt_factor as there)."""

    type: Literal["tenant_spike"] = "tenant_spike"
    tenant: str
    """The tenant (a name from tenants:)."""

    _stream: ClassVar[str] = "tenant-spike"

    def params(self) -> dict:
        return {"tenant": self.tenant, **super().params()}

    def apply(self, fleet: FleetControl, pf: PlannedFault) -> None:
        self._add_spike(fleet, pf, fleet.tenant_id(self.tenant))


@FAULTS.register("cost_shift")
class CostShift(FleetWindowFault):
    """`{type: cost_shift, tenant: batch, at: 10m, duration: 5m, prompt_factor: 8, output_factor: 2}`."""

    type: Literal["cost_shift"] = "cost_shift"
    tenant: str
    """The tenant (a name from tenants:)."""
    prompt_factor: float = 1.0
    """Multiplier of the tenant's prompt lengths while active, > 0."""
    output_factor: float = 1.0
    """Multiplier of the tenant's output lengths while active, > 0."""

    @field_validator("prompt_factor", "output_factor", mode="before")
    @classmethod
    def _p(cls, v: Any) -> Any:
        return _factor(v, "a positive length multiplier like 8 or 0.5")

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
