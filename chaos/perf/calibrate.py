"""Fit a backend profile's efficiency factors to measured latencies (`fleetchaos calibrate`).

Measurements CSV (one row per measured point; `#` lines are comments), columns:
  kind        ttft      one pass prefilling `batch` prompts of `isl` tokens (as `fleetchaos estimate`)
              tpot      mean decode step of `batch` sequences over contexts isl+1 .. isl+osl-1
              step      one decode iteration of `batch` sequences at context `context` each
              request   request latency of a static batch: ttft + (osl-1) x tpot (e.g. from batch
                        output tokens/s: batch x osl / tok_s)
  batch, isl, osl, context   integers (osl for tpot/request, context for step; others may be empty)
  latency_ms  the measured latency
  held_out    optional: true = reported but not fitted (a check of the fit)
  source      optional: where the number comes from (kept in the profile's calibration list)

The fit minimises squared log-ratios of predicted to measured latency over the fitted points plus a
weak pull (weight `prior`) of each factor towards the starting profile, so factors the points do not
constrain stay where the profile's sources put them; every factor stays within its bounds.
scipy is needed only here: `pip install 'fleetchaos[calibrate]'`.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from chaos.catalog import BackendSpec, GPUSpec, ModelSpec
from chaos.errors import InputError
from chaos.perf.efficiency import Efficiency
from chaos.perf.estimate import NVLINK_LATENCY_S
from chaos.perf.latency import build_perf_model

KINDS = ("ttft", "tpot", "step", "request")
# factor -> (lower, upper) bounds of the fit
BOUNDS: dict[str, tuple[float, float]] = {
    "mfu": (0.2, 0.95), "gemm_half_tokens": (0.0, 1024.0),
    "attention_prefill_efficiency": (0.1, 0.95), "attention_decode_efficiency": (0.05, 0.95),
    "memory_efficiency": (0.3, 0.95), "grouped_gemm_efficiency": (0.1, 0.95),
    "allreduce_efficiency": (0.2, 0.95), "allreduce_latency_s": (0.0, 100e-6),
    "overhead_s": (0.0, 20e-3), "overhead_prefill_s": (0.0, 50e-3), "overhead_per_seq_s": (0.0, 200e-6),
    "moe_layer_s": (0.0, 2e-3),
}
DEFAULT_FIT = ("mfu", "memory_efficiency", "overhead_s", "overhead_prefill_s", "moe_layer_s",
               "grouped_gemm_efficiency", "attention_prefill_efficiency")
# Scale of the prior for factors that may be ~0: a typical magnitude, so that a factor starting near 0 can move
# by that much at the cost of one percent of error (per-sequence CPU costs of engines are tens of microseconds:
# TensorRT-LLM's published A100 static batches need ~30 us, docs/calibration.md).
_FLOOR = {"gemm_half_tokens": 1.0, "allreduce_latency_s": 1e-6, "overhead_s": 1e-4, "overhead_prefill_s": 1e-4,
          "overhead_per_seq_s": 20e-6, "moe_layer_s": 1e-5}


@dataclass(frozen=True)
class Point:
    """One measured latency."""

    kind: str
    batch: int
    isl: int
    osl: int
    context: int
    latency_ms: float
    held_out: bool
    source: str
    line: int


@dataclass(frozen=True)
class Fit:
    """The result of a calibration."""

    before: Efficiency
    after: Efficiency
    points: tuple[Point, ...]
    predicted_before_ms: tuple[float, ...]
    predicted_after_ms: tuple[float, ...]
    fitted: tuple[str, ...]

    def errors(self, after: bool = True) -> list[float]:
        """Relative error (predicted / measured - 1) per point."""
        pred = self.predicted_after_ms if after else self.predicted_before_ms
        return [p / pt.latency_ms - 1.0 for p, pt in zip(pred, self.points)]


def read_points(path: str | Path, *, to_fit: bool = True) -> list[Point]:
    """The measurements CSV (see the module docstring); InputError names file, line and column. to_fit=False
    reads a file of held-out points only (a check of a profile against other shapes)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"measurements file {str(path)!r} does not exist", file=str(path))
    lines = [(i, ln) for i, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise InputError("no measurements: expected a header row and at least one point", file=str(path))
    reader = csv.DictReader([ln for _, ln in lines])
    missing = [c for c in ("kind", "batch", "latency_ms") if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}; columns are kind, batch, isl, osl, context, "
                         f"latency_ms, held_out, source", file=str(path), line=lines[0][0])
    points = []
    for (lineno, _), row in zip(lines[1:], reader):
        points.append(_point(row, str(path), lineno))
    if to_fit and not [p for p in points if not p.held_out]:
        raise InputError("every point is held out: nothing to fit", file=str(path))
    return points


def _point(row: dict, file: str, line: int) -> Point:
    def err(column: str, message: str) -> InputError:
        return InputError(message, field=column, file=file, line=line)

    kind = (row.get("kind") or "").strip()
    if kind not in KINDS:
        raise err("kind", f"expected one of {', '.join(KINDS)} but got {kind!r}")

    def integer(column: str, needed: bool, minimum: int = 1) -> int:
        raw = (row.get(column) or "").strip()
        if not raw:
            if needed:
                raise err(column, f"a {kind} point needs {column}")
            return 0
        try:
            value = int(raw)
        except ValueError:
            raise err(column, f"expected an integer but got {raw!r}") from None
        if value < minimum:
            raise err(column, f"expected an integer >= {minimum} but got {value}")
        return value

    batch = integer("batch", True)
    isl = integer("isl", kind != "step")
    osl = integer("osl", kind in ("tpot", "request"), minimum=2 if kind == "tpot" else 1)
    context = integer("context", kind == "step")
    raw = (row.get("latency_ms") or "").strip()
    try:
        latency = float(raw)
    except ValueError:
        raise err("latency_ms", f"expected a number of milliseconds but got {raw!r}") from None
    if not (math.isfinite(latency) and latency > 0):
        raise err("latency_ms", f"expected a positive latency but got {raw!r}")
    held = (row.get("held_out") or "").strip().lower()
    if held not in ("", "true", "false", "yes", "no", "1", "0"):
        raise err("held_out", f"expected true or false but got {held!r}")
    return Point(kind, batch, isl, osl, context, latency, held in ("true", "yes", "1"),
                 (row.get("source") or "").strip(), line)


