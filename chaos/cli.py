"""The `fleetchaos` command: a thin front door over Scenario -> run -> journal (DESIGN: one object model).

Exit codes: 0 ran (hypothesis held, once issue 4 adds verdicts), 1 hypothesis deviated, 2 invalid input.
A user's mistake prints one located message, never a traceback.
"""
from __future__ import annotations

import functools
import json
import time
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from chaos.errors import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Resilience and chaos testing for LLM inference fleets, in simulation.")

EXIT_OK, EXIT_DEVIATED, EXIT_INVALID = 0, 1, 2


def _fail_input(err: InputError) -> None:
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(EXIT_INVALID)


def user_errors(func):
    """Turn InputError (and a missing file) into one message on stderr and exit code 2."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except InputError as err:
            _fail_input(err)
    return wrapper


def _load(path: Path, overrides: list[str], seed: Optional[int]):
    from chaos.scenario import load_scenario
    if seed is not None:
        overrides = [*overrides, f"seed={seed}"]
    return load_scenario(path, overrides=overrides)


class _Progress:
    """A progress bar on stderr that appears only once a run has taken more than a couple of seconds."""

    def __init__(self, label: str, delay_s: float = 2.0) -> None:
        self.label = label
        self.delay_s = delay_s
        self.start = time.perf_counter()
        self._bar = None
        self._task = None

    def __call__(self, now_s: float, end_s: float) -> None:
        if self._bar is None:
            if time.perf_counter() - self.start < self.delay_s:
                return
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
            from rich.console import Console
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[sim]}"), TimeElapsedColumn(),
                                 console=Console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=end_s, sim="")
        from chaos.units import format_duration
        self._bar.update(self._task, completed=min(now_s, end_s), total=end_s, sim=f"sim {format_duration(now_s)}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _print_summary(result, out_dir: Path, report: bool = False) -> None:
    from rich.console import Console
    from rich.table import Table
    from chaos.units import format_duration

    s = result.summary.to_dict()
    console = Console()
    req = s["requests"]
    console.print(f"[bold]{result.scenario.name}[/bold]  seed {result.scenario.seed}  "
                  f"simulated {format_duration(result.horizon_s)} in {result.stats['wall_s']:.2f}s wall")
    console.print(f"requests: {req['arrived']} arrived, {req['completed']} completed, {req['failed']} failed, "
                  f"{req['rejected']} rejected, {req['in_flight']} in flight")
    table = Table(show_header=True, header_style="bold")
    table.add_column("latency")
    for q in ("p50", "p90", "p99", "max"):
        table.add_column(q, justify="right")
    for key, label in (("ttft_s", "TTFT"), ("tpot_s", "TPOT"), ("itl_s", "ITL"), ("e2e_s", "E2E")):
        row = s.get(key) or {}
        table.add_row(label, *[format_duration(row[q]) if row.get(q) is not None else "n/a"
                               for q in ("p50", "p90", "p99", "max")])
    console.print(table)
    goodput = s.get("goodput_rps")
    line = (f"throughput: {s['throughput_tok_s']:.1f} output tok/s, {s['throughput_rps']:.3f} req/s")
    if goodput is not None:
        line += f"; goodput {goodput:.3f} req/s, SLO attainment {100 * (s.get('slo_attainment') or 0):.1f}%"
    if s.get("prefix_hit_ratio") is not None:
        line += f"; prefix-cache hit ratio {100 * s['prefix_hit_ratio']:.1f}%"
    console.print(line)
    from chaos.cli_tenants import print_tenant_table
    print_tenant_table(result, console)
    written = f"{out_dir / 'journal.json'}, {out_dir / 'requests.csv'}"
    if report:
        written += f", {out_dir / 'report.html'}"
    console.print(f"wrote {written}")


@app.command()
@user_errors
def run(scenario: Path = typer.Argument(..., help="scenario YAML file"),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default reports/<name>/)"),
        seed: Optional[int] = typer.Option(None, "--seed", help="override the scenario's seed"),
        set_: List[str] = typer.Option([], "--set", help="override a field: path.to.key=value (repeatable)"),
        catalog: List[Path] = typer.Option([], "--catalog", help="extra GPU/model catalog folder (repeatable)"),
        dry_run: bool = typer.Option(False, "--dry-run", help="print the placement and the fault plan; do not simulate"),
        baseline: Optional[bool] = typer.Option(None, "--baseline/--no-baseline",
                                                help="also run the fault-free twin (default: when there are faults "
                                                     "or a probe compares with the baseline)"),
        report: bool = typer.Option(True, "--report/--no-report", help="write report.html, report.md and figures"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="no summary table")) -> None:
    """Simulate a scenario as an experiment: print a summary and the verdict, write journal.json and
    requests.csv (and baseline_requests.csv). Exit 0 when the steady-state hypothesis held (or there is
    none), 1 when it deviated, 2 for invalid input."""
    from chaos.report.journal import write_journal
    from chaos.scenario import locate_error
    from chaos.sim.build import scenario_catalog
    from chaos.sim.experiment import run_experiment

    sc = _load(scenario, set_, seed)
    if dry_run:
        try:
            _print_plan(sc, scenario_catalog(sc, catalog))
        except InputError as err:
            raise locate_error(sc, err)
        return
    bar = _Progress(f"{sc.name}")
    try:
        experiment = run_experiment(sc, baseline=baseline, catalog=scenario_catalog(sc, catalog), progress=bar)
    except InputError as err:
        raise locate_error(sc, err)
    finally:
        bar.close()
    result = experiment.result
    out_dir = out if out is not None else Path("reports") / sc.name
    out_dir.mkdir(parents=True, exist_ok=True)
    write_journal(result, out_dir / "journal.json", experiment)
    result.log.to_csv(out_dir / "requests.csv")
    if experiment.baseline is not None:
        experiment.baseline.log.to_csv(out_dir / "baseline_requests.csv")
    if report:
        from chaos.report import render_report
        render_report([out_dir / "journal.json"], out_dir)
    if not quiet:
        _print_summary(result, out_dir, report)
    _print_verdict(experiment)
    raise typer.Exit(experiment.exit_code)


def _print_verdict(experiment) -> None:
    """The verdict, the failing probes (window, value, tolerance, faults active) and the score."""
    hypothesis = experiment.hypothesis
    if hypothesis is None:
        typer.echo("verdict: none (no steady_state probes)")
    else:
        typer.echo(f"verdict: {hypothesis.verdict}")
        if hypothesis.verdict == "deviated":
            for line in hypothesis.describe():
                typer.echo(f"  {line}")
    if experiment.resilience is not None:
        score = experiment.resilience.score
        typer.echo(f"resilience score: {score.score:.1f}/100 (against the fault-free twin)")


def _print_plan(sc, catalog) -> None:
    """--dry-run: where every replica runs, and every fault's resolved targets, times and blast radius."""
    from chaos.faults import describe
    from chaos.sim.build import check_scenario
    from chaos.sim.supervision import plan_faults
    from chaos.units import format_duration

    fleet = check_scenario(sc, catalog)
    horizon = format_duration(sc.duration) if sc.duration is not None else "until the workload is done"
    typer.echo(f"{sc.name}: {fleet.model.name} on {fleet.gpu.name}, seed {sc.seed}, horizon {horizon}")
    for p in fleet.placements.values():
        where = p.gpus[0] if p.tp == 1 else f"{p.gpus[0]} .. {p.gpus[-1]}"
        typer.echo(f"  {p.replica_id:<14} tp{p.tp:<3} {where}  ring {p.link_Bps / 1e9:.0f} GB/s")
    planned = plan_faults(sc, fleet)
    typer.echo(f"faults ({len(planned)} occurrences):" if planned else "faults: none")
    for line in describe(planned):
        typer.echo(f"  {line}")


