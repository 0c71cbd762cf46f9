"""The engine with the real roofline perf model (chaos.perf): the steppers agree, a slowdown takes effect."""
from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from chaos.catalog import load_catalog
from chaos.engine import EngineConfig, Replica, Request, call_at
from chaos.perf import build_perf_model, kv_capacity_tokens


@pytest.fixture(scope="module")
def llama8b_h100():
    cat = load_catalog()
    model, gpu = cat.model("llama-3.1-8b"), cat.gpu("h100-sxm")
    return build_perf_model(model, gpu, tp=1, link_Bps=0.0, link_latency_s=0.0), kv_capacity_tokens(model, gpu, 1)


def run(perf, kv_tokens, stepper, specs, slow_at=None):
    env = simpy.Environment()
    rep = Replica(env, "r0", "aggregated", perf, kv_tokens, EngineConfig(stepper=stepper), lambda *a: None)
    reqs = [Request(i, t, inp, out) for i, (t, inp, out) in enumerate(specs)]
    for r in reqs:
        call_at(env, r.arrival_s, lambda r=r: rep.submit(r))
    if slow_at is not None:
        call_at(env, slow_at, lambda: rep.set_cost(perf.with_slowdown(2.0)))
    env.run()
    return rep, reqs


def workload(n=60, seed=3):
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(0.05, n))
    return [(float(t[i]), int(rng.integers(50, 3000)), int(rng.integers(1, 400))) for i in range(n)]


def test_decode_stretch_equals_iteration_time(llama8b_h100):
    perf, _ = llama8b_h100
    lat = perf.decode_stretch(37, 12345.0, 50)
    one = [perf.iteration_time(37, 12345.0 + i * 37, 0) for i in range(50)]
    np.testing.assert_allclose(lat, one, rtol=1e-12)


def test_idle_replica_ttft_is_one_prefill_iteration(llama8b_h100):
    perf, kv_tokens = llama8b_h100
    _, (r,) = run(perf, kv_tokens, "fast", [(0.0, 2000, 1)])
    assert r.first_token_s == pytest.approx(perf.iteration_time(0, 0, 2000, 2000 * 2001 / 2, 0), rel=1e-12)
    assert 0.01 < r.first_token_s < 1.0          # a 2k prompt on an 8B model on one H100: tens of ms


@pytest.mark.parametrize("slow_at", [None, 1.3], ids=["steady", "slowdown-mid-run"])
def test_fast_equals_reference_with_real_model(llama8b_h100, slow_at):
    perf, kv_tokens = llama8b_h100
    specs = workload()
    fast_rep, fast = run(perf, kv_tokens, "fast", specs, slow_at)
    ref_rep, ref = run(perf, kv_tokens, "reference", specs, slow_at)
    for a, b in zip(fast, ref):
        assert a.status == b.status == "completed"
        assert math.isclose(a.first_token_s, b.first_token_s, rel_tol=1e-9)
        assert math.isclose(a.finish_s, b.finish_s, rel_tol=1e-9)
    assert fast_rep.iterations == ref_rep.iterations
    assert fast_rep.wakeups < ref_rep.wakeups / 3


def test_slowdown_stretches_later_tokens(llama8b_h100):
    perf, kv_tokens = llama8b_h100
    specs = [(0.0, 500, 2000)]
    _, (base,) = run(perf, kv_tokens, "fast", specs)
    _, (slow,) = run(perf, kv_tokens, "fast", specs, slow_at=1.0)
    assert slow.first_token_s == base.first_token_s
    # GPU time doubles after t = 1 s, the fixed per-iteration overhead does not
    assert 1.3 < (slow.finish_s - 1.0) / (base.finish_s - 1.0) < 2.0
