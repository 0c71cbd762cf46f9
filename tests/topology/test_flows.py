"""Shared link capacity (issue 16.6): what a flow loads, and max-min fair rates on shared resources."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from chaos.topology import build_fabric, load_fabric_spec
from chaos.topology.flows import Flow, capacity, kv_flow, max_min_rates, ring_flow

NIC_400G_BPS = 50e9       # ConnectX-7 400 Gb/s

SPEC = {"name": "4x1", "gpu": "h100-sxm", "racks": 4, "hosts_per_rack": 1, "gpus_per_host": 8,
        "nvlink_domain": "host", "scale_out": {"nic_bandwidth": "400Gbps", "spines": 2}}


@pytest.fixture
def four_racks():
    return build_fabric(load_fabric_spec(SPEC), nvlink_Bps=450e9, nic_Bps=NIC_400G_BPS)


def test_a_tp16_ring_across_two_racks_loads_every_nic_and_both_leaves(four_racks):
    gpus = [f"rack{r}/host0/gpu{i}" for r in (0, 1) for i in range(8)]
    flow = ring_flow(four_racks, gpus, 50e9)
    usage = dict(flow.usage)
    assert usage["up:rack0/leaf"] == 8 and usage["down:rack1/leaf"] == 8
    assert usage["up:rack1/leaf"] == 8 and usage["down:rack0/leaf"] == 8
    assert usage["tx:rack0/host0/nic3"] == 1 and usage["rx:rack1/host0/nic3"] == 1
    assert ring_flow(four_racks, gpus[:8], 450e9) is None           # inside one NVLink domain


def test_losing_one_of_two_spines_halves_the_ring_share(four_racks):
    """The issue's case: 4 racks x 1 host, spines: 2, TP16 across racks. Healthy, the leaf uplinks are
    non-blocking (8 x 50 GB/s); without spine0 the 8 channels share 200 GB/s: 25 GB/s each."""
    gpus = [f"rack{r}/host0/gpu{i}" for r in (0, 1) for i in range(8)]
    flow = ring_flow(four_racks, gpus, 50e9)
    g = four_racks.graph
    assert capacity(g, "up:rack0/leaf") == pytest.approx(400e9)
    assert max_min_rates([flow], lambda res: capacity(g, res)) == [pytest.approx(50e9)]
    cut = g.copy()
    cut.remove_node("spine0")
    assert capacity(cut, "up:rack0/leaf") == pytest.approx(200e9)
    assert max_min_rates([flow], lambda res: capacity(cut, res)) == [pytest.approx(25e9)]


def test_kv_transfers_into_one_decode_replica_share_its_nics(four_racks):
    """KV fan-in: two TP1 prefill replicas send to one TP1 decode GPU; its NIC's 50 GB/s is split."""
    a, b, d = "rack0/host0/gpu0", "rack0/host0/gpu1", "rack1/host0/gpu0"
    f1, f2 = kv_flow(four_racks, [a], [d], 50e9), kv_flow(four_racks, [b], [d], 50e9)
    rates = max_min_rates([f1, f2], lambda res: capacity(four_racks.graph, res))
    assert rates == [pytest.approx(25e9), pytest.approx(25e9)]


def test_progressive_filling_by_hand():
    ring = Flow((("up:a", 8),), 50.0, 1)
    kv = Flow((("up:a", 2), ("rx:n", 2)), 25.0, 2)
    small = Flow((("rx:n", 1),), 100.0, 1)
    # rx:n saturates first (3 connections at 50/3), then the ring takes what is left of up:a
    rates = max_min_rates([ring, kv, small], {"up:a": 200.0, "rx:n": 50.0}.get)
    assert rates == pytest.approx([(200.0 - 2 * 50 / 3) / 8, 50 / 3, 50 / 3])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(st.tuples(st.sampled_from("abcd"), st.integers(1, 4)), min_size=1, max_size=3,
                                   unique_by=lambda x: x[0]),
                          st.floats(1.0, 100.0)), min_size=1, max_size=6),
       st.dictionaries(st.sampled_from("abcd"), st.floats(1.0, 300.0), min_size=4, max_size=4))
def test_rates_are_feasible_and_every_flow_is_bottlenecked(flows, caps):
    """Max-min fairness: no resource over capacity, and each flow is at its cap or on a saturated
    resource where no other flow gets a higher rate."""
    fl = [Flow(tuple(u), cap, 1) for u, cap in flows]
    rates = max_min_rates(fl, caps.get)
    load = {r: sum(dict(f.usage).get(r, 0) * x for f, x in zip(fl, rates)) for r in caps}
    for r in caps:
        assert load[r] <= caps[r] * (1 + 1e-9)
    for f, x in zip(fl, rates):
        if x >= f.cap_Bps * (1 - 1e-9):
            continue
        assert any(load[r] >= caps[r] * (1 - 1e-9) and all(y <= x * (1 + 1e-9) for g, y in zip(fl, rates)
                                                            if r in dict(g.usage))
                   for r, _ in f.usage), (f, x)
