"""Invariants over random fabrics and deployments."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.errors import PlacementError
from chaos.topology import FabricSpec, blast_radius, build_fabric, place


@st.composite
def fabrics(draw):
    racks = draw(st.integers(1, 3))
    spec = FabricSpec.model_validate({
        "name": "random", "gpu": "h100-sxm", "racks": racks, "hosts_per_rack": draw(st.integers(1, 4)),
        "gpus_per_host": draw(st.sampled_from([1, 2, 4, 8])),
        "nvlink_domain": draw(st.sampled_from(["host", "rack"])),
        "scale_out": {"spines": draw(st.integers(1 if racks > 1 else 0, 3))}})
    return build_fabric(spec, nvlink_Bps=450e9, nic_Bps=50e9)


@st.composite
def deployments(draw):
    fabric = draw(fabrics())
    roles = draw(st.lists(st.sampled_from(["prefill", "decode", "aggregated"]), min_size=1, max_size=3, unique=True))
    groups = [(r, draw(st.integers(0, 6)), draw(st.sampled_from([1, 2, 4, 8, 16]))) for r in roles]
    return fabric, groups, draw(st.integers(0, 2))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deployments())
def test_every_gpu_in_at_most_one_placement(case):
    fabric, groups, spares = case
    try:
        ps = place(fabric, groups, spares)
    except PlacementError:
        return
    used = [g for p in ps for g in p.gpus]
    assert len(used) == len(set(used))
    assert set(used) <= set(fabric.gpus())
    assert all(len(p.gpus) == p.tp and p.link_Bps > 0 for p in ps)
    for p in ps:       # a group that fits one NVLink domain is never split across domains
        if p.tp <= fabric.spec.domain_size:
            assert len({fabric.nvlink_domain(g) for g in p.gpus}) == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deployments(), st.data())
def test_rack_blast_radius_contains_its_hosts(case, data):
    fabric, groups, spares = case
    try:
        ps = place(fabric, groups, spares)
    except PlacementError:
        return
    host = data.draw(st.sampled_from(fabric.hosts()))
    rack = fabric.graph.nodes[host]["rack"]
    h, r = blast_radius(fabric, ps, host), blast_radius(fabric, ps, rack)
    assert set(h.gpus_lost) <= set(r.gpus_lost)
    assert set(h.links_lost) <= set(r.links_lost)
    assert set(h.replicas_lost) <= set(r.replicas_lost)
    assert set(h.replicas_lost + h.replicas_degraded) <= set(r.replicas_lost + r.replicas_degraded)
