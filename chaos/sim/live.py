"""The fabric as it is now: the healthy graph minus failed elements, with degraded link bandwidths.

Faults change it (fail/repair an element, degrade/restore a link); the fleet asks it, after each
change, which replicas lost their GPUs or their all-reduce ring, how fast each ring now is, and how
fast KV moves between two replicas. Overlapping faults on one element are counted, so a repair of
one of them does not heal the others.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import networkx as nx

from chaos.topology import Fabric, Placement, path
from chaos.topology.blast import frontend_reachable_gpus, lost_reason
from chaos.topology.paths import ring_link


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
    """Failed elements and degraded links over a Fabric; `graph` is rebuilt lazily after a change."""

    def __init__(self, fabric: Fabric) -> None:
        self.fabric = fabric
        self._failed: Counter[str] = Counter()
        self._factors: dict[str, list[float]] = {}
        self._graph: nx.Graph | None = fabric.graph
        self._reach: set[str] | None = None
        self.version = 0
        self._paths: dict[tuple[str, str], tuple[float, float]] = {}

    # ---- changes ---------------------------------------------------------------------------------
    def fail(self, element: str) -> None:
        self.fabric.kind_of(element)            # unknown element -> TopologyError with did-you-mean
        self._failed[element] += 1
        self._changed()

    def repair(self, element: str) -> None:
        if self._failed[element] > 0:
            self._failed[element] -= 1
            if not self._failed[element]:
                del self._failed[element]
            self._changed()

    def degrade(self, link: str, factor: float) -> None:
        self._edge_of(link)
        self._factors.setdefault(link, []).append(factor)
        self._changed()

    def restore(self, link: str, factor: float | None = None) -> None:
        factors = self._factors.get(link)
        if factors:
            factors.remove(factor if factor in factors else factors[0])
            if not factors:
                del self._factors[link]
            self._changed()

    def _edge_of(self, link: str) -> tuple[str, str]:
        if self.fabric.kind_of(link) != "link":
            raise ValueError(f"{link!r} is not a link")
        u, _, v = link.partition("--")
        return u, v

    def _changed(self) -> None:
        self.version += 1
        self._graph = None
        self._reach = None
        self._paths.clear()

    # ---- queries ---------------------------------------------------------------------------------
    @property
    def graph(self) -> nx.Graph:
        if self._graph is None:
            g = self.fabric.graph.copy()
            for element in self._failed:
                if self.fabric.kind_of(element) == "link":
                    u, v = self._edge_of(element)
                    if g.has_edge(u, v):
                        g.remove_edge(u, v)
                else:
                    g.remove_nodes_from([n for n in self.fabric.members(element) if n in g])
            for link, factors in self._factors.items():
                u, v = self._edge_of(link)
                if g.has_edge(u, v):
                    g.edges[u, v]["bandwidth_Bps"] = g.edges[u, v]["bandwidth_Bps"] * math.prod(factors)
            self._graph = g
        return self._graph

    @property
    def healthy(self) -> bool:
        return not self._failed and not self._factors

    def gpu_alive(self, gpu: str) -> bool:
        return gpu in self.graph

    def status(self, p: Placement) -> PlacementStatus:
        """Lost (topology.blast.lost_reason: a GPU gone, a ring hop without route, a cross-domain NIC
        cut, no way to the frontend) or the ring's current bottleneck bandwidth and latency."""
        g = self.graph
        if self._reach is None:
            self._reach = frontend_reachable_gpus(self.fabric, g)
        why = lost_reason(self.fabric, p, g, self._reach)
        if why:
            return PlacementStatus(why, 0.0, math.inf)
        link_Bps, latency_s = ring_link(self.fabric, p.gpus, g)
        return PlacementStatus("", link_Bps, latency_s)

    def kv_path(self, a: Placement, b: Placement) -> tuple[float, float]:
        """(bytes/s, latency s) for KV from `a` to `b` now; (0, inf) when no route is left."""
        key = (a.replica_id, b.replica_id)
        if key not in self._paths:
            self._paths[key] = path(self.fabric, a, b, self.graph)
        return self._paths[key]
