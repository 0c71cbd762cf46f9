"""A run as a chaos experiment: the faulted run, its fault-free twin, the steady-state verdict and
the resilience analysis (Chaos Toolkit's steady state / method / verdict, plus what only a simulator
can give: an exact counterfactual).

The twin is the same scenario with `faults: []` and nothing else changed. Every random stream is
named by purpose (chaos.rng), so the twin sees the same arrivals and lengths: the difference between
the two runs is the faults' effect alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from chaos.metrics import (Detection, FaultWindow, HypothesisResult, ResilienceConfig, ResilienceReport, RunData,
                           analyze_resilience, evaluate_hypothesis)
from chaos.metrics.tenants import tenant_run
from chaos.sim.run import Result, run


@dataclass
class Experiment:
    """The faulted run, its baseline twin (None when not run) and what was concluded."""

    result: Result
    baseline: Result | None
    hypothesis: HypothesisResult | None
    resilience: ResilienceReport | None
    tenant_resilience: dict | None = None     # tenant name -> ResilienceReport (with tenants: only)

    @property
    def verdict(self) -> str:
        """held | deviated | none (no steady-state hypothesis to judge)."""
        return self.hypothesis.verdict if self.hypothesis is not None else "none"

    @property
    def exit_code(self) -> int:
        return 1 if self.verdict == "deviated" else 0


def needs_baseline(scenario) -> bool:
    """A probe compares with the baseline, or there are faults whose effect the analysis measures."""
    return bool(scenario.faults) or any(p.relative for p in scenario.steady_state)


def baseline_twin(scenario):
    """The same scenario without its faults (source file, positions and base folder kept)."""
    return scenario.model_copy(update={"faults": []})


def fault_windows(result: Result) -> list[FaultWindow]:
    planned = result.supervision.planned if result.supervision is not None else []
    return [FaultWindow.from_dict(pf.to_dict()) for pf in planned]


def detections(result: Result) -> list[Detection]:
    if result.supervision is None:
        return []
    return [Detection(d.t_s, d.replica, d.healthy, d.reason) for d in result.supervision.detections]


def run_experiment(scenario, *, baseline: bool | None = None, catalog=None,
                   progress: Callable[[float, float], None] | None = None) -> Experiment:
    """Run `scenario` (and its twin when `baseline` is True, or None and `needs_baseline`), evaluate the
    steady-state hypothesis and, with a baseline, the resilience metrics."""
    result = run(scenario, catalog=catalog, progress=progress)
    want_baseline = needs_baseline(scenario) if baseline is None else baseline
    twin = run(baseline_twin(scenario), catalog=catalog, progress=progress) if want_baseline else None
    slo = scenario.slo.to_slo() if scenario.slo is not None else None
    faults = fault_windows(result)
    hypothesis = None
    if scenario.steady_state:
        hypothesis = evaluate_hypothesis(scenario.steady_state, RunData.of(result), faults=faults,
                                         baseline=RunData.of(twin) if twin is not None else None, slo=slo,
                                         settings=scenario.hypothesis)
    resilience = None
    if twin is not None:
        config = scenario.resilience or ResilienceConfig(window=scenario.metrics.window)
        resilience = analyze_resilience(RunData.of(result), RunData.of(twin), faults=faults,
                                        detections=detections(result), slo=slo, config=config,
                                        settle_s=scenario.hypothesis.settle)
    tenant_resilience = None
    if twin is not None and getattr(scenario, "tenants", None):
        run_data, twin_data = RunData.of(result), RunData.of(twin)
        tenant_resilience = {
            t.name: analyze_resilience(tenant_run(run_data, t), tenant_run(twin_data, t), faults=faults,
                                       detections=detections(result), slo=t.slo, config=config,
                                       settle_s=scenario.hypothesis.settle)
            for t in result.tenants}
    return Experiment(result, twin, hypothesis, resilience, tenant_resilience)
