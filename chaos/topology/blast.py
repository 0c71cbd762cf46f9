"""Blast radius: what one failed element (GPU, NIC, switch, host, rack or link) takes down, read off the graph.

A replica is lost when one of its GPUs fails, a hop of its all-reduce ring has no route left (an
NVLink hop whose NVSwitch is gone does not fall back to the network), or it can no longer reach the
frontend: a notional router attached to every spine (to the leaf when there is no spine tier).
A cross-domain group also needs every member's NIC (NCCL uses one channel per rail).
It is degraded when a ring hop slowed down, got longer, or lost one of its equal-cost network paths.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import networkx as nx

from chaos.topology.fabric import SWITCH_KINDS, Fabric, link_id
from chaos.topology.paths import ring_routes
from chaos.topology.placement import Placement


@dataclass(frozen=True, slots=True)
class BlastRadius:
    """The effect of failing `element` (a node id or a link "a--b"); ids sorted, `reasons` per replica."""

    element: str
    kind: str                                # gpu | host | rack | nic | nvswitch | leaf | spine | link
    gpus_lost: tuple[str, ...]
    replicas_lost: tuple[str, ...]
    replicas_degraded: tuple[str, ...]
    links_lost: tuple[str, ...]
    reasons: tuple[tuple[str, str], ...] = ()   # (replica_id, why) for every lost or degraded replica


def remove_element(fabric: Fabric, element: str, graph: nx.Graph | None = None) -> nx.Graph:
    """A copy of `graph` (default the healthy fabric) without `element` and everything it contains."""
    g = (fabric.graph if graph is None else graph).copy()
    if fabric.kind_of(element) == "link":
        u, _, v = element.partition("--")
        if g.has_edge(u, v):
            g.remove_edge(u, v)
    else:
        g.remove_nodes_from([n for n in fabric.members(element) if n in g])
    return g


def frontend_reachable_gpus(fabric: Fabric, graph: nx.Graph | None = None) -> set[str]:
    """GPUs whose own NIC still reaches the frontend through the switches on `graph`."""
    return reach_from_frontend(fabric, fabric.graph if graph is None else graph)[1]


def reach_from_frontend(fabric: Fabric, g: nx.Graph) -> tuple[set[str], set[str]]:
    """(switches the frontend tier reaches through switches, GPUs whose own NIC hangs off one of them)."""
    tier = "spine" if fabric.spec.scale_out.spines else "leaf"
    frontier = [n for n in fabric.nodes_of_kind(tier) if n in g]
    seen = set(frontier)
    nics = set()
    while frontier:
        nxt = []
        for node in frontier:
            for nb in g.adj[node]:
                kind = g.nodes[nb]["kind"]
                if kind == "nic":
                    nics.add(nb)
                elif kind in SWITCH_KINDS and nb not in seen:
                    seen.add(nb)
                    nxt.append(nb)
        frontier = nxt
    return seen, {g.nodes[n]["gpu"] for n in nics if g.has_edge(n, g.nodes[n]["gpu"])}


def blast_radius(fabric: Fabric, placements: Sequence[Placement], element: str,
                 graph: nx.Graph | None = None) -> BlastRadius:
    """What failing `element` does to `placements`, starting from `graph` (default: the healthy fabric).

    Replicas already broken on `graph` are not counted again. Unknown elements raise TopologyError
    with a did-you-mean.
    """
    base = fabric.graph if graph is None else graph
    kind = fabric.kind_of(element)
    after = remove_element(fabric, element, base)
    if kind == "link":
        u, _, v = element.partition("--")
        removed_nodes: set[str] = set()
        links_lost = {link_id(u, v)} if base.has_edge(u, v) else set()
    else:
        removed_nodes = {n for n in fabric.members(element) if n in base}
        links_lost = {link_id(a, b) for a, b in base.edges(removed_nodes)}
    reach_before = frontend_reachable_gpus(fabric, base)
    reach_after = frontend_reachable_gpus(fabric, after)

    lost, degraded, reasons = [], [], []
    for p in placements:
        if any(gpu not in base for gpu in p.gpus):
            continue
        before = ring_routes(fabric, p.gpus, base)
        if any(r is None for r in before) or _lost_reason(fabric, p, before, base, reach_before):
            continue                                   # already down before this failure
        why = _lost_reason(fabric, p, before, after, reach_after)
        if why:
            lost.append(p.replica_id)
            reasons.append((p.replica_id, why))
            continue
        why = _degraded_reason(p, before, ring_routes(fabric, p.gpus, after), removed_nodes, links_lost)
        if why:
            degraded.append(p.replica_id)
            reasons.append((p.replica_id, why))
    gpus_lost = [n for n in removed_nodes if fabric.graph.nodes[n]["kind"] == "gpu"]
    return BlastRadius(element, kind, tuple(sorted(gpus_lost)), tuple(sorted(lost)), tuple(sorted(degraded)),
                       tuple(sorted(links_lost)), tuple(sorted(reasons)))


def lost_reason(fabric: Fabric, p: Placement, graph: nx.Graph, reach: set[str] | None = None) -> str:
    """Why `p` cannot serve on `graph` ("" when it can); `reach` = frontend_reachable_gpus(graph) if known."""
    planned = ring_routes(fabric, p.gpus, fabric.graph)
    return _lost_reason(fabric, p, planned, graph, frontend_reachable_gpus(fabric, graph) if reach is None else reach)


def _lost_reason(fabric: Fabric, p: Placement, before: list, after: nx.Graph, reach_after: set[str],
                 after_routes: list | None = None) -> str:
    """Why `p` cannot serve on `after`; `before` = its ring routes when it last served (their transports),
    `after_routes` = ring_routes on `after` when already known."""
    gone = [gpu for gpu in p.gpus if gpu not in after]
    if gone:
        return f"GPU {gone[0]} failed"
    if after_routes is None:
        after_routes = ring_routes(fabric, p.gpus, after)
    for i, route in enumerate(after_routes):
        if route is None:
            a, b = p.gpus[i], p.gpus[(i + 1) % len(p.gpus)]
            return f"all-reduce hop {a} -> {b} has no route"
    if any(r.transport == "network" for r in before):
        # NCCL stripes a cross-domain group's rings over every member's NIC (one channel per rail),
        # so losing any of them breaks the communicator, not only the NICs of the ring hops drawn here.
        for gpu in p.gpus:
            nic = fabric.graph.nodes[gpu]["nic"]
            if not after.has_edge(gpu, nic) or not after.has_edge(nic, f"{fabric.graph.nodes[gpu]['rack']}/leaf"):
                return f"NIC {nic} of a cross-domain group is cut off"
    if not reach_after.intersection(p.gpus):
        return "cannot reach the frontend"
    return ""


def _degraded_reason(p: Placement, before: list, after: list, removed_nodes: set[str], links_lost: set[str]) -> str:
    for i, (old, new) in enumerate(zip(before, after)):
        hop = f"hop {p.gpus[i]} -> {p.gpus[(i + 1) % len(p.gpus)]}"
        if new.bandwidth_Bps < old.bandwidth_Bps:
            return f"{hop} slowed from {old.bandwidth_Bps / 1e9:.1f} to {new.bandwidth_Bps / 1e9:.1f} GB/s"
        if new.latency_s > old.latency_s:
            return f"{hop} latency rose from {old.latency_s * 1e6:.1f} to {new.latency_s * 1e6:.1f} us"
        if old.ecmp_nodes & removed_nodes or old.ecmp_links & links_lost:
            return f"{hop} lost an equal-cost path and rerouted"
    return ""
