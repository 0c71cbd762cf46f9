"""Lifecycle hooks for faults and control, hand-checked with the fake cost model: stall/resume, crash and
restart, cancel, KV capacity loss, KV-ready submission, role change."""
from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from chaos.engine import EngineConfig, Replica, Request, call_at
from chaos.errors import SimulationError

from engine_helpers import FakeCost, decode_latency, prefill_latency, simulate

STEPPERS = ["fast", "reference"]


def lone_ends(inp: int, out: int, t0: float = 0.0) -> list[float]:
    """Iteration end times of one request alone on an idle replica: its prefill, then out - 1 decodes."""
    t = t0 + prefill_latency(inp)
    ends = [t]
    for ctx in range(inp, inp + out - 1):
        t = t + decode_latency(1, ctx)
        ends.append(t)
    return ends


# ---- stall / resume ------------------------------------------------------------------------------------
@pytest.mark.parametrize("stepper", STEPPERS)
def test_stall_of_two_seconds_delays_a_lone_request_by_two_seconds_minus_the_iteration_in_progress(stepper):
    ends = lone_ends(100, 50)
    ts, tr = 0.1, 2.1
    j = int(np.searchsorted(ends, ts))              # the iteration in progress at ts completes
    run = simulate([(0.0, 100, 50)], stepper=stepper, actions=[(ts, "stall", None), (tr, "resume", None)],
                   observe_at=[1.0])
    r = run.requests[0]
    t = tr
    for ctx in range(100 + j, 149):                 # the remaining decodes, from the resume
        t = t + decode_latency(1, ctx)
    assert r.finish_s == t
    assert r.finish_s - ends[-1] == pytest.approx(2.0 - (ends[j] - ts), rel=1e-9)
    _, _, _, _, _, gen, last_progress, busy, _ = run.observations[0]
    assert gen == (j + 1,) and last_progress == ends[j] and busy
    gaps = run.replica.itl_gaps_s                   # the first gap after the stall spans it
    assert gaps[j] == pytest.approx(tr - ends[j] + decode_latency(1, 100 + j), rel=1e-12)
    assert run.replica.iterations == 50


@pytest.mark.parametrize("stepper", STEPPERS)
def test_stall_at_an_iteration_end_starts_no_new_iteration(stepper):
    ends = lone_ends(10, 20)
    ts = ends[5]                                   # exactly the end of the 5th decode
    run = simulate([(0.0, 10, 20)], stepper=stepper, actions=[(ts, "stall", None), (ts + 1.0, "resume", None)],
                   observe_at=[ts + 0.5])
    assert run.observations[0][5] == (6,)
    assert run.replica.itl_times_s[5] == ts + 1.0 + decode_latency(1, 15)


@pytest.mark.parametrize("stepper", STEPPERS)
def test_submissions_while_stalled_queue_up_and_start_at_resume(stepper):
    run = simulate([(0.5, 10, 2)], stepper=stepper, actions=[(0.0, "stall", None), (1.0, "resume", None)],
                   observe_at=[0.25, 0.75])
    (r,) = run.requests
    assert r.first_token_s == 1.0 + prefill_latency(10)
    idle, stuck = run.observations
    assert idle[7] is False and stuck[7] is True and stuck[2] == 1
    assert stuck[6] == 0.5                          # idle -> busy at 0.5: the watchdog clock starts then
    assert run.replica.stalled is False


def test_stall_and_resume_are_idempotent_and_ignored_when_dead():
    env = simpy.Environment()
    rep = Replica(env, "r", "aggregated", FakeCost(), 1000, EngineConfig(), lambda *a: None)
    rep.stall()
    rep.stall()
    assert rep.stalled
    rep.resume()
    rep.resume()
    assert not rep.stalled
    rep.crash()
    rep.stall()
    assert not rep.stalled


