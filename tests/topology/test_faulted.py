"""The in-place faulted fabric (topology.faulted) answers exactly what a full recomputation does.

The reference is the full recomputation the fleet used before: rebuild the live graph from the healthy
fabric (copy, remove every failed element, scale degraded links), then blast_radius / lost_reason /
ring_link / frontend_reachable_gpus over every placement on it.
"""
from __future__ import annotations

import math
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.errors import PlacementError
from chaos.topology import FabricSpec, blast_radius, build_fabric, frontend_reachable_gpus, link_id, place, ring_link
from chaos.topology.blast import lost_reason, remove_element
from chaos.topology.faulted import FaultedFabric


def _reference_graph(fabric, failed: Counter, factors: dict, changed: bool = True):
    """The live graph as chaos.sim.live rebuilt it after every change (the old implementation): the
    healthy fabric's own graph until the first change, then a copy."""
    if not changed:
        return fabric.graph
    g = fabric.graph.copy()
    for element in failed:
        g = remove_element(fabric, element, g)
    for link, fs in factors.items():
        u, _, v = link.partition("--")
        if g.has_edge(u, v):
            g.edges[u, v]["bandwidth_Bps"] = g.edges[u, v]["bandwidth_Bps"] * math.prod(fs)
    return g


def _reference_status(fabric, p, g, reach):
    why = lost_reason(fabric, p, g, reach)
    return (why, 0.0, math.inf) if why else ("", *ring_link(fabric, p.gpus, g))


@st.composite
def cases(draw):
    racks = draw(st.integers(1, 3))
    spec = FabricSpec.model_validate({
        "name": "random", "gpu": "h100-sxm", "racks": racks, "hosts_per_rack": draw(st.integers(1, 3)),
        "gpus_per_host": draw(st.sampled_from([2, 4, 8])),
        "nvlink_domain": draw(st.sampled_from(["host", "rack"])),
        "scale_out": {"spines": draw(st.integers(1 if racks > 1 else 0, 3))}})
    fabric = build_fabric(spec, nvlink_Bps=450e9, nic_Bps=50e9)
    tp = draw(st.sampled_from([1, 2, 4, 8, 16]))
    try:
        ps = place(fabric, [("aggregated", draw(st.integers(1, 6)), tp)], draw(st.integers(0, 1)))
    except PlacementError:
        ps = place(fabric, [("aggregated", 1, 1)], 0)
    nodes = [n for n, k in fabric.graph.nodes(data="kind")]
    elements = nodes + fabric.links()
    ops = draw(st.lists(st.tuples(st.sampled_from(["fail", "fail", "repair", "degrade", "restore"]),
                                  st.sampled_from(elements), st.sampled_from([0.5, 0.25, 0.9])),
                        min_size=1, max_size=14))
    return fabric, ps, ops


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_incremental_equals_full_recomputation(case):
    fabric, ps, ops = case
    work = FaultedFabric(fabric)
    failed: Counter = Counter()
    factors: dict[str, list[float]] = {}
    changed = False
    for op, element, factor in ops:
        kind = fabric.kind_of(element)
        if op == "fail":
            before = _reference_graph(fabric, failed, factors, changed)
            expected = blast_radius(fabric, ps, element, before)
            radius, _ = work.fail_with_radius(element, ps)
            assert radius == expected
            failed[element] += 1
            changed = True
        elif op == "repair":
            element = next(iter(failed), element) if failed and element not in failed else element
            work.repair(element)
            if failed[element]:
                failed[element] -= 1
                changed = True
            if not failed[element]:
                del failed[element]
        elif kind == "link":
            lid = link_id(*element.split("--"))
            if op == "degrade":
                factors.setdefault(lid, []).append(factor)
            elif factors.get(lid):
                factors[lid].pop(0)
                if not factors[lid]:
                    del factors[lid]
            work.set_factors(lid, factors.get(lid, []))
            changed = True
        g = _reference_graph(fabric, failed, factors, changed)
        mine = work.graph
        assert set(mine.nodes) == set(g.nodes)
        for n in g:                                   # same links, attributes and adjacency order
            assert list(mine.adj[n].items()) == list(g.adj[n].items())
            assert mine.nodes[n] == g.nodes[n]
        reach = frontend_reachable_gpus(fabric, g)
        assert work.reach == reach
        for p in ps:
            assert work.status(p) == _reference_status(fabric, p, g, reach)
    for element in list(failed.elements()):            # everything repaired: the healthy fabric again
        work.repair(element)
    for lid in list(factors):
        work.set_factors(lid, [])
    assert work.healthy
    healthy = _reference_graph(fabric, Counter(), {}, changed)
    for n in fabric.graph:
        assert list(work.graph.adj[n].items()) == list(healthy.adj[n].items())
    for p in ps:
        assert work.status(p) == _reference_status(fabric, p, fabric.graph, frontend_reachable_gpus(fabric))


def test_a_host_failure_is_counted_apart_from_its_gpu(h100_4x8):
    """Failing a host and one of its GPUs, then repairing the host, leaves the GPU down."""
    ps = place(h100_4x8, [("aggregated", 4, 8)], 0)
    work = FaultedFabric(h100_4x8)
    gpu = ps[0].gpus[3]
    host = h100_4x8.graph.nodes[gpu]["host"]
    radius, _ = work.fail_with_radius(host, ps)
    assert radius.replicas_lost == (ps[0].replica_id,)
    radius, _ = work.fail_with_radius(gpu, ps)
    assert radius.replicas_lost == ()                 # already down: not counted again
    work.repair(host)
    assert gpu not in work.graph and host in work.graph
    assert work.status(ps[0])[0] == f"GPU {gpu} failed"
    assert work.repair("no-such-element") is None
    work.repair(gpu)
    assert work.status(ps[0]) == _reference_status(h100_4x8, ps[0], h100_4x8.graph, frontend_reachable_gpus(h100_4x8))
