"""The fabric as it is now: the healthy graph minus failed elements, with degraded link bandwidths.

Faults change it (fail/repair an element, degrade/restore a link); the fleet asks it, after each
change, which replicas lost their GPUs or their all-reduce ring, how fast each ring now is, and how
fast KV moves between two replicas. Overlapping faults on one element are counted, so a repair of
one of them does not heal the others.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import networkx as nx

from chaos.topology import BlastRadius, Fabric, Placement, link_id, path
from chaos.topology.faulted import FaultedFabric


UNREACHABLE = "cannot reach the frontend"      # topology.blast's reason when only the router's path is gone


@dataclass(frozen=True, slots=True)
class PlacementStatus:
    """What the live fabric does to one TP group: lost (and why) or serving at this ring speed."""

    lost_reason: str
    link_Bps: float
    link_latency_s: float

    @property
    def ok(self) -> bool:
        return not self.lost_reason


class LiveFabric:
    """Failed elements and degraded links over a Fabric, changed in place (topology.faulted): each
    change costs what it touches, not the fleet."""

    def __init__(self, fabric: Fabric) -> None:
        self.fabric = fabric
        self.faulted = FaultedFabric(fabric)
        self._factors: dict[str, list[float]] = {}
        self.version = 0
        self._paths: dict[tuple[str, str], tuple[float, float]] = {}

    # ---- changes ---------------------------------------------------------------------------------
    def fail(self, element: str, placements: Iterable[Placement] | None = None) -> BlastRadius | None:
        """One more failure of `element`; with `placements`, what it does to them (their blast radius)."""
        if placements is None:
            self.faulted.fail(element)
            radius = None
        else:
            radius, _ = self.faulted.fail_with_radius(element, placements)
        self._changed()
        return radius

    def repair(self, element: str) -> None:
        if self.faulted.repair(element) is not None:
            self._changed()

    def degrade(self, link: str, factor: float) -> None:
        link = self._link(link)
        self._factors.setdefault(link, []).append(factor)
        self.faulted.set_factors(link, self._factors[link])
        self._changed()

    def restore(self, link: str, factor: float | None = None) -> None:
        u, _, v = link.partition("--")
        link = link_id(u, v)
        factors = self._factors.get(link)
        if factors:
            factors.remove(factor if factor in factors else factors[0])
            if not factors:
                del self._factors[link]
            self.faulted.set_factors(link, factors)
            self._changed()

    def _link(self, link: str) -> str:
        if self.fabric.kind_of(link) != "link":
            raise ValueError(f"{link!r} is not a link")
        u, _, v = link.partition("--")
        return link_id(u, v)

    def _changed(self) -> None:
        self.version += 1
        self._paths.clear()

    # ---- queries ---------------------------------------------------------------------------------
    @property
    def graph(self) -> nx.Graph:
        """The fabric as it is now (read only)."""
        return self.faulted.graph

    @property
    def healthy(self) -> bool:
        return self.faulted.healthy

    def gpu_alive(self, gpu: str) -> bool:
        return gpu in self.graph

    def status(self, p: Placement) -> PlacementStatus:
        """Lost (topology.blast.lost_reason: a GPU gone, a ring hop without route, a cross-domain NIC
        cut, no way to the frontend) or the ring's current bottleneck bandwidth and latency; cached per
        group until a change touches it."""
        return PlacementStatus(*self.faulted.status(p))

    def kv_path(self, a: Placement, b: Placement) -> tuple[float, float]:
        """(bytes/s, latency s) for KV from `a` to `b` now; (0, inf) when no route is left."""
        key = (a.replica_id, b.replica_id)
        if key not in self._paths:
            self._paths[key] = path(self.fabric, a, b, self.graph)
        return self._paths[key]