# ---- crash / restart -----------------------------------------------------------------------------------
@pytest.mark.parametrize("stepper", STEPPERS)
def test_crash_then_restart_serves_new_requests_with_an_empty_prefix_cache(stepper):
    specs = [(0.0, 64, 3, (1, 2, 3, 4), 16), (3.0, 64, 3, (1, 2, 3, 4), 16)]
    cfg = EngineConfig(block_size=16)
    warm = simulate(specs, cfg, stepper=stepper)
    assert warm.requests[1].prefix_hit_tokens == 63
    run = simulate(specs, cfg, stepper=stepper, actions=[(1.0, "crash", 1.0)], observe_at=[1.5, 2.5])
    a, b = run.requests
    assert a.status == b.status == "completed" and b.prefix_hit_tokens == 0
    assert b.first_token_s == 3.0 + prefill_latency(64)
    dead, back = run.observations
    assert dead[0] == 0 and dead[7] is False and back[8] == (1 << 20) // 16
    assert back[4] == 0                             # no prefix left after the restart


@pytest.mark.parametrize("stepper", STEPPERS)
def test_live_restart_hands_back_requests_and_the_old_process_stays_quiet(stepper):
    env = simpy.Environment()
    log = []
    rep = Replica(env, "r", "aggregated", FakeCost(), 1 << 20, EngineConfig(stepper=stepper),
                  lambda kind, r, t: log.append((kind, t)))
    r = Request(0, 0.0, 100, 500)
    call_at(env, 0.0, lambda: rep.submit(r))
    ends = lone_ends(100, 500)
    g = int(np.searchsorted(ends, 0.5))             # iterations that ended before 0.5

    def restart():
        lost = rep.restart(cost=None)
        assert lost == [r] and r.status == "pending" and r.generated == g
        rep.submit(r)                               # recompute input + generated tokens
    call_at(env, 0.5, restart)
    env.run()
    t = 0.5 + prefill_latency(100 + g)
    for ctx in range(100 + g, 100 + 499):
        t = t + decode_latency(1, ctx)
    assert r.finish_s == pytest.approx(t, rel=1e-12) and r.generated_tokens == 500
    assert rep.iterations == g + 1 + (500 - g - 1)
    # the recompute does not re-emit a first token: its token reaches the stream after a gap
    assert [k for k, _ in log] == ["first_token", "token", "finished"]


class DoubleCost(FakeCost):
    def iteration_time(self, *a, **k):
        return 2 * super().iteration_time(*a, **k)

    def decode_stretch(self, *a):
        return 2 * super().decode_stretch(*a)


def test_restart_with_a_new_cost_and_capacity():
    env = simpy.Environment()
    rep = Replica(env, "r", "aggregated", FakeCost(), 1000, EngineConfig(block_size=10), lambda *a: None)
    rep.crash()
    assert rep.restart(cost=DoubleCost(), kv_capacity_tokens=505) == []
    assert rep.kv_blocks_total == 50
    r = Request(0, 1.0, 20, 1)
    call_at(env, 1.0, lambda: rep.submit(r))
    env.run()
    assert r.first_token_s == 1.0 + 2 * prefill_latency(20)


def test_dead_replica_refuses_work():
    env = simpy.Environment()
    rep = Replica(env, "r", "aggregated", FakeCost(), 1000, EngineConfig(), lambda *a: None)
    r = Request(0, 0.0, 10, 5)
    rep.submit(r)
    assert rep.crash() == [r] and rep.crash() == []
    assert rep.cancel(r) is False and not rep.busy
    with pytest.raises(SimulationError, match="crashed"):
        rep.submit(r, kv_ready=True)


