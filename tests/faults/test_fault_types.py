"""Each fault type calls the right FleetControl methods at the right times on the right targets."""
from __future__ import annotations

import math

import pytest

from chaos.faults import plan
from chaos.topology import place
from fault_helpers import faults, load_fabric

C = "faults[0] "


def planned(fabric, placements, text, horizon_s=3600.0, seed=7):
    return plan(faults(text), fabric=fabric, placements=placements, seed=seed, horizon_s=horizon_s)


def test_gpu_crash_explicit(mixed, run_plan):
    fabric, ps = mixed
    pl = planned(fabric, ps, "- {type: gpu_crash, at: 10m, duration: 5m, target: {gpu: rack0/host3/gpu5}}")
    assert len(pl) == 1 and pl[0].replicas_lost == ("prefill-1",) and pl[0].target_kind == "gpu"
    fleet = run_plan(fabric, ps, pl)
    assert fleet.calls == [(600.0, "fail_element", "rack0/host3/gpu5", C + "gpu_crash"),
                           (900.0, "repair_element", "rack0/host3/gpu5", C + "gpu_crash")]


def test_gpu_crash_permanent_is_never_repaired(mixed, run_plan):
    fabric, ps = mixed
    pl = planned(fabric, ps, "- {type: gpu_crash, at: 10m, target: {gpu: rack0/host3/gpu5}}")
    assert pl[0].permanent and pl[0].end_s == 3600.0
    assert run_plan(fabric, ps, pl).methods() == ["fail_element"]


def test_gpu_crash_on_a_replica_fails_one_of_its_gpus(mixed):
    fabric, ps = mixed
    pl = planned(fabric, ps, "- {type: gpu_crash, at: 1m, target: {replica: decode-0}}")
    (gpu,) = pl[0].targets
    decode = next(p for p in ps if p.replica_id == "decode-0")
    assert gpu in decode.gpus and pl[0].replicas_lost == ("decode-0",)


def test_node_failure_hits_every_replica_of_the_host(agg8, run_plan):
    fabric, ps = agg8
    pl = planned(fabric, ps, "- {type: node_failure, at: 30s, duration: 1m, target: {host: rack0/host1}}")
    assert pl[0].replicas_lost == ("aggregated-2", "aggregated-3")
    fleet = run_plan(fabric, ps, pl)
    assert fleet.calls == [(30.0, "fail_element", "rack0/host1", C + "node_failure"),
                           (90.0, "repair_element", "rack0/host1", C + "node_failure")]


def test_switch_failure_of_the_only_leaf_takes_cross_host_groups(mixed, run_plan):
    fabric, ps = mixed
    pl = planned(fabric, ps, "- {type: switch_failure, at: 1m, duration: 2m, target: {switch: rack0/leaf}}")
    assert pl[0].replicas_lost == ("aggregated-0", "decode-0", "prefill-0", "prefill-1")
    assert run_plan(fabric, ps, pl).calls[0] == (60.0, "fail_element", "rack0/leaf", C + "switch_failure")


def test_spine_failure_loses_nothing_in_one_rack(mixed):
    fabric, ps = mixed
    pl = planned(fabric, ps, "- {type: switch_failure, at: 1m, target: {switch: spine0}}")
    assert pl[0].replicas_lost == () and pl[0].replicas_degraded == ()


def test_rack_failure(mixed, run_plan):
    fabric, ps = mixed
    pl = planned(fabric, ps, "- {type: rack_failure, at: 2m, duration: 1m, target: {rack: rack0}}")
    assert len(pl[0].replicas_lost) == 4
    assert [c[1:3] for c in run_plan(fabric, ps, pl).calls] == [("fail_element", "rack0"), ("repair_element", "rack0")]


def test_link_failure_of_a_decode_nic_cable(mixed, run_plan):
    fabric, ps = mixed
    link = "rack0/host0/nic3--rack0/leaf"
    pl = planned(fabric, ps, f'- {{type: link_failure, at: 1m, duration: 1m, target: {{link: "rack0/leaf--rack0/host0/nic3"}}}}')
    assert pl[0].targets == (link,)                         # canonical order
    assert pl[0].replicas_lost == ("decode-0",)             # cross-host group loses a rail
    assert [c[1:3] for c in run_plan(fabric, ps, pl).calls] == [("fail_element", link), ("repair_element", link)]


def test_link_degradation_slows_the_cross_host_ring(mixed, run_plan):
    fabric, ps = mixed
    link = "rack0/host0/nic0--rack0/leaf"
    pl = planned(fabric, ps, f"- {{type: link_degradation, at: 1m, duration: 30s, factor: 0.25, target: {{link: {link}}}}}")
    assert pl[0].replicas_degraded == ("decode-0",) and pl[0].replicas_lost == ()
    fleet = run_plan(fabric, ps, pl)
    assert fleet.calls == [(60.0, "degrade_link", link, 0.25, C + "link_degradation"),
                           (90.0, "restore_link", link, C + "link_degradation")]


def test_nvlink_degradation_only_touches_its_group(mixed):
    fabric, ps = mixed
    pl = planned(fabric, ps, "- {type: link_degradation, at: 1m, factor: 0.5, "
                             "target: {link: rack0/host2/gpu3--rack0/host2/nvswitch}}")
    assert pl[0].replicas_degraded == ("aggregated-0",)


