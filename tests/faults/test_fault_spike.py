"""traffic_spike: ~(factor - 1) x the base arrivals in its window, ramped, with resampled lengths."""
from __future__ import annotations

import math

import numpy as np
import pytest

from chaos.faults import plan
from chaos.faults.traffic_spike import spike_arrivals
from chaos.rng import stream
from fault_helpers import faults


def spike(fabric, ps, run_plan, text, seed=3, rate=20.0):
    pl = plan(faults(text), fabric=fabric, placements=ps, seed=seed, horizon_s=3600)
    return pl, run_plan(fabric, ps, pl, rate_per_s=rate)


def test_flat_spike_adds_factor_minus_one_times_base(mixed, run_plan):
    fabric, ps = mixed
    pl, fleet = spike(fabric, ps, run_plan, "- {type: traffic_spike, at: 5m, duration: 1m, factor: 3}")
    assert pl[0].targets == () and pl[0].target_kind == "fleet"
    (times, inputs, outputs, hashes), = fleet.arrivals
    expected = (3 - 1) * 20.0 * 60                                     # 2400 extra on 1200 base
    assert abs(len(times) - expected) < 4 * math.sqrt(expected)
    assert times.min() >= 300 and times.max() < 360 and np.all(np.diff(times) >= 0)
    assert fleet.calls == [(300.0, "add_arrivals", len(times), "faults[0] traffic_spike")]
    assert set(inputs) <= {100, 200, 300} and set(outputs) <= {10, 20, 30} and hashes is None


def test_ramps_shape_the_rate(mixed, run_plan):
    fabric, ps = mixed
    _, fleet = spike(fabric, ps, run_plan, "- {type: traffic_spike, at: 0s, duration: 100s, factor: 4, "
                                           "ramp_up: 40s, ramp_down: 20s}", rate=50.0)
    times = fleet.arrivals[0][0]
    expected = 3 * 50.0 * (100 - 40 / 2 - 20 / 2)                     # 10500
    assert abs(len(times) - expected) < 4 * math.sqrt(expected)
    first, middle = np.sum(times < 20), np.sum((times >= 40) & (times < 60))
    assert first == pytest.approx(3 * 50 * 20 * 0.25, rel=0.15)        # mean ramp 1/4 over [0, 20s)
    assert middle == pytest.approx(3 * 50 * 20, rel=0.1)


def test_prompt_factor_scales_prompts(mixed, run_plan):
    fabric, ps = mixed
    _, fleet = spike(fabric, ps, run_plan, "- {type: traffic_spike, at: 0s, duration: 10s, factor: 2, prompt_factor: 1.5}")
    assert set(fleet.arrivals[0][1]) <= {150, 300, 450}


def test_spike_is_deterministic_and_follows_the_base_rate():
    rate = lambda a, b: 10.0 if a < 30 else 40.0                       # noqa: E731 (a trace that speeds up)
    a = spike_arrivals(rate, 0, 60, 2.0, 0, 0, stream(1, "spike:0:0"))
    b = spike_arrivals(rate, 0, 60, 2.0, 0, 0, stream(1, "spike:0:0"))
    assert np.array_equal(a, b)
    early, late = np.sum(a < 30), np.sum(a >= 30)
    assert early == pytest.approx(300, abs=4 * math.sqrt(300)) and late == pytest.approx(1200, abs=4 * math.sqrt(1200))


def test_factor_one_adds_nothing(mixed, run_plan):
    fabric, ps = mixed
    _, fleet = spike(fabric, ps, run_plan, "- {type: traffic_spike, at: 0s, duration: 10s, factor: 1}")
    assert fleet.arrivals == []
