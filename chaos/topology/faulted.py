"""The fabric with faults applied in place: failed elements removed, slowed links re-priced, and what each
change does to the TP groups on it, at a cost proportional to what the change touches.

Copying the graph and walking every all-reduce ring per fault costs O(fleet) per fault (~0.1 s on
1,024 GPUs). Here one working graph is changed in place (a failed element's nodes and links are
removed, a repair puts them back with the healthy attributes and adjacency order), and each TP group's
ring is indexed by the nodes and links its status depends on, so a change re-evaluates only the
groups it touches. What a group depends on is static (a hop's transport follows from the NVLink
domains): its GPUs; an NVLink hop's NVSwitch and the two GPU-NVSwitch links; a network hop's two NICs
and their links plus the whole switch tier (equal-cost paths can move anywhere in it); for a
cross-domain group every member's NIC, its links and its leaf. Reaching the frontend (every GPU
whose NIC reaches the switches connected to the frontend tier) is kept per GPU, recomputed whole
only when the switch tier changes. The answers equal topology.blast's full recomputation (a
hypothesis property in tests/topology/test_faulted.py checks it over random fault sequences).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import networkx as nx

from chaos.topology.blast import BlastRadius, _degraded_reason, _lost_reason, reach_from_frontend
from chaos.topology.fabric import SWITCH_KINDS, Fabric, link_id
from chaos.topology.paths import Route, ring_bottleneck, ring_hops, ring_routes
from chaos.topology.placement import Placement

SWITCH_TIER = "<switch tier>"      # index key: every route through the leaf/spine network depends on it


@dataclass(frozen=True, slots=True)
class Change:
    """What one change touched: nodes removed or restored, links removed, restored or re-priced, whether
    the switch tier changed, and the GPUs whose way to the frontend appeared or vanished."""

    nodes: frozenset[str] = frozenset()
    links: frozenset[str] = frozenset()
    switch_tier: bool = False
    reach_flipped: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.nodes or self.links or self.reach_flipped)


class FaultedFabric:
    """A fabric under counted failures and link slowdowns (overlapping failures of one node or link are
    counted, so repairing one does not heal the others), with blast radius and ring status per group."""

    def __init__(self, fabric: Fabric) -> None:
        self.fabric = fabric
        self._graph: nx.Graph | None = None            # own working copy, made at the first change
        self._order: dict[str, tuple[str, ...]] = {}    # node -> neighbours in the copy's healthy order
        self._failed: Counter[str] = Counter()          # element as given -> active failures
        self._node_down: Counter[str] = Counter()       # node -> failed elements that contain it
        self._link_down: Counter[str] = Counter()       # canonical link id -> failed link elements
        self._factors: dict[str, tuple[float, ...]] = {}  # canonical link id -> bandwidth factors
        self._switches: set[str] | None = None          # switches the frontend tier reaches now
        self._reach: set[str] | None = None             # GPUs that reach the frontend now
        self._nics_of: dict[str, list[str]] = {}        # gpu -> NICs serving it (static)
        for nic in fabric.nodes_of_kind("nic"):
            self._nics_of.setdefault(fabric.graph.nodes[nic]["gpu"], []).append(nic)
        self._users: dict[str, set[tuple[str, ...]]] = {}    # node/link/SWITCH_TIER -> groups on it
        self._by_gpu: dict[str, set[tuple[str, ...]]] = {}   # gpu -> groups holding it
        self._planned: dict[tuple[str, ...], list[Route | None]] = {}   # group -> healthy ring routes
        self._routes: dict[tuple[str, ...], list[Route | None]] = {}    # group -> ring routes now
        self._status: dict[tuple[str, ...], tuple[str, float, float]] = {}

    # ---- the graph ---------------------------------------------------------------------------------
    @property
    def graph(self) -> nx.Graph:
        """The live graph (the healthy fabric's own until the first change); do not modify it."""
        return self.fabric.graph if self._graph is None else self._graph

    @property
    def healthy(self) -> bool:
        return not self._failed and not self._factors

    def _own(self) -> nx.Graph:
        if self._graph is None:
            self._graph = self.fabric.graph.copy()
            # a copy lists neighbours in another order than the built graph; repairs restore this one
            # (link capacities are summed in it: the same order gives the same floats)
            self._order = {n: tuple(nbrs) for n, nbrs in self._graph._adj.items()}
        return self._graph

    @property
    def reach(self) -> set[str]:
        """GPUs whose NIC still reaches the frontend (topology.blast.frontend_reachable_gpus); read only."""
        if self._reach is None:
            self._switches, self._reach = reach_from_frontend(self.fabric, self.graph)
        return self._reach

    # ---- changes -----------------------------------------------------------------------------------
    def fail(self, element: str) -> Change:
        """One more failure of `element` (a node id or a link "a--b")."""
        kind = self.fabric.kind_of(element)          # unknown element -> TopologyError with did-you-mean
        self._failed[element] += 1
        if kind == "link":
            lid = _canonical(element)
            self._link_down[lid] += 1
            u, _, v = lid.partition("--")
            if self._link_down[lid] == 1 and self.graph.has_edge(u, v):
                return self._apply(frozenset(), frozenset({lid}), removing=True)
            return Change()
        gone = []
        for n in self.fabric.members(element):
            self._node_down[n] += 1
            if self._node_down[n] == 1:
                gone.append(n)
        if not gone:
            return Change()
        g = self.graph
        links = frozenset(link_id(a, b) for a, b in g.edges(gone))
        return self._apply(frozenset(gone), links, removing=True)

    def repair(self, element: str) -> Change | None:
        """One failure of `element` ends (None when none is active); what it held comes back unless
        another failure still holds it."""
        if self._failed[element] <= 0:
            self._failed.pop(element, None)
            return None
        self._failed[element] -= 1
        if not self._failed[element]:
            del self._failed[element]
        base = self.fabric.graph
        if self.fabric.kind_of(element) == "link":
            lid = _canonical(element)
            self._link_down[lid] -= 1
            if self._link_down[lid]:
                return Change()
            del self._link_down[lid]
            u, _, v = lid.partition("--")
            if self._node_down[u] or self._node_down[v]:
                return Change()
            return self._apply(frozenset(), frozenset({lid}), removing=False)
        back = []
        for n in self.fabric.members(element):
            self._node_down[n] -= 1
            if not self._node_down[n]:
                del self._node_down[n]
                back.append(n)
        if not back:
            return Change()
        back_set = set(back)
        links = set()
        for n in back:
            for nb in base.adj[n]:
                lid = link_id(n, nb)
                if (nb in back_set or not self._node_down[nb]) and not self._link_down[lid]:
                    links.add(lid)
        return self._apply(frozenset(back), frozenset(links), removing=False)

    def set_factors(self, link: str, factors: Sequence[float]) -> Change:
        """The link's bandwidth is its healthy value times the product of `factors` (none: healthy)."""
        if self.fabric.kind_of(link) != "link":
            raise ValueError(f"{link!r} is not a link")
        lid = _canonical(link)
        if factors:
            self._factors[lid] = tuple(factors)
        else:
            self._factors.pop(lid, None)
        u, _, v = lid.partition("--")
        g = self._own()
        if g.has_edge(u, v):
            g.edges[u, v]["bandwidth_Bps"] = self._bandwidth(u, v, lid)
        return self._invalidate(Change(links=frozenset({lid}), switch_tier=self._switch_link(u, v)))

    def _bandwidth(self, u: str, v: str, lid: str) -> float:
        healthy = self.fabric.graph.edges[u, v]["bandwidth_Bps"]
        factors = self._factors.get(lid)
        return healthy * math.prod(factors) if factors else healthy

    def _switch_link(self, u: str, v: str) -> bool:
        nodes = self.fabric.graph.nodes
        return nodes[u]["kind"] in SWITCH_KINDS and nodes[v]["kind"] in SWITCH_KINDS

    def _apply(self, nodes: frozenset[str], links: frozenset[str], removing: bool) -> Change:
        """Remove (or put back) `nodes` and `links` in the working graph, keeping the healthy copy's
        adjacency order, then update reach and drop stale statuses."""
        g, base = self._own(), self.fabric.graph
        if removing:
            if nodes:
                g.remove_nodes_from(nodes)
            else:
                for lid in links:
                    u, _, v = lid.partition("--")
                    g.remove_edge(u, v)
        else:
            for n in nodes:
                g.add_node(n, **base.nodes[n])
            touched = set(nodes)
            for lid in links:
                u, _, v = lid.partition("--")
                g.add_edge(u, v, **base.edges[u, v])
                if lid in self._factors:
                    g.edges[u, v]["bandwidth_Bps"] = self._bandwidth(u, v, lid)
                touched.update((u, v))
            adj, healthy = g._adj, self._order
            for n in touched:           # re-insertion appended them: restore the healthy order
                mine = adj[n]
                adj[n] = {nb: mine[nb] for nb in healthy[n] if nb in mine}
        kinds = base.nodes
        switch_tier = any(kinds[n]["kind"] in SWITCH_KINDS for n in nodes) or any(
            self._switch_link(*lid.split("--", 1)) for lid in links)
        return self._invalidate(Change(nodes, links, switch_tier, self._update_reach(nodes, links, switch_tier)))

    def _update_reach(self, nodes: frozenset[str], links: frozenset[str], switch_tier: bool) -> frozenset[str]:
        """GPUs whose way to the frontend changed; the whole reach is recomputed only for the switch tier."""
        if self._reach is None:
            return frozenset()                    # nobody asked yet: computed on first use
        g = self.graph
        if switch_tier:
            old = self._reach
            self._switches, self._reach = reach_from_frontend(self.fabric, g)
            return frozenset(old ^ self._reach)
        kinds = self.fabric.graph.nodes
        gpus = set()
        for n in (*nodes, *(x for lid in links for x in lid.split("--", 1))):
            kind = kinds[n]["kind"]
            if kind == "gpu":
                gpus.add(n)
            elif kind == "nic":
                gpus.add(kinds[n]["gpu"])
        flipped = set()
        for gpu in gpus:
            now = any(nic in g and g.has_edge(nic, gpu) and any(nb in self._switches for nb in g.adj[nic])
                      for nic in self._nics_of.get(gpu, ()))
            if now != (gpu in self._reach):
                flipped.add(gpu)
                (self._reach.add if now else self._reach.discard)(gpu)
        return frozenset(flipped)

    def _invalidate(self, change: Change) -> Change:
        for key in self.affected(change):
            self._routes.pop(key, None)
            self._status.pop(key, None)
        return change

    # ---- which groups a change touches -------------------------------------------------------------
    def affected(self, change: Change) -> set[tuple[str, ...]]:
        """Registered groups whose ring routes or status `change` may have changed."""
        out: set[tuple[str, ...]] = set()
        users = self._users
        for r in (*change.nodes, *change.links):
            out.update(users.get(r, ()))
        if change.switch_tier:
            out.update(users.get(SWITCH_TIER, ()))
        for gpu in change.reach_flipped:
            out.update(self._by_gpu.get(gpu, ()))
        return out

    def register(self, gpus: tuple[str, ...]) -> tuple[str, ...]:
        """Index a TP group (its GPUs in ring order) by what its status depends on (module docstring)."""
        if gpus in self._planned:
            return gpus
        base = self.fabric.graph
        nodes = base.nodes
        deps: set[str] = set(gpus)
        network = False
        for a, b in ring_hops(gpus):
            if a == b:
                continue
            if nodes[a]["domain"] == nodes[b]["domain"]:
                dom = nodes[a]["domain"]
                deps.update((dom, link_id(a, dom), link_id(b, dom)))
            else:
                network = True
                for x in (a, b):
                    self._nic_deps(x, deps)
        if network:
            deps.add(SWITCH_TIER)
            for gpu in gpus:
                self._nic_deps(gpu, deps)
                deps.add(f"{nodes[gpu]['rack']}/leaf")
        for r in deps:
            self._users.setdefault(r, set()).add(gpus)
        for gpu in gpus:
            self._by_gpu.setdefault(gpu, set()).add(gpus)
        self._planned[gpus] = ring_routes(self.fabric, gpus, base)
        return gpus

    def _nic_deps(self, gpu: str, deps: set[str]) -> None:
        base = self.fabric.graph
        nic = base.nodes[gpu]["nic"]
        deps.add(nic)
        deps.update(link_id(nic, nb) for nb in base.adj[nic])

    # ---- status of a group -------------------------------------------------------------------------
    def routes(self, gpus: tuple[str, ...]) -> list[Route | None]:
        """The group's ring routes on the live graph (cached until a change touches them)."""
        key = self.register(gpus)
        routes = self._routes.get(key)
        if routes is None:
            routes = self._routes[key] = ring_routes(self.fabric, key, self.graph)
        return routes

    def status(self, p: Placement) -> tuple[str, float, float]:
        """(why the group is lost or "", ring bottleneck bytes/s, latency s): topology.blast.lost_reason
        and paths.ring_link on the live graph."""
        key = self.register(p.gpus)
        out = self._status.get(key)
        if out is None:
            why = _lost_reason(self.fabric, p, self._planned[key], self.graph, self.reach, self.routes(key))
            if why:
                out = (why, 0.0, math.inf)
            else:
                out = ("", *ring_bottleneck(self.fabric, self.routes(key)))
            self._status[key] = out
        return out

    # ---- blast radius ------------------------------------------------------------------------------
    def fail_with_radius(self, element: str, placements: Iterable[Placement]) -> tuple[BlastRadius, Change]:
        """Fail `element` and say what it did to `placements` (topology.blast.blast_radius on the live
        graph before the change): groups already down are not counted again."""
        kind = self.fabric.kind_of(element)
        g = self.graph
        if kind == "link":
            u, _, v = element.partition("--")
            removed: set[str] = set()
            links_lost = {link_id(u, v)} if g.has_edge(u, v) else set()
        else:
            removed = {n for n in self.fabric.members(element) if n in g}
            links_lost = {link_id(a, b) for a, b in g.edges(removed)}
        by_key: dict[tuple[str, ...], list[Placement]] = {}
        for p in placements:
            by_key.setdefault(self.register(p.gpus), []).append(p)
        kinds = self.fabric.graph.nodes
        guess = Change(frozenset(removed), frozenset(links_lost), any(
            kinds[n]["kind"] in SWITCH_KINDS for n in removed) or any(
            self._switch_link(*lid.split("--", 1)) for lid in links_lost))
        reach_before = self.reach
        before = {key: self._before(key, by_key[key][0], reach_before)
                  for key in self.affected(guess) if key in by_key}
        change = self.fail(element)
        for gpu in change.reach_flipped:                 # reach-only: nothing else of theirs changed
            for key in self._by_gpu.get(gpu, ()):
                if key in by_key and key not in before:
                    was = {x for x in key if (x in self.reach) != (x in change.reach_flipped)}
                    before[key] = self._before(key, by_key[key][0], was)
        after = self.graph
        lost, degraded, reasons = [], [], []
        for key, (routes_before, down) in before.items():
            if down:
                continue
            for p in by_key[key]:
                why = _lost_reason(self.fabric, p, routes_before, after, self.reach, self.routes(key))
                if why:
                    lost.append(p.replica_id)
                    reasons.append((p.replica_id, why))
                    continue
                why = _degraded_reason(p, routes_before, self.routes(key), removed, links_lost)
                if why:
                    degraded.append(p.replica_id)
                    reasons.append((p.replica_id, why))
        gpus_lost = [n for n in removed if kinds[n]["kind"] == "gpu"]
        radius = BlastRadius(element, kind, tuple(sorted(gpus_lost)), tuple(sorted(lost)), tuple(sorted(degraded)),
                             tuple(sorted(links_lost)), tuple(sorted(reasons)))
        return radius, change

    def _before(self, key: tuple[str, ...], p: Placement, reach: set[str]) -> tuple[list, bool]:
        """(ring routes now, whether the group is already down now) — blast_radius's skip test."""
        g = self.graph
        if any(gpu not in g for gpu in key):
            return [], True
        routes = self.routes(key)
        if any(r is None for r in routes):
            return routes, True
        return routes, bool(_lost_reason(self.fabric, p, routes, g, reach, routes))


def _canonical(link: str) -> str:
    u, _, v = link.partition("--")
    return link_id(u, v)
