"""Property: the fast stepper (decode stretches fast-forwarded) equals the per-iteration reference."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.engine import TERMINAL, EngineConfig

from engine_helpers import simulate, simulate_disaggregated


@st.composite
def scenarios(draw):
    bs = draw(st.sampled_from([1, 2, 3, 4, 8, 16]))
    hbt = draw(st.sampled_from([bs, 2 * bs, 3, 7, 16]))
    n = draw(st.integers(1, 40))
    gaps = draw(st.lists(st.one_of(st.just(0.0), st.floats(1e-4, 0.2)), min_size=n, max_size=n))
    arrivals = np.cumsum(gaps).tolist()
    specs = []
    for i, t in enumerate(arrivals):
        inp = draw(st.integers(1, 300))
        out = draw(st.integers(1, 120))
        n_hash = -(-inp // hbt)
        family = draw(st.integers(0, 3))
        shared = draw(st.integers(0, n_hash))
        hash_ids = tuple(family * 1000 + j for j in range(shared)) + tuple(
            10**6 + i * 1000 + j for j in range(shared, n_hash))
        specs.append((t, inp, out, hash_ids if draw(st.integers(0, 4)) else None, hbt))
    config = EngineConfig(
        block_size=bs,
        max_num_seqs=draw(st.integers(1, 12)),
        max_num_batched_tokens=draw(st.sampled_from([1, 7, 64, 256, 512])),
        chunked_prefill=draw(st.booleans()),
        prefix_cache=draw(st.booleans()),
        kv_admission=draw(st.sampled_from(["chunk", "prompt"])),
    )
    kv_tokens = draw(st.integers(4, 80)) * bs + draw(st.integers(0, bs - 1))
    return specs, config, kv_tokens


def assert_same(fast, ref):
    for a, b in zip(fast.requests, ref.requests):
        assert a.status == b.status, (a, b)
        for name in ("first_token_s", "finish_s"):
            x, y = getattr(a, name), getattr(b, name)
            assert (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-9), (name, a, b)
        assert a.preemptions == b.preemptions, (a, b)
        assert a.prefix_hit_tokens == b.prefix_hit_tokens, (a, b)
        assert a.generated_tokens == b.generated_tokens
    assert [(k, i) for k, i, _ in fast.events] == [(k, i) for k, i, _ in ref.events]


def assert_conserved(run):
    for r in run.requests:
        assert r.status in TERMINAL, r
        if r.status == "completed":
            assert r.generated_tokens == r.output_tokens and r.finish_s >= r.first_token_s >= r.arrival_s
    assert run.replica.kv_blocks_used == 0 and run.replica.outstanding == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.lists(st.floats(0.0, 3.0), max_size=30))
def test_fast_equals_reference_aggregated(scenario, probes):
    specs, config, kv_tokens = scenario
    probes = sorted(probes)
    fast = simulate(specs, config, kv_tokens, stepper="fast", observe_at=probes)
    ref = simulate(specs, config, kv_tokens, stepper="reference", observe_at=probes)
    assert_same(fast, ref)
    assert fast.observations == ref.observations        # router views agree mid-stretch too
    assert_conserved(fast)
    assert np.array_equal(fast.replica.itl_weights, ref.replica.itl_weights) or \
        fast.replica.itl.tokens == ref.replica.itl.tokens


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.floats(0.0, 0.05), st.sampled_from([1.0, 0.5, 0.25]))
def test_fast_equals_reference_disaggregated(scenario, transfer_s, decode_frac):
    """Also with a smaller decode pool, where transfers queue for decode KV reservations."""
    specs, config, kv_tokens = scenario
    decode_kv = max(config.block_size, int(kv_tokens * decode_frac))
    fast = simulate_disaggregated(specs, config, kv_tokens, stepper="fast", transfer_s=transfer_s,
                                  decode_kv_tokens=decode_kv)
    ref = simulate_disaggregated(specs, config, kv_tokens, stepper="reference", transfer_s=transfer_s,
                                 decode_kv_tokens=decode_kv)
    assert_same(fast, ref)
    assert_conserved(fast)
    assert fast.replica.num_reserving == 0 and fast.replica.num_reserved == 0


@st.composite
def schedules(draw, specs, kv_tokens: int):
    """Random lifecycle calls (see engine_helpers.act) at random times, the same for both steppers;
    a cancel lands soon after its request's arrival, while it is likely queued or running."""
    ops = []
    for _ in range(draw(st.integers(0, 12))):
        t = draw(st.one_of(st.floats(0.0, 3.0), st.sampled_from([0.0, 0.5, 1.0])))
        name = draw(st.sampled_from(["stall", "resume", "cancel", "cancel", "kv", "crash", "restart"]))
        if name == "cancel":
            i = draw(st.integers(0, len(specs) - 1))
            t = specs[i][0] + draw(st.floats(0.0, 0.5))
            arg = (i, draw(st.one_of(st.none(), st.floats(0.0, 0.5))), draw(st.booleans()))
        elif name == "kv":
            arg = int(kv_tokens * draw(st.sampled_from([0.1, 0.25, 0.5, 0.9, 1.0, 1.5])))
        elif name == "crash":
            arg = draw(st.one_of(st.none(), st.just(0.0), st.floats(0.0, 1.0)))
        elif name == "restart":
            arg = draw(st.one_of(st.none(), st.just(kv_tokens), st.just(kv_tokens // 2)))
        else:
            arg = None
        ops.append((t, name, arg))
    if draw(st.booleans()):
        ops.append((3.5, "resume", None))
    return ops


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_equals_reference_under_stalls_cancels_kv_loss_and_restarts(data):
    specs, config, kv_tokens = data.draw(scenarios())
    actions = data.draw(schedules(specs, kv_tokens))
    probes = sorted(data.draw(st.lists(st.floats(0.0, 4.0), max_size=20)))
    fast = simulate(specs, config, kv_tokens, stepper="fast", observe_at=probes, actions=actions)
    ref = simulate(specs, config, kv_tokens, stepper="reference", observe_at=probes, actions=actions)
    assert_same(fast, ref)
    assert fast.observations == ref.observations
    assert fast.replica.iterations == ref.replica.iterations
    np.testing.assert_allclose(fast.replica.itl_gaps_s, ref.replica.itl_gaps_s, rtol=1e-9)
    assert np.array_equal(fast.replica.itl_weights, ref.replica.itl_weights)
    rep = fast.replica
    on_replica = {id(r) for r in rep.requests()}
    for r in fast.requests:      # nothing lost: finished, handed back (pending), or still on the replica
        assert r.done or r.status == "pending" or id(r) in on_replica or r in fast.parked, r
    if not on_replica:
        assert rep.kv_blocks_used == 0 and rep.prefill_tokens_pending == 0
