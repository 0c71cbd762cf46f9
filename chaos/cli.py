"""The `fleetchaos` command: a thin front door over Scenario -> run -> journal (DESIGN: one object model).

Exit codes: 0 ran (hypothesis held, once issue 4 adds verdicts), 1 hypothesis deviated, 2 invalid input.
A user's mistake prints one located message, never a traceback.
"""
from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import List, Optional

import typer

from chaos.cli_help import App, HelpGroup, console, context_settings
from chaos.errors import InputError

app = App(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, cls=HelpGroup,
                  context_settings=context_settings(), rich_markup_mode=None,
                  help="Resilience and chaos testing for LLM inference fleets, in simulation.")


def _version(value: bool) -> None:
    if value:
        import chaos
        typer.echo(f"fleetchaos {chaos.__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the fleetchaos version and exit.")) -> None:
    """Resilience and chaos testing for LLM inference fleets, in simulation."""

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


def _print_summary(result) -> None:
    from rich.table import Table
    from chaos.units import format_duration

    s = result.summary.to_dict()
    out = console()
    req = s["requests"]
    out.print(f"[bold]{result.scenario.name}[/bold]  seed {result.scenario.seed}  "
                  f"simulated {format_duration(result.horizon_s)} in {result.stats['wall_s']:.2f}s wall")
    out.print(f"requests: {req['arrived']} arrived, {req['completed']} completed, {req['failed']} failed, "
                  f"{req['rejected']} rejected, {req['in_flight']} in flight")
    table = Table(show_header=True, header_style="bold")
    table.add_column("latency")
    for q in ("p50", "p90", "p99", "max"):
        table.add_column(q, justify="right")
    for key, label in (("ttft_s", "TTFT"), ("tpot_s", "TPOT"), ("itl_s", "ITL"), ("e2e_s", "E2E")):
        row = s.get(key) or {}
        table.add_row(label, *[format_duration(row[q]) if row.get(q) is not None else "n/a"
                               for q in ("p50", "p90", "p99", "max")])
    out.print(table)
    goodput = s.get("goodput_rps")
    line = (f"throughput: {s['throughput_tok_s']:.1f} output tok/s, {s['throughput_rps']:.3f} req/s")
    if goodput is not None:
        line += f"; goodput {goodput:.3f} req/s, SLO attainment {100 * (s.get('slo_attainment') or 0):.1f}%"
    if s.get("prefix_hit_ratio") is not None:
        line += f"; prefix-cache hit ratio {100 * s['prefix_hit_ratio']:.1f}%"
    out.print(line)
    from chaos.cli_tenants import print_tenant_table
    print_tenant_table(result, out)


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
        parallel: Optional[bool] = typer.Option(None, "--parallel/--no-parallel",
                                                help="run the twin (and half of the report's figures) in a second "
                                                     "process when two cores are usable (default: the scenario's "
                                                     "experiment.parallel_twin, on)"),
        quiet: bool = typer.Option(False, "--quiet", "-q",
                                   help="print only the verdict, the score and where the report is")) -> None:
    """Simulate a scenario as an experiment and print a summary, the verdict and the resilience score.

    Writes into the output folder: journal.json, requests.csv, baseline_requests.csv (when the
    fault-free twin ran), report.html, report.md and the figures (timeline.png, capacity.png,
    distributions.png, fabric.png, load_heatmap.png). Exit 0 when the steady-state hypothesis held
    (or there is none), 1 when it deviated, 2 for invalid input."""
    from chaos.report.journal import write_journal
    from chaos.scenario import locate_error
    from chaos.sim.build import scenario_catalog
    from chaos.sim.experiment import run_experiment

    sc = _load(scenario, set_, seed)
    if set_ or seed is not None:
        typer.echo("overrides: " + ", ".join([*set_, *([f"seed={seed}"] if seed is not None else [])]))
    if dry_run:
        try:
            _print_plan(sc, scenario_catalog(sc, catalog))
        except InputError as err:
            raise locate_error(sc, err)
        return
    bar = _Progress(f"{sc.name}")
    try:
        experiment = run_experiment(sc, baseline=baseline, catalog=scenario_catalog(sc, catalog), progress=bar,
                                    parallel=parallel)
    except InputError as err:
        raise locate_error(sc, err)
    finally:
        bar.close()
    result = experiment.result
    out_dir = out if out is not None else Path("reports") / sc.name
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [write_journal(result, out_dir / "journal.json", experiment), out_dir / "requests.csv"]
    result.log.to_csv(out_dir / "requests.csv")
    if experiment.baseline is not None:
        experiment.baseline.log.to_csv(out_dir / "baseline_requests.csv")
        written.append(out_dir / "baseline_requests.csv")
    files = None
    if report:
        from chaos.report import render_report
        files = render_report([out_dir / "journal.json"], out_dir, parallel=parallel)
        written += files.paths
    if not quiet:
        _print_summary(result)
    _print_verdict(experiment, detail=not quiet)
    if quiet:
        typer.echo(f"report: {files.html}" if files is not None else f"journal: {written[0]}")
    else:
        typer.echo(f"wrote {len(written)} files to {out_dir}/: " + ", ".join(p.name for p in written))
    raise typer.Exit(experiment.exit_code)


