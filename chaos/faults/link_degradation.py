"""link_degradation: a link's bandwidth x factor for a while (a flapping optic, a link trained down to a
lower speed, an NVLink lane failure). It slows whatever crosses the link: a cross-host TP group's
all-reduce when its ring uses it, KV transfers between disaggregated replicas.

Affected replicas (dry run, journal): those whose all-reduce ring bottleneck drops with the link
slowed, plus those whose GPUs' own NIC cables are the link (their KV transfers cross it).
"""
from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import field_validator

from chaos.faults.base import FAULTS, PlanContext, PlannedFault, TimedFault
from chaos.faults.target import FleetControl, FleetView
from chaos.topology import ring_link


@FAULTS.register("link_degradation")
class LinkDegradation(TimedFault):
    """`{type: link_degradation, at: 5m, duration: 10m, factor: 0.25, target: {link: "rack0/host0/nic0--rack0/leaf"}}`;
    a selector picks replicas and slows the scale-out cables (nic--leaf) of all their GPUs."""

    type: Literal["link_degradation"] = "link_degradation"
    factor: float
    """Bandwidth multiplier, 0 < factor <= 1 (0.25 = a quarter of the bandwidth left)."""

    explicit_keys: ClassVar[tuple[str, ...]] = ("link",)
    target_kind: ClassVar[str] = "link"

    @field_validator("factor", mode="before")
    @classmethod
    def _factor(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < v <= 1 and math.isfinite(v)):
            raise ValueError(f"expected a bandwidth factor with 0 < factor <= 1 (0.5 = half the bandwidth) "
                             f"but got {v!r}; use link_failure for a dead link")
        return float(v)

    def params(self) -> dict:
        return {"factor": self.factor}

    def expand(self, ctx: PlanContext, key: str, ids: list[str]) -> list[str]:
        if key == "replica":
            return [link for r in ids for link in ctx.view.uplinks(r)]
        return ids

    def effect(self, view: FleetView, targets: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        fabric = view.fabric
        slowed = fabric.graph.copy()
        for link in targets:
            u, _, v = link.partition("--")
            slowed.edges[u, v]["bandwidth_Bps"] *= self.factor
        touched = set(targets)
        degraded = []
        for p in view.placements:
            before = ring_link(fabric, p.gpus)[0]
            after = ring_link(fabric, p.gpus, slowed)[0]
            if after < before or touched.intersection(view.uplinks(p.replica_id)):
                degraded.append(p.replica_id)
        return (), tuple(sorted(degraded))

    def apply(self, fleet: FleetControl, pf: PlannedFault) -> None:
        for link in pf.targets:
            fleet.degrade_link(link, self.factor, pf.cause)

    def revert(self, fleet: FleetControl, pf: PlannedFault) -> None:
        for link in reversed(pf.targets):
            fleet.restore_link(link, pf.cause)
