"""Everything a sweep's page and summary say, computed once from its rows: configurations, fronts (faulted
and fault-free), resilience curves with their cliffs, and the recommendation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from chaos.sweep.configs import Config, configs_of
from chaos.sweep.curves import Curve, curves, intensity_axes
from chaos.sweep.pareto import FrontPair, fronts
from chaos.sweep.recommend import Recommendation, recommend
from chaos.sweep.run import SweepResults
from chaos.sweep.schema import CurveSpec


@dataclass
class Analysis:
    """The conclusions of one sweep (see module docstring)."""

    name: str
    description: str
    axes: list[str]
    seeds: list[int]
    grid_size: int
    filtered_out: int
    configs: list[Config]
    fronts: list[FrontPair]
    curves: list[Curve]
    recommendation: Recommendation

    @property
    def invalid(self) -> list[Config]:
        return [c for c in self.configs if not c.valid]

    def config(self, index: int) -> Config:
        return next(c for c in self.configs if c.index == index)


def condition_axes(spec, axes: Sequence[str]) -> list[str]:
    """Axes that set the conditions a configuration must survive, not the configuration itself:
    `analysis.conditions`, or by default every axis under `faults` or `workload`."""
    if spec.analysis.conditions is not None:
        return [a for a in axes if a in spec.analysis.conditions]
    return [a for a in axes if a.startswith(("faults", "workload"))]


def analyze(results: SweepResults, front_pairs: Sequence[tuple[str, str]] | None = None) -> Analysis:
    """Analyse a finished sweep; `front_pairs` replaces the sweep file's `analysis.fronts` (CLI --front)."""
    sweep = results.sweep
    spec = sweep.spec
    axes = spec.axis_names()
    configs = configs_of(results.rows)
    pairs = list(front_pairs) if front_pairs else [tuple(p) for p in spec.analysis.fronts]
    specs = spec.analysis.curves
    if specs is None:
        specs = [CurveSpec(axis=a) for a in intensity_axes(axes)]
    budget = spec.budget.gpus if spec.budget is not None else None
    return Analysis(name=spec.name, description=spec.description.strip(), axes=axes, seeds=list(sweep.seeds),
                    grid_size=sweep.grid_size, filtered_out=sweep.filtered_out, configs=configs,
                    fronts=fronts(configs, pairs, intensity_axes(axes)),
                    curves=curves(configs, specs, axes, spec.analysis.cliff),
                    recommendation=recommend(configs, spec.slo, budget, condition_axes(spec, axes)))
