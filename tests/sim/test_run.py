"""Whole runs: request conservation, determinism under a seed, steppers agree, physics-monotone effects."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from chaos.metrics import Status
from chaos.scenario import load_scenario, load_scenario_text
from chaos.sim import run

from sim_scenarios import TRACES, scenario_text

FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def run_text(text: str, tmp_path, **kw):
    return run(load_scenario_text(text, "test.yaml", tmp_path), **kw)


@FAST
@given(replicas=st.integers(1, 3), rate=st.sampled_from(["2/s", "8/s", "30/s"]), requests=st.integers(1, 80),
       policy=st.sampled_from(["round_robin", "random", "least_outstanding", "power_of_two", "kv_aware"]),
       mode=st.sampled_from(["aggregated", "disaggregated"]), seed=st.integers(0, 1000))
def test_every_request_ends_in_exactly_one_state(tmp_path, replicas, rate, requests, policy, mode, seed):
    res = run_text(scenario_text(replicas=replicas, rate=rate, requests=requests, policy=policy, mode=mode,
                                 seed=seed), tmp_path)
    counts = res.log.counts()
    assert counts["arrived"] == requests
    assert counts["completed"] + counts["failed"] + counts["rejected"] + counts["in_flight"] == requests
    # no faults and no duration: every request completes, each exactly once
    assert counts["completed"] == requests
    assert sorted(res.log.id.tolist()) == list(range(requests))
    done = res.log.status == int(Status.COMPLETED)
    assert np.all(res.log.first_token_s[done] >= res.log.arrival_s[done])
    assert np.all(res.log.finish_s[done] >= res.log.first_token_s[done])
    assert np.all(res.log.generated_tokens[done] == res.log.output_tokens[done])


def test_a_horizon_leaves_requests_in_flight_and_counts_still_add_up(tmp_path):
    text = scenario_text(rate="40/s", requests=400, replicas=1, extra={"duration": "5s"})
    res = run_text(text, tmp_path)
    counts = res.log.counts()
    assert res.horizon_s == 5.0
    assert counts["in_flight"] > 0
    assert counts["completed"] + counts["in_flight"] == counts["arrived"]
    assert counts["arrived"] < 400      # arrivals after the horizon never arrived


def test_same_seed_same_timings_other_seed_other_timings(tmp_path):
    a = run_text(scenario_text(seed=5, mode="disaggregated"), tmp_path)
    b = run_text(scenario_text(seed=5, mode="disaggregated"), tmp_path)
    c = run_text(scenario_text(seed=6, mode="disaggregated"), tmp_path)
    for col in ("arrival_s", "first_token_s", "finish_s", "output_tokens"):
        np.testing.assert_array_equal(getattr(a.log, col), getattr(b.log, col))
    assert not np.array_equal(a.log.arrival_s, c.log.arrival_s)


@FAST
@given(seed=st.integers(0, 10_000), mode=st.sampled_from(["aggregated", "disaggregated"]),
       rate=st.sampled_from(["3/s", "20/s"]))
def test_fast_engine_equals_reference_stepper_in_whole_runs(tmp_path, seed, mode, rate):
    fast = run_text(scenario_text(seed=seed, mode=mode, rate=rate, requests=40, stepper="fast"), tmp_path)
    ref = run_text(scenario_text(seed=seed, mode=mode, rate=rate, requests=40, stepper="reference"), tmp_path)
    np.testing.assert_allclose(fast.log.first_token_s, ref.log.first_token_s, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fast.log.finish_s, ref.log.finish_s, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(fast.log.preemptions, ref.log.preemptions)


def mean_ttft(res) -> float:
    return float(np.nanmean(res.log.ttft_s()))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), base=st.sampled_from([2, 5, 10]))
def test_more_load_never_lowers_mean_ttft(tmp_path, seed, base):
    """The same request stream compressed in time (twice the rate) never waits less on average, to
    within one engine iteration: an arrival waits for the iteration in progress, and at light load
    where in an iteration it lands (and so which replica the router sees as least busy) shifts that
    residual by up to one iteration either way."""
    low = run_text(scenario_text(seed=seed, rate=f"{base}/s", requests=150, replicas=2), tmp_path)
    high = run_text(scenario_text(seed=seed, rate=f"{2 * base}/s", requests=150, replicas=2), tmp_path)
    np.testing.assert_array_equal(low.log.input_tokens, high.log.input_tokens)
    one_iteration = low.summary.to_dict()["itl_s"]["p50"]
    assert mean_ttft(high) >= mean_ttft(low) - one_iteration


def test_heavy_load_raises_ttft_well_beyond_light_load(tmp_path):
    """Past saturation the effect is large: ten times the rate on one replica queues prompts."""
    light = run_text(scenario_text(seed=1, rate="2/s", requests=200, replicas=1), tmp_path)
    heavy = run_text(scenario_text(seed=1, rate="40/s", requests=200, replicas=1), tmp_path)
    assert mean_ttft(heavy) > 3 * mean_ttft(light)


SLOW_GPU_CATALOG = """
gpus:
  h100-half:
    bf16_flops: 494.7e12
    fp8_flops: 989.4e12
    hbm: 80GB
    hbm_bandwidth: 1.675TB/s
    nvlink_bandwidth: 225GB/s
    nic_bandwidth: 200Gbps
    source: an H100 at half its compute, memory and link speed (test fixture)
