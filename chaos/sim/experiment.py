"""A run as a chaos experiment: the faulted run, its fault-free twin, the steady-state verdict and
the resilience analysis (Chaos Toolkit's steady state / method / verdict, plus what only a simulator
can give: an exact counterfactual).

The twin is the same scenario with `faults: []` and nothing else changed. Every random stream is
named by purpose (chaos.rng), so the twin sees the same arrivals and lengths: the difference between
the two runs is the faults' effect alone. The twin keeps only what the comparison reads (request log,
ITL, series, summary, stats: `Result.slim`), not its fleet.

The two runs are independent, so with `experiment.parallel_twin` (default on) and two cores the twin
runs in a forked child process while this one runs the faulted scenario; the child sends its slim
Result back. Both paths give byte-identical results (the same code on the same seed; a fork keeps the
interpreter's hash seed).
"""
from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, replace
from typing import Callable

from chaos.forked import ForkedCall, usable_cores
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


def twin_in_parallel(scenario, parallel: bool | None = None) -> bool:
    """Whether the twin runs in a second process: `parallel` (None = the scenario's
    experiment.parallel_twin), two usable cores, and the fork start method (Linux)."""
    wanted = scenario.experiment.parallel_twin if parallel is None else parallel
    return bool(wanted) and usable_cores() >= 2 and "fork" in multiprocessing.get_all_start_methods()


def _twin(scenario, catalog) -> Result:
    """In the forked child: the twin's slim Result, without the scenario the parent already has."""
    return replace(run(scenario, catalog=catalog).slim(), scenario=None)


class _ParallelTwin:
    """The twin running in a forked child (chaos.forked); `result()` waits for it."""

    def __init__(self, scenario, catalog) -> None:
        self.scenario = scenario
        self._call = ForkedCall(_twin, scenario, catalog, name=f"{scenario.name}-twin",
                                died="run the baseline twin in this process with experiment.parallel_twin: "
                                     "false (or --no-parallel)")

    def result(self) -> Result:
        return replace(self._call.result(), scenario=self.scenario)

    def cancel(self) -> None:
        self._call.cancel()


def run_experiment(scenario, *, baseline: bool | None = None, catalog=None,
                   progress: Callable[[float, float], None] | None = None,
                   parallel: bool | None = None) -> Experiment:
    """Run `scenario` (and its twin when `baseline` is True, or None and `needs_baseline`), evaluate the
    steady-state hypothesis and, with a baseline, the resilience metrics. `parallel` (None = the
    scenario's experiment.parallel_twin) runs the twin in a second process when two cores are usable."""
    want_baseline = needs_baseline(scenario) if baseline is None else baseline
    if want_baseline and twin_in_parallel(scenario, parallel):
        pending = _ParallelTwin(baseline_twin(scenario), catalog)
        try:
            result = run(scenario, catalog=catalog, progress=progress)
        except BaseException:
            pending.cancel()
            raise
        twin = pending.result()
    else:
        result = run(scenario, catalog=catalog, progress=progress)
        twin = run(baseline_twin(scenario), catalog=catalog, progress=progress).slim() if want_baseline else None
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
