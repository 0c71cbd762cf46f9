"""Pareto fronts of a sweep: which configurations no other beats on both metrics of a pair (throughput per
GPU against TTFT p99, against TPOT p99, or a user's pair), on the faulted runs and on their fault-free
twins, and how far each configuration falls from one to the other.

q dominates p when q is at least as good on both metrics and strictly better on one; the front is every
point no other dominates (identical points are both on it). O(n log n): sort by x, sweep y.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from chaos.sweep.configs import Config
from chaos.sweep.metrics import METRICS


def pareto_front(points: Sequence[tuple[float | None, float | None]],
                 better: tuple[str, str] = ("lower", "higher")) -> list[int]:
    """Indices (ascending) of the points on the Pareto front; points with a missing value are never on it.
    `better` says per coordinate whether "lower" or "higher" is good."""
    sign = tuple(1.0 if b == "lower" else -1.0 for b in better)
    keyed = []
    for i, (x, y) in enumerate(points):
        if x is None or y is None or math.isnan(x) or math.isnan(y):
            continue
        keyed.append((sign[0] * x, sign[1] * y, i))
    keyed.sort()
    front: list[int] = []
    best_y = math.inf
    k = 0
    while k < len(keyed):
        j = k
        while j < len(keyed) and keyed[j][0] == keyed[k][0]:
            j += 1
        group_min = keyed[k][1]  # sorted: the group's smallest y comes first
        if group_min < best_y:
            front.extend(i for x, y, i in keyed[k:j] if y == group_min)
            best_y = group_min
        k = j
    return sorted(front)


@dataclass
class Front:
    """One metric pair's front over some configurations: `points` by config index, `on` the front.
    `condition` names the fault setting the points share ("faults[0].target.value=2"), "" for none."""

    x: str
    y: str
    scope: str                              # "faulted" or "fault-free"
    points: dict[int, tuple[float | None, float | None]]
    on: list[int]
    condition: str = ""


@dataclass
class FrontPair:
    """The pair's fronts under faults — one per value of the swept fault fields, since a configuration
    competes with the others under the same faults — and (with faults) the fault-free front, on one
    point per configuration (`rep`: point -> the point standing for its configuration on the quiet day;
    the fault-free twin is the same whatever the fault's intensity). `falls`: per point, x and y as
    faulted / fault-free ratios."""

    x: str
    y: str
    faulted: list[Front]
    quiet: Front | None
    rep: dict[int, int] = field(default_factory=dict)
    falls: dict[int, tuple[float | None, float | None]] = field(default_factory=dict)

    def on_faulted(self, i: int) -> bool:
        """Point `i` is on the front of its own fault setting."""
        return any(i in f.on for f in self.faulted)

    def on_quiet(self, i: int) -> bool:
        return self.quiet is not None and self.rep.get(i, i) in self.quiet.on

    def collapsed(self) -> list[int]:
        """Points whose configuration is on the fault-free front but that are off the front under their
        faults, worst fall first."""
        if self.quiet is None:
            return []
        gone = [i for i in self.rep if self.on_quiet(i) and not self.on_faulted(i)]
        return sorted(gone, key=lambda i: (-_badness(self.falls.get(i)), i))


def _badness(fall: tuple[float | None, float | None] | None) -> float:
    if fall is None:
        return 0.0
    return sum(10.0 if r is None or r <= 0 else abs(math.log(r)) for r in fall)


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _front(x: str, y: str, scope: str, pts: dict[int, tuple], condition: str = "") -> Front:
    idx = list(pts)
    on = pareto_front([pts[k] for k in idx], (METRICS[x].better, METRICS[y].better))
    return Front(x, y, scope, pts, [idx[i] for i in on], condition)


def fronts(configs: Sequence[Config], pairs: Sequence[tuple[str, str]],
           fault_axes: Sequence[str] = ()) -> list[FrontPair]:
    """A FrontPair per metric pair over the valid configurations (seed means); `fault_axes` are the
    swept fields of faults (one faulted front per combination of their values)."""
    from chaos.sweep.configs import short

    valid = [c for c in configs if c.valid]
    by_fault: dict[str, list[Config]] = {}
    by_config: dict[str, list[Config]] = {}
    for c in valid:
        cond = ", ".join(f"{a}={short(c.values.get(a))}" for a in fault_axes)
        by_fault.setdefault(cond, []).append(c)
        by_config.setdefault(repr([(k, v) for k, v in c.values.items() if k not in fault_axes]), []).append(c)
    rep = {c.index: members[0].index for members in by_config.values() for c in members}
    out = []
    for x, y in pairs:
        faulted = [_front(x, y, "faulted", {c.index: (c.mean.get(x), c.mean.get(y)) for c in members}, cond)
                   for cond, members in by_fault.items()]
        quiet = None
        falls: dict[int, tuple[float | None, float | None]] = {}
        bx, by = f"baseline_{x}", f"baseline_{y}"
        if any(bx in c.mean and by in c.mean for c in valid):
            quiet = _front(x, y, "fault-free", {members[0].index: (members[0].mean.get(bx), members[0].mean.get(by))
                                                for members in by_config.values()})
            falls = {c.index: (_ratio(c.mean.get(x), c.mean.get(bx)), _ratio(c.mean.get(y), c.mean.get(by)))
                     for c in valid}
        out.append(FrontPair(x, y, faulted, quiet, rep if quiet is not None else {}, falls))
    return out
