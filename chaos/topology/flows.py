"""Link capacity shared by the flows that cross it: which shared resources a flow loads, and max-min rates.

Flows are counted in connections (one GPU's stream): a KV transfer between replicas of TP a and b
runs min(a, b) rank-to-rank connections in parallel; a tensor-parallel ring that leaves its NVLink
domain runs one connection per GPU across every domain boundary it crosses (NCCL gives each GPU's NIC
its own channel; rail-aligned, GPU i's traffic leaves on NIC i). Shared resources, per direction:
  tx:<nic> / rx:<nic>      a NIC and its PCIe link (the slower of the two),
  up:<leaf> / down:<leaf>  all of a leaf's surviving uplinks to the spines together (ECMP spreads the
                           flows over them), so losing one of two spines halves what every
                           cross-rack flow of that leaf shares,
  nvtx:<gpu> / nvrx:<gpu>  a GPU's NVLink port (KV transfers inside one NVLink domain).
Rates are max-min fair per connection (progressive filling, as TCP-like congestion control on a
shared bottleneck converges to; Bertsekas & Gallager, "Data Networks", 2nd ed., section 6.5.2),
each connection also capped by its own route's bottleneck. Time-free: chaos/sim/fabricshare.py runs it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import networkx as nx

from chaos.topology.fabric import Fabric


@dataclass(frozen=True, slots=True)
class Flow:
    """Connections a flow runs on each shared resource, and the most one connection can carry."""

    usage: tuple[tuple[str, int], ...]       # (resource, connections on it)
    cap_Bps: float                           # per connection (its route's bottleneck)
    connections: int                         # parallel connections (a flow's rate = connections x rate)


def _nic_cap(g: nx.Graph, nic: str) -> float:
    attrs = g.nodes.get(nic) if nic in g else None
    if attrs is None:
        return 0.0
    gpu = attrs["gpu"]
    caps = [e["bandwidth_Bps"] for nb, e in g.adj[nic].items() if nb == gpu or g.nodes[nb].get("kind") == "leaf"]
    return min(caps) if len(caps) == 2 else 0.0


def capacity(g: nx.Graph, resource: str) -> float:
    """Bytes/s one direction of a shared resource has on the live graph `g` (0 when it is gone)."""
    kind, _, node = resource.partition(":")
    if node not in g:
        return 0.0
    if kind in ("tx", "rx"):
        return _nic_cap(g, node)
    if kind in ("up", "down"):
        return sum(e["bandwidth_Bps"] for nb, e in g.adj[node].items() if g.nodes[nb].get("kind") == "spine")
    dom = g.nodes[node].get("domain")
    e = g.get_edge_data(node, dom) if dom is not None else None
    return e["bandwidth_Bps"] if e is not None else 0.0


def _add(usage: dict[str, int], resource: str, n: int = 1) -> None:
    usage[resource] = usage.get(resource, 0) + n


def _hop(fabric: Fabric, usage: dict[str, int], a: str, b: str) -> None:
    """One connection from GPU a to GPU b: its NVLink ports, or its NICs and (across racks) the leaves."""
    nodes = fabric.graph.nodes
    na, nb = nodes[a], nodes[b]
    if na["domain"] == nb["domain"]:
        _add(usage, f"nvtx:{a}")
        _add(usage, f"nvrx:{b}")
        return
    _add(usage, f"tx:{na['nic']}")
    _add(usage, f"rx:{nb['nic']}")
    if na["rack"] != nb["rack"]:
        _add(usage, f"up:{na['rack']}/leaf")
        _add(usage, f"down:{nb['rack']}/leaf")


def kv_flow(fabric: Fabric, src_gpus: Sequence[str], dst_gpus: Sequence[str], path_Bps: float) -> Flow:
    """A KV transfer: rank i of the source sends to rank i of the destination, min(tp) connections;
    `path_Bps` is the transfer's own bottleneck on its routes (topology.path)."""
    k = min(len(src_gpus), len(dst_gpus))
    usage: dict[str, int] = {}
    for i in range(k):
        _hop(fabric, usage, src_gpus[i], dst_gpus[i])
    return Flow(tuple(usage.items()), path_Bps / k, k)


def ring_flow(fabric: Fabric, gpus: Sequence[str], ring_Bps: float) -> Flow | None:
    """A TP group's all-reduce traffic on the network: None when the ring stays in one NVLink domain.

    Each ring hop that crosses from domain A to domain B carries one channel per GPU of the group in A,
    GPU i of A to the i-th GPU of the group in B (rail-aligned). `ring_Bps` caps each channel."""
    if len(gpus) < 2:
        return None
    nodes = fabric.graph.nodes
    by_domain: dict[str, list[str]] = {}
    for g in gpus:
        by_domain.setdefault(nodes[g]["domain"], []).append(g)
    if len(by_domain) < 2:
        return None
    order = list(dict.fromkeys(nodes[g]["domain"] for g in gpus))
    usage: dict[str, int] = {}
    for i, dom in enumerate(order):
        if len(order) == 2 and i == 1:
            nxt = order[0]
        else:
            nxt = order[(i + 1) % len(order)]
        src, dst = by_domain[dom], by_domain[nxt]
        for j, a in enumerate(src):
            _hop(fabric, usage, a, dst[j % len(dst)])
    return Flow(tuple(usage.items()), ring_Bps, 1)


def max_min_rates(flows: Sequence[Flow], capacity_of: Callable[[str], float]) -> list[float]:
    """Per-connection rate of each flow: max-min fair over the shared resources (progressive filling:
    every unfrozen flow's rate rises together until a resource saturates or a flow reaches its cap),
    each at most its own cap. A flow on a resource with no capacity gets 0."""
    usage = [dict(f.usage) for f in flows]
    caps: dict[str, float] = {}
    users: dict[str, list[int]] = {}
    for i, u in enumerate(usage):
        for res in u:
            if res not in caps:
                caps[res] = capacity_of(res)
            users.setdefault(res, []).append(i)
    rate = [0.0] * len(flows)
    live = {i for i, f in enumerate(flows) if f.cap_Bps > 0 and all(caps[r] > 0 for r in usage[i])}
    load = dict.fromkeys(caps, 0.0)
    level = 0.0
    while live:
        weight = {res: sum(usage[i][res] for i in who if i in live) for res, who in users.items()}
        nxt = min(flows[i].cap_Bps for i in live)
        for res, w in weight.items():
            if w:
                nxt = min(nxt, level + max(0.0, caps[res] - load[res]) / w)
        for res, w in weight.items():
            load[res] += (nxt - level) * w
        level = nxt
        frozen = {i for i in live if flows[i].cap_Bps <= level * (1 + 1e-12)}
        for res, w in weight.items():
            if w and load[res] >= caps[res] * (1 - 1e-12):
                frozen.update(i for i in users[res] if i in live)
        for i in frozen:
            rate[i] = min(level, flows[i].cap_Bps)
        live -= frozen
    return rate