def predict_ms(point: Point, model: ModelSpec, gpu: GPUSpec, tp: int, eff: Efficiency) -> float:
    """The perf model's latency for one measured point."""
    cost = build_perf_model(model, gpu, tp, gpu.nvlink_Bps, NVLINK_LATENCY_S, eff)
    b = point.batch
    if point.kind == "step":
        return 1e3 * float(cost.iteration_time(b, float(b * point.context), 0))
    ttft = float(cost.iteration_time(0, 0.0, b * point.isl, b * point.isl * (point.isl + 1) / 2.0, 0.0, b))
    if point.kind == "ttft":
        return 1e3 * ttft
    steps = float(np.sum(cost.decode_stretch(b, float(b * point.isl), point.osl - 1))) if point.osl > 1 else 0.0
    if point.kind == "tpot":
        return 1e3 * steps / (point.osl - 1)
    return 1e3 * (ttft + steps)


def fit(points: list[Point], model: ModelSpec, gpu: GPUSpec, tp: int, start: Efficiency,
        factors: tuple[str, ...] = DEFAULT_FIT, prior: float = 0.05) -> Fit:
    """Fit `factors` of `start` to the non-held-out points (see the module docstring)."""
    try:
        from scipy.optimize import least_squares
    except ImportError:
        raise InputError("calibration needs scipy: pip install 'fleetchaos[calibrate]'") from None
    for name in factors:
        if name not in BOUNDS:
            raise InputError(f"cannot fit {name!r}: expected one of {', '.join(BOUNDS)}", field="--fit")
    used = [p for p in points if not p.held_out]
    x0 = np.array([min(max(getattr(start, f), BOUNDS[f][0]), BOUNDS[f][1]) for f in factors])
    lo = np.array([BOUNDS[f][0] for f in factors])
    hi = np.array([BOUNDS[f][1] for f in factors])
    scale = np.array([max(abs(getattr(start, f)), _FLOOR.get(f, 0.05)) for f in factors])

    def efficiency(x) -> Efficiency:
        values = dict(zip(factors, (float(v) for v in x)))
        if "overhead_prefill_s" not in values and values.get("overhead_s", 0) > start.overhead_prefill_s:
            values["overhead_prefill_s"] = values["overhead_s"]
        if values.get("overhead_prefill_s", start.overhead_prefill_s) < values.get("overhead_s", start.overhead_s):
            values["overhead_prefill_s"] = values.get("overhead_s", start.overhead_s)
        return replace(start, **values)

    def residuals(x):
        eff = efficiency(x)
        r = [math.log(predict_ms(p, model, gpu, tp, eff) / p.latency_ms) for p in used]
        return np.array(r + list(prior * (x - x0) / scale))

    result = least_squares(residuals, x0, bounds=(lo, hi), x_scale=scale, method="trf")
    after = efficiency(result.x)
    before_pred = tuple(predict_ms(p, model, gpu, tp, start) for p in points)
    after_pred = tuple(predict_ms(p, model, gpu, tp, after) for p in points)
    return Fit(start, after, tuple(points), before_pred, after_pred, tuple(factors))


def profile_yaml(name: str, base: BackendSpec, result: Fit, measurements: str) -> str:
    """A catalog file with one backend profile: `base` with the fitted factors and their calibration."""
    import yaml

    from chaos.catalog.backends import EFFICIENCY_KEYS

    eff = result.after
    groups: dict = {}
    for group, keys in EFFICIENCY_KEYS.items():
        groups[group] = {}
        for key, (field, kind) in keys.items():
            value = getattr(eff, field)
            groups[group][key] = f"{value * 1e6:.6g}us" if kind == "duration" else round(float(value), 6)
    sources = dict(base.sources)
    for group, keys in EFFICIENCY_KEYS.items():
        if any(field in result.fitted for field, _ in keys.values()):
            sources[group] = f"fitted by fleetchaos calibrate to {measurements} (was: {sources.get(group, '')})"
    groups["sources"] = sources
    s = base.scheduler
    calibration = sorted({p.source or f"{measurements} line {p.line}" for p in result.points if not p.held_out})
    doc = {"backends": {name: {
        "efficiency": groups,
        "scheduler": {"chunked_prefill": s.chunked_prefill, "max_num_batched_tokens": s.max_num_batched_tokens,
                      "max_num_seqs": s.max_num_seqs, "block_size": s.block_size, "prefix_cache": s.prefix_cache,
                      "preemption": s.preemption, "mixing": s.mixing, "kv_admission": s.kv_admission,
                      "source": s.source},
        "calibration": [*base.calibration, *calibration],
    }}}
    return ("# written by `fleetchaos calibrate`; use it with `catalog: [this folder]` and "
            f"`engine: {{backend: {name}}}`\n" + yaml.safe_dump(doc, sort_keys=False, width=120))
