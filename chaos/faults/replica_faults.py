"""Faults that act on replicas, not on the graph: a scheduler stall, lost KV capacity, a network partition.

Targets are replica ids: explicit `replica:`, the active replicas on a `host:` or `rack:`, or a
selector. kv_capacity_loss also takes `gpu:` — with tensor parallelism every KV block is split over
all ranks, so retiring a fraction of one GPU's KV pages shrinks the whole replica's blocks by it.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import field_validator

from chaos.faults.base import FAULTS, PlanContext, PlannedFault, TimedFault
from chaos.faults.errors import FaultError
from chaos.faults.target import FleetControl, FleetView


class ReplicaFault(TimedFault):
    """Resolves host/rack ids to the active replicas placed there."""

    explicit_keys: ClassVar[tuple[str, ...]] = ("replica", "host", "rack")

    def expand(self, ctx: PlanContext, key: str, ids: list[str]) -> list[str]:
        if key in ("host", "rack", "gpu"):
            out = [r for element in ids for r in ctx.view.replicas_on(element)]
            if not out and (self.target is None or self.target.on_empty == "error"):
                raise FaultError(f"no active replica runs on {', '.join(ids)}; pick another {key} or set "
                                 f"on_empty: skip", field=f"{ctx.field}.target.{key}")
            return out
        return ids


@FAULTS.register("scheduler_stall")
class SchedulerStall(ReplicaFault):
    """`{type: scheduler_stall, at: 5m, duration: 2m, silent: true, target: {replica: decode-0}}`.

    The engine stops making progress (a hung NCCL call, a deadlocked scheduler). silent: true — it
    still answers health checks, so only request timeouts or a progress watchdog find it;
    silent: false — health checks fail too.
    """

    type: Literal["scheduler_stall"] = "scheduler_stall"
    silent: bool = True

    @field_validator("silent", mode="before")
    @classmethod
    def _bool(cls, v: Any) -> Any:
        if not isinstance(v, bool):
            raise ValueError(f"expected true or false but got {v!r}")
        return v

    def params(self) -> dict:
        return {"silent": self.silent}

    def apply(self, fleet: FleetControl, pf: PlannedFault) -> None:
        for r in pf.targets:
            fleet.stall_replica(r, self.silent, pf.cause)

    def revert(self, fleet: FleetControl, pf: PlannedFault) -> None:
        for r in reversed(pf.targets):
            fleet.resume_replica(r, pf.cause)


@FAULTS.register("kv_capacity_loss")
class KvCapacityLoss(ReplicaFault):
    """`{type: kv_capacity_loss, at: 5m, fraction: 0.3, target: {role: decode, mode: all}}`: HBM pages retired,
    fewer KV blocks, more preemption."""

    type: Literal["kv_capacity_loss"] = "kv_capacity_loss"
    fraction: float
    """Share of the replica's KV capacity lost, 0 < fraction < 1."""

    explicit_keys: ClassVar[tuple[str, ...]] = ("replica", "gpu", "host", "rack")

    @field_validator("fraction", mode="before")
    @classmethod
    def _fraction(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < v < 1 and math.isfinite(v)):
            raise ValueError(f"expected the share of KV capacity lost, 0 < fraction < 1 (0.25 = a quarter) "
                             f"but got {v!r}")
        return float(v)

    def expand(self, ctx: PlanContext, key: str, ids: list[str]) -> list[str]:
        if key == "gpu":
            out = [ctx.view.replica_of_gpu(g) for g in ids]
            missing = [g for g, r in zip(ids, out) if r is None]
            if missing:
                raise FaultError(f"GPU {missing[0]} holds no replica, so it has no KV cache to lose; pick a "
                                 f"GPU of a replica", field=f"{ctx.field}.target.gpu")
            return out
        return super().expand(ctx, key, ids)

    def params(self) -> dict:
        return {"fraction": self.fraction}

    def effect(self, view: FleetView, targets: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return (), tuple(sorted(targets))

    def apply(self, fleet: FleetControl, pf: PlannedFault) -> None:
        for r in pf.targets:
            fleet.reduce_kv(r, self.fraction, pf.cause)

    def revert(self, fleet: FleetControl, pf: PlannedFault) -> None:
        for r in reversed(pf.targets):
            fleet.restore_kv(r, pf.cause)


@FAULTS.register("network_partition")
class NetworkPartition(ReplicaFault):
    """`{type: network_partition, at: 5m, duration: 3m, target: {rack: rack1}}`: the router cannot reach
    these replicas (they keep running; requests to them time out or get connection errors)."""

    type: Literal["network_partition"] = "network_partition"

    def apply(self, fleet: FleetControl, pf: PlannedFault) -> None:
        fleet.partition(list(pf.targets), pf.cause)

    def revert(self, fleet: FleetControl, pf: PlannedFault) -> None:
        fleet.heal_partition(list(pf.targets), pf.cause)
