"""straggler: one GPU runs slower by a factor (thermal throttling, a degraded HBM stack, a bad PCIe
retimer), and since every rank of a TP group waits for the slowest at each all-reduce, its whole
replica does. A replica (explicit or selected) gets one slow GPU, drawn from the "faults" stream;
a host gets all its GPUs slowed (a failed fan tray).
"""
from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import field_validator

from chaos.faults.base import FAULTS, PlanContext, PlannedFault, TimedFault
from chaos.faults.target import FleetControl, FleetView


@FAULTS.register("straggler")
class Straggler(TimedFault):
    """`{type: straggler, at: 5m, duration: 10m, factor: 1.5, target: {gpu: rack0/host1/gpu3}}`."""

    type: Literal["straggler"] = "straggler"
    factor: float
    """Slowdown of the GPU's compute and memory time, factor >= 1 (1.5 = 50% slower)."""

    explicit_keys: ClassVar[tuple[str, ...]] = ("gpu", "host", "replica")
    target_kind: ClassVar[str] = "gpu"

    @field_validator("factor", mode="before")
    @classmethod
    def _factor(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v >= 1 and math.isfinite(v)):
            raise ValueError(f"expected a slowdown factor >= 1 (1.5 = 50% slower) but got {v!r}")
        return float(v)

    def params(self) -> dict:
        return {"factor": self.factor}

    def expand(self, ctx: PlanContext, key: str, ids: list[str]) -> list[str]:
        if key == "host":
            return [g for h in ids for g in ctx.view.fabric.gpus_of(h)]
        if key == "replica":
            return [ctx.view.by_id[r].gpus[int(ctx.rng.integers(len(ctx.view.by_id[r].gpus)))] for r in ids]
        return ids

    def effect(self, view: FleetView, targets: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        slow = set(targets)
        return (), tuple(sorted(p.replica_id for p in view.placements if slow.intersection(p.gpus)))

    def apply(self, fleet: FleetControl, pf: PlannedFault) -> None:
        for gpu in pf.targets:
            fleet.slow_gpu(gpu, self.factor, pf.cause)

    def revert(self, fleet: FleetControl, pf: PlannedFault) -> None:
        for gpu in reversed(pf.targets):
            fleet.restore_gpu_speed(gpu, pf.cause)
