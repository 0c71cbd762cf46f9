"""HealthMonitor and ProgressWatchdog on a plain simpy clock: detection delays, flapping, staggering."""
from __future__ import annotations

import pytest
import simpy
from hypothesis import given, settings, strategies as st

from chaos.control import HealthConfig, HealthMonitor, ProgressWatchdog, WatchdogConfig


class Log:
    def __init__(self):
        self.events = []

    def __call__(self, rid, healthy, reason, t):
        self.events.append((rid, healthy, reason, t))


@settings(max_examples=200, deadline=None)
@given(interval=st.floats(0.5, 30.0), timeout_frac=st.floats(0.01, 1.0), failures=st.integers(1, 5),
       n=st.integers(1, 6), which=st.integers(0, 5), crash_s=st.floats(0.0, 120.0))
def test_crash_detection_delay_within_documented_bounds(interval, timeout_frac, failures, n, which, crash_s):
    timeout = interval * timeout_frac
    cfg = HealthConfig(interval=interval, timeout=timeout, failures=failures)
    env, log = simpy.Environment(), Log()
    ids = [f"r{i}" for i in range(n)]
    victim = ids[which % n]
    HealthMonitor(env, ids, lambda rid: not (rid == victim and env.now >= crash_s), cfg, log)
    env.run(until=crash_s + failures * interval + timeout + 1.0)
    assert [(e[0], e[1], e[2]) for e in log.events] == [(victim, False, "health check")]
    t = log.events[0][3]
    lo = crash_s + (failures - 1) * interval + timeout
    hi = crash_s + failures * interval + timeout
    assert lo - 1e-9 <= t <= hi + 1e-9


@pytest.mark.parametrize("interval, timeout, failures", [(5, 3, 2), (10, 1, 3), (2, 2, 1), (5, 0.5, 4)])
def test_detection_delay_examples(interval, timeout, failures):
    # one replica, probes at 0, interval, 2*interval, ...; crash right after the probe at 2*interval
    env, log = simpy.Environment(), Log()
    crash = 2 * interval + 1e-6
    HealthMonitor(env, ["r"], lambda rid: env.now < crash, HealthConfig(interval=interval, timeout=timeout,
                                                                       failures=failures), log)
    env.run(until=100)
    assert log.events[0][3] == pytest.approx(crash + failures * interval + timeout, abs=1e-5)


def test_flapping_probe_never_ejects_on_a_single_miss():
    env, log = simpy.Environment(), Log()
    probes = []

    def probe(rid):
        probes.append(env.now)
        return len(probes) % 2 == 0          # fail, pass, fail, pass, ...
    HealthMonitor(env, ["r"], probe, HealthConfig(interval=5, timeout=3, failures=2), log)
    env.run(until=600)
    assert len(probes) == 120 and log.events == []


def test_down_then_up_after_successes_and_callbacks_only_on_change():
    env, log = simpy.Environment(), Log()
    outage = (12.0, 40.0)
    HealthMonitor(env, ["r"], lambda rid: not outage[0] <= env.now < outage[1],
                  HealthConfig(interval=5, timeout=3, failures=2, successes=2), log)
    env.run(until=200)
    # failing probes at 15, 20 -> known at 23; passes at 40, 45 -> up at 45
    assert log.events == [("r", False, "health check", 23.0), ("r", True, "health check", 45.0)]


def test_probes_are_evenly_staggered_and_replicas_can_join_and_leave():
    env, log = simpy.Environment(), Log()
    sent = []

    def probe(rid):
        sent.append((env.now, rid))
        return rid != "new" or env.now < 50
    mon = HealthMonitor(env, ["a", "b", "c", "d"], probe, HealthConfig(interval=4, timeout=1, failures=1), log)
    env.run(until=4)
    assert sent == [(0.0, "a"), (1.0, "b"), (2.0, "c"), (3.0, "d")]
    mon.add("new")
    mon.remove("b")
    env.run(until=100)
    assert all(rid != "b" for t, rid in sent if t >= 4)
    new_times = [t for t, rid in sent if rid == "new"]
    assert 4 <= new_times[0] < 8 and all(b - a == pytest.approx(4) for a, b in zip(new_times, new_times[1:]))
    first_fail = next(t for t in new_times if t >= 50)
    assert log.events == [("new", False, "health check", pytest.approx(first_fail + 1))]
    assert not mon.healthy("new") and mon.healthy("a")
    with pytest.raises(Exception, match="already probed"):
        mon.add("a")


