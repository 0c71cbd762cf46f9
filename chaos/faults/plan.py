"""`plan(...)`: every fault of a scenario resolved against the healthy fleet, before the run.

The plan is what `--dry-run` prints and the journal's `faults` list records: per occurrence the
resolved targets, start and end, and the replicas it takes down or slows (blast radius). It is a
pure function of (faults, fabric, placements, seed, horizon): the same inputs give the same plan.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from chaos.faults.base import FaultBase, PlanContext, PlannedFault
from chaos.faults.config import load_faults
from chaos.faults.target import FleetView
from chaos.topology import Fabric, Placement


def plan(faults_config: Sequence[FaultBase | dict] | None, *, fabric: Fabric,
         placements: Mapping[str, Placement] | Sequence[Placement], seed: int,
         horizon_s: Optional[float]) -> list[PlannedFault]:
    """Resolve targets and times of every fault; sorted by (start, index, occurrence).

    `horizon_s` is the scenario's duration (None when it has none: permanent faults then end at inf,
    and failure processes, spikes without duration and open-ended `every` need one). Raises
    TopologyError for unknown ids and FaultError for empty selections and timings outside the run,
    with the fault's index in the field path ("faults[2].target.gpu").
    """
    faults = _validated(faults_config)
    placed = tuple(placements.values()) if isinstance(placements, Mapping) else tuple(placements)
    view = FleetView(fabric, placed)
    out: list[PlannedFault] = []
    for i, fault in enumerate(faults):
        out.extend(fault.plan(PlanContext(view, int(seed), horizon_s, i)))
    out.sort(key=lambda pf: (pf.start_s, pf.index, pf.occurrence))
    return out


def _validated(faults: Any) -> list[FaultBase]:
    if faults is None:
        return []
    if all(isinstance(f, FaultBase) for f in faults):
        return list(faults)
    return load_faults(list(faults))


def describe(planned: Sequence[PlannedFault]) -> list[str]:
    """One line per occurrence for --dry-run: "  10m00s..12m00s  faults[0] gpu_crash  rack0/host1/gpu3 -> lost decode-0"."""
    from chaos.units import format_duration
    lines = []
    for pf in planned:
        end = "end" if pf.permanent else format_duration(pf.end_s)
        targets = ", ".join(pf.targets) or "fleet"
        effect = []
        if pf.replicas_lost:
            effect.append("lost " + ", ".join(pf.replicas_lost))
        if pf.replicas_degraded:
            effect.append("degraded " + ", ".join(pf.replicas_degraded))
        lines.append(f"{format_duration(pf.start_s)}..{end}  {pf.cause}  {targets}"
                     + (f" -> {'; '.join(effect)}" if effect else ""))
    return lines
