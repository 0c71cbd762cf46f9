"""Hand-checked timings of one replica with the fake cost model (conftest.FakeCost)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from chaos.engine import EngineConfig, Replica, Request, call_at
from chaos.errors import SimulationError

from engine_helpers import FakeCost, decode_latency, prefill_latency, simulate

STEPPERS = ["fast", "reference"]


@pytest.mark.parametrize("stepper", STEPPERS)
def test_single_request_ttft_and_tpot(stepper):
    run = simulate([(0.0, 100, 5)], stepper=stepper)
    r = run.requests[0]
    ttft = 0.005 + 60e-6 * 100 + 1e-9 * 5050          # prefill of 100 tokens, attention 100*101/2
    assert r.first_token_s == pytest.approx(ttft, rel=1e-12)
    decode = [0.005 + 20e-6 + 1e-8 * ctx for ctx in (100, 101, 102, 103)]  # 4 more tokens
    t = ttft
    for lat in decode:
        t = t + lat
    assert r.finish_s == t
    assert (r.finish_s - r.first_token_s) / 4 == pytest.approx(np.mean(decode), rel=1e-12)
    assert r.status == "completed" and r.generated_tokens == 5 and r.replica == "r0"
    assert run.events == [("first_token", 0, r.first_token_s), ("finished", 0, r.finish_s)]
    assert run.replica.itl_gaps_s == pytest.approx(decode, rel=1e-12)
    assert run.replica.itl_weights.tolist() == [1, 1, 1, 1]
    assert run.replica.kv_blocks_used == 0


@pytest.mark.parametrize("stepper", STEPPERS)
def test_one_token_output_finishes_at_first_token(stepper):
    run = simulate([(0.25, 10, 1)], stepper=stepper)
    r = run.requests[0]
    assert r.first_token_s == r.finish_s == 0.25 + prefill_latency(10)
    assert [k for k, *_ in run.events] == ["first_token", "finished"]


@pytest.mark.parametrize("stepper", STEPPERS)
def test_chunked_prefill_splits_long_prompt(stepper):
    run = simulate([(0.0, 20000, 2)], EngineConfig(max_num_batched_tokens=8192), stepper=stepper)
    chunks = [8192, 8192, 20000 - 2 * 8192]
    assert len(chunks) == math.ceil(20000 / 8192)
    t, start = 0.0, 0
    for c in chunks:
        t = t + prefill_latency(c, start)
        start += c
    r = run.requests[0]
    assert r.first_token_s == pytest.approx(t, rel=1e-12)
    assert run.replica.iterations == 4              # 3 prefill chunks + 1 decode


@pytest.mark.parametrize("stepper", STEPPERS)
def test_unchunked_prefill_runs_whole_prompt_in_one_iteration(stepper):
    cfg = EngineConfig(max_num_batched_tokens=8192, chunked_prefill=False)
    run = simulate([(0.0, 20000, 1), (0.0, 100, 1)], cfg, stepper=stepper)
    a, b = run.requests
    assert a.first_token_s == pytest.approx(prefill_latency(20000), rel=1e-12)
    # the second prompt does not fit the (already exceeded) budget: it runs in the next iteration
    assert b.first_token_s == pytest.approx(a.first_token_s + prefill_latency(100), rel=1e-12)


@pytest.mark.parametrize("stepper", STEPPERS)
def test_two_prompts_share_an_iteration_then_decode_together(stepper):
    run = simulate([(0.0, 50, 3), (0.0, 30, 3)], stepper=stepper)
    a, b = run.requests
    p = FakeCost().iteration_time(0, 0, 80, 50 * 51 / 2 + 30 * 31 / 2)
    assert a.first_token_s == b.first_token_s == pytest.approx(p, rel=1e-12)
    t = p + decode_latency(2, 80)
    t = t + decode_latency(2, 82)
    assert a.finish_s == b.finish_s == pytest.approx(t, rel=1e-12)


@pytest.mark.parametrize("stepper", STEPPERS)
def test_max_num_seqs_caps_the_batch(stepper):
    specs = [(0.0, 20, 10)] * 3
    run = simulate(specs, EngineConfig(max_num_seqs=2), stepper=stepper,
                   observe_at=np.linspace(0.001, 0.2, 50))
    a, b, c = run.requests
    assert a.first_token_s == b.first_token_s
    assert c.first_token_s > a.finish_s                # the third waits for a free slot
    assert max(o[1] for o in run.observations) == 2


@pytest.mark.parametrize("stepper", STEPPERS)
def test_arrival_during_decode_joins_next_iteration(stepper):
    run = simulate([(0.0, 10, 50), (0.05, 10, 2)], stepper=stepper)
    a, b = run.requests
    t = prefill_latency(10)
    ctx = 10
    while t < 0.05:                                   # a decodes alone until b arrives
        t = t + decode_latency(1, ctx)
        ctx += 1
    # b's prefill shares the next iteration with a's decode
    t = t + FakeCost().iteration_time(1, ctx, 10, 55)
    assert b.first_token_s == pytest.approx(t, rel=1e-12)


@pytest.mark.parametrize("stepper", STEPPERS)
def test_kv_exhaustion_preempts_and_everyone_completes(stepper):
    cfg = EngineConfig(block_size=4, prefix_cache=False)
    # 10 blocks: two sequences of 8 prompt tokens grow to 28 tokens = 7 blocks each
    run = simulate([(0.0, 8, 21), (0.0, 8, 21)], cfg, kv_tokens=40, stepper=stepper)
    a, b = run.requests
    assert all(r.status == "completed" and r.generated_tokens == 21 for r in run.requests)
    assert a.preemptions == 0 and b.preemptions >= 1  # the most recently admitted one is preempted
    assert b.finish_s > a.finish_s
    assert run.replica.kv_blocks_used == 0
    assert int(run.replica.itl_weights.sum()) + 2 + b.preemptions == 42  # every token once


@pytest.mark.parametrize("stepper", STEPPERS)
def test_prompt_larger_than_kv_is_rejected(stepper):
    cfg = EngineConfig(block_size=16)
    run = simulate([(0.0, 1000, 3), (0.0, 10, 2)], cfg, kv_tokens=320, stepper=stepper)
    big, small = run.requests
    assert big.status == "rejected" and "63 KV blocks" in big.reason and "has 20" in big.reason
    assert small.status == "completed"
    assert ("rejected", 0, 0.0) in run.events


@pytest.mark.parametrize("stepper", STEPPERS)
def test_prefix_cache_hit_skips_prefill_compute(stepper):
    cfg = EngineConfig(block_size=16)
    specs = [(0.0, 40, 2, (1, 2), 16), (1.0, 40, 2, (1, 2, 3), 16)]
    run = simulate(specs, cfg, stepper=stepper)
    a, b = run.requests
    assert a.prefix_hit_tokens == 0 and b.prefix_hit_tokens == 32
    # b computes only 8 tokens, starting at position 32
    assert b.first_token_s - 1.0 == pytest.approx(prefill_latency(8, start=32), rel=1e-9)
    assert run.replica.match_prefix_blocks((1, 2, 9)) == 2
    assert run.replica.match_prefix_blocks((5, 1, 2)) == 0   # the longest prefix, not any overlap
    assert run.replica.kv_blocks_used == 0             # cached but unreferenced blocks count as free


@pytest.mark.parametrize("stepper", STEPPERS)
def test_full_prefix_hit_still_recomputes_last_token(stepper):
    specs = [(0.0, 32, 1, (1, 2), 16), (1.0, 32, 1, (1, 2), 16)]
    run = simulate(specs, EngineConfig(block_size=16), stepper=stepper)
    b = run.requests[1]
    assert b.prefix_hit_tokens == 31
    assert b.first_token_s - 1.0 == pytest.approx(prefill_latency(1, start=31), rel=1e-9)


def test_prefix_cache_off_ignores_hash_ids():
    specs = [(0.0, 40, 2, (1, 2), 16), (1.0, 40, 2, (1, 2, 3), 16)]
    run = simulate(specs, EngineConfig(prefix_cache=False))
    assert run.requests[1].prefix_hit_tokens == 0
    assert run.replica.match_prefix_blocks((1, 2)) == 0


@pytest.mark.parametrize("stepper", STEPPERS)
def test_disaggregated_prefill_then_decode(stepper):
    env = simpy.Environment()
    cfg = EngineConfig(stepper=stepper)
    log = []
    transfer_s = 0.002

    def on_event(kind, r, t):
        log.append((kind, r.replica, t))
        if kind == "prefill_done":
            def arrive():
                prefill.release(r)
                decode.submit_decode(r)
            call_at(env, t + transfer_s, arrive)

    prefill = Replica(env, "prefill-0", "prefill", FakeCost(), 10_000, cfg, on_event)
    decode = Replica(env, "decode-0", "decode", FakeCost(), 10_000, cfg, on_event)
    r = Request(id=0, arrival_s=0.0, input_tokens=100, output_tokens=4)
    call_at(env, 0.0, lambda: prefill.submit(r))
    env.run()
    prefill_s = prefill_latency(100)
    # issue 15.1: the client's first token comes from the decode replica, after the KV transfer and
    # decode admission - the prefill's token travels with the KV and is streamed with decode's first
    assert [k for k, *_ in log] == ["prefill_done", "first_token", "finished"]
    t = prefill_s + transfer_s
    firsts = []
    for ctx in (100, 101, 102):                      # 3 more tokens on the decode replica
        t = t + decode_latency(1, ctx)
        firsts.append(t)
    assert r.first_token_s == pytest.approx(firsts[0], rel=1e-12)
    assert log[1] == ("first_token", "prefill-0+decode-0", pytest.approx(firsts[0], rel=1e-12))
    assert r.finish_s == pytest.approx(t, rel=1e-12)
    assert decode.itl_weights.sum() == 2             # the two gaps after the first token
    assert r.replica == "prefill-0+decode-0" and r.generated_tokens == 4
    assert prefill.kv_blocks_used == 0 and decode.kv_blocks_used == 0


def test_prefill_role_holds_kv_until_release():
    env = simpy.Environment()
    done = []
    rep = Replica(env, "prefill-0", "prefill", FakeCost(), 160, EngineConfig(block_size=16),
                  lambda kind, r, t: done.append((kind, r.id, t)))
    for i in range(3):                                # each prompt needs 5 of the 10 blocks
        req = Request(id=i, arrival_s=0.0, input_tokens=80, output_tokens=5)
        call_at(env, 0.0, lambda req=req: rep.submit(req))
    env.run(until=1.0)
    assert [rid for k, rid, _ in done if k == "prefill_done"] == [0, 1]
    assert rep.num_held == 2 and rep.num_waiting == 1 and rep.kv_blocks_used == 10
    held = [r for r in rep.requests() if r.status == "transferring"]
    call_at(env, 1.5, lambda: rep.release(held[0]))
    env.run(until=2.0)
    assert [rid for k, rid, _ in done if k == "prefill_done"] == [0, 1, 2]
    t2 = [t for k, rid, t in done if k == "prefill_done" and rid == 2][0]
    assert t2 == pytest.approx(1.5 + prefill_latency(80), rel=1e-12)


def test_wrong_role_calls_raise():
    env = simpy.Environment()
    d = Replica(env, "d", "decode", FakeCost(), 100, EngineConfig(), lambda *a: None)
    p = Replica(env, "p", "prefill", FakeCost(), 100, EngineConfig(), lambda *a: None)
    with pytest.raises(SimulationError, match="submit_decode"):
        d.submit(Request(0, 0.0, 10, 2))
    with pytest.raises(SimulationError, match="prefill replica"):
        p.submit_decode(Request(1, 0.0, 10, 2))
    with pytest.raises(ValueError, match="role"):
        Replica(env, "x", "mixed", FakeCost(), 100, EngineConfig(), lambda *a: None)


def test_views_inside_a_decode_stretch_match_the_reference():
    specs = [(0.0, 30, 200), (0.0, 17, 150), (0.3, 5, 40)]
    cfg = EngineConfig(block_size=4)
    probes = np.linspace(0.0, 3.0, 301)
    fast = simulate(specs, cfg, stepper="fast", observe_at=probes)
    ref = simulate(specs, cfg, stepper="reference", observe_at=probes)
    assert fast.observations == ref.observations
    assert fast.replica.wakeups < ref.replica.wakeups / 10


def test_crash_returns_every_request():
    env = simpy.Environment()
    rep = Replica(env, "r", "aggregated", FakeCost(), 10_000, EngineConfig(max_num_seqs=2), lambda *a: None)
    reqs = [Request(i, 0.0, 50, 100) for i in range(4)]
    for r in reqs:
        call_at(env, 0.0, lambda r=r: rep.submit(r))
    env.run(until=0.1)
    gen = [r.generated_tokens for r in reqs]
    lost = rep.crash()
    assert sorted(r.id for r in lost) == [0, 1, 2, 3]
    assert [r.generated for r in reqs] == gen and gen[0] > 1 and gen[3] == 0
    assert rep.kv_blocks_used == 0 and rep.outstanding == 0
    env.run(until=1.0)                                # the dead process does nothing more
    assert all(math.isnan(r.finish_s) for r in reqs)
    with pytest.raises(SimulationError, match="crashed"):
        rep.submit(Request(9, 1.0, 5, 5))


@pytest.mark.parametrize("stepper", STEPPERS)
def test_arrival_exactly_at_an_iteration_end_joins_the_next_iteration(stepper):
    l0 = prefill_latency(10)
    t1 = l0 + decode_latency(1, 10)                  # the end of a's first decode iteration, same floats
    t2 = t1 + decode_latency(1, 11)
    run = simulate([(0.0, 10, 50), (t2, 10, 2)], stepper=stepper)
    b = run.requests[1]
    assert b.first_token_s == t2 + FakeCost().iteration_time(1, 12, 10, 55)


@pytest.mark.parametrize("stepper", STEPPERS)
def test_decode_replica_queues_until_blocks_free(stepper):
    env = simpy.Environment()
    log = []
    # 7 blocks of 16: one request with a 100-token prompt and 10 outputs needs 7 blocks
    rep = Replica(env, "decode-0", "decode", FakeCost(), 7 * 16, EngineConfig(stepper=stepper),
                  lambda kind, r, t: log.append((kind, r.id, t)))
    reqs = [Request(i, 0.0, 100, 10, generated=1, first_token_s=0.0) for i in range(2)]
    for r in reqs:
        call_at(env, 0.0, lambda r=r: rep.submit_decode(r))
    call_at(env, 0.001, lambda: log.append(("probe", rep.num_running, rep.num_waiting, rep.kv_blocks_used)))
    env.run()
    assert ("probe", 1, 1, 7) in log
    a, b = reqs
    t = 0.0
    for ctx in range(100, 109):
        t = t + decode_latency(1, ctx)
    assert a.finish_s == pytest.approx(t, rel=1e-12)
    assert b.finish_s == pytest.approx(2 * t, rel=1e-12)  # starts when a's blocks are free
    assert a.preemptions == b.preemptions == 0


def test_prefill_tokens_pending_view():
    specs = [(0.0, 10000, 2), (0.0, 3000, 2)]
    run = simulate(specs, EngineConfig(max_num_batched_tokens=4096), observe_at=[0.0, 0.3])
    assert run.observations[0][3] == 13000           # nothing computed yet at t = 0
    first_chunk = prefill_latency(4096)
    assert first_chunk < 0.3 < first_chunk + prefill_latency(4096, start=4096)
    assert run.observations[1][3] == 13000 - 4096    # one chunk done, the second in progress
