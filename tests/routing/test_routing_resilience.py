"""The resilience layer: health marks, outlier ejection, backoff, retry budget, admission, config errors."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import chaos
from chaos.engine import Request
from chaos.errors import ScenarioError, SimulationError
from chaos.rng import stream
from chaos.routing import ROUTERS, ResilientRouter, RouterConfig, build_resilient_router, build_router
from chaos.routing.resilience import (NO_REPLICA, REFUSED_BUDGET, REFUSED_DEADLINE, REFUSED_EXHAUSTED,
                                      REJECT_QUEUE, REJECT_TTFT)
from chaos.scenario import load_scenario_text


@dataclass(eq=False)
class Rep:
    replica_id: str
    outstanding: int = 0
    num_waiting: int = 0
    num_running: int = 0
    kv_blocks_used: int = 0
    kv_blocks_total: int = 1000
    block_size: int = 16
    prefill_tokens_pending: int = 0

    def match_prefix_blocks(self, hash_ids) -> int:
        return 0


class Clock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def req(i: int = 0, arrival_s: float = 0.0) -> Request:
    return Request(id=i, arrival_s=arrival_s, input_tokens=100, output_tokens=10)


def resilient(clock: Clock | None = None, policy: str = "round_robin", seed: int = 0, **kw) -> ResilientRouter:
    return build_resilient_router(RouterConfig(policy=policy, **kw), seed, clock or Clock())


def pool(n: int, prefix: str = "r") -> list[Rep]:
    return [Rep(f"{prefix}{i}") for i in range(n)]


# ---- issue-2 behaviour is kept ----

@pytest.mark.parametrize("policy", ["round_robin", "random", "least_outstanding", "power_of_two", "kv_aware"])
def test_default_config_picks_exactly_what_the_bare_policy_picks(policy):
    cfg = RouterConfig(policy=policy)
    bare = build_router(cfg, stream(5, "routing"))
    wrapped = build_resilient_router(cfg, 5, Clock())
    agg, pre, dec = pool(5), pool(3, "p"), pool(4, "d")
    loads = np.random.default_rng(1)
    for i in range(300):
        for r in agg + pre + dec:
            r.outstanding, r.kv_blocks_used = int(loads.integers(0, 6)), int(loads.integers(0, 50))
            r.prefill_tokens_pending = int(loads.integers(0, 2000))
        assert wrapped.pick(req(i), agg) is bare.route(req(i), agg)
        assert wrapped.pick_disaggregated(req(i), pre, dec) == bare.route_disaggregated(req(i), pre, dec)
        wrapped.on_error(agg[i % 5].replica_id, float(i))      # errors without `outlier:` eject nothing
    r = req(99)
    assert wrapped.retry_delay(r, 1.0) is None and wrapped.last_refusal == REFUSED_EXHAUSTED
    assert wrapped.admit(r, agg) is None
    assert (wrapped.timeout_s, wrapped.deadline_s, wrapped.hedge_delay) == (None, None, None)
    assert wrapped.stats()["ejections"] == 0 and wrapped.ejected() == {}


def test_default_router_config_turns_everything_off():
    cfg = RouterConfig()
    assert (cfg.outlier, cfg.timeout, cfg.deadline, cfg.retries, cfg.hedging, cfg.admission) == \
        (None, None, None, 0, None, None)


# ---- health marks ----

def test_marked_down_replicas_are_skipped_and_come_back_when_marked_up():
    rr = resilient()
    reps = pool(3)
    rr.mark("r1", False, "health check", 1.0)
    assert [rr.pick(req(), reps).replica_id for _ in range(4)] == ["r0", "r2", "r0", "r2"]
    rr.mark("r0", False, "no progress", 2.0)
    rr.mark("r2", False, "health check", 2.0)
    assert rr.pick(req(), reps) is None
    assert rr.pick_disaggregated(req(), reps, pool(2, "d")) is None
    rr.mark("r1", True, "health check", 3.0)
    assert rr.pick(req(), reps).replica_id == "r1"
    assert rr.down() == {"r0": "no progress", "r2": "health check"}
    s = rr.stats()
    assert (s["marked_down"], s["marked_up"], s["no_replica"]) == (3, 1, 2)
    assert [e["event"] for e in rr.events()] == ["down", "down", "down", "up"]


def test_pick_disaggregated_makes_no_policy_call_when_a_pool_is_empty():
    rr = resilient()
    pre, dec = pool(2, "p"), pool(2, "d")
    rr.mark("d0", False, "health check", 0.0)
    rr.mark("d1", False, "health check", 0.0)
    assert rr.pick_disaggregated(req(), pre, dec) is None
    rr.mark("d1", True, "health check", 1.0)
    picked = rr.pick_disaggregated(req(), pre, dec)
    assert (picked[0].replica_id, picked[1].replica_id) == ("p0", "d1")   # round robin counter untouched


# ---- outlier ejection ----

OUTLIER = {"consecutive_errors": 3, "ejection_time": "30s", "max_ejection_percent": 50}


def test_ejection_after_n_consecutive_errors_and_readmission_after_ejection_time():
    clock = Clock()
    rr = resilient(clock, outlier=OUTLIER)
    reps = pool(4)
    rr.pick(req(), reps)
    rr.on_error("r2", 10.0)
    rr.on_error("r2", 10.5)
    rr.on_success("r2", 10.7)                      # a success breaks the streak
    rr.on_error("r2", 11.0)
    rr.on_error("r2", 11.5)
    assert rr.available("r2")
    rr.on_error("r2", 12.0)                        # third in a row
    clock.t = 12.0
    assert not rr.available("r2") and rr.ejected() == {"r2": 42.0}
    picks = {rr.pick(req(i), reps).replica_id for i in range(12)}
    assert picks == {"r0", "r1", "r3"}
    clock.t = 41.999
    assert not rr.available("r2")
    clock.t = 42.0
    assert rr.available("r2")
    assert "r2" in {rr.pick(req(i), reps).replica_id for i in range(4)}
    assert [(e["event"], e["t"]) for e in rr.events()] == [("eject", 12.0), ("readmit", 42.0)]
    assert rr.stats()["ejections"] == 1 and rr.stats()["readmissions"] == 1


def test_repeat_ejections_grow_linearly_like_envoy_up_to_the_cap_and_decay_when_healthy():
    clock = Clock()
    rr = resilient(clock, outlier={**OUTLIER, "max_ejection_time": "75s"})
    rr.set_pool("aggregated", pool(2))

    def eject_at(t):
        clock.t = t
        for _ in range(3):
            rr.on_error("r0", t)
        return rr.ejected()["r0"] - t

    assert eject_at(0.0) == 30.0        # 30s x 1
    assert eject_at(30.0) == 60.0       # re-ejected at once: 30s x 2
    assert eject_at(90.0) == 75.0       # 30s x 3 = 90s, capped at 75s
    assert eject_at(165.0 + 60.0) == 60.0   # 60s healthy since 165 takes two steps off (3 -> 1), then +1


def test_errors_while_ejected_do_not_extend_the_ejection():
    clock = Clock()
    rr = resilient(clock, outlier=OUTLIER)
    rr.set_pool("aggregated", ["r0", "r1"])
    for _ in range(10):
        rr.on_error("r0", 1.0)
    assert rr.ejected() == {"r0": 31.0} and rr.stats()["errors"] == 10


@pytest.mark.parametrize("size, percent, ejectable", [
    (4, 50, 2), (4, 100, 4), (4, 10, 0), (5, 50, 2), (1, 50, 0), (1, 100, 1), (3, 34, 1),
], ids=["half-of-4", "all-of-4", "10pc-of-4", "half-of-5", "half-of-1", "all-of-1", "34pc-of-3"])
def test_max_ejection_percent_is_never_exceeded(size, percent, ejectable):
    clock = Clock()
    rr = resilient(clock, outlier={**OUTLIER, "max_ejection_percent": percent})
    reps = pool(size)
    rr.pick(req(), reps)
    for r in reps:
        for _ in range(3):
            rr.on_error(r.replica_id, 1.0)
    assert len(rr.ejected()) == ejectable
    assert rr.stats()["ejections_blocked"] == size - ejectable
    if ejectable == size:
        assert rr.pick(req(), reps) is None


def test_a_blocked_ejection_happens_once_another_replica_is_readmitted():
    clock = Clock()
    rr = resilient(clock, outlier={**OUTLIER, "ejection_time": "10s"})
    rr.set_pool("aggregated", pool(2))
    for _ in range(3):
        rr.on_error("r0", 0.0)
    for _ in range(3):
        rr.on_error("r1", 5.0)
    assert set(rr.ejected()) == {"r0"}
    rr.on_error("r1", 10.0)               # r0 came back at 10s; r1's streak (still >= 3) ejects it now
    clock.t = 10.0
    assert rr.ejected() == {"r1": 20.0}


def test_ejection_limits_count_per_pool():
    clock = Clock()
    rr = resilient(clock, outlier=OUTLIER)
    rr.pick_disaggregated(req(), pool(2, "p"), pool(2, "d"))
    for rid in ("p0", "d0", "p1"):
        for _ in range(3):
            rr.on_error(rid, 0.0)
    assert set(rr.ejected()) == {"p0", "d0"}


def test_a_passing_probe_ends_an_ejection_early():
    clock = Clock()
    rr = resilient(clock, outlier=OUTLIER)
    rr.set_pool("aggregated", pool(2))
    for _ in range(3):
        rr.on_error("r0", 0.0)
    clock.t = 5.0
    rr.mark("r0", True, "health check", 5.0)
    assert rr.available("r0")
    assert [(e["event"], e["t"], e["reason"]) for e in rr.events()] == [
        ("eject", 0.0, "3 consecutive errors"), ("readmit", 5.0, "health check")]


def test_an_error_from_a_replica_in_no_pool_is_a_bug():
    rr = resilient(outlier=OUTLIER)
    for _ in range(2):
        rr.on_error("ghost", 0.0)
    with pytest.raises(SimulationError, match="'ghost' that is in no known pool"):
        rr.on_error("ghost", 0.0)


def test_reset_forgets_a_replica():
    clock = Clock()
    rr = resilient(clock, outlier=OUTLIER)
    rr.set_pool("aggregated", pool(2))
    rr.mark("r1", False, "health check", 0.0)
    for _ in range(3):
        rr.on_error("r0", 0.0)
    rr.reset("r0")
    rr.reset("r1")
    assert rr.available("r0") and rr.available("r1")


@st.composite
def operations(draw):
    n = draw(st.integers(1, 6))
    ops = draw(st.lists(st.one_of(
        st.tuples(st.just("mark"), st.integers(0, n - 1), st.booleans()),
        st.tuples(st.just("error"), st.integers(0, n - 1), st.integers(1, 4)),
        st.tuples(st.just("success"), st.integers(0, n - 1), st.just(0)),
        st.tuples(st.just("wait"), st.just(0), st.sampled_from([0.0, 0.5, 5.0, 10.0, 29.9, 60.0])),
        st.tuples(st.just("pick"), st.just(0), st.just(0))), max_size=60))
    percent = draw(st.sampled_from([0, 25, 50, 100]))
    policy = draw(st.sampled_from(ROUTERS.names()))
    return n, ops, percent, policy


@settings(max_examples=300, deadline=None)
@given(case=operations())
def test_pick_never_returns_an_unhealthy_or_ejected_replica(case):
    n, ops, percent, policy = case
    clock = Clock()
    rr = resilient(clock, policy=policy, outlier={"consecutive_errors": 2, "ejection_time": "10s",
                                                  "max_ejection_percent": percent})
    reps = pool(n)
    rr.set_pool("aggregated", reps)
    down: set[str] = set()
    for op, i, arg in ops:
        rid = f"r{i}"
        if op == "mark":
            rr.mark(rid, arg, "health check", clock.t)
            (down.discard if arg else down.add)(rid)
        elif op == "error":
            for _ in range(arg):
                rr.on_error(rid, clock.t)
        elif op == "success":
            rr.on_success(rid, clock.t)
        elif op == "wait":
            clock.t += arg
        ejected = rr.ejected()
        assert all(until > clock.t for until in ejected.values())
        assert len(ejected) * 100 <= percent * n
        picked = rr.pick(req(), reps)
        usable = [r.replica_id for r in reps if r.replica_id not in down and r.replica_id not in ejected]
        if picked is None:
            assert usable == []
        else:
            assert picked.replica_id in usable


# ---- retries: backoff, count, budget, deadline ----

def test_backoff_sequence_without_jitter_is_base_times_multiplier_to_the_k_capped():
    rr = resilient(retries=8, backoff={"base": "100ms", "max": "2s", "multiplier": 2, "jitter": 0})
    r = req()
    delays = [rr.retry_delay(r, 0.0) for _ in range(9)]
    assert delays[:8] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0])
    assert delays[8] is None and rr.retries_granted(r) == 8 and rr.last_refusal == REFUSED_EXHAUSTED
    assert r.retries == 0                                       # the driver owns request.retries
    rr.on_done(r)
    assert rr.retries_granted(r) == 0
    assert [rr.backoff(k) for k in (0, 3, 50)] == pytest.approx([0.1, 0.8, 2.0])


def test_backoff_jitter_stays_within_bounds_and_replays_from_the_retry_jitter_stream():
    rr = resilient(seed=11, retries=100, backoff={"base": "250ms", "max": "4s", "multiplier": 3, "jitter": 0.2})
    r = req()
    delays = [rr.retry_delay(r, 0.0) for _ in range(100)]
    nominal = [min(4.0, 0.25 * 3.0 ** k) for k in range(100)]
    for d, m in zip(delays, nominal):
        assert 0.8 * m <= d <= 1.2 * m
    assert min(d / m for d, m in zip(delays, nominal)) < 0.85 and max(d / m for d, m in zip(delays, nominal)) > 1.15
    rng = stream(11, "retry-jitter")
    assert delays[:5] == pytest.approx([m * (1 + 0.2 * rng.uniform(-1, 1)) for m in nominal[:5]])


def test_retry_budget_blocks_retries_above_the_budget():
    rr = resilient(retries=5, retry_budget=0.2, min_retry_concurrency=3, backoff={"jitter": 0})
    reqs = [req(i) for i in range(20)]
    for r in reqs[:10]:
        rr.on_start(r)
    # 10 active: limit max(3, 0.2 x 10 = 2) = 3 retries in flight
    assert [rr.retry_delay(r, 1.0) is not None for r in reqs[:4]] == [True, True, True, False]
    assert rr.last_refusal == REFUSED_BUDGET and rr.retries_granted(reqs[3]) == 0
    assert rr.retry_delay(reqs[0], 2.0) == pytest.approx(0.2)   # a request already retrying may go on
    for r in reqs[10:]:
        rr.on_start(r)
    # 20 active: limit max(3, 4) = 4
    assert rr.retry_delay(reqs[3], 3.0) is not None
    assert rr.retry_delay(reqs[4], 3.0) is None and rr.last_refusal == REFUSED_BUDGET
    rr.on_done(reqs[0])               # a retry in flight ends, but 19 active only allow 3.8 ...
    assert rr.retry_delay(reqs[4], 4.0) is None
    rr.on_start(req(20))             # ... a new arrival brings the limit back to 4: a slot is free
    assert rr.retry_delay(reqs[4], 4.0) is not None
    s = rr.stats()
    assert s["retries"] == 6 and s["retries_refused"] == {REFUSED_BUDGET: 3}


def test_retry_budget_with_no_minimum_follows_the_fraction():
    rr = resilient(retries=1, retry_budget=0.5, min_retry_concurrency=0)
    reqs = [req(i) for i in range(6)]
    for r in reqs:
        rr.on_start(r)
    assert sum(rr.retry_delay(r, 0.0) is not None for r in reqs) == 3


def test_requests_the_router_has_routed_are_active_until_done():
    rr = resilient(retries=1, retry_budget=0.5, min_retry_concurrency=0)
    reps, reqs = pool(2), [req(i) for i in range(4)]
    for r in reqs:
        rr.pick(r, reps)                    # 4 active: 2 retries may be in flight
    assert [rr.retry_delay(r, 0.0) is not None for r in reqs] == [True, True, False, False]
    rr.on_done(reqs[0])                     # 3 active, 1 retrying: 1 + 1 <= 1.5 is false
    assert rr.retry_delay(reqs[2], 0.0) is None
    rr.on_done(reqs[1])                     # 2 active, none retrying: 0 + 1 <= 1
    assert rr.retry_delay(reqs[2], 0.0) is not None


def test_a_retry_that_would_start_after_the_deadline_is_refused():
    rr = resilient(retries=3, deadline="10s", backoff={"base": "1s", "max": "1s", "jitter": 0})
    r = req(arrival_s=5.0)
    assert rr.retry_delay(r, 13.5) == pytest.approx(1.0)        # 14.5 < 15
    assert rr.retry_delay(r, 14.0) is None and rr.last_refusal == REFUSED_DEADLINE
    assert rr.retries_granted(r) == 1


# ---- admission ----

def test_admission_rejects_above_the_queue_limit_and_admits_below():
    rr = resilient(admission={"max_queue": 4})
    reps = [Rep("r0", num_waiting=3), Rep("r1", num_waiting=4)]
    assert rr.admit(req(), reps) is None                         # 7 waiting + this one = 8 <= 4 x 2
    reps[0].num_waiting = 4
    assert rr.admit(req(), reps) == REJECT_QUEUE                 # 9 > 8
    rr.mark("r1", False, "health check", 0.0)                    # only r0 counts now: 4 + 1 > 4
    reps[0].num_waiting = 3
    assert rr.admit(req(), reps) is None                         # 3 + 1 <= 4
    rr.mark("r0", False, "health check", 0.0)
    assert rr.admit(req(), reps) == NO_REPLICA
    # no healthy replica is unavailability (a 503), not shedding: not counted as a rejection
    assert rr.stats()["rejections_by_reason"] == {REJECT_QUEUE: 1}
    assert rr.stats()["no_replica"] == 1


def test_admission_rejects_above_the_predicted_ttft_and_admits_below():
    rr = resilient(admission={"max_predicted_ttft": "5s"})
    reps = pool(3)
    ttft = {"r0": 7.0, "r1": 4.9, "r2": 6.0}
    assert rr.admit(req(), reps, lambda rep, r: ttft[rep.replica_id]) is None     # best is 4.9s
    ttft["r1"] = 5.1
    assert rr.admit(req(), reps, lambda rep, r: ttft[rep.replica_id]) == REJECT_TTFT
    ttft["r1"] = 5.0
    assert rr.admit(req(), reps, lambda rep, r: ttft[rep.replica_id]) is None     # at the limit: admitted
    rr.mark("r1", False, "health check", 0.0)                    # the fast one is down: best is 6s
    assert rr.admit(req(), reps, lambda rep, r: ttft[rep.replica_id]) == REJECT_TTFT
    with pytest.raises(SimulationError, match="no predict_ttft"):
        rr.admit(req(), reps)
    assert rr.stats()["rejections"] == 2


def test_queue_limit_is_checked_before_the_ttft_prediction():
    rr = resilient(admission={"max_queue": 1, "max_predicted_ttft": "1s"})
    calls = []
    assert rr.admit(req(), [Rep("r0", num_waiting=1)], lambda rep, r: calls.append(1) or 0.0) == REJECT_QUEUE
    assert calls == []


# ---- hedging, timeouts, stats ----

def test_hedging_timeout_and_deadline_are_exposed_in_seconds():
    rr = resilient(hedging={"delay": "500ms"}, timeout="8s", deadline="1m")
    assert (rr.hedge_delay, rr.timeout_s, rr.deadline_s) == (0.5, 8.0, 60.0)
    rr.on_hedge(req(), 1.0)
    rr.on_error("r0", 2.0, "timeout")
    rr.on_error("r0", 2.0, "connection refused")
    s = rr.stats()
    assert s["hedges"] == 1 and s["errors_by_reason"] == {"connection refused": 1, "timeout": 1}


def test_stats_are_json_ready():
    import json
    rr = resilient(outlier=OUTLIER, retries=1, admission={"max_queue": 1})
    rr.set_pool("aggregated", pool(2))
    for _ in range(3):
        rr.on_error("r0", 0.0)
    rr.retry_delay(req(), 0.0)
    rr.admit(req(), [Rep("r1", num_waiting=5)])
    s = json.loads(json.dumps(rr.stats()))
    assert {k: s[k] for k in ("ejections", "retries", "rejections", "hedges", "errors")} == \
        {"ejections": 1, "retries": 1, "rejections": 1, "hedges": 0, "errors": 3}
    json.dumps(rr.events())


# ---- configuration ----

@pytest.mark.parametrize("bad, message", [
    ({"timeout": "0s"}, 'expected a positive duration like "100ms" or "30s" but got \'0s\''),
    ({"timeout": "soon"}, "expected a duration like"),
    ({"deadline": "-5s"}, "expected a non-negative duration"),
    ({"timeout": "10s", "deadline": "5s"}, "timeout: 10.00s is longer than the deadline 5.00s"),
    ({"retries": -1}, "greater than or equal to 0"),
    ({"retries": True}, "expected an integer but got True"),
    ({"retry_budget": 1.5}, "less than or equal to 1"),
    ({"backoff": {"jitter": 1.2}}, "less than or equal to 1"),
    ({"backoff": {"multiplier": 0.5}}, "greater than or equal to 1"),
    ({"backoff": {"base": "3s"}}, "max: 2.00s is shorter than base 3.00s"),
    ({"outlier": {"consecutive_errors": 0}}, "greater than or equal to 1"),
    ({"outlier": {"max_ejection_percent": 150}}, "less than or equal to 100"),
    ({"outlier": {"ejection_time": "10s", "max_ejection_time": "5s"}}, "max_ejection_time: 5.00s is shorter"),
    ({"hedging": {}}, "Field required"),
    ({"admission": {}}, "admission needs max_queue, max_predicted_ttft or both"),
    ({"admission": {"max_queue": 0}}, "greater than or equal to 1"),
    ({"outlier": {"consecutive_eror": 3}}, "Extra inputs are not permitted"),
], ids=["zero-timeout", "unparsable-timeout", "negative-deadline", "timeout>deadline", "negative-retries",
        "bool-retries", "budget>1", "jitter>1", "multiplier<1", "max<base", "zero-consecutive", "percent>100",
        "max-ejection<base", "hedging-without-delay", "empty-admission", "zero-queue", "unknown-outlier-key"])
def test_bad_resilience_config(bad, message):
    with pytest.raises(ValidationError) as info:
        RouterConfig(**bad)
    assert message in str(info.value)


TOPOLOGIES = Path(chaos.__file__).resolve().parents[1] / "topologies"
SCENARIO = """\
name: router-check
seed: 1
duration: 1m
topology: hgx-h100-8gpu.yaml
deployment: {model: llama-3.1-8b, replicas: 4, tp: 2}
workload:
  synthetic: {arrival: poisson, rate: 5/s, input: {dist: fixed, value: 100}, output: {dist: fixed, value: 10}}
