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


def _config(i, tp, crashes, ttft, tput, base_ttft, base_tput):
    from chaos.sweep.configs import Config
    c = Config(index=i, values={"deployment.tp": tp, "faults[0].target.value": crashes}, gpus=16, seeds=[1],
               ok_seeds=[1], errors=[], verdicts={1: "held"}, deviations={})
    c.mean = {"ttft_p99": ttft, "throughput_per_gpu": tput, "baseline_ttft_p99": base_ttft,
              "baseline_throughput_per_gpu": base_tput}
    return c


def test_fronts_under_faults_per_fault_setting_and_the_collapse():
    from chaos.sweep.pareto import fronts
    # TP8 is the quiet-day winner (lowest TTFT at the same throughput) but collapses with one crash
    configs = [_config(0, 4, 1, 1.2, 130.0, 1.0, 135.0), _config(1, 4, 2, 1.5, 128.0, 1.0, 135.0),
               _config(2, 8, 1, 9.0, 120.0, 0.8, 135.0), _config(3, 8, 2, 9.5, 45.0, 0.8, 135.0)]
    pair, = fronts(configs, [("ttft_p99", "throughput_per_gpu")], ["faults[0].target.value"])
    assert pair.quiet.on == [2]                       # one quiet point per TP shape: the twin is the same
    assert pair.rep == {0: 0, 1: 0, 2: 2, 3: 2}
    assert [(f.condition, f.on) for f in pair.faulted] == [("faults[0].target.value=1", [0]),
                                                           ("faults[0].target.value=2", [1])]
    assert pair.collapsed() == [3, 2]                 # off the front under both settings, the worse fall first
    assert pair.falls[2] == (9.0 / 0.8, 120.0 / 135.0)
