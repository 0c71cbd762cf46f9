"""Recovery policies (none, restart, failover_spare, reshard) on a fake ControlPlane with real detection."""
from __future__ import annotations

import pytest
import simpy

from chaos.control import (Controller, ControllerConfig, HealthConfig, HealthMonitor, ProgressWatchdog,
                           WatchdogConfig)
from chaos.control.policies import reshard_candidates
from control_fakes import FakePlane


def controller(plane, policy, **kw) -> Controller:
    ctl = Controller(ControllerConfig(policy=policy, **kw), plane)
    ctl.start()
    return ctl


def health(env, plane, ctl, ids, alive):
    """Probes answer while alive(rid); down/up go to the controller."""
    def on_change(rid, healthy, reason, t):
        (ctl.on_replica_up(rid, t) if healthy else ctl.on_replica_down(rid, reason, t))
    return HealthMonitor(env, ids, alive, HealthConfig(interval=5, timeout=3, failures=2), on_change)


def test_restart_after_a_stall_acts_at_detection_plus_restart_time():
    from test_control_health import FakeEngine
    env = simpy.Environment()
    plane = FakePlane(env, {"r0": "aggregated", "r1": "aggregated"})
    ctl = controller(plane, "restart", restart_time="60s")
    eng = FakeEngine(env, "r0")
    eng.work_until, eng.stalled_from = 1e9, 20.0                   # silent stall: probes still pass

    def on_change(rid, healthy, reason, t):
        (ctl.on_replica_up(rid, t) if healthy else ctl.on_replica_down(rid, reason, t))
    ProgressWatchdog(env, lambda: [eng], WatchdogConfig(stall_after=30, interval=5), on_change)
    env.run(until=200)
    # stall at 20 -> detected at the check at 50 -> restart decided at 50, serving at 110
    assert plane.called("restart") == [(50.0, ("r0", 60.0))]
    assert plane.serving_at["r0"] == 110.0
    assert plane.actions() == [(50.0, "restart", ("r0",))]


def test_restart_on_lost_hardware_waits_for_repair():
    env = simpy.Environment()
    plane = FakePlane(env, {"r0": "aggregated", "r1": "aggregated"})
    ctl = controller(plane, "restart", restart_time=60)
    dead = {"r0": False, "r1": False}

    def fault():
        yield env.timeout(100)
        dead["r0"] = True
        plane.lose_gpus("r0")
        yield env.timeout(400)
        plane.repair("r0")                                           # at 500
    env.process(fault())
    health(env, plane, ctl, ["r0", "r1"], lambda rid: not dead[rid])
    env.run(until=800)
    # probes of r0 at 0, 5, ...: fail at 100, 105 -> detected at 108
    assert plane.actions() == [(108.0, "await_repair", ("r0",)), (500.0, "restart", ("r0",))]
    assert plane.serving_at["r0"] == 560.0


def test_none_restarts_only_after_repair_and_leaves_stalls_alone():
    env = simpy.Environment()
    plane = FakePlane(env, {"r0": "aggregated", "r1": "aggregated"})
    ctl = controller(plane, "none", restart_time=60)
    ctl.on_replica_down("r1", "no progress", 0.0)                   # stall: hardware fine -> nothing
    plane.lose_gpus("r0")
    ctl.on_replica_down("r0", "health check", 0.0)

    def fix():
        yield env.timeout(300)
        plane.repair("r0")
    env.process(fix())
    env.run(until=1000)
    assert plane.actions() == [(300.0, "supervisor_restart", ("r0",))]
    assert plane.called("restart") == [(300.0, ("r0", 60.0))]


def test_failover_spare_uses_a_free_spare_after_model_load_time():
    env = simpy.Environment()
    plane = FakePlane(env, {"d0": "decode", "d1": "decode", "p0": "prefill"}, spares=["s0", "s1"])
    ctl = controller(plane, ["failover_spare", "restart"], model_load_time="90s")
    plane.lose_gpus("d1")
    env.run(until=42)
    ctl.on_replica_down("d1", "health check", 42.0)
    assert plane.called("failover") == [(42.0, ("d1", "s0", 90.0))]
    assert plane.serving_at["s0"] == 132.0 and plane.role_of("s0") == "decode"
    assert "d1" not in plane.replicas() and not ctl.down
    assert plane.called("restart") == []
    assert plane.actions() == [(42.0, "failover", ("d1", "s0"))]


def test_failover_spare_falls_back_to_restart_when_no_spare_is_free():
    env = simpy.Environment()
    plane = FakePlane(env, {"r0": "aggregated", "r1": "aggregated"}, spares=["s0"])
    plane.lose_gpus("s0")                                            # the only spare is broken
    ctl = controller(plane, ["failover_spare", "restart"], restart_time=60)
    env.run(until=10)
    ctl.on_replica_down("r0", "no progress", 10.0)
    assert plane.called("failover") == [] and plane.called("restart") == [(10.0, ("r0", 60.0))]


