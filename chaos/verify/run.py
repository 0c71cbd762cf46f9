"""verify(): simulate the scenario, read the measurement, compare, write the pages and figures."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from chaos.metrics import summarize
from chaos.verify import figures as figs
from chaos.verify.compare import (Comparison, compare, counts_of, measured_values, metric_values, parse_tolerance,
                                  shifted)
from chaos.verify.page import write_pages
from chaos.verify.readers import Measured, read_measured


@dataclass
class VerifyResult:
    """The comparison and what was written."""

    comparison: Comparison
    measured: Measured
    files: dict[str, Path]

    @property
    def exit_code(self) -> int:
        return 0 if self.comparison.within else 1


def verify(measured_path: str | Path, scenario, *, tolerance: str, out: str | Path, fmt: str | None = None,
           catalog=None, result=None, speed: float = 1.0) -> VerifyResult:
    """Compare a measured run with the simulation of `scenario` (or an already simulated `result`).

    The measured log is moved onto the scenario's clock (its first request starts when the
    simulation's first request arrives), so time series line up. `speed`: the measurement was taken
    against `fleetchaos serve --speed speed`, so its wall-clock times are multiplied by it.
    """
    if not (speed > 0 and speed < 1e6):
        from chaos.errors import InputError
        raise InputError(f"expected a positive speed like 1 or 10 but got {speed!r}", field="--speed")
    tolerances = parse_tolerance(tolerance)
    measured = read_measured(measured_path, fmt)
    if result is None:
        from chaos.sim.run import run
        result = run(scenario, catalog=catalog)
    sim_summary = summarize(result.log, itl=result.itl)
    sim_vals = metric_values(sim_summary)
    notes = list(measured.notes)
    if measured.log is not None:
        offset = float(result.log.arrival_s.min()) if measured.has_arrivals and len(result.log) else 0.0
        measured.log = shifted(measured.log, offset, speed)
        if measured.itl is not None:
            measured.itl.gaps_s = measured.itl.gaps_s * speed
            if measured.itl.t_s is not None:
                measured.itl.t_s = offset + speed * measured.itl.t_s
    if speed != 1.0:
        for key in list(measured.aggregates):
            if not key.startswith("throughput"):
                measured.aggregates[key] *= speed
            else:
                measured.aggregates[key] /= speed
        notes.append(f"measured against fleetchaos serve --speed {speed:g}: its times are multiplied by {speed:g}")
    meas_vals, _ = measured_values(measured)
    counts = {"simulated": counts_of(result.log), "measured": counts_of(measured.log)}
    comparison = compare(sim_vals, meas_vals, tolerances, counts)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    figures: dict[str, Path] = {}
    if measured.log is not None:
        sim_s = figs.samples(result.log, result.itl)
        meas_s = figs.samples(measured.log, measured.itl)
        figures["cdf"] = figs.cdfs(sim_s, meas_s, out / "cdf.png")
        figures["qq"] = figs.qq(sim_s, meas_s, out / "qq.png")
        if measured.has_arrivals:
            figures["timeseries"] = figs.timeseries(result.log, measured.log, scenario.metrics.window,
                                                    out / "timeseries.png")
        measured.log.to_csv(out / "measured_requests.csv")
        files["measured_requests"] = out / "measured_requests.csv"
        points = _calibration_points(measured, scenario, result, out)
        if points is not None:
            files["calibration_points"], note = points
            notes.append(note)
    result.log.to_csv(out / "requests.csv")
    files["requests"] = out / "requests.csv"
    (out / "verify.json").write_text(json.dumps({"scenario": scenario.name, "seed": scenario.seed,
                                                 "measured": {"source": measured.source, "path": str(measured.path)},
                                                 **comparison.to_dict(), "notes": notes}, indent=2) + "\n")
    files["json"] = out / "verify.json"
    from chaos.units import format_duration
    html, md = write_pages(out, name=scenario.name, comparison=comparison, figures=figures, measured=measured,
                           sim_label=f"{format_duration(result.horizon_s)} (seed {scenario.seed})", notes=notes)
    files.update({"html": html, "markdown": md, **figures})
    return VerifyResult(comparison, measured, files)


def _calibration_points(measured: Measured, scenario, result, out: Path) -> tuple[Path, str] | None:
    """The hand-off to `fleetchaos calibrate`: the step and TTFT latencies the measured log carries
    (chaos.verify.points), written as calibrate's CSV, with the command to run; None when none qualify."""
    from chaos.verify.points import calibration_points, write_points

    dep = scenario.deployment
    aggregated = dep.mode != "disaggregated"
    replicas, tp = (dep.replicas, dep.tp) if aggregated else (dep.decode.replicas, dep.decode.tp)
    rows, cov = calibration_points(measured.log, replicas, aggregated=aggregated, source=measured.path.name)
    if not [r for r in rows if not r["held_out"]]:
        return None
    fleet = result.fleet
    backend = getattr(getattr(scenario, "engine", None), "backend", None) or "vllm"
    command = (f"fleetchaos calibrate {out / 'calibration_points.csv'} --model {fleet.model.name} "
               f"--gpu {fleet.gpu.name} --tp {tp} --backend {backend}")
    path = write_points(rows, out / "calibration_points.csv", header=(
        f"step and TTFT latencies read from {measured.path.name} (see chaos/verify/points.py for how)\n"
        f"{cov.completed} completed requests: {cov.step_requests} decoded without prefills alongside, "
        f"{cov.mixed} overlapped prefills (left out), {cov.ttft_requests} prefilled alone\n"
        f"fit with: {command}"))
    return path, (f"{cov.points} calibration points ({cov.step_requests} clean decodes, {cov.ttft_requests} "
                  f"lone prefills) written to {path.name}; fit them with: {command}")
