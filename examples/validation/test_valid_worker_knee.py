"""Effect 4: too few replicas saturate and queue, past the knee more replicas add nothing, and the knee
and the queueing delay sit where an M/G/c queue with the simulator's own service times puts them.

Scenario worker-knee.yaml: single-sequence Llama-3.1-8B replicas (a replica is one server), 6 requests/s.
"""
from __future__ import annotations

import math

import pytest

from validation_kit import mean_ttft_s, mgc_wait_s, pick, run, service_time_s, sweep

RATE = 6.0


@pytest.fixture(scope="module")
def service():
    """Mean service time and its Cs^2, measured with nothing queued: 8 replicas at 1 request/s."""
    light = run("worker-knee.yaml", **{"deployment.replicas": 8, "workload.synthetic.rate": "1/s"})
    mean_s, scv = service_time_s(light)
    floor_s = mean_ttft_s(light)             # TTFT with no wait: the prefill alone
    return mean_s, scv, floor_s


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sweep("worker-knee.sweep.yaml", tmp_path_factory.mktemp("worker-knee"))


def test_service_time_is_what_the_scenario_implies(service):
    mean_s, scv, floor_s = service
    # 128-token median lognormal answer (mean 128 * e^0.18 = 153 tokens) at ~6 ms per decode step of an
    # 8B model on one H100, plus a ~10 ms prefill: close to one second, with the lognormal's spread
    assert 0.6 < mean_s < 1.3, mean_s
    assert 0.3 < scv < 0.7, scv
    assert floor_s < 0.05, floor_s


def test_the_knee_is_where_offered_load_meets_the_replica_count(service, rows):
    mean_s, _, _ = service
    knee = math.ceil(RATE * mean_s)          # the fewest replicas with utilisation < 1
    assert knee == 6, (RATE * mean_s, knee)
    for c in (4, 5):                         # past saturation: throughput pinned at c / E[S], TTFT explodes
        r = pick(rows, deployment__replicas=c)
        assert r["throughput_rps"] == pytest.approx(c / mean_s, rel=0.1), (c, r["throughput_rps"])
        assert r["ttft_p50"] > 20 * mean_s, (c, r["ttft_p50"])
    below, at = pick(rows, deployment__replicas=knee - 1), pick(rows, deployment__replicas=knee)
    assert below["ttft_p99"] > 10 * at["ttft_p99"], (below["ttft_p99"], at["ttft_p99"])


def test_past_the_knee_more_replicas_add_nothing(service, rows):
    _, _, floor_s = service
    served = [pick(rows, deployment__replicas=c)["throughput_rps"] for c in (6, 7, 8)]
    assert max(served) / min(served) < 1.02, served          # all serve the offered 6/s
    assert served[0] == pytest.approx(RATE, rel=0.03)
    p50 = [pick(rows, deployment__replicas=c)["ttft_p50"] for c in (7, 8)]
    assert all(v < 2 * floor_s for v in p50), (p50, floor_s)  # the median request no longer waits


@pytest.mark.parametrize("replicas, low, high", [
    # near saturation (utilisation 0.94) join-shortest-queue behaves like the central M/G/c queue
    (6, 0.75, 1.3),
    # at lower utilisation the router's per-replica queues wait longer than one central queue (a request
    # can sit behind a long answer while another replica frees up): up to ~2.5x the M/G/c delay
    (7, 1.0, 2.5),
    (8, 1.0, 3.0),
])
def test_queueing_delay_matches_an_mgc_estimate(service, replicas, low, high):
    mean_s, scv, floor_s = service
    expected = mgc_wait_s(RATE, mean_s, scv, replicas)
    simulated = mean_ttft_s(run("worker-knee.yaml", **{"deployment.replicas": replicas})) - floor_s
    assert low * expected <= simulated <= high * expected, (replicas, simulated, expected)