def test_scheduler_stall_silent_and_loud(mixed, run_plan):
    fabric, ps = mixed
    pl = planned(fabric, ps, """
- {type: scheduler_stall, at: 1m, duration: 2m, target: {replica: decode-0}}
- {type: scheduler_stall, at: 2m, duration: 2m, silent: false, target: {host: rack0/host3}}
""")
    fleet = run_plan(fabric, ps, pl)
    assert fleet.calls == [
        (60.0, "stall_replica", "decode-0", True, "faults[0] scheduler_stall"),
        (120.0, "stall_replica", "prefill-0", False, "faults[1] scheduler_stall"),
        (120.0, "stall_replica", "prefill-1", False, "faults[1] scheduler_stall"),
        (180.0, "resume_replica", "decode-0", "faults[0] scheduler_stall"),
        (240.0, "resume_replica", "prefill-1", "faults[1] scheduler_stall"),
        (240.0, "resume_replica", "prefill-0", "faults[1] scheduler_stall")]


def test_straggler_slows_one_gpu_of_the_replica(mixed, run_plan):
    fabric, ps = mixed
    pl = planned(fabric, ps, "- {type: straggler, at: 1m, duration: 1m, factor: 1.5, target: {gpu: rack0/host2/gpu4}}")
    assert pl[0].replicas_degraded == ("aggregated-0",)
    fleet = run_plan(fabric, ps, pl)
    assert fleet.calls == [(60.0, "slow_gpu", "rack0/host2/gpu4", 1.5, C + "straggler"),
                           (120.0, "restore_gpu_speed", "rack0/host2/gpu4", C + "straggler")]


def test_straggler_on_a_host_slows_all_its_gpus(mixed):
    fabric, ps = mixed
    pl = planned(fabric, ps, "- {type: straggler, at: 1m, factor: 2, target: {host: rack0/host3}}")
    assert len(pl[0].targets) == 8 and pl[0].replicas_degraded == ("prefill-0", "prefill-1")


def test_kv_capacity_loss_on_a_gpu_shrinks_its_replica(mixed, run_plan):
    fabric, ps = mixed
    pl = planned(fabric, ps, "- {type: kv_capacity_loss, at: 1m, duration: 4m, fraction: 0.3, target: {gpu: rack0/host0/gpu2}}")
    assert pl[0].targets == ("decode-0",)
    fleet = run_plan(fabric, ps, pl)
    assert fleet.calls == [(60.0, "reduce_kv", "decode-0", 0.3, C + "kv_capacity_loss"),
                           (300.0, "restore_kv", "decode-0", C + "kv_capacity_loss")]


def test_network_partition_of_a_pool(mixed, run_plan):
    fabric, ps = mixed
    pl = planned(fabric, ps, "- {type: network_partition, at: 1m, duration: 1m, target: {role: prefill, mode: all}}")
    fleet = run_plan(fabric, ps, pl)
    assert fleet.calls == [(60.0, "partition", ("prefill-0", "prefill-1"), C + "network_partition"),
                           (120.0, "heal_partition", ("prefill-0", "prefill-1"), C + "network_partition")]


def test_repeat_every_plays_each_occurrence(mixed, run_plan):
    fabric, ps = mixed
    pl = planned(fabric, ps, "- {type: gpu_crash, at: 1m, duration: 1m, repeat: 3, every: 1m, "
                             "target: {gpu: rack0/host2/gpu0}}")
    assert [(p.start_s, p.end_s) for p in pl] == [(60, 120), (120, 180), (180, 240)]
    fleet = run_plan(fabric, ps, pl)
    # at 2m and 3m the previous occurrence's repair comes before the next failure
    assert [(c[0], c[1]) for c in fleet.calls] == [
        (60, "fail_element"), (120, "repair_element"), (120, "fail_element"), (180, "repair_element"),
        (180, "fail_element"), (240, "repair_element")]


def test_every_without_repeat_runs_to_the_end(mixed):
    fabric, ps = mixed
    pl = planned(fabric, ps, "- {type: straggler, at: 0s, duration: 1m, every: 10m, factor: 2, "
                             "target: {gpu: rack0/host2/gpu0}}", horizon_s=3600)
    assert [p.start_s for p in pl] == [0, 600, 1200, 1800, 2400, 3000]


def test_no_horizon_means_permanent_until_inf(mixed):
    fabric, ps = mixed
    pl = planned(fabric, ps, "- {type: gpu_crash, at: 1m, target: {gpu: rack0/host2/gpu0}}", horizon_s=None)
    assert pl[0].permanent and math.isinf(pl[0].end_s) and pl[0].to_dict()["end_s"] is None


def test_journal_record(mixed):
    fabric, ps = mixed
    (pf,) = planned(fabric, ps, "- {type: link_degradation, at: 1m, duration: 1m, factor: 0.5, "
                                "target: {link: rack0/host0/nic0--rack0/leaf}}")
    d = pf.to_dict()
    assert d == {"index": 0, "type": "link_degradation", "occurrence": 0, "cause": "faults[0] link_degradation",
                 "target_kind": "link", "targets": ["rack0/host0/nic0--rack0/leaf"], "start_s": 60.0, "end_s": 120.0,
                 "permanent": False, "replicas_lost": [], "replicas_degraded": ["decode-0"],
                 "replicas_affected": ["decode-0"], "detail": "", "params": {"factor": 0.5}}


def test_two_racks_leaf_failure_cuts_only_that_rack():
    fabric = load_fabric("h100-superpod-slice")
    ps = place(fabric, [("aggregated", 2 * fabric.spec.hosts_per_rack, 8)])
    pl = planned(fabric, ps, "- {type: switch_failure, at: 1m, target: {switch: rack1/leaf}}")
    in_rack1 = sorted(p.replica_id for p in ps if fabric.graph.nodes[p.gpus[0]]["rack"] == "rack1")
    assert list(pl[0].replicas_lost) == in_rack1 and in_rack1