router:
  policy: round_robin
"""


@pytest.mark.parametrize("lines, expected", [
    ("  retires: 2", ["s.yaml:10:3", "router.retires", "unknown key 'retires' (did you mean retries?)"]),
    ("  outlier: {consecutive_error: 3}", ["router.outlier.consecutive_error",
                                          "did you mean consecutive_errors?"]),
    ("  backoff: {multiplyer: 3}", ["router.backoff.multiplyer", "did you mean multiplier?"]),
    ("  hedging: {dealy: 1s}", ["router.hedging.dealy", "did you mean delay?"]),
    ("  admision: {max_queue: 3}", ["unknown key 'admision' (did you mean admission?)"]),
    ("  backoff: {base: 1 second}", ["router.backoff.base", "'1 second'", '"250ms", "30s"']),
    ("  timeout: 10s\n  deadline: 5s", ["router.timeout", "longer than the deadline"]),
    ("  retries: yes", ["router.retries", "expected an integer but got True"]),
], ids=["retries", "consecutive_errors", "multiplier", "delay", "admission", "duration", "timeout>deadline",
        "bool-retries"])
def test_router_errors_in_a_scenario_point_at_the_line_with_did_you_mean(lines, expected):
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(SCENARIO + lines + "\n", "s.yaml", TOPOLOGIES)
    for text in expected:
        assert text in str(info.value)


def test_a_full_router_section_loads_in_si_units():
    text = SCENARIO + """\
  outlier: {consecutive_errors: 3, ejection_time: 10s, max_ejection_percent: 34, max_ejection_time: 2m}
  timeout: 800ms
  deadline: 1m
  retries: 2
  backoff: {base: 50ms, max: 1s, multiplier: 3, jitter: 0.1}
  retry_budget: 0.25
  min_retry_concurrency: 5
  hedging: {delay: 300ms}
  admission: {max_queue: 16, max_predicted_ttft: 4s}
"""
    r = load_scenario_text(text, "s.yaml", TOPOLOGIES).router
    assert (r.outlier.ejection_time, r.outlier.max_ejection_time_s, r.timeout, r.deadline) == (10.0, 120.0, 0.8, 60.0)
    assert (r.backoff.base, r.backoff.max, r.hedging.delay, r.admission.max_predicted_ttft) == (0.05, 1.0, 0.3, 4.0)
    assert (r.retries, r.retry_budget, r.min_retry_concurrency, r.admission.max_queue) == (2, 0.25, 5, 16)


def test_network_timeouts_default_to_envoys_and_must_be_positive():
    from chaos.routing.config import RouterConfig
    cfg = RouterConfig()
    assert (cfg.connect_timeout, cfg.stream_idle_timeout) == (5.0, 300.0)     # Envoy's defaults
    assert RouterConfig(connect_timeout="250ms", stream_idle_timeout="1m").stream_idle_timeout == 60.0
    for bad in ({"connect_timeout": 0}, {"stream_idle_timeout": "-1s"}, {"connect_timeout": None}):
        with pytest.raises(ValidationError):
            RouterConfig(**bad)
