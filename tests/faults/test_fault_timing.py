"""Failure processes: per-component MTBF (exponential, weibull) and repair times give the expected counts."""
from __future__ import annotations

import math

import numpy as np
import pytest

from chaos.faults import Lifetime, RepairTime, plan
from fault_helpers import faults

HOUR = 3600.0


def run(fabric, ps, text, horizon_s, seed=1):
    return plan(faults(text), fabric=fabric, placements=ps, seed=seed, horizon_s=horizon_s)


def test_exponential_mtbf_with_fixed_repair_count(mixed):
    fabric, ps = mixed
    pl = run(fabric, ps, "- {type: gpu_crash, mtbf: 1h, repair: 6m, target: {gpu: rack0/host2/gpu0}}", 1000 * HOUR)
    # renewal process: cycles of mean 1h + 0.1h; count ~ 1000/1.1 = 909, sd ~ sqrt(1000 * 1 / 1.1^3) = 27
    assert abs(len(pl) - 1000 / 1.1) < 4 * 27
    assert all(math.isclose(p.end_s - p.start_s, 360.0) for p in pl)
    assert all(a.end_s <= b.start_s for a, b in zip(pl, pl[1:]))          # one component: no overlap


def test_weibull_mtbf_count_and_mean(mixed):
    fabric, ps = mixed
    pl = run(fabric, ps, "- {type: straggler, factor: 2, mtbf: {dist: weibull, mean: 1h, shape: 2}, repair: 0s, "
                         "target: {gpu: rack0/host2/gpu0}}", 1000 * HOUR)
    # Weibull k=2: cv^2 = Gamma(2)/Gamma(1.5)^2 - 1 = 0.273; count ~ 1000, sd ~ sqrt(1000 * 0.273) = 16.5
    assert abs(len(pl) - 1000) < 4 * 16.5
    gaps = np.diff([0.0] + [p.start_s for p in pl])
    assert np.std(gaps) / np.mean(gaps) == pytest.approx(math.sqrt(0.273), abs=0.06)


def test_mtbf_runs_one_process_per_component(agg8):
    fabric, ps = agg8
    pl = run(fabric, ps, "- {type: scheduler_stall, mtbf: 10h, repair: {dist: exponential, mean: 30m}, "
                         "target: {mode: all}}", 500 * HOUR)
    per = {r: sum(1 for p in pl if p.targets == (r,)) for r in (p.replica_id for p in ps)}
    assert set(per) == {p.replica_id for p in ps} and all(len(p.targets) == 1 for p in pl)
    # each: 500h / 10.5h = 47.6 failures; all 8 together 381, sd ~ sqrt(381) = 19.5
    assert abs(sum(per.values()) - 8 * 500 / 10.5) < 4 * 19.5


def test_mtbf_without_repair_fails_each_component_once_for_good(agg8):
    fabric, ps = agg8
    pl = run(fabric, ps, "- {type: gpu_crash, mtbf: 1h, target: {mode: all}}", 100 * HOUR)
    assert len(pl) == 8 and all(p.permanent and p.end_s == 100 * HOUR for p in pl)


def test_mtbf_process_starts_at(mixed):
    fabric, ps = mixed
    pl = run(fabric, ps, "- {type: gpu_crash, at: 10h, mtbf: 1h, repair: 1m, target: {gpu: rack0/host2/gpu0}}",
             20 * HOUR)
    assert pl and min(p.start_s for p in pl) >= 10 * HOUR


@pytest.mark.parametrize("spec, mean_s", [
    ("30m", 1800.0), ({"dist": "exponential", "mean": "30m"}, 1800.0), ({"dist": "uniform", "min": "10m", "max": "20m"}, 900.0),
    ({"dist": "lognormal", "median": "10m", "sigma": 1.0}, 600 * math.exp(0.5)),
    ({"dist": "lognormal", "mean": "10m", "sigma": 1.0}, 600.0),
    ({"dist": "weibull", "mean": "1h", "shape": 0.7}, 3600.0),
], ids=["bare-fixed", "exponential", "uniform", "lognormal-median", "lognormal-mean", "weibull"])
def test_repair_distributions_have_their_mean(spec, mean_s):
    d = RepairTime.model_validate(spec)
    assert d.mean_s == pytest.approx(mean_s)
    rng = np.random.default_rng(0)
    draws = np.array([d.sample(rng) for _ in range(40_000)])
    assert draws.min() >= 0 and draws.mean() == pytest.approx(mean_s, rel=0.04)


def test_bare_mtbf_is_exponential():
    assert Lifetime.model_validate("100h").dist == "exponential"
    assert Lifetime.model_validate("100h").mean_s == 100 * HOUR
