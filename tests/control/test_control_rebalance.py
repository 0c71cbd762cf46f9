"""rerole and autoscale: decisions computed from observed load and perf capacity (planner formula)."""
from __future__ import annotations

import math

import pytest
import simpy

from chaos.control import Controller, ControllerConfig, LoadSnapshot
from chaos.control.policies import replicas_needed
from control_fakes import FakePlane

# FakePlane capacity at TP 8: prefill 8 * 1250 = 10,000 prompt tokens/s, decode 8 * 125 = 1,000 output tokens/s


def load(rate, inp, out):
    return lambda now: LoadSnapshot(60.0, rate, inp, out)


@pytest.mark.parametrize("pool, rate, inp, out, u, expected", [
    ("prefill", 5, 1000, 400, 0.7, 1),       # 5000 / 7000
    ("decode", 5, 1000, 400, 0.7, 3),        # 2000 / 700 = 2.86
    ("decode", 7, 1000, 100, 0.7, 1),        # 700 / 700 = exactly 1
    ("aggregated", 10, 1000, 100, 0.7, 3),   # 10 * (0.1 + 0.1) / 0.7 = 2.86
    ("aggregated", 0, 1000, 100, 0.7, 0),
    ("prefill", 14, 1000, 0, 1.0, 2),        # 14000 / 10000
])
def test_planner_formula(pool, rate, inp, out, u, expected):
    snap = LoadSnapshot(60.0, rate, inp, out)
    assert replicas_needed(snap, pool, 10_000.0, 1_000.0, u) == expected


def disagg(env, n_prefill=3, n_decode=3, **kw):
    roles = {**{f"p{i}": "prefill" for i in range(n_prefill)}, **{f"d{i}": "decode" for i in range(n_decode)}}
    return FakePlane(env, roles, **kw)


def test_rerole_moves_a_prefill_replica_to_decode_when_decode_is_starved():
    env = simpy.Environment()
    plane = disagg(env)
    plane.load_fn = load(5, 1000, 400)               # prefill needs 1, decode needs 3
    plane.outstanding = {"p0": 5, "p1": 2, "p2": 9}
    ctl = Controller(ControllerConfig(policy=["restart", "rerole"], rerole_time="30s"), plane)
    ctl.start()
    env.run(until=100)
    ctl.on_replica_down("d0", "health check", 100.0)
    assert plane.called("restart") == [(100.0, ("d0", 60.0))]           # recovery still happens
    assert plane.called("rerole") == [(100.0, ("p1", "decode", 30.0))]  # least loaded prefill
    detail = next(d for _, a, _, d in plane.records if a == "rerole")
    assert "decode has 2 healthy, needs 3" in detail and "prefill has 3, needs 1" in detail
    env.run(until=131)
    assert plane.role_of("p1") == "decode"
    ctl.on_replica_up("d0", 165.0)                   # decode 4 (slack 1), prefill 2 (need 1): no move back
    assert len(plane.called("rerole")) == 1


def test_rerole_moves_back_when_the_other_pool_becomes_starved():
    env = simpy.Environment()
    plane = disagg(env, n_prefill=2, n_decode=3)
    plane.load_fn = load(5, 1000, 400)               # prefill needs 1, decode needs 3
    ctl = Controller(ControllerConfig(policy="rerole"), plane)
    ctl.start()
    ctl.on_replica_down("d2", "no progress", 0.0)    # hardware fine: none leaves it, rerole rebalances
    assert plane.called("rerole") == [(0.0, ("p0", "decode", 30.0))]
    env.run(until=40)
    plane.load_fn = load(10, 1000, 200)              # now prefill needs 2, decode needs 3
    ctl.on_replica_up("d2", 40.0)                    # decode 4 healthy, prefill 1 -> move one back
    assert plane.called("rerole")[1] == (40.0, ("d0", "prefill", 30.0))


@pytest.mark.parametrize("rate, inp, out, down", [
    (5, 1000, 150, ["d0"]),                          # decode needs 2 of 2 healthy: not starved
    (30, 1000, 400, ["d0"]),                         # prefill needs 5, decode needs 18: both starved
    (5, 1000, 400, ["p0", "p1", "d0"]),              # decode starved, but prefill has no slack left
])
def test_rerole_does_not_move_without_a_starved_pool_and_a_pool_with_slack(rate, inp, out, down):
    env = simpy.Environment()
    plane = disagg(env)
    plane.load_fn = load(rate, inp, out)
    ctl = Controller(ControllerConfig(policy="rerole"), plane)
    ctl.start()
    for rid in down:
        ctl.on_replica_down(rid, "health check", 0.0)
    assert plane.called("rerole") == []


def test_rerole_never_acts_on_an_aggregated_deployment():
    env = simpy.Environment()
    plane = FakePlane(env, {"a0": "aggregated", "a1": "aggregated"})
    plane.load_fn = load(100, 1000, 400)
    ctl = Controller(ControllerConfig(policy="rerole"), plane)
    ctl.start()
    ctl.on_replica_down("a0", "health check", 0.0)
    assert plane.called("rerole") == []


