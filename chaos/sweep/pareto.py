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
    """One metric pair's front over the valid configurations: `on` holds config indices."""

    x: str
    y: str
    scope: str                              # "faulted" or "fault-free"
    points: dict[int, tuple[float | None, float | None]]
    on: list[int]


@dataclass
class FrontPair:
    """The pair's front on the faulted runs and (with faults) on the fault-free twins; per configuration
    how much worse it gets under faults (x and y as faulted / fault-free ratios)."""

    x: str
    y: str
    faulted: Front
    quiet: Front | None
    falls: dict[int, tuple[float | None, float | None]] = field(default_factory=dict)

    def collapsed(self) -> list[int]:
        """Configurations on the fault-free front that are not on the faulted one, worst fall first."""
        if self.quiet is None:
            return []
        gone = [i for i in self.quiet.on if i not in self.faulted.on]
        return sorted(gone, key=lambda i: -(_badness(self.falls.get(i), self.x, self.y)))


def _badness(fall: tuple[float | None, float | None] | None, x: str, y: str) -> float:
    if fall is None:
        return 0.0
    total = 0.0
    for ratio, name in zip(fall, (x, y)):
        if ratio is None or ratio <= 0:
            total += 10.0
            continue
        total += abs(math.log(ratio))
    return total


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def fronts(configs: Sequence[Config], pairs: Sequence[tuple[str, str]]) -> list[FrontPair]:
    """A FrontPair per metric pair over the valid configurations (seed means)."""
    valid = [c for c in configs if c.valid]
    out = []
    for x, y in pairs:
        better = (METRICS[x].better, METRICS[y].better)
        pts = {c.index: (c.mean.get(x), c.mean.get(y)) for c in valid}
        idx = list(pts)
        faulted = Front(x, y, "faulted", pts, [idx[i] for i in pareto_front([pts[k] for k in idx], better)])
        quiet = None
        falls: dict[int, tuple[float | None, float | None]] = {}
        bx, by = f"baseline_{x}", f"baseline_{y}"
        if any(bx in c.mean and by in c.mean for c in valid):
            qpts = {c.index: (c.mean.get(bx), c.mean.get(by)) for c in valid}
            quiet = Front(x, y, "fault-free", qpts, [idx[i] for i in pareto_front([qpts[k] for k in idx], better)])
            falls = {k: (_ratio(pts[k][0], qpts[k][0]), _ratio(pts[k][1], qpts[k][1])) for k in idx}
        out.append(FrontPair(x, y, faulted, quiet, falls))
    return out
