"""Blast radius follows from the graph: which replicas a failed element takes down or slows."""
from __future__ import annotations

import pytest

from chaos.errors import TopologyError
from chaos.topology import blast_radius, place, remove_element


@pytest.fixture
def mixed(h100_4x8):
    """decode-0 spans hosts 0-1 (tp16); prefill-0/1 share host 3; aggregated-0 sits on host 2."""
    return h100_4x8, place(h100_4x8, [("prefill", 2, 4), ("decode", 1, 16), ("aggregated", 1, 8)])


def test_gpu_takes_only_its_replica(mixed):
    fabric, ps = mixed
    br = blast_radius(fabric, ps, "rack0/host3/gpu5")
    assert (br.kind, br.gpus_lost, br.replicas_lost, br.replicas_degraded) == (
        "gpu", ("rack0/host3/gpu5",), ("prefill-1",), ())
    assert br.links_lost == ("rack0/host3/gpu5--rack0/host3/nic5", "rack0/host3/gpu5--rack0/host3/nvswitch")
    assert dict(br.reasons) == {"prefill-1": "GPU rack0/host3/gpu5 failed"}


def test_host_takes_every_replica_with_a_gpu_there(mixed):
    fabric, ps = mixed
    assert blast_radius(fabric, ps, "rack0/host3").replicas_lost == ("prefill-0", "prefill-1")
    br = blast_radius(fabric, ps, "rack0/host1")
    assert br.replicas_lost == ("decode-0",) and len(br.gpus_lost) == 8 and len(br.links_lost) == 24


def test_leaf_of_single_rack_takes_everything(mixed):
    fabric, ps = mixed
    br = blast_radius(fabric, ps, "rack0/leaf")
    assert br.replicas_lost == ("aggregated-0", "decode-0", "prefill-0", "prefill-1")
    reasons = dict(br.reasons)
    assert "has no route" in reasons["decode-0"]                    # the cross-host ring is cut
    assert reasons["prefill-0"] == "cannot reach the frontend"      # NVLink ring fine, but unreachable
    assert br.gpus_lost == () and len(br.links_lost) == 32 + 2


def test_one_spine_of_two_loses_nothing(mixed):
    fabric, ps = mixed
    br = blast_radius(fabric, ps, "spine1")
    assert br.replicas_lost == () and br.replicas_degraded == ()
    assert br.links_lost == ("rack0/leaf--spine1",)


def test_both_spines_cut_the_frontend(mixed):
    fabric, ps = mixed
    br = blast_radius(fabric, ps, "spine1", graph=remove_element(fabric, "spine0"))
    assert br.replicas_lost == ("aggregated-0", "decode-0", "prefill-0", "prefill-1")


def test_spine_degrades_cross_rack_group(superpod):
    ps = place(superpod, [("aggregated", 1, 64)])   # hosts 0-7: racks 0 and 1, rings cross spines
    assert ps[0].link_Bps == 50e9 and ps[0].link_latency_s == pytest.approx(6e-6)  # leaf, spine, leaf
    br = blast_radius(superpod, ps, "spine2")
    assert br.replicas_lost == () and br.replicas_degraded == ("aggregated-0",)
    assert "equal-cost path" in dict(br.reasons)["aggregated-0"]


def test_nvl72_nvswitch_takes_all(nvl72):
    ps = place(nvl72, [("prefill", 2, 16), ("decode", 4, 8)])
    br = blast_radius(nvl72, ps, "rack0/nvswitch")
    assert br.replicas_lost == tuple(sorted(p.replica_id for p in ps)) and br.gpus_lost == ()
    assert len(br.links_lost) == 72


def test_nvl72_host_takes_only_groups_on_it(nvl72):
    ps = place(nvl72, [("aggregated", 4, 16)])
    assert blast_radius(nvl72, ps, "rack0/host5").replicas_lost == ("aggregated-1",)


def test_nic_of_cross_host_group(mixed):
    fabric, ps = mixed
    assert blast_radius(fabric, ps, "rack0/host0/nic3").replicas_lost == ("decode-0",)
    assert blast_radius(fabric, ps, "rack0/host2/nic3").replicas_lost == ()   # NVLink-only replica


def test_link_element_either_order(mixed):
    fabric, ps = mixed
    a = blast_radius(fabric, ps, "rack0/host0/gpu7--rack0/host0/nvswitch")
    b = blast_radius(fabric, ps, "rack0/host0/nvswitch--rack0/host0/gpu7")
    assert a.replicas_lost == b.replicas_lost == ("decode-0",) and a.kind == "link" and a.gpus_lost == ()


def test_already_failed_replicas_are_not_counted_twice(mixed):
    fabric, ps = mixed
    g = remove_element(fabric, "rack0/host0")
    assert blast_radius(fabric, ps, "rack0/host1", graph=g).replicas_lost == ()


def test_unknown_element(mixed):
    fabric, ps = mixed
    with pytest.raises(TopologyError, match=r"did you mean rack0/host1/gpu7\?"):
        blast_radius(fabric, ps, "rack0/host1/gpu8")
