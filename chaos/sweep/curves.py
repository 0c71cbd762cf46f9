"""Resilience curves across a fault's intensity and the cliff rule.

A curve is one metric of one configuration (the other axes fixed) as an intensity axis grows: GPUs
failed, spike factor, link bandwidth factor, stall length. When the axis sets a fault, the curve starts
with the fault-free twin ("none"), so "0 failures" is always on it.

The cliff rule. Orient the metric so that larger is worse (a latency as is; a throughput as its
inverse), call w_i its value at step i and f_i = w_i / w_(i-1) the step's degradation factor. Step i is
a cliff when both hold:
  1. f_i >= `factor` (default 2: the metric at least doubles in one step), and
  2. log f_i >= `steepness` (default 4) x the largest log f_j of the steps before it (j < i; a step that
     improved counts as 0), so a curve that has been worsening steadily does not count as a cliff.
A step to no value at all (no request completed, zero throughput) has f = infinity. The first step has
nothing before it, so only rule 1 applies. The report names the first cliff: "fine up to 2, falls off a
cliff at 3 (TTFT p99 x6.4)".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from chaos.sweep.configs import Config, short
from chaos.sweep.metrics import METRICS, RUN_METRICS
from chaos.sweep.schema import CliffSettings, CurveSpec

NO_FAULT = "none"


@dataclass(frozen=True)
class Cliff:
    """Step `index` of a curve (from x[index-1] to x[index]) is a cliff: the metric got `factor` x worse."""

    index: int
    factor: float


def _worse(value: float | None, better: str) -> float:
    if value is None or math.isnan(value):
        return math.inf
    if better == "lower":
        return value if value > 0 else 0.0
    return 1.0 / value if value > 0 else math.inf


def find_cliffs(values: Sequence[float | None], better: str = "lower",
                rule: CliffSettings | None = None) -> list[Cliff]:
    """Every step of `values` (in intensity order) that the cliff rule (module docstring) calls a cliff."""
    rule = rule or CliffSettings()
    w = [_worse(v, better) for v in values]
    cliffs: list[Cliff] = []
    prior = 0.0   # the largest log degradation of the steps so far
    for i in range(1, len(w)):
        a, b = w[i - 1], w[i]
        if math.isinf(a):
            continue  # nothing left to fall from
        if a == 0:
            f = math.inf if b > 0 else 1.0
        else:
            f = b / a
        step = math.log(f) if f > 0 else -math.inf
        if f >= rule.factor and step >= rule.steepness * prior:
            cliffs.append(Cliff(i, f))
        prior = max(prior, step) if not math.isinf(step) else prior
    return cliffs


@dataclass
class Curve:
    """One metric along `axis` for one configuration (`fixed`: the other axes' values)."""

    axis: str
    metric: str
    fixed: dict[str, Any]
    xs: list[Any]
    values: list[float | None]
    spread: list[float | None]
    cliffs: list[Cliff]
    rule: CliffSettings

    @property
    def fixed_label(self) -> str:
        return ", ".join(f"{k}={short(v)}" for k, v in self.fixed.items() if v is not None) or "all points"

    def sentence(self) -> str:
        """"fine up to 2, falls off a cliff at 3 (TTFT p99 x6.4)" or why there is none."""
        m = METRICS[self.metric]
        name = self.axis
        if not self.cliffs:
            if len(self.values) < 2:
                return f"{m.label}: one intensity only, nothing to compare"
            first, last = _worse(self.values[0], m.better), _worse(self.values[-1], m.better)
            if first > 0 and not math.isinf(first):
                change = f"x{last / first:.2g}" if not math.isinf(last) else "to no value"
            else:
                change = "n/a"
            return (f"{m.label}: no cliff along {name} from {_x(self.xs[0])} to {_x(self.xs[-1])} "
                    f"(worsens {change} in all, no step at least x{self.rule.factor:g} and far steeper than "
                    f"the ones before)")
        c = self.cliffs[0]
        factor = "to no value" if math.isinf(c.factor) else f"x{c.factor:.2g}"
        before = ("fine without the fault" if self.xs[c.index - 1] == NO_FAULT
                  else f"fine up to {name}={_x(self.xs[c.index - 1])}")
        return (f"{m.label}: {before}, falls off a cliff at {name}={_x(self.xs[c.index])} ({m.label} {factor}: "
                f"{m.format(self.values[c.index - 1])} -> {m.format(self.values[c.index])})")


def _x(v: Any) -> str:
    return "no fault (the fault-free twin)" if v == NO_FAULT else (f"{v:g}" if isinstance(v, float) else str(v))


def _sortable(xs: Sequence[Any]) -> bool:
    return all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)


def intensity_axes(axis_names: Sequence[str]) -> list[str]:
    """Default curve axes: the swept fields of faults (their intensities)."""
    return [a for a in axis_names if a.startswith("faults")]


def curves(configs: Sequence[Config], specs: Sequence[CurveSpec], axis_names: Sequence[str],
           rule: CliffSettings) -> list[Curve]:
    """The curves of every spec: per configuration of the other axes, the metric's seed mean along the axis."""
    out: list[Curve] = []
    valid = [c for c in configs if c.ok_seeds]
    for spec in specs:
        others = [a for a in axis_names if a != spec.axis]
        groups: dict[str, list[Config]] = {}
        for c in valid:
            groups.setdefault(repr([c.values.get(a) for a in others]), []).append(c)
        for members in groups.values():
            if _sortable([c.values[spec.axis] for c in members]):
                members = sorted(members, key=lambda c: c.values[spec.axis])
            fixed = {a: members[0].values.get(a) for a in others}
            for metric in spec.metrics:
                xs: list[Any] = [c.values[spec.axis] for c in members]
                ys = [c.mean.get(metric) for c in members]
                sd = [c.std.get(metric) for c in members]
                base = f"baseline_{metric}"
                if spec.axis.startswith("faults") and metric in RUN_METRICS and base in members[0].mean:
                    xs, ys, sd = [NO_FAULT, *xs], [members[0].mean[base], *ys], [members[0].std.get(base), *sd]
                better = METRICS[metric].better
                out.append(Curve(spec.axis, metric, fixed, xs, ys, sd, find_cliffs(ys, better, rule), rule))
    return out