@app.command()
def validate(files: List[Path] = typer.Argument(..., help="scenario YAML files"),
             catalog: List[Path] = typer.Option([], "--catalog", help="extra GPU/model catalog folder (repeatable)")
             ) -> None:
    """Check scenario files without running them: every file is checked and every mistake reported;
    exit 2 when any file is invalid."""
    from chaos.scenario import load_scenario, locate_error
    from chaos.sim.build import check_scenario, scenario_catalog

    invalid = 0
    for f in files:
        try:
            sc = load_scenario(f)
            try:
                check_scenario(sc, scenario_catalog(sc, catalog))
            except InputError as err:
                raise locate_error(sc, err)
        except InputError as err:
            invalid += 1
            typer.echo(f"error: {err}", err=True)
            continue
        typer.echo(f"{f}: ok")
    if invalid:
        raise typer.Exit(EXIT_INVALID)


@app.command("report")
@user_errors
def report_(journals: List[Path] = typer.Argument(..., help="journal.json files (or their run folders)"),
            out: Optional[Path] = typer.Option(None, "--out", "-o",
                                               help="output folder (default: the journal's folder for one "
                                                    "journal, reports/compare/ for several)")) -> None:
    """Re-render the report of one run, or a side-by-side comparison of several."""
    from chaos.report import render_report

    if out is None:
        first = journals[0] if journals[0].is_dir() else journals[0].parent
        out = first if len(journals) == 1 else Path("reports") / "compare"
    files = render_report(journals, out)
    typer.echo(f"wrote {files.html} and {files.markdown}")