# ---- cancel --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stepper", STEPPERS)
def test_cancel_mid_decode_frees_blocks_and_keeps_the_token_count_exact(stepper):
    cfg = EngineConfig(block_size=16)
    run = simulate([(0.0, 100, 200), (0.0, 100, 200)], cfg, stepper=stepper,
                   actions=[(0.3, "cancel", (1, None, False))], observe_at=[0.3, 0.3000001])
    a, b = run.requests
    # both prefill together, then decode two at a time until the iteration in progress at 0.3 ends
    t = FakeCost().iteration_time(0, 0, 200, 2 * 5050)
    gen, ctx_sum = 1, 200
    while t < 0.3:
        t = t + decode_latency(2, ctx_sum)
        ctx_sum += 2
        gen += 1
    assert b.status == "pending" and b.generated_tokens == gen - 1 and math.isnan(b.finish_s)
    ctx = ctx_sum // 2
    for _ in range(gen, 200):                        # a alone from there
        t = t + decode_latency(1, ctx)
        ctx += 1
    assert a.finish_s == pytest.approx(t, rel=1e-12)
    before, after = run.observations
    assert before[0] == 2 * math.ceil((100 + gen) / 16) and after[0] == math.ceil((100 + gen) / 16)
    assert run.replica.kv_blocks_used == 0 and run.replica.cancel(a) is False


@pytest.mark.parametrize("stepper", STEPPERS)
def test_cancel_queued_and_prefilling_requests(stepper):
    cfg = EngineConfig(max_num_seqs=1, max_num_batched_tokens=64)
    acts = [(0.001, "cancel", (1, None, False)), (0.002, "cancel", (0, None, False))]
    run = simulate([(0.0, 1000, 5), (0.0, 50, 5), (0.0, 30, 2)], cfg, stepper=stepper, actions=acts,
                   observe_at=[0.0015, 0.0025])
    a, b, c = run.requests
    assert a.status == b.status == "pending" and c.status == "completed"
    assert run.observations[0][3] == 1000 + 30      # a's first chunk in progress, b's 50 tokens gone
    assert run.observations[1][3] == 30 and run.observations[1][0] == 0
    assert c.first_token_s == pytest.approx(prefill_latency(64) + prefill_latency(30), rel=1e-12)


def test_cancel_held_request_frees_its_kv():
    env = simpy.Environment()
    rep = Replica(env, "p", "prefill", FakeCost(), 160, EngineConfig(block_size=16), lambda *a: None)
    r = Request(0, 0.0, 80, 5)
    rep.submit(r)
    env.run(until=1.0)
    assert rep.num_held == 1 and rep.kv_blocks_used == 5
    assert rep.cancel(r) and rep.kv_blocks_used == 0 and r.status == "pending" and r.generated == 1
    rep.release(r)                                   # a late transfer completion is a no-op


# ---- KV capacity ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("stepper", STEPPERS)
def test_kv_capacity_quartered_preempts_newest_first_and_everything_completes(stepper):
    cfg = EngineConfig(block_size=4, prefix_cache=False)
    specs = [(0.0, 8, 60)] * 4                       # 4 x 17 blocks at the end; 100 blocks available
    base = simulate(specs, cfg, kv_tokens=400, stepper=stepper)
    assert sum(r.preemptions for r in base.requests) == 0
    run = simulate(specs, cfg, kv_tokens=400, stepper=stepper, actions=[(0.1, "kv", 100)],
                   observe_at=[0.1000001])
    pre = [r.preemptions for r in run.requests]
    assert pre[0] == 0 and pre[3] >= 1 and sum(pre) >= 2
    assert all(r.status == "completed" and r.generated_tokens == 60 for r in run.requests)
    used, running, _, _, _, _, _, _, total = run.observations[0]
    assert total == 25 and used <= 25 and running < 4
    assert run.replica.kv_blocks_used == 0 and max(r.finish_s for r in run.requests) > \
        max(r.finish_s for r in base.requests)


@pytest.mark.parametrize("stepper", STEPPERS)
def test_kv_capacity_restored(stepper):
    cfg = EngineConfig(block_size=4, prefix_cache=False)
    run = simulate([(0.0, 8, 60)] * 4, cfg, kv_tokens=400, stepper=stepper,
                   actions=[(0.1, "kv", 100), (0.2, "kv", 400)], observe_at=[0.15, 0.25])
    assert [o[8] for o in run.observations] == [25, 100]
    assert all(r.status == "completed" for r in run.requests)


