"""Placement: TP groups inside NVLink domains when they fit, across whole hosts otherwise."""
from __future__ import annotations

import pytest

from chaos.errors import PlacementError
from chaos.topology import place


def test_nvl72_tp16_inside_rack_domain(nvl72):
    [p] = place(nvl72, [("aggregated", 1, 16)])
    assert p.gpus[:5] == ("rack0/host0/gpu0", "rack0/host0/gpu1", "rack0/host0/gpu2", "rack0/host0/gpu3",
                          "rack0/host1/gpu0")
    assert p.link_Bps == 900e9 and p.link_latency_s == pytest.approx(1e-6)
    assert p.cross_host and len(p.hosts) == 4


def test_nvl72_fits_four_tp16_not_five(nvl72):
    assert len(place(nvl72, [("aggregated", 4, 16)])) == 4
    with pytest.raises(PlacementError, match="needs 80 GPUs for 5 x tp16 but the fabric has 72"):
        place(nvl72, [("aggregated", 5, 16)])


def test_tp16_on_8gpu_hosts_spans_two_hosts(h100_4x8):
    [p] = place(h100_4x8, [("aggregated", 1, 16)])
    assert p.hosts == ("rack0/host0", "rack0/host1") and p.cross_host
    assert p.link_Bps == 50e9                          # the 400 Gb/s NIC, not NVLink
    assert p.link_latency_s == pytest.approx(2e-6)     # one leaf traversal


def test_groups_pack_inside_domains(h100_4x8):
    ps = place(h100_4x8, [("prefill", 2, 4), ("decode", 2, 8)], spares=1)
    assert [p.replica_id for p in ps] == ["prefill-0", "prefill-1", "decode-0", "decode-1", "spare-0"]
    hosts = {p.replica_id: p.hosts for p in ps}
    # largest tp first: decodes, then the tp8 spare, take hosts 0-2; both tp4 prefills share host 3
    assert hosts == {"decode-0": ("rack0/host0",), "decode-1": ("rack0/host1",), "spare-0": ("rack0/host2",),
                     "prefill-0": ("rack0/host3",), "prefill-1": ("rack0/host3",)}
    assert ps[0].gpus == tuple(f"rack0/host3/gpu{i}" for i in range(4))
    assert all(not p.cross_host and p.link_Bps == 450e9 for p in ps)
    assert ps[-1].role == "spare" and ps[-1].tp == 8


def test_small_groups_fill_leftovers_without_splitting(h100_4x8):
    ps = place(h100_4x8, [("aggregated", 3, 4), ("decode", 1, 16), ("prefill", 2, 2)])
    gpus = {p.replica_id: p.gpus for p in ps}
    assert gpus["decode-0"] == tuple(f"rack0/host{h}/gpu{i}" for h in (0, 1) for i in range(8))
    assert [gpus[f"aggregated-{i}"][0] for i in range(3)] == ["rack0/host2/gpu0", "rack0/host2/gpu4",
                                                              "rack0/host3/gpu0"]
    assert gpus["prefill-0"] == ("rack0/host3/gpu4", "rack0/host3/gpu5")
    assert gpus["prefill-1"] == ("rack0/host3/gpu6", "rack0/host3/gpu7")


def test_placement_is_deterministic(superpod):
    groups = [("prefill", 4, 8), ("decode", 6, 4), ("aggregated", 2, 2)]
    assert place(superpod, groups, spares=2) == place(superpod, groups, spares=2)


def test_tp1_has_no_ring(hgx):
    [p] = place(hgx, [("aggregated", 1, 1)])
    assert p.gpus == ("rack0/host0/gpu0",) and p.link_latency_s == 0.0


@pytest.mark.parametrize("groups, spares, field, match", [
    ([("aggregated", 3, 4)], 0, "deployment.replicas", "needs 12 GPUs for 3 x tp4 but the fabric has 8: add hosts"),
    ([("prefill", 1, 4), ("decode", 1, 4)], 1, "deployment.spares", "needs 12 GPUs for prefill 1 x tp4 \\+ decode"),
    ([("aggregated", 1, 0)], 0, "deployment.tp", "tp must be a whole number >= 1 but got 0"),
    ([("decode", 1, 6)], 0, "deployment.decode.tp", "power of two .* got 6: use 4 or 8"),
    ([("prefill", -1, 2)], 0, "deployment.prefill.replicas", "replicas must be a whole number >= 0"),
    ([("aggregated", 1, 2)], -1, "deployment.spares", "spares must be"),
], ids=["not-enough-gpus", "spares-overflow", "tp-zero", "tp-not-power-of-two", "negative-replicas",
        "negative-spares"])
def test_placement_errors(hgx, groups, spares, field, match):
    with pytest.raises(PlacementError, match=match) as info:
        place(hgx, groups, spares=spares)
    assert info.value.field == field


def test_tp_across_hosts_must_be_whole_hosts():
    from chaos.topology import FabricSpec, build_fabric
    spec = FabricSpec.model_validate({"name": "six", "gpu": "x", "racks": 1, "hosts_per_rack": 4,
                                      "gpus_per_host": 6, "scale_out": {"spines": 0}})
    fabric = build_fabric(spec, nvlink_Bps=450e9, nic_Bps=50e9)
    with pytest.raises(PlacementError, match="not a multiple of gpus_per_host=6") as info:
        place(fabric, [("aggregated", 1, 8)])
    assert info.value.field == "deployment.tp"
    # two tp4 groups cannot share a 6-GPU host: the fourth group finds no domain with 4 free GPUs
    with pytest.raises(PlacementError, match="no room for aggregated-4"):
        place(fabric, [("aggregated", 5, 4)])
