"""KV-transfer path bandwidth between replicas: NVLink inside a domain, parallel NICs across hosts."""
from __future__ import annotations

import math

import pytest

from chaos.topology import place, path, remove_element


def test_same_domain_uses_nvlink(h100_4x8):
    a, b = place(h100_4x8, [("prefill", 1, 4), ("decode", 1, 4)])
    assert path(h100_4x8, a, b) == (4 * 450e9, pytest.approx(1e-6))


def test_across_hosts_uses_min_tp_nics(h100_4x8):
    prefill, decode = place(h100_4x8, [("prefill", 1, 4), ("decode", 1, 8)])
    assert prefill.hosts != decode.hosts
    bw, lat = path(h100_4x8, prefill, decode)
    assert bw == 4 * 50e9 and lat == pytest.approx(2e-6)


def test_across_racks_crosses_spine(superpod):
    ps = place(superpod, [("prefill", 4, 8), ("decode", 1, 8)])
    a, b = ps[0], ps[4]                                   # rack0/host0 -> rack1/host0
    assert b.hosts == ("rack1/host0",)
    bw, lat = path(superpod, a, b)
    assert bw == 8 * 50e9 and lat == pytest.approx(6e-6)


def test_oversubscribed_uplinks_cap_cross_rack_transfer(superpod):
    ps = place(superpod, [("prefill", 4, 8), ("decode", 1, 8)])
    g = superpod.graph.copy()
    for s in range(4):
        g.edges["rack0/leaf", f"spine{s}"]["bandwidth_Bps"] = 50e9   # 4:1 oversubscribed
    assert path(superpod, ps[0], ps[4], g)[0] == 4 * 50e9
    g = remove_element(superpod, "spine0", g)
    assert path(superpod, ps[0], ps[4], g)[0] == 3 * 50e9


def test_broken_path(h100_4x8):
    a, b = place(h100_4x8, [("prefill", 1, 8), ("decode", 1, 8)])
    g = remove_element(h100_4x8, "rack0/leaf")
    assert path(h100_4x8, a, b, g) == (0.0, math.inf)
