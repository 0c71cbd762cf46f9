"""Effect 6: KV overcommit is a cliff. Past the load whose running batch the KV cache holds, preemptions
by recompute appear and multiply, TTFT leaves the chart and goodput collapses (vLLM's preemption docs;
PagedAttention, SOSP 2023, §4.5 and Fig. 12). Sweep kv-overcommit.sweep.yaml, scarce vs ample KV."""
from __future__ import annotations

import pytest

from validation_kit import pick, run, sweep


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sweep("kv-overcommit.sweep.yaml", tmp_path_factory.mktemp("kv-overcommit"))


def point(rows, util, rate):
    return pick(rows, engine__gpu_memory_utilization=util, workload__synthetic__rate=rate)


@pytest.fixture(scope="module")
def preemptions():
    """Preemptions per completed request at 3, 4 and 6 requests/s with scarce KV."""
    out = {}
    for rate in (3, 4, 6):
        res = run("kv-overcommit.yaml", **{"workload.synthetic.rate": f"{rate}/s"})
        out[rate] = float(res.log.preemptions.sum()) / res.summary.requests["completed"]
    return out


def test_preemptions_appear_past_the_kv_limit_and_multiply(preemptions):
    assert preemptions[3] == 0, preemptions
    assert preemptions[4] > 0.2, preemptions                     # 0.46 per completed request
    assert preemptions[6] > 1.5 * preemptions[4], preemptions    # 0.80


def test_throughput_stops_at_the_kv_bound_far_below_the_compute_bound(rows):
    scarce = [point(rows, 0.3, r)["throughput_tok_s"] for r in (4, 6, 8, 12)]
    ample = [point(rows, 0.9, r)["throughput_tok_s"] for r in (4, 6, 8, 12)]
    assert max(scarce) / min(scarce) < 1.1, scarce               # ~3,500-3,640 tok/s from 4 to 12 req/s
    assert ample[-1] > 2 * scarce[-1], (ample, scarce)           # the same GPU with ample KV: ~8,500


def test_latency_and_goodput_fall_off_a_cliff(rows):
    before, after = point(rows, 0.3, 3), point(rows, 0.3, 6)
    assert after["ttft_p50"] > 100 * before["ttft_p50"], (before["ttft_p50"], after["ttft_p50"])
    assert after["goodput_rps"] < 0.2 * before["goodput_rps"], (before["goodput_rps"], after["goodput_rps"])
    # ample KV holds the SLO at the same rate: it is the KV, not the compute
    assert point(rows, 0.9, 6)["slo_attainment"] > 0.99


@pytest.mark.xfail(strict=True, reason="not reproduced (docs/validation.md, effect 6): past the KV limit the "
                                       "simulated throughput plateaus (~3,600 tok/s from 4 to 12 req/s) instead "
                                       "of falling; the FCFS queue keeps the running batch, and so the preemption "
                                       "rate, the same however long the queue grows")
def test_throughput_falls_rather_than_plateaus_past_the_kv_limit(rows):
    peak = max(point(rows, 0.3, r)["throughput_tok_s"] for r in (2, 3, 4))
    assert point(rows, 0.3, 12)["throughput_tok_s"] < 0.9 * peak
