"""SimPy helpers for the same-time order of a run (STYLE point 6).

At one instant, first to last: faults (later issue), arrivals and KV-transfer completions (URGENT),
then engine iteration ends and everything else (NORMAL, in scheduling order). An arrival at exactly
the end of an iteration is therefore seen by the iteration that starts then, in both engine steppers.
"""
from __future__ import annotations

from typing import Any, Callable

import simpy
from simpy.core import URGENT
from simpy.events import Event


class PriorityTimeout(Event):
    """Like `env.timeout(delay)` but scheduled with an explicit SimPy priority (lower runs first at
    equal times): the building block of the run's written-down same-time order."""

    def __init__(self, env: simpy.Environment, delay: float, priority: int, value: Any = None) -> None:
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        # Event.__init__ inlined, as simpy.Timeout does (one of these per arrival and per timer)
        self.env = env
        self.callbacks = []
        self._ok = True
        self._value = value
        env.schedule(self, priority, delay)


class UrgentTimeout(PriorityTimeout):
    """URGENT priority: at equal times it runs before NORMAL events (iteration ends), so an arrival at
    t is seen by the iteration that starts at t."""

    def __init__(self, env: simpy.Environment, delay: float, value: Any = None) -> None:
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        # PriorityTimeout.__init__ inlined: no super() call per arrival
        self.env = env
        self.callbacks = []
        self._ok = True
        self._value = value
        env.schedule(self, URGENT, delay)


def call_at(env: simpy.Environment, t: float, fn: Callable[[], Any]) -> Event:
    """Run fn() at absolute time t (>= now) with URGENT priority; returns the event."""
    ev = UrgentTimeout(env, max(0.0, t - env.now))
    ev.callbacks.append(lambda _ev: fn())
    return ev
