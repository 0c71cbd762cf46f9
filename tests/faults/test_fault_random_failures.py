"""random_failures: the Llama 3 defaults give the documented per-GPU rate, cause mix and effects."""
from __future__ import annotations

import math

import pytest

from chaos.faults import LLAMA3_MIX, LLAMA3_RATE_PER_GPU_S, RandomFailures, plan
from fault_helpers import faults

HOUR = 3600.0


def test_documented_numbers():
    per_gpu_hour = LLAMA3_RATE_PER_GPU_S * HOUR
    assert per_gpu_hour == pytest.approx(419 / (54 * 24 * 16384))
    assert per_gpu_hour == pytest.approx(1.973e-5, rel=1e-3)
    assert 1 / per_gpu_hour == pytest.approx(50_677, rel=1e-3)                      # MTBF per GPU, hours
    assert 1 / (per_gpu_hour * 16384) == pytest.approx(3.09, abs=0.01)              # hours between, Llama 3 fleet
    assert 1 / (per_gpu_hour * 32) / 24 == pytest.approx(66.0, abs=0.1)             # days between, 32 GPUs
    assert sum(LLAMA3_MIX.values()) == pytest.approx(1.0)
    rf = RandomFailures()
    assert rf.fleet_rate(32) * HOUR == pytest.approx(32 * 1.973e-5, rel=1e-3)
    assert RandomFailures(acceleration=1000).fleet_rate(32) * HOUR == pytest.approx(0.63, abs=0.01)


def test_default_rate_and_mix_over_a_long_run(mixed):
    fabric, ps = mixed
    horizon = 100 * HOUR
    pl = plan(faults("- {type: random_failures, acceleration: 10000}"), fabric=fabric, placements=ps,
              seed=2, horizon_s=horizon)
    expected = LLAMA3_RATE_PER_GPU_S * 32 * 10_000 * horizon          # 631.5 failures
    assert abs(len(pl) - expected) < 4 * math.sqrt(expected)
    share = {c: sum(1 for p in pl if p.cause.endswith(": " + c)) / len(pl) for c in LLAMA3_MIX}
    for cause, weight in LLAMA3_MIX.items():
        assert share[cause] == pytest.approx(weight, abs=4 * math.sqrt(weight * (1 - weight) / len(pl)))
    assert sorted({p.occurrence for p in pl}) == list(range(len(pl)))


def test_each_cause_hits_the_right_element(mixed, run_plan):
    fabric, ps = mixed
    pl = plan(faults("- {type: random_failures, acceleration: 20000, repair: {host: 1h, gpu: 30m, network: 10m, hbm: 2h}}"),
              fabric=fabric, placements=ps, seed=4, horizon_s=20 * HOUR)
    by = {c: [p for p in pl if p.cause.endswith(": " + c)] for c in LLAMA3_MIX}
    assert all(by.values())
    assert all(p.target_kind == "gpu" and p.end_s - p.start_s == pytest.approx(1800) for p in by["gpu"])
    assert all(p.target_kind == "gpu" and p.end_s - p.start_s == pytest.approx(7200) for p in by["hbm"])
    assert all(p.target_kind == "host" and p.end_s - p.start_s == pytest.approx(3600) for p in by["host"])
    assert all(p.target_kind == "link" and p.targets[0].endswith("--rack0/leaf") for p in by["network"])
    assert all(p.target_kind == "replica" and p.end_s == p.start_s for p in by["software"])
    fleet = run_plan(fabric, ps, pl)
    software = {p.start_s: p.targets for p in by["software"]}
    for t, method, *args in fleet.calls:
        if method == "crash_replica":
            assert (args[0],) == software[t]
    assert fleet.methods().count("crash_replica") == sum(1 for p in by["software"] if p.targets)
    assert fleet.methods().count("fail_element") == len(pl) - len(by["software"])


def test_mix_replaces_the_default(mixed):
    fabric, ps = mixed
    pl = plan(faults("- {type: random_failures, acceleration: 20000, mix: {software: 1}}"), fabric=fabric,
              placements=ps, seed=1, horizon_s=5 * HOUR)
    assert pl and all(p.cause.endswith(": software") for p in pl)


def test_window_and_custom_rate(mixed):
    fabric, ps = mixed
    pl = plan(faults('- {type: random_failures, at: 1h, duration: 2h, per_gpu_rate: "0.01/h"}'), fabric=fabric,
              placements=ps, seed=1, horizon_s=10 * HOUR)
    assert all(HOUR <= p.start_s < 3 * HOUR for p in pl)
    assert abs(len(pl) - 0.01 * 32 * 2) < 4                      # 0.64 expected: a handful at most
