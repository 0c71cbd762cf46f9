"""start_faults: actions at their planned times, faults before arrivals at the same instant, ends before starts."""
from __future__ import annotations

import inspect

import simpy

from chaos.engine.events import UrgentTimeout
from chaos.faults import FAULT_PRIORITY, FleetControl, plan, start_faults
from chaos.faults.run import actions
from fault_helpers import FakeFleet, faults


def test_faults_act_before_same_time_arrivals_scheduled_earlier(mixed):
    fabric, ps = mixed
    env = simpy.Environment()
    fleet = FakeFleet(env, fabric, ps)
    arrival = UrgentTimeout(env, 60.0)                         # scheduled first, URGENT
    arrival.callbacks.append(lambda _e: fleet.calls.append((env.now, "arrival")))
    later = env.timeout(60.0)                                  # NORMAL: an iteration end
    later.callbacks.append(lambda _e: fleet.calls.append((env.now, "iteration")))
    pl = plan(faults("- {type: gpu_crash, at: 1m, target: {gpu: rack0/host2/gpu0}}"), fabric=fabric,
              placements=ps, seed=0, horizon_s=600)
    start_faults(env, pl, fleet)
    env.run()
    assert [c[1] for c in fleet.calls] == ["fail_element", "arrival", "iteration"]
    assert FAULT_PRIORITY < simpy.core.URGENT


def test_overlapping_faults_are_played_in_time_order(mixed, run_plan):
    fabric, ps = mixed
    pl = plan(faults("""
- {type: node_failure, at: 2m, duration: 3m, target: {host: rack0/host2}}
- {type: gpu_crash, at: 1m, duration: 2m, target: {gpu: rack0/host2/gpu1}}
- {type: straggler, at: 3m, duration: 1m, factor: 2, target: {gpu: rack0/host3/gpu0}}
"""), fabric=fabric, placements=ps, seed=0, horizon_s=600)
    assert [p.index for p in pl] == [1, 0, 2]                  # sorted by start
    fleet = run_plan(fabric, ps, pl)
    assert [(t, m, a) for t, m, a, *_ in fleet.calls] == [
        (60, "fail_element", "rack0/host2/gpu1"), (120, "fail_element", "rack0/host2"),
        (180, "repair_element", "rack0/host2/gpu1"), (180, "slow_gpu", "rack0/host3/gpu0"),
        (240, "restore_gpu_speed", "rack0/host3/gpu0"), (300, "repair_element", "rack0/host2")]


def test_instant_fault_ends_after_it_starts(mixed):
    fabric, ps = mixed
    pl = plan(faults("- {type: gpu_crash, mtbf: 1h, repair: 0s, target: {gpu: rack0/host2/gpu0}}"), fabric=fabric,
              placements=ps, seed=0, horizon_s=10 * 3600)
    todo = actions(pl)
    for pf in pl:
        mine = [a[3] for a in todo if a[4] is pf]
        assert mine == ["apply", "revert"]


def test_run_stops_at_the_horizon_without_reverting(mixed, run_plan):
    fabric, ps = mixed
    pl = plan(faults("- {type: scheduler_stall, at: 1m, duration: 10m, target: {replica: decode-0}}"), fabric=fabric,
              placements=ps, seed=0, horizon_s=300)
    assert run_plan(fabric, ps, pl, until=300).methods() == ["stall_replica"]


def test_protocol_has_the_briefs_methods_and_crash_replica():
    names = {n for n, _ in inspect.getmembers(FleetControl, inspect.isfunction)}
    assert names >= {"fail_element", "repair_element", "degrade_link", "restore_link", "stall_replica",
                     "resume_replica", "slow_gpu", "restore_gpu_speed", "reduce_kv", "restore_kv", "partition",
                     "heal_partition", "add_arrivals", "workload_lengths", "workload_rate", "crash_replica"}
    assert {n for n in names if not n.startswith("_")} <= {n for n in dir(FakeFleet)}
