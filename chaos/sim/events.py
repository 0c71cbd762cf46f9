"""SimPy event helpers with an explicit same-time order (STYLE point 6).

Same-time order in a run, first to last: faults (later issue), arrivals (URGENT), then engine
iteration boundaries and everything else (NORMAL, in scheduling order). An arrival at exactly the
end of an iteration is therefore seen by the iteration that starts then, in both engine steppers.
"""
from __future__ import annotations

import simpy
from simpy.core import URGENT
from simpy.events import Event


class UrgentTimeout(Event):
    """A timeout that fires before NORMAL events scheduled for the same instant."""

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, URGENT, delay)
