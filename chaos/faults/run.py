"""`start_faults(env, planned, fleet)`: play a plan on the SimPy clock through FleetControl.

One process walks every action of the plan in time order and calls the fault's `apply` at its start
and `revert` at its end. Same-time order (STYLE point 6): its timeouts carry FAULT_PRIORITY (-1), so
at one instant faults act before arrivals and transfers (URGENT, 0) and before iteration ends and
everything else (NORMAL, 1), whatever was scheduled first. Among faults at one instant: ends before
starts (a repeat whose next occurrence starts as the last ends, or a repaired element failing again,
nets out right), then plan order; an instant fault (end == start) ends right after it starts.
Permanent faults and ends past the horizon are never reverted.
"""
from __future__ import annotations

import math
from typing import Iterator, Sequence

import simpy
from simpy.events import Event

from chaos.faults.base import PlannedFault
from chaos.engine.events import PriorityTimeout
from chaos.faults.target import FleetControl

FAULT_PRIORITY = -1
"""SimPy event priority of fault actions: before URGENT (0) and NORMAL (1) at the same time."""


class FaultTimeout(PriorityTimeout):
    """A timeout with FAULT_PRIORITY."""

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        super().__init__(env, delay, FAULT_PRIORITY)


def actions(planned: Sequence[PlannedFault]) -> list[tuple[float, int, int, str, PlannedFault]]:
    """(time, phase, order, "apply"|"revert", fault) sorted: at one time ends (0), starts (1), instant ends (2)."""
    out = []
    for order, pf in enumerate(planned):
        out.append((pf.start_s, 1, order, "apply", pf))
        if not pf.permanent and math.isfinite(pf.end_s):
            out.append((pf.end_s, 2 if pf.end_s <= pf.start_s else 0, order, "revert", pf))
    out.sort(key=lambda a: a[:3])
    return out


def start_faults(env: simpy.Environment, planned: Sequence[PlannedFault], fleet: FleetControl) -> simpy.Process:
    """Start the process that applies and reverts `planned` at their times; returns it."""
    return env.process(_play(env, actions(planned), fleet))


def _play(env: simpy.Environment, todo: list, fleet: FleetControl) -> Iterator[Event]:
    for t, _phase, _order, what, pf in todo:
        if t > env.now:
            yield FaultTimeout(env, t - env.now)
        if what == "apply":
            pf.apply(fleet)
        else:
            pf.revert(fleet)
