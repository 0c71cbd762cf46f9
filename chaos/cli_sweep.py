"""`fleetchaos sweep`: run a sweep file on a process pool or a Ray cluster, resume from its folder, and
write the page, the Markdown summary and the results (chaos.sweep). Registered on the app by chaos.cli.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from chaos.errors import InputError


class _Bar:
    """Points done (of all points x seeds), failed, elapsed and ETA, on stderr."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar = None
        self._task = None
        self.failed = 0

    def start(self, total: int, done: int, failed: int) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)
        self.failed = failed
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("failed {task.fields[failed]}"), TimeElapsedColumn(),
                             TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self._bar.start()
        self._task = self._bar.add_task(self.label, total=total, completed=done, failed=failed)

    def advance(self, ok: bool) -> None:
        self.failed += int(not ok)
        if self._bar is not None:
            self._bar.update(self._task, advance=1, failed=self.failed)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _front_pair(text: Optional[str]) -> list[tuple[str, str]] | None:
    from chaos.errors import expected_one_of
    from chaos.sweep.metrics import METRICS
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
        raise InputError(f"--front: expected two different metric names as x,y (like ttft_p99,throughput_per_gpu) "
                         f"but got {text!r}", field="front")
    for p in parts:
        if p not in METRICS:
            raise InputError(f"--front: {expected_one_of(p, METRICS)}", field="front")
    return [(parts[0], parts[1])]


def sweep(sweep_file: Path = typer.Argument(..., help="sweep YAML file"),
          executor: str = typer.Option("local", "--executor", "-e", help="local (a process pool) or ray"),
          workers: Optional[int] = typer.Option(None, "--workers", "-w",
                                                help="parallel runs (default: the machine's cores)"),
          address: Optional[str] = typer.Option(None, "--address",
                                                help="Ray cluster to join (ray executor; none starts a local Ray)"),
          out: Optional[Path] = typer.Option(None, "--out", "-o",
                                             help="output folder (default reports/sweeps/<name>/)"),
          resume: bool = typer.Option(True, "--resume/--no-resume",
                                      help="reuse the outcomes already in the output folder"),
          recommend: bool = typer.Option(False, "--recommend",
                                         help="print the recommendation; exit 1 when no configuration qualifies"),
          front: Optional[str] = typer.Option(None, "--front", help="Pareto front of this metric pair: x,y"),
          report: bool = typer.Option(True, "--report/--no-report", help="write sweep.html, sweep.md and figures"),
          ) -> None:
    """Run a sweep: every point of the grid (x every seed) as an experiment, stored as it finishes; then
    Pareto fronts (quiet day and under faults), resilience curves with cliffs, and a recommendation.
    Exit 2 for an invalid sweep file (invalid points are recorded, not fatal)."""
    from chaos.sweep import Sweep
    from chaos.sweep.analysis import analyze
    from chaos.sweep.executors import EXECUTORS
    from chaos.sweep.run import run_sweep

    sw = Sweep.load(sweep_file)
    pairs = _front_pair(front)
    EXECUTORS.get(executor)
    out_dir = out if out is not None else Path("reports") / "sweeps" / sw.name
    bar = _Bar(sw.name)
    try:
        results = run_sweep(sw, out_dir, executor=executor, workers=workers, address=address, resume=resume,
                            progress=bar)
    except KeyboardInterrupt:
        bar.close()
        typer.echo(f"interrupted: the runs that finished are stored in {out_dir / 'points'}; run the same "
                   f"command again to resume", err=True)
        raise typer.Exit(130)
    finally:
        bar.close()
    analysis = analyze(results, pairs)
    runs = len(results.rows)
    invalid = sum(1 for r in results.rows if r["status"] != "ok")
    typer.echo(f"{sw.name}: {len(sw.points)} points x {len(sw.seeds)} seeds = {runs} runs "
               f"({sw.filtered_out} of {sw.grid_size} grid points removed by constraints): "
               f"{results.simulated} simulated, {results.reused} reused from {out_dir}, {invalid} invalid")
    for c in analysis.invalid[:5]:
        typer.echo(f"  invalid #{c.index} {c.label}: {c.errors[0] if c.errors else ''}")
    from chaos.sweep.page import findings
    for line in findings(analysis):
        typer.echo(line)
    if recommend:
        for line in analysis.recommendation.lines():
            typer.echo(line)
    written = [results.files["results.csv"], results.files["results.json"], results.files["timings.csv"]]
    if report:
        from chaos.sweep.page import write_page
        page = write_page(analysis, out_dir)
        written += [page.html, page.markdown]
    typer.echo("wrote " + ", ".join(str(p) for p in written))
    if recommend and analysis.recommendation.pick is None:
        raise typer.Exit(1)


def register(app: typer.Typer, user_errors) -> None:
    """Add the `sweep` command to the CLI app (errors as one line and exit 2, like every command)."""
    app.command("sweep")(user_errors(sweep))