def _print_verdict(experiment, detail: bool = True) -> None:
    """The verdict, the failing probes (window, value, tolerance, faults active) and the score with
    the components that cost points, in words and units (`detail`)."""
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
        typer.echo(f"resilience score: {score.text} against the fault-free twin (100: no loss)")
        if detail:
            for line in score.describe():
                typer.echo(f"  {line}")
        from chaos.cli_tenants import tenant_resilience_lines
        tenants = tenant_resilience_lines(experiment)
        if tenants:
            typer.echo("resilience per tenant against the twin:")
            for line in tenants:
                typer.echo(f"  {line}")


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
        ring = f"  all-reduce ring {p.link_Bps / 1e9:.0f} GB/s" if p.tp > 1 else ""
        typer.echo(f"  {p.replica_id:<14} tp{p.tp:<3} {where}{ring}")
    planned = plan_faults(sc, fleet)
    n = len(planned)
    typer.echo(f"faults ({n} occurrence{'s' if n != 1 else ''}):" if planned else "faults: none")
    for line in describe(planned):
        typer.echo(f"  {line}")


@app.command()
def validate(files: List[Path] = typer.Argument(..., help="scenario YAML files, or fault list files (include targets)"),
             catalog: List[Path] = typer.Option([], "--catalog", help="extra GPU/model catalog folder (repeatable)")
             ) -> None:
    """Check scenario files without running them: every file is checked and every mistake reported;
    exit 2 when any file is invalid. A fault list file (a list of faults, or a mapping with faults:
    and no deployment, workload or topology) is checked as an include reads it."""
    from chaos.scenario import is_fault_list, load_fault_list, load_scenario, locate_error
    from chaos.sim.build import check_scenario, scenario_catalog

    invalid = 0
    for f in files:
        if is_fault_list(f):
            try:
                n = len(load_fault_list(f))
            except InputError as err:
                invalid += 1
                typer.echo(f"error: {err}", err=True)
                continue
            typer.echo(f"{f}: ok (a fault list of {n} fault{'s' if n != 1 else ''}; targets are resolved "
                       f"in the scenario that includes it)")
            continue
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
    typer.echo(f"wrote {len(files.paths)} files to {out}/: " + ", ".join(p.name for p in files.paths))


@app.command()
def schema(sweep: bool = typer.Option(False, "--sweep", help="the sweep file's schema instead")) -> None:
    """Print the scenario JSON Schema, or with --sweep the sweep file's (for yaml-language-server and editors)."""
    if sweep:
        from chaos.sweep.schema import SweepFile
        typer.echo(json.dumps(SweepFile.model_json_schema(by_alias=True), indent=2))
        return
    from chaos.scenario.jsonschema import scenario_json_schema
    typer.echo(json.dumps(scenario_json_schema(), indent=2))


LIST_KINDS = ("gpus", "models", "backends", "routers", "faults", "controllers", "probes", "executors", "metrics")


def _list_kind(what: str) -> str:
    """"gpu" or "GPUs" -> "gpus"; anything else is an InputError naming the kinds."""
    from chaos.errors import did_you_mean
    w = what.strip().lower()
    for kind in LIST_KINDS:
        if w in (kind, kind[:-1]):
            return kind
    raise InputError(f"list: expected one of {', '.join(LIST_KINDS)} but got {what!r}{did_you_mean(w, LIST_KINDS)}")


def _registry(kind: str):
    if kind == "routers":
        from chaos.routing import ROUTERS
        return ROUTERS
    if kind == "faults":
        from chaos.faults import FAULTS
        return FAULTS
    if kind == "executors":
        from chaos.sweep.executors import EXECUTORS
        return EXECUTORS
    from chaos.control import CONTROLLERS
    return CONTROLLERS


def first_sentence(doc: str) -> str:
    """The first sentence of a docstring, whole (joined across lines), without Markdown backticks."""
    import re
    text = " ".join(doc.strip().split("\n\n")[0].split()).replace("`", "")
    m = re.search(r"(?<=[.!?])\s+(?=[A-Z(])", text)
    return text[:m.start()] if m else text


def _entry_text(name: str, doc: str, module_doc: str) -> str:
    """What a registered name does, in one whole sentence: its entry in the module docstring's table
    ("gpu_crash    an XID-style GPU loss: ..."), else the module's "name: ..." opening, else the class
    docstring when it is prose (not a YAML example)."""
    import re
    doc, module_doc = doc.replace("`", ""), module_doc.replace("`", "")
    lines = module_doc.splitlines()
    for i, line in enumerate(lines):
        m = re.match(rf"^(\s*){re.escape(name)}(?::\s+|\s{{2,}})(\S.*)$", line)
        if not m:
            continue
        indent, parts = len(m.group(1)), [m.group(2)]
        for nxt in lines[i + 1:]:
            if not nxt.strip() or (len(nxt) - len(nxt.lstrip()) <= indent and i > 0):
                break
            parts.append(nxt.strip())
        text = _without_example(" ".join(parts))
        if text:
            return first_sentence(text)
    for d in (doc, module_doc):
        text = _without_example(d.strip())
        if text:
            if text.lower().startswith(f"{name}:"):
                text = text[len(name) + 1:].strip()
            return first_sentence(text)
    return ""