def test_failover_spare_alone_without_spare_falls_back_to_none():
    env = simpy.Environment()
    plane = FakePlane(env, {"r0": "aggregated"})
    ctl = controller(plane, "failover_spare", restart_time=60)
    plane.lose_gpus("r0")
    ctl.on_replica_down("r0", "health check", 0.0)

    def fix():
        yield env.timeout(250)
        plane.repair("r0")
    env.process(fix())
    env.run(until=400)
    assert plane.actions() == [(250.0, "supervisor_restart", ("r0",))]


@pytest.mark.parametrize("tp, surviving, expected", [
    (8, 7, [4, 2, 1]), (8, 4, [4, 2, 1]), (8, 3, [2, 1]), (4, 3, [2, 1]), (2, 1, [1]), (1, 0, []),
    (6, 5, [4, 2, 1]), (8, 0, []),
])
def test_reshard_candidates(tp, surviving, expected):
    assert reshard_candidates(tp, surviving) == expected


@pytest.mark.parametrize("lost, fits_from, expected_tp", [
    (1, 1, 4),        # 7 survivors, anything fits -> TP 4
    (5, 1, 2),        # 3 survivors -> TP 2
    (1, 4, 4),
    (3, 2, 4),        # 5 survivors: 4 fits
    (5, 4, None),     # 3 survivors but the model needs >= 4 GPUs -> refuse
    (1, 8, None),     # the model needs all 8 GPUs -> refuse
])
def test_reshard_picks_the_largest_power_of_two_tp_that_fits(lost, fits_from, expected_tp):
    env = simpy.Environment()
    plane = FakePlane(env, {"r0": "aggregated", "r1": "aggregated"}, tp=8)
    plane.fits = lambda tp: tp >= fits_from
    ctl = controller(plane, ["reshard", "restart"], model_load_time=90, restart_time=60)
    plane.lose_gpus("r0", lost)
    env.run(until=30)
    ctl.on_replica_down("r0", "health check", 30.0)
    if expected_tp is None:
        assert plane.called("reshard") == []
        assert plane.actions() == [(30.0, "await_repair", ("r0",))]       # fell back to restart
    else:
        assert plane.called("reshard") == [(30.0, ("r0", expected_tp, 90.0))]
        assert plane.tp_of("r0") == expected_tp and plane.serving_at["r0"] == 120.0
        assert plane.actions() == [(30.0, "reshard", ("r0",))]


def test_reshard_does_not_act_when_hardware_is_fine():
    env = simpy.Environment()
    plane = FakePlane(env, {"r0": "aggregated"})
    ctl = controller(plane, ["reshard", "restart"], restart_time=60)
    ctl.on_replica_down("r0", "no progress", 0.0)
    assert plane.called("reshard_try") == [] and plane.called("restart") == [(0.0, ("r0", 60.0))]


def test_one_failure_reported_by_two_detectors_causes_one_action():
    env = simpy.Environment()
    plane = FakePlane(env, {"r0": "aggregated"})
    ctl = controller(plane, "restart", restart_time=60)
    env.run(until=10)
    ctl.on_replica_down("r0", "no progress", 10.0)
    ctl.on_replica_down("r0", "health check", 10.0)                  # same failure, second detector
    ctl.on_replica_up("r0", 12.0)                                    # watchdog: idle after the kill
    env.run(until=20)
    ctl.on_replica_down("r0", "health check", 20.0)                  # probes fail while restarting
    assert plane.called("restart") == [(10.0, ("r0", 60.0))]
    env.run(until=75)
    ctl.on_replica_up("r0", 75.0)
    env.run(until=100)
    ctl.on_replica_down("r0", "health check", 100.0)                 # a new failure after recovery
    assert plane.called("restart") == [(10.0, ("r0", 60.0)), (100.0, ("r0", 60.0))]


def test_down_events_for_replicas_not_active_are_ignored():
    env = simpy.Environment()
    plane = FakePlane(env, {"r0": "aggregated"}, spares=["s0", "s1"])
    ctl = controller(plane, ["failover_spare", "restart"])
    ctl.on_replica_down("r0", "no progress", 0.0)                    # s0 takes over; r0 leaves
    ctl.on_replica_down("r0", "health check", 1.0)                   # late verdict on the old id
    ctl.on_replica_down("s1", "health check", 1.0)                   # a spare is not served traffic
    assert plane.called("failover") == [(0.0, ("r0", "s0", 90.0))] and plane.called("restart") == []