def step_load(env_rates):
    """Piecewise-constant arrival rate: [(from_s, rate), ...]; prompts 1000, outputs 100 tokens."""
    def fn(now):
        rate = [r for t, r in env_rates if now >= t][-1]
        return LoadSnapshot(60.0, rate, 1000.0, 100.0)
    return fn


def count_over_time(plane, env, until, pool="aggregated", every=10.0):
    """Pool size seen at 10, 20, ...: env.run(until=t) stops before the events at t."""
    out = []
    while env.now < until:
        env.run(until=env.now + every)
        out.append((env.now, len(plane.replicas(pool))))
    return out


def test_autoscale_adds_replicas_under_a_load_step_and_removes_them_when_it_falls():
    env = simpy.Environment()
    plane = FakePlane(env, {"a0": "aggregated"}, spares=[f"s{i}" for i in range(6)])
    # per request 1000/10000 + 100/1000 = 0.2 replica-seconds; need = ceil(rate * 0.2 / 0.7)
    plane.load_fn = step_load([(0, 2.0), (100, 10.0), (400, 2.0)])      # need 1, 3, 1
    cfg = ControllerConfig(policy="autoscale", model_load_time="90s",
                           autoscale={"interval": "30s", "scale_down_delay": "60s",
                                      "aggregated": {"min": 1, "max": 5}})
    ctl = Controller(cfg, plane)
    ctl.start()
    counts = dict(count_over_time(plane, env, 700))
    assert plane.called("activate_spare") == [(120.0, ("s0", "aggregated", 90.0)),
                                              (120.0, ("s1", "aggregated", 90.0))]
    assert plane.serving_at["s0"] == 210.0
    # the fall at 400 is seen at the tick at 420; the 60 s stabilisation keeps 3 until the tick at 480
    assert plane.called("deactivate") == [(480.0, ("a0",)), (480.0, ("s0",))]
    assert counts[120.0] == 1 and counts[130.0] == 3 and counts[480.0] == 3 and counts[490.0] == 1
    assert all(1 <= n <= 5 for n in counts.values())
    assert plane.actions() == [(120.0, "scale_up", ("s0", "s1")), (480.0, "scale_down", ("a0", "s0"))]


def test_autoscale_respects_max_and_min_and_free_spares():
    env = simpy.Environment()
    plane = FakePlane(env, {"a0": "aggregated"}, spares=["s0", "s1", "s2", "s3"])
    plane.load_fn = step_load([(0, 0.0), (50, 40.0)])                   # need 0 -> min 2; then 12 -> max 4
    cfg = ControllerConfig(policy="autoscale", autoscale={"interval": 30, "aggregated": {"min": 2, "max": 4}})
    Controller(cfg, plane).start()
    env.run(until=31)
    assert len(plane.replicas("aggregated")) == 2                       # min 2 at the first tick
    env.run(until=200)
    assert len(plane.replicas("aggregated")) == 4                       # capped at max 4
    plane.spares.clear()
    cfg2 = ControllerConfig(policy="autoscale", autoscale={"interval": 30})
    env2 = simpy.Environment()
    plane2 = FakePlane(env2, {"a0": "aggregated"}, spares=["s0"])
    plane2.load_fn = step_load([(0, 40.0)])                             # needs 12, one spare
    Controller(cfg2, plane2).start()
    env2.run(until=200)
    assert len(plane2.replicas("aggregated")) == 2 and plane2.free_spares() == []


def test_autoscale_sizes_prefill_and_decode_pools_separately():
    env = simpy.Environment()
    plane = disagg(env, n_prefill=1, n_decode=1, spares=[f"s{i}" for i in range(8)])
    plane.load_fn = lambda now: LoadSnapshot(60.0, 10.0, 2000.0, 150.0)
    # prefill: 20000 / 7000 -> 3; decode: 1500 / 700 -> 3
    Controller(ControllerConfig(policy="autoscale", autoscale={"interval": 30}), plane).start()
    env.run(until=31)
    assert (len(plane.replicas("prefill")), len(plane.replicas("decode"))) == (3, 3)
    assert [a for _, a in plane.called("activate_spare")] == [
        ("s0", "prefill", 90.0), ("s1", "prefill", 90.0), ("s2", "decode", 90.0), ("s3", "decode", 90.0)]
    expected = math.ceil(10 * 2000 / (10_000 * 0.7))
    assert expected == 3


def test_autoscale_replaces_a_replica_marked_down_and_does_not_count_it():
    env = simpy.Environment()
    plane = FakePlane(env, {"a0": "aggregated", "a1": "aggregated"}, spares=["s0"])
    plane.load_fn = step_load([(0, 6.0)])                               # need ceil(1.2 / 0.7) = 2
    ctl = Controller(ControllerConfig(policy=["restart", "autoscale"], autoscale={"interval": 30}), plane)
    ctl.start()
    env.run(until=10)
    ctl.on_replica_down("a1", "no progress", 10.0)
    env.run(until=31)
    assert plane.called("activate_spare") == [(30.0, ("s0", "aggregated", 90.0))]
    assert plane.called("deactivate") == []