def _without_example(doc: str) -> str:
    """A docstring without a leading YAML example ("{type: x, ...}: what it does" -> "what it does")."""
    if not doc.startswith("{"):
        return doc
    depth = 0
    for i, ch in enumerate(doc):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth == 0:
            return doc[i + 1:].lstrip(" :;.-—").strip()
    return ""


@app.command("list")
@user_errors
def list_(what: str = typer.Argument(..., help="gpus, models, backends, routers, faults, controllers, probes, "
                                                "executors (sweeps) or metrics (sweep outcome columns); the singular works too"),
          catalog: List[Path] = typer.Option([], "--catalog", help="extra catalog folder (repeatable)")) -> None:
    """Show the GPUs, models, backend profiles, router policies, fault types, controller policies, steady-state
    probes, sweep executors or sweep metrics (the columns a sweep's fronts, curves and slo: use) that exist."""
    from rich.table import Table

    kind = _list_kind(what)
    out = console()
    if kind in ("routers", "faults", "controllers", "probes", "executors", "metrics"):
        import sys
        rows = []
        if kind == "metrics":
            from chaos.sweep.metrics import METRICS
            rows = [(name, f"{m.label} ({m.better} is better)") for name, m in METRICS.items()]
        elif kind == "probes":
            from chaos.metrics.probes import PROBES
            rows = [(name, f"{p.doc[:1].upper()}{p.doc[1:]} ({p.unit}).".replace("()", "")
                     if p.unit else f"{p.doc[:1].upper()}{p.doc[1:]}.") for name, p in PROBES.items()]
        else:
            registry = _registry(kind)
            for name in registry.names():
                entry = registry.get(name)
                text = _entry_text(name, entry.__doc__ or "", sys.modules[entry.__module__].__doc__ or "")
                rows.append((name, text[:1].upper() + text[1:]))
        width = max(len(n) for n, _ in rows) + 2
        for name, text in rows:
            typer.echo(f"{name:{width}s}{text}")
        return
    from chaos.catalog import load_catalog
    cat = load_catalog(catalog)
    table = Table(show_header=True, header_style="bold")
    if kind == "gpus":
        for col in ("gpu", "BF16 TFLOP/s", "FP8 TFLOP/s", "HBM GB", "HBM TB/s", "NVLink GB/s", "NIC Gb/s"):
            table.add_column(col, justify="right" if col != "gpu" else "left", no_wrap=True)
        for g in cat.gpus.values():
            table.add_row(g.name, f"{g.bf16_flops / 1e12:.0f}", f"{g.fp8_flops / 1e12:.0f}", f"{g.hbm_bytes / 1e9:.0f}",
                          f"{g.hbm_Bps / 1e12:.2f}", f"{g.nvlink_Bps / 1e9:.0f}", f"{g.nic_Bps * 8 / 1e9:.0f}")
    elif kind == "backends":
        width = max((len(n) for n in cat.backends), default=7)
        table.add_column("backend", no_wrap=True, min_width=width)
        for col in ("mfu", "hbm", "decode", "prefill"):
            table.add_column(col, justify="right", no_wrap=True)
        table.add_column("scheduler", overflow="fold")
        table.add_column("pubs", justify="right", no_wrap=True)
        for b in cat.backends.values():
            f, s = b.factors(), b.scheduler
            table.add_row(b.name, f"{f['mfu']:.2f}", f"{f['memory_efficiency']:.2f}", f"{f['overhead_s'] * 1e3:.2f} ms",
                          f"{f['overhead_prefill_s'] * 1e3:.2f} ms",
                          f"{s.mixing}/{s.preemption}/{s.prefix_cache}/b{s.block_size}", str(len(b.calibration)))
    else:
        for col in ("model", "params", "active", "layers", "heads/kv", "experts", "attention", "weights GB"):
            table.add_column(col, justify="right" if col != "model" else "left", no_wrap=True)
        for m in cat.models.values():
            experts = f"{m.n_active_experts}/{m.n_experts}" if m.n_experts else "-"
            table.add_row(m.name, f"{m.n_params / 1e9:.1f}B", f"{m.n_active_params / 1e9:.1f}B", str(m.n_layers),
                          f"{m.n_heads}/{m.n_kv_heads}", experts, m.attention, f"{m.weight_bytes / 1e9:.0f}")
    out.print(table)


def _register_commands() -> None:
    """Commands that live in their own modules (one concern each)."""
    from chaos.cli_calibrate import register as register_calibrate
    from chaos.cli_estimate import register as register_estimate
    register_estimate(app, user_errors)
    register_calibrate(app, user_errors)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    app()


def _register_commands() -> None:
    """Commands that live in their own modules (keeps this file a table of contents)."""
    from chaos.cli_sweep import register as register_sweep
    register_sweep(app, user_errors)


_register_commands()

# export-trace, verify and serve live in their own module; importing it registers them on `app`.
from chaos import cli_interop  # noqa: E402,F401
