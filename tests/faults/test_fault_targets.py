"""Target resolution: explicit ids against the fabric, selectors with Chaos Mesh modes, determinism."""
from __future__ import annotations

import pytest

from chaos.faults import plan
from chaos.topology import place
from fault_helpers import faults, load_fabric


def targets(fabric, ps, target: str, type_: str = "network_partition", seed: int = 3, extra: str = ""):
    pl = plan(faults(f"- {{type: {type_}, at: 1m, duration: 1m, {extra}target: {target}}}"), fabric=fabric,
              placements=ps, seed=seed, horizon_s=600)
    return pl[0].targets if pl else ()


@pytest.mark.parametrize("target, count", [
    ("{role: aggregated, mode: one}", 1),
    ("{role: aggregated}", 1),                                   # mode defaults to one
    ("{role: aggregated, mode: all}", 8),
    ("{pool: aggregated, mode: all}", 8),
    ("{role: aggregated, mode: fixed, value: 3}", 3),
    ("{role: aggregated, mode: fixed, value: 20}", 8),           # all when fewer
    ("{role: aggregated, mode: fixed-percent, value: 50}", 4),
    ("{role: aggregated, mode: fixed-percent, value: 30}", 2),   # floor(8 * 0.3)
    ("{role: aggregated, mode: fixed-percent, value: 100}", 8),
    ("{mode: all}", 8),                                          # no role: every active replica
], ids=["one", "default-one", "all", "pool-all", "fixed-3", "fixed-over", "percent-50", "percent-floor",
        "percent-100", "no-role"])
def test_mode_counts(agg8, target, count):
    fabric, ps = agg8
    got = targets(fabric, ps, target)
    assert len(got) == count and len(set(got)) == count
    assert all(r.startswith("aggregated-") for r in got)


def test_random_max_percent_stays_under_its_cap_and_varies(agg8):
    fabric, ps = agg8
    sizes = {len(targets(fabric, ps, "{mode: random-max-percent, value: 50, on_empty: skip}", seed=s))
             for s in range(60)}
    assert sizes <= {0, 1, 2, 3, 4} and len(sizes) >= 3


def test_selection_is_deterministic_under_a_seed_and_varies_across_seeds(agg8):
    fabric, ps = agg8
    t = "{role: aggregated, mode: fixed, value: 3}"
    assert targets(fabric, ps, t, seed=11) == targets(fabric, ps, t, seed=11)
    assert len({targets(fabric, ps, t, seed=s) for s in range(20)}) > 5


def test_a_fault_draws_from_its_own_stream(agg8):
    """Each fault draws from "faults:<index>": a fault added after it, however many draws it makes,
    leaves its choices alone."""
    fabric, ps = agg8
    alone = plan(faults("- {type: network_partition, at: 1m, duration: 1m, target: {mode: fixed, value: 2}}"),
                 fabric=fabric, placements=ps, seed=5, horizon_s=600)
    after = plan(faults("- {type: network_partition, at: 1m, duration: 1m, target: {mode: fixed, value: 2}}\n"
                        "- {type: gpu_crash, at: 2m, target: {role: aggregated, mode: all}}"),
                 fabric=fabric, placements=ps, seed=5, horizon_s=600)
    assert alone[0].targets == after[0].targets


def test_spares_only_with_role_spare(h100_4x8):
    ps = place(h100_4x8, [("aggregated", 2, 8)], spares=2)
    assert set(targets(h100_4x8, ps, "{mode: all}")) == {"aggregated-0", "aggregated-1"}
    assert set(targets(h100_4x8, ps, "{role: spare, mode: all}")) == {"spare-0", "spare-1"}


def test_host_selector_picks_hosts_of_the_role(mixed):
    fabric, ps = mixed
    assert targets(fabric, ps, "{role: decode, mode: all}", "node_failure") == ("rack0/host0", "rack0/host1")
    assert targets(fabric, ps, "{role: prefill, mode: all}", "node_failure") == ("rack0/host3",)


def test_switch_and_rack_selectors(mixed):
    fabric, ps = mixed
    assert targets(fabric, ps, "{role: decode}", "switch_failure") == ("rack0/leaf",)
    assert targets(fabric, ps, "{role: decode}", "rack_failure") == ("rack0",)


def test_rack_filter_across_racks():
    fabric = load_fabric("h100-superpod-slice")
    ps = place(fabric, [("aggregated", 2 * fabric.spec.hosts_per_rack, 8)])
    got = targets(fabric, ps, "{rack: rack1, mode: all}", "scheduler_stall")
    assert got and all(fabric.graph.nodes[next(p for p in ps if p.replica_id == r).gpus[0]]["rack"] == "rack1"
                       for r in got)
    # alone, {rack: ...} is an explicit rack for faults that take racks: every replica there
    assert set(targets(fabric, ps, "{rack: rack1}", "scheduler_stall")) == set(got)
    # ... and a selector filter for faults that do not (gpu_crash: one replica of rack1, one GPU)
    (gpu,) = targets(fabric, ps, "{rack: rack1}", "gpu_crash")
    assert fabric.graph.nodes[gpu]["rack"] == "rack1"


def test_gpu_crash_selector_picks_one_gpu_per_replica(agg8):
    fabric, ps = agg8
    got = targets(fabric, ps, "{role: aggregated, mode: all}", "gpu_crash")
    assert len(got) == 8
    owners = [next(p.replica_id for p in ps if g in p.gpus) for g in got]
    assert sorted(owners) == sorted(p.replica_id for p in ps)


def test_link_selector_takes_the_replicas_nic_cables(mixed):
    fabric, ps = mixed
    got = targets(fabric, ps, "{role: aggregated}", "link_failure")
    assert got == tuple(f"rack0/host2/nic{i}--rack0/leaf" for i in range(8))


def test_explicit_lists_and_canonical_link_ids(mixed):
    fabric, ps = mixed
    got = targets(fabric, ps, '{link: ["spine0--rack0/leaf", "rack0/leaf--spine1"]}', "link_failure")
    assert got == ("rack0/leaf--spine0", "rack0/leaf--spine1")
    assert targets(fabric, ps, "{host: [rack0/host3, rack0/host2]}", "node_failure") == ("rack0/host3", "rack0/host2")


def test_on_empty_skip_plans_nothing(agg8):
    fabric, ps = agg8
    assert targets(fabric, ps, "{role: decode, on_empty: skip}") == ()
