"""The cliff rule: a planted cliff is found where it was planted; smooth curves have none."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from chaos.sweep.curves import find_cliffs
from chaos.sweep.schema import CliffSettings


def test_planted_cliff_is_found_with_its_factor():
    ttft = [0.50, 0.55, 0.62, 3.97, 4.4]        # fine up to 2, x6.4 at 3
    cliffs = find_cliffs(ttft, "lower")
    assert [c.index for c in cliffs] == [3]
    assert cliffs[0].factor == pytest.approx(6.4, rel=0.01)


def test_throughput_is_judged_by_its_inverse():
    tput = [1000.0, 950.0, 900.0, 300.0]
    cliffs = find_cliffs(tput, "higher")
    assert [c.index for c in cliffs] == [3]
    assert cliffs[0].factor == pytest.approx(3.0)


def test_first_step_has_only_the_factor_rule():
    assert [c.index for c in find_cliffs([0.9, 8.6, 9.0])] == [1]
    assert find_cliffs([0.9, 1.7, 1.9]) == []


def test_steady_doubling_is_not_a_cliff_after_the_first_step():
    # every step x2.5: the first is a cliff (nothing before it), the later ones are no steeper
    assert [c.index for c in find_cliffs([1, 2.5, 6.25, 15.6, 39])] == [1]


def test_no_value_counts_as_infinitely_worse():
    cliffs = find_cliffs([1.0, 1.1, None, None])
    assert [c.index for c in cliffs] == [2] and math.isinf(cliffs[0].factor)
    assert [c.index for c in find_cliffs([1000.0, 900.0, 0.0], "higher")] == [2]


def test_thresholds_come_from_the_rule():
    values = [1.0, 1.2, 3.0]
    assert [c.index for c in find_cliffs(values)] == [2]
    assert find_cliffs(values, rule=CliffSettings(factor=3.5)) == []
    assert find_cliffs(values, rule=CliffSettings(steepness=10)) == []


def _smooth(kind: str, a: float, p: float, k: float, n: int) -> list[float]:
    """Smooth degradations whose first step stays under x2: power laws, exponentials, linear."""
    xs = range(n)
    if kind == "power":
        return [a * (1 + x / k) ** p for x in xs]
    if kind == "exp":
        return [a * math.exp(0.6 * p / 1.5 * x) for x in xs]
    return [a * (1 + 0.9 * p / 1.5 * x) for x in xs]


smooth_params = st.tuples(st.sampled_from(["power", "exp", "linear"]), st.floats(0.01, 100),
                          st.floats(0.0, 1.5), st.floats(2.0, 20.0), st.integers(2, 10))


@given(st.lists(smooth_params, min_size=1, max_size=3))
def test_no_cliff_in_smooth_curves(components):
    n = min(c[4] for c in components)
    curve = [sum(vals) for vals in zip(*(_smooth(kind, a, p, k, n) for kind, a, p, k, _ in components))]
    assert find_cliffs(curve, "lower") == []
    assert find_cliffs([1 / v for v in curve], "higher") == []


@given(smooth_params, st.integers(1, 9), st.floats(20.0, 1000.0))
def test_planted_jump_in_a_smooth_curve_is_found_there(params, at, jump):
    kind, a, p, k, n = params
    n = max(n, at + 1)
    curve = _smooth(kind, a, p, k, n)
    curve = curve[:at] + [v * jump for v in curve[at:]]
    cliffs = find_cliffs(curve, "lower")
    assert [c.index for c in cliffs] == [at]
    assert cliffs[0].factor == pytest.approx(curve[at] / curve[at - 1])
