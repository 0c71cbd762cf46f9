"""The driver plays arrivals through a chain of URGENT timeouts with callbacks (sim/driver.py
ArrivalChain) instead of a SimPy process: the same-time order of a run must not change (arrivals
with ties, against other URGENT and NORMAL events at the same instants, engine/events.py)."""
from __future__ import annotations

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.engine.events import UrgentTimeout
from chaos.sim.arrivals import ArrivalChain


class _Recorder:
    """The two things the chain calls on the driver, writing down when an arrival happened."""

    def __init__(self, env, seen):
        self.env, self.seen = env, seen

    def _make_request(self, rid, t, *rest):
        return rid

    def arrive(self, rid):
        self.seen.append(("arrive", rid, self.env.now))


def _process_arrivals(env, driver, rows):
    """The driver's former arrival process, one UrgentTimeout per later arrival."""
    for row in rows:
        t = row[1]
        if t > env.now:
            yield UrgentTimeout(env, t - env.now)
        driver.arrive(driver._make_request(*row))


def _others(env, seen, marks):
    """Other processes with URGENT and NORMAL events at the same instants, started before and after."""
    def proc(name, delays, urgent):
        for d in delays:
            yield UrgentTimeout(env, d) if urgent else env.timeout(d)
            seen.append((name, None, env.now))
    return [env.process(proc(f"{kind}{k}", marks, kind == "u")) for k in range(2) for kind in "un"]


times = st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 0.25]), min_size=1, max_size=25)


@settings(max_examples=80, deadline=None)
@given(arrivals=times, marks=st.lists(st.sampled_from([0.0, 0.5, 0.25, 1.0]), max_size=6),
       start_before=st.booleans())
def test_arrival_chain_keeps_the_order_of_the_arrival_process(arrivals, marks, start_before):
    rows = [(i, t, 10, 5, None, 0) for i, t in enumerate(sorted(arrivals))]

    def play(chain: bool):
        env, seen = simpy.Environment(), []
        driver = _Recorder(env, seen)
        if start_before:
            _others(env, seen, marks)
        if chain:
            ArrivalChain(driver, iter(rows))
        else:
            env.process(_process_arrivals(env, driver, rows))
        if not start_before:
            _others(env, seen, marks)
        env.run()
        return seen

    got, want = play(True), play(False)
    assert got == want
    assert [e[1] for e in got if e[0] == "arrive"] == list(range(len(rows)))