def test_removed_replica_in_flight_failure_is_forgotten():
    env, log = simpy.Environment(), Log()
    mon = HealthMonitor(env, ["r"], lambda rid: False, HealthConfig(interval=5, timeout=3, failures=1), log)
    env.run(until=1)                         # probe at 0 failed, known at 3
    mon.remove("r")
    env.run(until=20)
    assert log.events == []


# ---- watchdog -------------------------------------------------------------------------------------
class FakeEngine:
    """Busy while it has work; completes an iteration every `step_s` unless stalled."""

    def __init__(self, env, rid, step_s=0.05):
        self.env, self.replica_id, self.step_s = env, rid, step_s
        self.alive, self.work_until, self.stalled_from, self.stalled_until = True, -1.0, None, None
        self._last = 0.0

    @property
    def busy(self):
        return self.env.now < self.work_until or self.stalled_from is not None and self.env.now >= self.stalled_from

    @property
    def last_progress_s(self):
        now = min(self.env.now, self.work_until)
        if self.stalled_from is not None and now >= self.stalled_from:
            end = self.stalled_until if self.stalled_until is not None and self.env.now >= self.stalled_until \
                else None
            if end is None:
                now = self.stalled_from
        return max(self._last, now)


def test_watchdog_flags_a_busy_replica_without_progress_and_not_an_idle_one():
    env, log = simpy.Environment(), Log()
    stuck, idle = FakeEngine(env, "stuck"), FakeEngine(env, "idle")
    stuck.work_until, stuck.stalled_from = 1e9, 12.0          # busy forever, no progress after 12 s
    idle.work_until = 3.0                                        # finished its work at 3 s, idle since
    ProgressWatchdog(env, lambda: [stuck, idle], WatchdogConfig(stall_after=30, interval=5), log)
    env.run(until=300)
    # checks at 5, 10, ...: 12 + 30 = 42 -> flagged at the check at 45
    assert log.events == [("stuck", False, "no progress", 45.0)]


def test_watchdog_up_when_progress_resumes_and_no_false_alarm_after_idle_spell():
    env, log = simpy.Environment(), Log()
    eng = FakeEngine(env, "r")
    eng.work_until, eng.stalled_from, eng.stalled_until = 1e9, 10.0, 100.0
    late = FakeEngine(env, "late")                               # idle 0..200, then busy and progressing
    late.work_until = 0.0

    def wake():
        yield env.timeout(200.2)
        late.work_until = 1e9
    env.process(wake())
    dog = ProgressWatchdog(env, lambda: [eng, late], WatchdogConfig(stall_after=30, interval=5), log)
    env.run(until=400)
    assert log.events == [("r", False, "no progress", 40.0), ("r", True, "no progress", 100.0)]
    assert not dog.flagged("r")


def test_watchdog_keeps_a_dead_replica_flagged_until_it_is_back_idle():
    env, log = simpy.Environment(), Log()
    eng = FakeEngine(env, "r")
    eng.work_until, eng.stalled_from = 1e9, 0.0

    def crash_and_restart():
        yield env.timeout(52)
        eng.alive = False
        yield env.timeout(60)
        eng.alive, eng.work_until, eng.stalled_from = True, 0.0, None
    env.process(crash_and_restart())
    ProgressWatchdog(env, lambda: [eng], WatchdogConfig(stall_after=30, interval=5), log)
    env.run(until=300)
    assert log.events == [("r", False, "no progress", 30.0), ("r", True, "no progress", 115.0)]


def test_combined_detection_is_down_while_any_detector_holds_it():
    from chaos.control import CombinedDetection
    log = Log()
    merged = CombinedDetection(log)
    merged("r", False, "no progress", 40.0)
    merged("r", False, "health check", 58.0)         # second detector: no new callback
    merged("r", True, "no progress", 115.0)           # watchdog releases, probes still failing
    merged("r", True, "no progress", 116.0)           # repeated up from a detector not holding it
    assert merged.down("r") == {"health check"}
    merged("r", True, "health check", 120.0)
    merged("q", True, "health check", 1.0)            # never down: nothing
    assert log.events == [("r", False, "no progress", 40.0), ("r", True, "health check", 120.0)]
    merged("r", False, "health check", 200.0)
    merged.forget("r")
    assert merged.down("r") == set()
