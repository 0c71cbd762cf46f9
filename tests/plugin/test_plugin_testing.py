"""chaos.testing: the assertion helpers' failure messages show numbers, windows and faults."""
from __future__ import annotations

import re

import pytest

from chaos import testing
from plugin_helpers import DATA, copy_data, warm_up

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def weak():
    """No health checks, no retries, requests on a failed replica fail: least_outstanding then sends
    everything to the dead replica (refused at once, so it looks idle) until the restart."""
    return testing.run(DATA / "weak-crash.yaml")


@pytest.fixture(scope="module")
def strong():
    return testing.run(DATA / "small-fleet.yaml")


def raises(fn, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_assert_no_requests_lost_groups_the_lost_requests_by_reason_and_time(weak, strong):
    testing.assert_no_requests_lost(strong)
    text = raises(testing.assert_no_requests_lost, weak)
    assert re.search(r"^\d+ requests lost by run 'weak-crash' \(seed 3 from .*weak-crash.yaml, horizon 2m00s\) "
                     r"over \[0s, 2m00s\) \(allowed 0\): \d+ failed, 0 rejected of \d+ arrived", text, re.M)
    assert re.search(r"^\s*\d+ failed: 'connection refused by aggregated-0' between 40.\d+s and 1m\d+s$", text, re.M)
    assert "faults[0] gpu_crash rack0/host0/gpu1 [40.00s, 1m10s) -> lost aggregated-0" in text
    assert "fault-free twin: 0 failed, 0 rejected" in text
    lost = weak.result.log.counts()["failed"]
    testing.assert_no_requests_lost(weak, allow=lost)
    testing.assert_no_requests_lost(weak, between=("0s", "39s"))


def test_assert_slo_names_the_value_the_limit_and_the_worst_window(weak, strong):
    testing.assert_slo(strong, ttft_p99="3s", tpot_p99="100ms")
    text = raises(testing.assert_slo, strong, ttft_p99="10ms", tpot_p99="1s", per="20s")
    assert "SLO not met by run 'small-fleet'" in text and "over [0s, 2m00s)" in text
    assert re.search(r"FAILED ttft_p99 = [\d.]+ms, limit <= 10.0ms; worst 20.00s window \[[^)]+\): [\d.]+ms", text)
    assert re.search(r"^\s*tpot_p99 = [\d.]+ms, limit <= 1.00s$", text, re.M)
    text = raises(testing.assert_slo, weak, throughput_tok_s="1500/s")
    assert re.search(r"FAILED throughput_tok_s = [\d.]+ tok/s, limit >= 1500 tok/s; worst 30.00s window "
                     r"\[[^)]+\): 0 tok/s while faults\[0\] gpu_crash", text)
    with pytest.raises(TypeError, match="ttft_p999.*did you mean ttft_p99"):
        testing.assert_slo(strong, ttft_p999="1s")


def test_assert_recovers_within_lists_each_fault_and_runs_the_twin_when_missing(weak):
    no_twin = testing.run(DATA / "small-fleet.yaml", baseline=False)
    assert no_twin.baseline is None
    testing.assert_recovers_within(no_twin, "60s")
    assert no_twin.baseline is not None and no_twin.resilience is not None       # run on demand and kept
    text = raises(testing.assert_recovers_within, weak, "30s")
    assert "recovery slower than 30.00s in run 'weak-crash'" in text
    assert "(recovered = 3 windows of 10.00s with throughput >= 80% and TTFT p99 <= 1.5 x the fault-free twin's)" in text
    assert re.search(r"FAILED faults\[0\] gpu_crash \[40.00s, 1m10s\): detected after [\d.]+s \(aggregated-0: .*\), "
                     r"never recovered before the horizon 2m00s; max throughput drop 100%", text)


def test_assert_no_cliff_shows_the_fall_the_twin_and_the_fault_blamed(weak, strong):
    testing.assert_no_cliff(strong, drop=0.5, within="10s", ttft_factor=3)
    text = raises(testing.assert_no_cliff, weak, drop=0.5, within="10s")
    assert re.search(r"^\s*throughput cliff at 40.00s: [\d.]+ -> 0 tok/s \(100% down, limit 50%\) within 10.00s; "
                     r"fault-free twin [\d.]+ tok/s; faults\[0\] gpu_crash \(started", text, re.M)


def test_assert_better_compares_on_a_metric_and_says_where_the_scenarios_differ(weak, strong):
    testing.assert_better(strong, weak, metric="requests_lost")
    testing.assert_better(strong, weak, metric="resilience_score")
    testing.assert_better(strong, weak, metric="throughput_tok_s", margin=0.2)
    text = raises(testing.assert_better, weak, strong, metric="requests_lost")
    assert re.search(r"A is not better than B on requests_lost \(lower is better\): A = \d+ requests, B = 0 requests",
                     text)
    assert "they differ in: " in text and "recovery.requests: 'fail' vs 'migrate'" in text
    with pytest.raises(TypeError, match="metric: expected one of"):
        testing.assert_better(weak, strong, metric="speed")


def test_quick_duration_keeps_runs_whose_faults_last_to_the_end(weak):
    sc = weak.result.scenario
    assert testing.quick_duration(sc) == 70 + 20 + 60
    mtbf = testing.load(DATA / "weak-crash.yaml", set={"faults": [{"type": "gpu_crash", "mtbf": "10m", "target": {"role": "aggregated", "mode": "all"}}]})
    assert testing.quick_duration(mtbf) is None
    assert testing.load(DATA / "weak-crash.yaml", set={"duration": "10m"}, quick=True).duration == 150.0


def test_overrides_keep_types():
    assert testing.overrides({"controller.policy": ["restart", "failover_spare"], "router.retries": 0,
                              "name": "007"}) == [
        'controller.policy=["restart", "failover_spare"]', "router.retries=0", 'name="007"']


def test_pytest_rewrites_the_helpers_asserts(pytester):
    warm_up()
    copy_data(pytester, "weak-crash.yaml", "weak-crash.yaml")
    pytester.makepyfile(test_user="""
        from chaos.testing import assert_no_requests_lost

        def test_lost(fleetchaos):
            assert_no_requests_lost(fleetchaos.run("weak-crash.yaml"))
    """)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E * requests lost by run 'weak-crash'*",
                                 "E*assert * <= 0"])       # the rewritten comparison, with its values
    result.stdout.fnmatch_lines(["test_user.py:4: AssertionError"])   # __tracebackhide__: the user's line