def test_kv_held_for_transfer_is_retired_when_released():
    env = simpy.Environment()
    done = []
    rep = Replica(env, "p", "prefill", FakeCost(), 160, EngineConfig(block_size=16),
                  lambda kind, r, t: done.append((kind, r.id)))
    reqs = [Request(i, 0.0, 80, 5) for i in range(3)]   # 5 blocks each, 10 blocks in all
    for r in reqs:
        rep.submit(r)
    env.run(until=1.0)
    assert rep.num_held == 2 and rep.num_waiting == 1
    rep.set_kv_capacity(80)                          # 5 blocks: held KV cannot move yet
    assert rep.kv_blocks_total == 10 and rep.kv_blocks_used == 10
    rep.release(reqs[0])
    assert rep.kv_blocks_total == 5 and rep.kv_blocks_used == 5
    rep.release(reqs[1])
    env.run(until=2.0)
    assert ("prefill_done", 2) in done and rep.kv_blocks_total == 5


def test_kv_capacity_loss_makes_large_prompts_unservable():
    run = simulate([(0.0, 10, 50), (0.05, 200, 2)], EngineConfig(block_size=16), kv_tokens=1600,
                   actions=[(0.01, "kv", 160)])
    a, b = run.requests
    assert a.status == "completed" and b.status == "rejected" and "has 10" in b.reason


def test_bad_capacity_raises():
    env = simpy.Environment()
    rep = Replica(env, "r", "aggregated", FakeCost(), 1000, EngineConfig(), lambda *a: None)
    with pytest.raises(ValueError, match="kv_capacity_tokens=-1"):
        rep.set_kv_capacity(-1)


# ---- KV-ready submission, role -------------------------------------------------------------------------
@pytest.mark.parametrize("stepper", STEPPERS)
def test_kv_ready_submit_skips_prefill(stepper):
    env = simpy.Environment()
    log = []
    rep = Replica(env, "r", "aggregated", FakeCost(), 1 << 20, EngineConfig(stepper=stepper),
                  lambda kind, req, t: log.append((kind, t, req.last_token_s)))
    r = Request(0, 0.0, 100, 10, generated=5, first_token_s=0.5, last_token_s=0.6)
    call_at(env, 1.0, lambda: rep.submit(r, kv_ready=True))
    env.run()
    t = 1.0
    ends = []
    for ctx in range(104, 109):                      # context = input + generated - 1; 5 more tokens
        t = t + decode_latency(1, ctx)
        ends.append(t)
    # the first token after the move is a stream event (its gap runs from the last token, 0.6 s);
    # the iterations after it are ordinary ITL samples
    assert log[0] == ("token", pytest.approx(ends[0], rel=1e-12), 0.6)
    assert r.last_token_s == pytest.approx(ends[-1], rel=1e-12)
    assert rep.itl_times_s.tolist() == pytest.approx(ends[1:], rel=1e-12)
    assert r.finish_s == pytest.approx(t, rel=1e-12) and r.first_token_s == 0.5
    assert rep.iterations == 5 and r.prefix_hit_tokens == 0 and r.status == "completed"


def test_kv_ready_without_a_token_is_prefilled_and_prefill_role_refuses_it():
    env = simpy.Environment()
    rep = Replica(env, "r", "aggregated", FakeCost(), 1 << 20, EngineConfig(), lambda *a: None)
    r = Request(0, 0.0, 100, 3)
    rep.submit(r, kv_ready=True)
    env.run()
    assert r.first_token_s == prefill_latency(100)
    p = Replica(env, "p", "prefill", FakeCost(), 1000, EngineConfig(), lambda *a: None)
    with pytest.raises(SimulationError, match="prefill replica"):
        p.submit(Request(1, 0.0, 10, 3, generated=1), kv_ready=True)
    d = Replica(env, "d", "decode", FakeCost(), 1000, EngineConfig(), lambda *a: None)
    d.submit(Request(2, 0.0, 10, 3, generated=1), kv_ready=True)   # the same as submit_decode
    assert d.num_waiting == 1


