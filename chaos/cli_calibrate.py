"""`fleetchaos calibrate MEASUREMENTS.csv`: fit a backend profile's efficiency factors to measured latencies,
print the error per point before and after, and write the profile as a catalog file.

Registered on the main app from chaos/cli.py; the fitting lives in chaos.perf.calibrate.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer, user_errors) -> None:
    """Add the `calibrate` command to `app`; `user_errors` turns InputError into exit code 2."""

    @app.command()
    @user_errors
    def calibrate(measurements: Path = typer.Argument(..., help="CSV of measured latencies (see docs/calibration.md)"),
                  model: str = typer.Option(..., "--model", help="catalog model the measurements ran"),
                  gpu: str = typer.Option(..., "--gpu", help="catalog GPU"),
                  tp: int = typer.Option(1, "--tp", help="tensor-parallel size"),
                  backend: str = typer.Option("vllm", "--backend", help="profile to start from"),
                  out: Optional[Path] = typer.Option(None, "--out", help="write the fitted profile here (YAML)"),
                  name: Optional[str] = typer.Option(None, "--name", help="profile name (default BACKEND-calibrated)"),
                  fit_: List[str] = typer.Option([], "--fit", help="factor to fit (repeatable); default: "
                                                 "mfu, memory_efficiency, overheads, MoE floor and grouped GEMM, "
                                                 "prefill attention"),
                  catalog: List[Path] = typer.Option([], "--catalog", help="extra catalog folder (repeatable)"),
                  ) -> None:
        """Fit efficiency factors to measurements; report per-point errors before/after; write a profile."""
        from chaos.catalog import load_catalog
        from chaos.perf.calibrate import DEFAULT_FIT, fit, profile_yaml, read_points
        from chaos.sim.backend import efficiency_of

        cat = load_catalog(list(catalog))
        m, g = cat.model(model, field="--model"), cat.gpu(gpu, field="--gpu")
        b = cat.backend(backend, field="--backend")
        points = read_points(measurements)
        result = fit(points, m, g, tp, efficiency_of(b), tuple(fit_) or DEFAULT_FIT)
        typer.echo(format_fit(result))
        if out is not None:
            profile = name or f"{b.name}-calibrated"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(profile_yaml(profile, b, result, measurements.name), encoding="utf-8")
            typer.echo(f"wrote profile {profile!r} to {out} (use: catalog: [{out.parent}], "
                       f"engine: {{backend: {profile}}})")


def format_fit(result) -> str:
    """Per-point table (measured, before, after, errors) and the fitted factors."""
    lines = [f"{'line':>5} {'kind':8} {'batch':>5} {'isl':>6} {'osl':>5} {'measured ms':>12} {'before ms':>10} "
             f"{'err':>7} {'after ms':>10} {'err':>7}"]
    before, after = result.errors(after=False), result.errors(after=True)
    for p, pb, pa, eb, ea in zip(result.points, result.predicted_before_ms, result.predicted_after_ms, before, after):
        mark = "  held out" if p.held_out else ""
        lines.append(f"{p.line:>5} {p.kind:8} {p.batch:>5} {p.isl or p.context:>6} {p.osl or '':>5} "
                     f"{p.latency_ms:>12.3f} {pb:>10.3f} {100 * eb:>+6.1f}% {pa:>10.3f} {100 * ea:>+6.1f}%{mark}")
    fitted = [i for i, p in enumerate(result.points) if not p.held_out]
    held = [i for i, p in enumerate(result.points) if p.held_out]
    for label, idx in (("fitted", fitted), ("held out", held)):
        if idx:
            lines.append(f"{label}: max |error| {100 * max(abs(before[i]) for i in idx):.1f}% before, "
                         f"{100 * max(abs(after[i]) for i in idx):.1f}% after ({len(idx)} points)")
    lines.append("factors: " + ", ".join(f"{f} {getattr(result.before, f):.4g} -> {getattr(result.after, f):.4g}"
                                         for f in result.fitted))
    return "\n".join(lines)
