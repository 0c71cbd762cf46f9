"""Run a sweep into a folder: resolve every point and seed, reuse what the store already holds (resume),
hand the rest to an executor, store each outcome as it finishes, then write results.csv, results.json
and timings.csv in (point, seed) order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Protocol

from chaos.sweep.executors import EXECUTORS
from chaos.sweep.outcome import Task
from chaos.sweep.points import PointRun, Sweep
from chaos.sweep.store import ResultStore, flat_row, results_csv, results_json, timings_csv


class Progress(Protocol):
    """What the front door shows while a sweep runs (the CLI's rich bar; nothing in tests)."""

    def start(self, total: int, done: int, failed: int) -> None: ...
    def advance(self, ok: bool) -> None: ...


@dataclass
class SweepResults:
    """A finished sweep: its rows (one per point and seed) and where they were written."""

    sweep: Sweep
    out: Path
    rows: list[dict]
    simulated: int = 0
    reused: int = 0
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def with_baseline(self) -> bool:
        """Some run was paired with its fault-free twin (the sweep has faults)."""
        return any("baseline_throughput_tok_s" in r for r in self.rows)


def run_sweep(sweep: Sweep, out_dir: str | Path, *, executor: str = "local", workers: Optional[int] = None,
              address: Optional[str] = None, resume: bool = True,
              progress: Optional[Progress] = None) -> SweepResults:
    """Run every point of `sweep` with every seed (see module docstring); returns the rows."""
    make = EXECUTORS.get(executor)
    runs: list[PointRun] = list(sweep.runs())
    store = ResultStore(out_dir).open()
    outcomes: dict[str, dict] = {}
    todo: dict[str, Task] = {}
    for r in runs:
        if r.scenario is None or r.key in outcomes or r.key in todo:
            continue
        stored = store.get(r.key) if resume else None
        if stored is not None:
            outcomes[r.key] = stored
        else:
            todo[r.key] = Task(r.key, r.scenario)
    reused = len(outcomes)
    if progress is not None:
        invalid = sum(1 for r in runs if r.scenario is None)
        progress.start(len(outcomes) + len(todo) + invalid, len(outcomes) + invalid,
                       invalid + sum(1 for o in outcomes.values() if o["status"] != "ok"))

    def on_done(outcome: dict, timing: dict) -> None:
        store.put(outcome, timing)
        outcomes[outcome["key"]] = outcome
        if progress is not None:
            progress.advance(outcome["status"] == "ok")

    # an executor built with a bad option fails before anything runs (InputError, exit 2)
    make(workers=workers, address=address).run(list(todo.values()), on_done)
    rows = [flat_row(r.point.index, r.seed, r.key, r.point.values, outcomes.get(r.key), r.error) for r in runs]
    results = SweepResults(sweep, Path(out_dir), rows, simulated=len(todo), reused=reused)
    axes = sweep.spec.axis_names()
    files = {"results.csv": results_csv(rows, axes, results.with_baseline),
             "results.json": results_json(sweep.name, rows, axes, sweep.seeds),
             "timings.csv": timings_csv((r.point.index, r.seed, r.key, store.timing(r.key)) for r in runs)}
    for name, text in files.items():
        (results.out / name).write_text(text, encoding="utf-8")
        results.files[name] = results.out / name
    return results