def test_set_role_needs_an_empty_replica():
    env = simpy.Environment()
    rep = Replica(env, "r", "prefill", FakeCost(), 1000, EngineConfig(block_size=10), lambda *a: None)
    r = Request(0, 0.0, 50, 3, hash_ids=(1, 2), hash_block_tokens=10)
    rep.submit(r)
    with pytest.raises(SimulationError, match="empty replica"):
        rep.set_role("decode")
    env.run()
    rep.release(r)
    assert rep.match_prefix_blocks((1, 2)) == 2
    rep.set_role("decode")
    assert rep.role == "decode" and rep.match_prefix_blocks((1, 2)) == 0
    rep.submit_decode(Request(1, 0.0, 10, 3, generated=1))
    env.run()
    with pytest.raises(ValueError, match="role"):
        rep.set_role("mixed")


@pytest.mark.parametrize("stepper", STEPPERS)
def test_kv_ready_request_joins_a_running_batch_and_waits_for_blocks(stepper):
    env = simpy.Environment()
    # 10 blocks of 16 tokens: a's 100-token prompt takes 7, b's context of 104 tokens needs 7 more
    rep = Replica(env, "r", "aggregated", FakeCost(), 160, EngineConfig(stepper=stepper, block_size=16),
                  lambda *a: None)
    a = Request(0, 0.0, 100, 8)
    b = Request(1, 0.0, 100, 8, generated=5, first_token_s=0.0)
    call_at(env, 0.0, lambda: rep.submit(a))
    call_at(env, 0.001, lambda: rep.submit(b, kv_ready=True))
    env.run()
    ends = lone_ends(100, 8)
    assert a.finish_s == ends[-1] and b.preemptions == 0
    t = ends[-1]
    for ctx in range(104, 107):                      # b decodes its 3 tokens once a's blocks are free
        t = t + decode_latency(1, ctx)
    assert b.finish_s == pytest.approx(t, rel=1e-12) and rep.kv_blocks_used == 0


def test_a_request_is_on_one_replica_at_a_time():
    env = simpy.Environment()
    r1 = Replica(env, "r1", "aggregated", FakeCost(), 1000, EngineConfig(), lambda *a: None)
    r2 = Replica(env, "r2", "aggregated", FakeCost(), 1000, EngineConfig(), lambda *a: None)
    req = Request(0, 0.0, 10, 5)
    r1.submit(req)
    with pytest.raises(SimulationError, match="still on r1"):
        r2.submit(req)
    assert r1.cancel(req)
    r2.submit(req)
    env.run()
    assert req.status == "completed" and req.replica == "r1+r2"


@pytest.mark.parametrize("stepper", STEPPERS)
def test_a_prompt_cancelled_mid_iteration_and_resubmitted_elsewhere_is_not_completed_by_the_first(stepper):
    """The router times a prefill out while its chunk is in flight and retries it on another replica:
    the first replica's iteration end must not complete it (found by the fault-schedule property test)."""
    env = simpy.Environment()
    events = []
    config = EngineConfig(stepper=stepper)
    a = Replica(env, "a", "aggregated", FakeCost(), 100_000, config, lambda k, r, t: events.append((k, r.replica, t)))
    b = Replica(env, "b", "aggregated", FakeCost(), 100_000, config, lambda k, r, t: events.append((k, r.replica, t)))
    req = Request(id=0, arrival_s=0.0, input_tokens=4000, output_tokens=3)
    a.submit(req)
    t_cancel = prefill_latency(4000) / 2            # inside a's prefill iteration

    def move():
        assert a.cancel(req)
        b.submit(req)
    call_at(env, t_cancel, move)
    env.run(until=10.0)
    assert [k for k, *_ in events] == ["first_token", "finished"]
    assert req.status == "completed" and req.generated_tokens == 3
    assert req.first_token_s == pytest.approx(t_cancel + prefill_latency(4000), rel=1e-12)
    assert a.kv_blocks_used == 0 and a.outstanding == 0