@app.command()
def schema() -> None:
    """Print the scenario JSON Schema (for yaml-language-server and editors)."""
    from chaos.scenario import Scenario
    typer.echo(json.dumps(Scenario.model_json_schema(), indent=2))


class ListWhat(str, Enum):
    gpus = "gpus"
    models = "models"
    routers = "routers"
    faults = "faults"
    controllers = "controllers"


def _registry(what: "ListWhat"):
    if what is ListWhat.routers:
        from chaos.routing import ROUTERS
        return ROUTERS
    if what is ListWhat.faults:
        from chaos.faults import FAULTS
        return FAULTS
    from chaos.control import CONTROLLERS
    return CONTROLLERS


@app.command("list")
@user_errors
def list_(what: ListWhat = typer.Argument(..., help="gpus, models, routers, faults or controllers"),
          catalog: List[Path] = typer.Option([], "--catalog", help="extra catalog folder (repeatable)")) -> None:
    """Show the GPUs, models, router policies, fault types or controller policies that exist."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if what in (ListWhat.routers, ListWhat.faults, ListWhat.controllers):
        import sys
        registry = _registry(what)
        for name in registry.names():
            entry = registry.get(name)
            doc = entry.__doc__ or sys.modules[entry.__module__].__doc__ or ""
            first = doc.strip().splitlines()[0] if doc.strip() else ""
            typer.echo(f"{name:20s} {first}")
        return
    from chaos.catalog import load_catalog
    cat = load_catalog(catalog)
    table = Table(show_header=True, header_style="bold")
    if what is ListWhat.gpus:
        for col in ("gpu", "BF16 TFLOP/s", "FP8 TFLOP/s", "HBM GB", "HBM TB/s", "NVLink GB/s", "NIC Gb/s"):
            table.add_column(col, justify="right" if col != "gpu" else "left", no_wrap=col == "gpu")
        for g in cat.gpus.values():
            table.add_row(g.name, f"{g.bf16_flops / 1e12:.0f}", f"{g.fp8_flops / 1e12:.0f}", f"{g.hbm_bytes / 1e9:.0f}",
                          f"{g.hbm_Bps / 1e12:.2f}", f"{g.nvlink_Bps / 1e9:.0f}", f"{g.nic_Bps * 8 / 1e9:.0f}")
    else:
        for col in ("model", "params", "active", "layers", "heads/kv", "experts", "attention", "weights GB"):
            table.add_column(col, justify="right" if col != "model" else "left", no_wrap=col == "model")
        for m in cat.models.values():
            experts = f"{m.n_active_experts}/{m.n_experts}" if m.n_experts else "-"
            table.add_row(m.name, f"{m.n_params / 1e9:.1f}B", f"{m.n_active_params / 1e9:.1f}B", str(m.n_layers),
                          f"{m.n_heads}/{m.n_kv_heads}", experts, m.attention, f"{m.weight_bytes / 1e9:.0f}")
    console.print(table)


def main() -> None:
    """Console-script entry point."""
    app()
