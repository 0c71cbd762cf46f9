"""One point-and-seed run, as an executor runs it in a worker: validate the Scenario exactly as
`fleetchaos validate` does, run it as an experiment (with its fault-free twin when it has faults) through
the public API, and boil it down to an outcome — simulated numbers only, so the same scenario gives the
same bytes on any executor — plus a separate timing (wall time, host, process).
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

from chaos.errors import InputError
from chaos.metrics.probes import nan_to_none
from chaos.sweep.metrics import run_metrics

OUTCOME_VERSION = 1


@dataclass(frozen=True)
class Task:
    """What a worker needs: the resolved Scenario and its store key."""

    key: str
    scenario: object


def _gpus(fleet) -> int:
    """GPUs the deployment holds on the fabric: every placed TP group, spares included."""
    return sum(len(p.gpus) for p in fleet.placements.values())


def run_task(task: Task) -> tuple[dict, dict]:
    """(outcome, timing) of one task. An invalid scenario gives status "invalid" and the error exactly
    as `fleetchaos validate` prints it (file:line: field: message)."""
    from chaos.scenario import locate_error
    from chaos.sim.build import check_scenario, scenario_catalog
    from chaos.sim.experiment import run_experiment

    wall0 = time.perf_counter()
    sc = task.scenario
    try:
        try:
            catalog = scenario_catalog(sc)
            fleet = check_scenario(sc, catalog)
        except InputError as err:
            raise locate_error(sc, err)
    except InputError as err:
        outcome = {"version": OUTCOME_VERSION, "key": task.key, "status": "invalid", "error": str(err)}
        return outcome, _timing(task.key, wall0)
    try:
        experiment = run_experiment(sc, catalog=catalog)
    except InputError as err:
        outcome = {"version": OUTCOME_VERSION, "key": task.key, "status": "invalid",
                   "error": str(locate_error(sc, err))}
        return outcome, _timing(task.key, wall0)
    gpus = _gpus(fleet)
    result = experiment.result
    outcome = {
        "version": OUTCOME_VERSION, "key": task.key, "status": "ok", "error": None, "gpus": gpus,
        "horizon_s": result.horizon_s,
        "metrics": run_metrics(result.summary.to_dict(), gpus),
        "baseline": (run_metrics(experiment.baseline.summary.to_dict(), gpus)
                     if experiment.baseline is not None else None),
        "verdict": experiment.verdict,
        "deviations": experiment.hypothesis.describe()[:5] if experiment.hypothesis is not None else [],
        "resilience": None,
    }
    if experiment.resilience is not None:
        rep = experiment.resilience
        outcome["resilience"] = {
            "resilience_score": rep.score.score,
            "max_throughput_drop": max((f.max_throughput_drop for f in rep.faults), default=0.0),
            "lost_output_tokens": sum(f.lost_output_tokens for f in rep.faults),
        }
    return nan_to_none(outcome), _timing(task.key, wall0)


def _timing(key: str, wall0: float) -> dict:
    return {"key": key, "wall_s": time.perf_counter() - wall0, "host": socket.gethostname(), "pid": os.getpid()}
