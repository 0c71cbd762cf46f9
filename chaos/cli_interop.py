"""Simulate, then verify: `fleetchaos export-trace`, `verify` and `serve` (registered on chaos.cli.app).

Kept in its own module so the main CLI stays a thin front door and these commands change apart from it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from chaos.cli import _load, app, user_errors
from chaos.errors import InputError


def resolved_workload(sc):
    """The scenario's request stream as `fleetchaos run` replays it (arrivals after the duration are
    never sent, so they are not exported either)."""
    import numpy as np

    from chaos.scenario import locate_error
    from chaos.workload import Workload, build_workload
    try:
        wl = build_workload(sc.workload, seed=sc.seed, base_dir=sc.base_dir, duration_s=sc.duration)
    except InputError as err:
        raise locate_error(sc, err)
    if sc.duration is not None and wl.closed_loop is None:
        keep = wl.arrival_s <= sc.duration
        if not keep.all():
            idx = np.flatnonzero(keep)
            wl = Workload(arrival_s=wl.arrival_s[idx], input_tokens=wl.input_tokens[idx],
                          output_tokens=wl.output_tokens[idx],
                          hash_ids=[wl.hash_ids[i] for i in idx] if wl.hash_ids is not None else None,
                          hash_block_tokens=wl.hash_block_tokens)
    return wl


@app.command("export-trace")
@user_errors
def export_trace(scenario: Path = typer.Argument(..., help="scenario YAML file"),
                 out: Path = typer.Option(..., "--out", "-o", help="Mooncake JSONL file to write"),
                 seed: Optional[int] = typer.Option(None, "--seed", help="override the scenario's seed"),
                 set_: List[str] = typer.Option([], "--set", help="override a field: path.to.key=value"),
                 model: Optional[str] = typer.Option(None, "--model",
                                                     help="served model name for the printed AIPerf command "
                                                          "(default: the scenario's model)"),
                 url: str = typer.Option("http://127.0.0.1:8000", "--url", help="endpoint for the AIPerf command"),
                 tokenizer: Optional[str] = typer.Option(None, "--tokenizer",
                                                         help="tokenizer for the AIPerf command")) -> None:
    """Write the scenario's resolved workload (arrival times, input/output lengths, prefix hash_ids) as
    Mooncake JSONL and print the AIPerf command that replays it on its fixed schedule."""
    from chaos.workload.export import aiperf_command, format_command, write_mooncake

    sc = _load(scenario, set_, seed)
    wl = resolved_workload(sc)
    try:
        n = write_mooncake(wl, out)
    except InputError as err:
        from chaos.scenario import locate_error
        raise locate_error(sc, err)
    span = float(wl.arrival_s[-1]) if n else 0.0
    typer.echo(f"wrote {out}: {n} requests over {span:.1f}s (timestamps in ms, hash_ids per "
               f"{wl.hash_block_tokens} prompt tokens)")
    spikes = [f for f in sc.faults if getattr(f, "type", "") == "traffic_spike"]
    if spikes:
        typer.echo("note: the scenario's traffic_spike faults add requests during the run; they are not in "
                   "the exported trace", err=True)
    argv = aiperf_command(out, model=model or sc.deployment.model, url=url, block_tokens=wl.hash_block_tokens,
                          tokenizer=tokenizer)
    typer.echo("replay it with AIPerf:")
    typer.echo(format_command(argv))


@app.command()
@user_errors
def verify(measured: Path = typer.Argument(..., help="AIPerf profile_export.jsonl or vllm bench serve --save-result JSON"),
           scenario: Path = typer.Option(..., "--scenario", "-s", help="the scenario the measured run replayed"),
           tolerance: str = typer.Option("ttft_p50=15%,tpot_p50=10%", "--tolerance",
                                         help="metric=tolerance, comma-separated: a percentage (15%), a fraction "
                                              "(0.15) or, for a latency, a duration (50ms)"),
           fmt: Optional[str] = typer.Option(None, "--format", help="aiperf | vllm (default: by extension)"),
           out: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default reports/<name>-verify/)"),
           speed: float = typer.Option(1.0, "--speed", help="the run was measured against fleetchaos serve "
                                                            "--speed X: multiply its times by X"),
           seed: Optional[int] = typer.Option(None, "--seed", help="override the scenario's seed"),
           set_: List[str] = typer.Option([], "--set", help="override a field: path.to.key=value"),
           catalog: List[Path] = typer.Option([], "--catalog", help="extra GPU/model catalog folder")) -> None:
    """Simulate the scenario and compare it with what a benchmark measured on a real deployment:
    TTFT/TPOT/ITL/E2E percentiles and throughput side by side with the error of each, CDF and Q-Q
    overlays, time series. Exit 0 within the tolerance, 1 outside, 2 for invalid input."""
    from chaos.scenario import locate_error
    from chaos.sim.build import scenario_catalog
    from chaos.verify import verify as run_verify
    from chaos.verify.page import fmt_error, fmt_value

    sc = _load(scenario, set_, seed)
    out_dir = out if out is not None else Path("reports") / f"{sc.name}-verify"
    try:
        res = run_verify(measured, sc, tolerance=tolerance, out=out_dir, fmt=fmt, catalog=scenario_catalog(sc, catalog),
                         speed=speed)
    except InputError as err:
        if err.file is None and err.field and not err.field.startswith("--"):
            raise locate_error(sc, err)
        raise
    cmp = res.comparison
    typer.echo(f"{sc.name}: simulated (seed {sc.seed}) against {res.measured.source} {measured}")
    typer.echo(f"  {'metric':<18}{'simulated':>14}{'measured':>14}{'error':>9}  tolerance")
    for r in cmp.rows:
        mark = "" if r.ok is None else ("  ok" if r.ok else "  OUTSIDE")
        typer.echo(f"  {r.metric:<18}{fmt_value(r.metric, r.simulated):>14}{fmt_value(r.metric, r.measured):>14}"
                   f"{fmt_error(r.error):>9}  {r.tolerance.describe() if r.tolerance else ''}{mark}")
    for note in json.loads(res.files["json"].read_text())["notes"]:
        typer.echo(f"note: {note}")
    typer.echo(f"wrote {res.files['html']} and {res.files['markdown']}")
    typer.echo(f"verdict: {cmp.verdict}")
    for r in cmp.failures:
        typer.echo(f"  {r.metric}: simulated {fmt_value(r.metric, r.simulated)} vs measured "
                   f"{fmt_value(r.metric, r.measured)} ({fmt_error(r.error)}), tolerance {r.tolerance.describe()}")
    raise typer.Exit(res.exit_code)


@app.command()
@user_errors
def serve(scenario: Path = typer.Argument(..., help="scenario YAML file"),
          host: str = typer.Option("127.0.0.1", "--host", help="address to bind (loopback by default)"),
          port: int = typer.Option(8000, "--port", help="TCP port (0: any free port)"),
          speed: float = typer.Option(1.0, "--speed", help="simulated seconds per wall second"),
          model_name: Optional[str] = typer.Option(None, "--model-name",
                                                   help="served model name (default: the scenario's model)"),
          max_model_len: int = typer.Option(131072, "--max-model-len", help="context window in tokens"),
          default_max_tokens: int = typer.Option(256, "--default-max-tokens",
                                                 help="output tokens when a request gives no max_tokens"),
          tick: str = typer.Option("20ms", "--tick", help="how often (wall time) streams get the tokens made "
                                                          "since their last chunk"),
          duration: Optional[str] = typer.Option(None, "--duration",
                                                 help="stop after this much simulated time (default: the "
                                                      "scenario's duration; 'none' = until Ctrl-C)"),
          out: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default reports/<name>-serve/)"),
          seed: Optional[int] = typer.Option(None, "--seed", help="override the scenario's seed"),
          set_: List[str] = typer.Option([], "--set", help="override a field: path.to.key=value"),
          catalog: List[Path] = typer.Option([], "--catalog", help="extra GPU/model catalog folder"),
          report: bool = typer.Option(True, "--report/--no-report", help="write report.html on stop")) -> None:
    """Serve the scenario's simulated fleet as an OpenAI-compatible endpoint (/v1/completions,
    /v1/chat/completions with streaming, /v1/models, /health, /metrics, /chaos/faults) on a clock tied
    to wall time; on stop, write the journal and report of what the clients experienced."""
    from chaos.scenario import locate_error
    from chaos.serve import FleetServer, ServeOptions
    from chaos.sim.build import check_scenario, scenario_catalog
    from chaos.units import format_duration, parse_duration

    sc = _load(scenario, set_, seed)
    if not (speed > 0 and speed < 1e6):
        raise InputError(f"expected a positive speed like 1 or 10 but got {speed!r}", field="--speed")
    if not 0 <= port <= 65535:
        raise InputError(f"expected a TCP port in 0..65535 but got {port}", field="--port")
    if duration is None:
        duration_s = sc.duration
    elif duration.strip().lower() == "none":
        duration_s = None
    else:
        try:
            duration_s = parse_duration(duration)
        except ValueError as exc:
            raise InputError(str(exc), field="--duration") from None
    try:
        tick_s = parse_duration(tick)
    except ValueError as exc:
        raise InputError(str(exc), field="--tick") from None
    if not 0.001 <= tick_s <= 1.0:
        raise InputError(f"expected a tick between 1ms and 1s but got {tick!r}", field="--tick")
    cat = scenario_catalog(sc, catalog)
    try:
        check_scenario(sc, cat)
    except InputError as err:
        raise locate_error(sc, err)
    out_dir = out if out is not None else Path("reports") / f"{sc.name}-serve"
    opts = ServeOptions(host=host, port=port, speed=speed, model_name=model_name, max_model_len=max_model_len,
                        default_max_tokens=default_max_tokens, duration_s=duration_s, out=out_dir, report=report,
                        log_level="info", tick_s=tick_s)
    try:
        server = FleetServer(sc, opts, catalog=cat)
    except ImportError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    until = f"for {format_duration(duration_s)} simulated" if duration_s is not None else "until Ctrl-C"
    typer.echo(f"{sc.name}: serving {opts.model_name or sc.deployment.model} on http://{host}:{port} at "
               f"{speed:g}x real time {until}; POST /chaos/faults to inject a fault")
    res = server.run()
    lag = res.lag
    counts = res.result.log.counts()
    typer.echo(f"served {counts['arrived']} requests: {counts['completed']} completed, {counts['failed']} failed, "
               f"{counts['rejected']} rejected, {counts['in_flight']} in flight; event-loop lag p99 "
               f"{lag['p99'] * 1000:.1f} ms, max {lag['max'] * 1000:.1f} ms")
    typer.echo(f"wrote {', '.join(str(p) for p in res.files.values())}")
