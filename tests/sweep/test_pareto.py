"""Pareto fronts against a brute-force dominance check on random point sets."""
from __future__ import annotations

from hypothesis import given, strategies as st

from chaos.sweep.pareto import pareto_front


def brute_force(points, better):
    sign = [1 if b == "lower" else -1 for b in better]
    pts = [(sign[0] * x, sign[1] * y) if x is not None and y is not None else None for x, y in points]
    front = []
    for i, p in enumerate(pts):
        if p is None:
            continue
        dominated = any(q is not None and q[0] <= p[0] and q[1] <= p[1] and (q[0] < p[0] or q[1] < p[1])
                        for q in pts)
        if not dominated:
            front.append(i)
    return front


values = st.one_of(st.integers(0, 6).map(float), st.floats(0, 100, allow_nan=False))
points = st.lists(st.tuples(st.one_of(values, st.none()), values), max_size=40)
directions = st.tuples(st.sampled_from(["lower", "higher"]), st.sampled_from(["lower", "higher"]))


@given(points, directions)
def test_front_equals_brute_force(pts, better):
    assert pareto_front(pts, better) == brute_force(pts, better)


def test_front_of_a_known_set():
    # (TTFT p99 s, throughput per GPU): lower latency and higher throughput are better
    pts = [(1.0, 100.0), (2.0, 150.0), (2.0, 120.0), (3.0, 150.0), (0.5, 50.0), (1.0, 100.0), (4.0, 90.0)]
    assert pareto_front(pts) == [0, 1, 4, 5]   # ties (0 and 5) are both on it; 3 is dominated by 1


def test_missing_values_are_never_on_the_front():
    assert pareto_front([(None, 10.0), (1.0, float("nan")), (2.0, 1.0)]) == [2]