"""


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), rate=st.sampled_from(["1/s", "6/s", "15/s"]),
       mode=st.sampled_from(["aggregated", "disaggregated"]))
def test_a_slower_gpu_never_lowers_ttft(tmp_path, seed, rate, mode):
    cat = tmp_path / "catalog"
    cat.mkdir(exist_ok=True)
    (cat / "slow.yaml").write_text(SLOW_GPU_CATALOG)
    fast = run_text(scenario_text(seed=seed, rate=rate, mode=mode, extra={"catalog": [str(cat)]}), tmp_path)
    slow = run_text(scenario_text(seed=seed, rate=rate, mode=mode, gpu="h100-half",
                                  extra={"catalog": [str(cat)]}), tmp_path)
    assert mean_ttft(slow) >= mean_ttft(fast)
    assert np.nanpercentile(slow.log.ttft_s(), 99) >= np.nanpercentile(fast.log.ttft_s(), 99)
    assert slow.summary.to_dict()["ttft_s"]["p50"] > fast.summary.to_dict()["ttft_s"]["p50"]


@pytest.mark.slow
def test_kv_aware_routing_hits_the_prefix_cache_more_than_round_robin_on_mooncake(tmp_path):
    if not TRACES.exists():
        pytest.skip(f"traces folder {TRACES} is absent")
    text = f"""
name: mooncake-prefix
seed: 3
topology: {{gpu: h100-sxm, racks: 1, hosts_per_rack: 1, gpus_per_host: 8}}
deployment: {{model: llama-3.1-8b, replicas: 8, tp: 1}}
workload: {{trace: {{path: {TRACES / 'mooncake_conversation.jsonl'}, window: [0s, 15m]}}}}
router: {{policy: POLICY}}
"""
    ratios = {}
    for policy in ("round_robin", "kv_aware"):
        res = run_text(text.replace("POLICY", policy), tmp_path)
        ratios[policy] = res.summary.to_dict()["prefix_hit_ratio"]
    assert ratios["kv_aware"] > ratios["round_robin"] + 0.05, ratios


CLOSED = """
name: closed
topology: {gpu: h100-sxm, racks: 1, hosts_per_rack: 1, gpus_per_host: 8}
deployment: {model: llama-3.1-8b, replicas: 2, tp: 1}
workload:
  synthetic: {arrival: closed_loop, concurrency: 16, REQUESTS input: {dist: fixed, value: 1000}, output: {dist: fixed, value: 100}}
"""


def test_closed_loop_keeps_concurrency_and_ends_with_its_last_request(tmp_path):
    res = run_text(CLOSED.replace("REQUESTS", "requests: 200,"), tmp_path)
    counts = res.log.counts()
    assert counts["arrived"] == counts["completed"] == 200
    assert res.horizon_s == pytest.approx(float(np.nanmax(res.log.finish_s)))
    # a new request arrives the instant one finishes (think time 0): never more than 16 in the system
    events = sorted([(t, 1) for t in res.log.arrival_s] + [(t, -1) for t in res.log.finish_s])
    assert max(np.cumsum([d for _, d in events])) <= 16


def test_closed_loop_without_a_bound_is_refused(tmp_path):
    from chaos.errors import WorkloadError
    with pytest.raises(WorkloadError, match="closed loop never runs dry"):
        run_text(CLOSED.replace("REQUESTS", ""), tmp_path)


def test_efficiency_factors_from_the_scenario_reach_the_perf_model(tmp_path):
    """Half the MFU and HBM efficiency: every iteration is slower, so TTFT and TPOT rise."""
    base = run_text(scenario_text(seed=2), tmp_path)
    slow = run_text(scenario_text(seed=2, extra={"efficiency": {"mfu": 0.3, "memory_efficiency": 0.425,
                                                                "overhead": "4ms"}}), tmp_path)
    assert slow.fleet.replicas["aggregated-0"].cost.efficiency.mfu == 0.3
    assert mean_ttft(slow) > 1.5 * mean_ttft(base)
    assert float(np.nanmean(slow.log.tpot_s())) > 1.5 * float(np.nanmean(base.log.tpot_s()))
