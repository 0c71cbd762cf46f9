"""Routes between GPUs: NVLink inside a domain, GPU NIC -> leaf/spine switches -> GPU NIC across domains.

A route never changes transport: two GPUs of one NVLink domain talk over their NVSwitch (NCCL picks
the transport when a communicator starts and does not fall back to the network), GPUs of different
domains over their own NICs (no PXN hop through another GPU's NIC). Inside the switched network the
route is the widest of the shortest (ECMP) paths, so the network reroutes around a lost switch.
Every function takes an optional `graph`: a degraded copy of `fabric.graph` made by fault code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx

from chaos.topology.fabric import SWITCH_KINDS, Fabric, link_id

if TYPE_CHECKING:
    from chaos.topology.placement import Placement


@dataclass(frozen=True, slots=True)
class Route:
    """One GPU-to-GPU route: bottleneck bytes/s, total latency, transport, and what it may use.

    `ecmp_nodes`/`ecmp_links` hold every switch and link on any equal-cost path (empty for NVLink),
    so a failure on one of them degrades the route even when an alternative remains.
    """

    bandwidth_Bps: float
    latency_s: float
    transport: str            # "nvlink" | "network" | "local"
    ecmp_nodes: frozenset[str] = frozenset()
    ecmp_links: frozenset[str] = frozenset()


def _edge(g: nx.Graph, u: str, v: str) -> dict | None:
    return g.get_edge_data(u, v)


def _switch_bfs(g: nx.Graph, src: str, dst: str) -> dict[str, int]:
    """Hop distances from `src`, transiting only leaf/spine switches (endpoints may be NICs)."""
    dist = {src: 0}
    frontier = [src]
    while frontier:
        nxt = []
        for node in frontier:
            for nb in g.adj[node]:
                if nb in dist:
                    continue
                if nb == dst or g.nodes[nb].get("kind") in SWITCH_KINDS:
                    dist[nb] = dist[node] + 1
                    if nb != dst:
                        nxt.append(nb)
        frontier = nxt
    return dist


def network_route(g: nx.Graph, nic_a: str, nic_b: str) -> Route | None:
    """Widest shortest path between two NICs through the switches, or None when they are cut off."""
    if nic_a not in g or nic_b not in g:
        return None
    da = _switch_bfs(g, nic_a, nic_b)
    if nic_b not in da:
        return None
    db = _switch_bfs(g, nic_b, nic_a)
    total = da[nic_b]
    on_path = sorted((n for n in da if n in db and da[n] + db[n] == total), key=lambda n: (da[n], n))
    # best[n] = (bottleneck bandwidth, -latency) over shortest paths nic_a -> n; process by distance.
    best: dict[str, tuple[float, float]] = {nic_a: (math.inf, 0.0)}
    links: set[str] = set()
    for node in on_path:
        if node == nic_a:
            continue
        cand = None
        for prev in g.adj[node]:
            if prev in best and da.get(prev) == da[node] - 1 and db.get(prev) == db[node] + 1:
                e = g.edges[prev, node]
                bw, neg_lat = best[prev]
                option = (min(bw, e["bandwidth_Bps"]), neg_lat - e["latency_s"])
                cand = option if cand is None or option > cand else cand
                links.add(link_id(prev, node))
        if cand is not None:
            best[node] = cand
    bw, neg_lat = best[nic_b]
    switches = frozenset(n for n in on_path if n not in (nic_a, nic_b))
    return Route(bw, -neg_lat, "network", switches, frozenset(links))


def gpu_route(fabric: Fabric, a: str, b: str, graph: nx.Graph | None = None) -> Route | None:
    """Route between two GPUs on `graph` (default the healthy fabric), None when it is broken."""
    g = fabric.graph if graph is None else graph
    if a not in g or b not in g:
        return None
    if a == b:
        return Route(math.inf, 0.0, "local")
    static = fabric.graph.nodes
    dom_a, dom_b = static[a]["domain"], static[b]["domain"]
    if dom_a == dom_b:
        ea, eb = _edge(g, a, dom_a), _edge(g, b, dom_b)
        if ea is None or eb is None:
            return None
        return Route(min(ea["bandwidth_Bps"], eb["bandwidth_Bps"]), ea["latency_s"] + eb["latency_s"], "nvlink")
    nic_a, nic_b = static[a]["nic"], static[b]["nic"]
    pa, pb = _edge(g, a, nic_a), _edge(g, b, nic_b)
    if pa is None or pb is None:
        return None
    net = network_route(g, nic_a, nic_b)
    if net is None:
        return None
    return Route(min(pa["bandwidth_Bps"], pb["bandwidth_Bps"], net.bandwidth_Bps),
                 pa["latency_s"] + pb["latency_s"] + net.latency_s, "network",
                 net.ecmp_nodes | {nic_a, nic_b},
                 net.ecmp_links | {link_id(a, nic_a), link_id(b, nic_b)})


def ring_hops(gpus: tuple[str, ...]) -> list[tuple[str, str]]:
    """The hops of a ring all-reduce over `gpus` in order (gpus[i] -> gpus[i+1], wrapping; one for two GPUs)."""
    if len(gpus) < 2:
        return []
    hops = [(gpus[i], gpus[(i + 1) % len(gpus)]) for i in range(len(gpus))]
    return hops[:1] if len(gpus) == 2 else hops


def ring_routes(fabric: Fabric, gpus: tuple[str, ...], graph: nx.Graph | None = None) -> list[Route | None]:
    """Routes of a ring all-reduce over `gpus` in order (hop i: gpus[i] -> gpus[i+1], wrapping)."""
    return [gpu_route(fabric, a, b, graph) for a, b in ring_hops(gpus)]


def ring_bottleneck(fabric: Fabric, routes: list[Route | None]) -> tuple[float, float]:
    """`ring_link` of already computed ring routes."""
    if not routes:
        return fabric.nvlink_Bps, 0.0
    if any(r is None for r in routes):
        return 0.0, math.inf
    return min(r.bandwidth_Bps for r in routes), max(r.latency_s for r in routes)


def ring_link(fabric: Fabric, gpus: tuple[str, ...], graph: nx.Graph | None = None) -> tuple[float, float]:
    """(slowest link bytes/s, latency of the slowest-latency hop) of the group's all-reduce ring.

    A single GPU has no ring: it reports its NVLink bandwidth and zero latency. A broken ring
    reports (0.0, inf).
    """
    return ring_bottleneck(fabric, ring_routes(fabric, gpus, graph))


def path(fabric: Fabric, a: "Placement", b: "Placement", graph: nx.Graph | None = None) -> tuple[float, float]:
    """(bandwidth bytes/s, latency s) for moving KV cache from replica `a` to replica `b`.

    Rank i of `a` sends to rank i of `b` for the min(tp_a, tp_b) ranks they share, each over its own
    route (NVLink inside a domain, otherwise its own NIC): the transfer runs on min(tp_a, tp_b) routes
    in parallel, so bandwidth = min(tp_a, tp_b) x the slowest of those routes. Across racks it is also
    capped by the surviving leaf-to-spine uplinks of either leaf. Latency is the slowest route's.
    A transfer that cannot happen on `graph` returns (0.0, inf).
    """
    g = fabric.graph if graph is None else graph
    k = min(a.tp, b.tp)
    routes = [gpu_route(fabric, a.gpus[i], b.gpus[i], g) for i in range(k)]
    if any(r is None for r in routes):
        return 0.0, math.inf
    bandwidth = k * min(r.bandwidth_Bps for r in routes)
    latency = max(r.latency_s for r in routes)
    nodes = fabric.graph.nodes
    leaves = {f"{nodes[x]['rack']}/leaf" for x in (*a.gpus[:k], *b.gpus[:k])}
    if any(r.transport == "network" for r in routes) and len(leaves) > 1:
        for leaf in leaves:
            uplinks = sum(e["bandwidth_Bps"] for _, nb, e in g.edges(leaf, data=True)
                          if g.nodes[nb].get("kind") == "spine") if leaf in g else 0.0
            bandwidth = min(bandwidth, uplinks)
    if bandwidth <= 0:
        return 0.0, math.inf
    return bandwidth, latency
