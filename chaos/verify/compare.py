"""Simulation against measurement: the same metrics from both request logs, the error of each, and a
verdict against a tolerance.

Both sides are summarised the same way (chaos.metrics.summarize over each run's own span, completed
requests for TPOT/E2E/throughput). Error = (simulated - measured) / measured. A tolerance is relative
(`ttft_p50=15%` or `=0.15`: |error| <= 15%) or absolute with a unit (`ttft_p99=50ms`:
|simulated - measured| <= 50 ms).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from chaos.errors import InputError, expected_one_of
from chaos.metrics import RequestLog, Summary, summarize
from chaos.units import format_duration, parse_duration

LATENCIES = ("ttft", "tpot", "itl", "e2e")
STATS = ("p50", "p90", "p99", "mean")
RATES = ("throughput_tok_s", "throughput_rps")
METRICS = tuple(f"{m}_{s}" for m in LATENCIES for s in STATS) + RATES
DEFAULT_TOLERANCE = "ttft_p50=15%,tpot_p50=10%"


@dataclass(frozen=True)
class Tolerance:
    """How far the simulation may be from the measurement on one metric."""

    metric: str
    relative: float | None = None     # fraction: 0.15 = 15 %
    absolute_s: float | None = None   # seconds (latencies only)

    def describe(self) -> str:
        if self.relative is not None:
            return f"±{100 * self.relative:g}%"
        return f"±{format_duration(self.absolute_s)}"

    def holds(self, sim: float, measured: float) -> bool:
        if not (math.isfinite(sim) and math.isfinite(measured)):
            return False
        if self.relative is not None:
            if measured == 0:
                return sim == 0
            return abs(sim - measured) / abs(measured) <= self.relative + 1e-12
        return abs(sim - measured) <= self.absolute_s + 1e-12


def parse_tolerance(text: str) -> list[Tolerance]:
    """`ttft_p50=15%,tpot_p50=10%,e2e_p99=200ms` -> Tolerances; errors name --tolerance and the item."""
    out: list[Tolerance] = []
    for item in [p.strip() for p in text.split(",") if p.strip()]:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise InputError(f"expected metric=tolerance like ttft_p50=15% but got {item!r}", field="--tolerance")
        if name not in METRICS:
            raise InputError(expected_one_of(name, METRICS), field="--tolerance")
        try:
            if value.endswith("%"):
                rel = float(value[:-1]) / 100.0
                tol = Tolerance(name, relative=rel)
            elif value.replace(".", "", 1).isdigit():
                tol = Tolerance(name, relative=float(value))
            else:
                if name in RATES:
                    raise ValueError("a throughput takes a relative tolerance")
                tol = Tolerance(name, absolute_s=parse_duration(value))
        except ValueError as exc:
            raise InputError(f"{name}: expected a percentage (15%), a fraction (0.15) or, for a latency, a "
                             f"duration (50ms) but got {value!r} ({exc})", field="--tolerance") from None
        if (tol.relative is not None and not tol.relative >= 0) or (tol.absolute_s is not None and tol.absolute_s < 0):
            raise InputError(f"{name}: a tolerance cannot be negative, got {value!r}", field="--tolerance")
        out.append(tol)
    if not out:
        raise InputError(f"no tolerance given; expected e.g. {DEFAULT_TOLERANCE}", field="--tolerance")
    return out


def metric_values(summary: Summary) -> dict[str, float]:
    """Every comparable metric of a Summary (seconds, tok/s, req/s; NaN when there were no samples)."""
    out = {}
    for m in LATENCIES:
        stats = getattr(summary, f"{m}_s")
        for s in STATS:
            out[f"{m}_{s}"] = float(getattr(stats, s))
    out["throughput_tok_s"] = float(summary.throughput_tok_s)
    out["throughput_rps"] = float(summary.throughput_rps)
    return out


def shifted(log: RequestLog, offset_s: float, scale: float = 1.0) -> RequestLog:
    """The same log with every time t becomes offset_s + scale * t: puts a measured run on the
    scenario's clock (scale = the --speed of the `fleetchaos serve` it was measured against)."""
    from chaos.metrics.log import COLUMNS
    cols = {name: getattr(log, name) for name in COLUMNS}
    for name in ("arrival_s", "first_token_s", "finish_s"):
        cols[name] = offset_s + scale * cols[name]
    return RequestLog(**cols)


@dataclass(frozen=True)
class Row:
    metric: str
    simulated: float
    measured: float
    tolerance: Tolerance | None

    @property
    def error(self) -> float:
        """(simulated - measured) / measured; NaN when either is missing or measured is 0."""
        if not (math.isfinite(self.simulated) and math.isfinite(self.measured)) or self.measured == 0:
            return math.nan
        return (self.simulated - self.measured) / self.measured

    @property
    def ok(self) -> bool | None:
        return None if self.tolerance is None else self.tolerance.holds(self.simulated, self.measured)


@dataclass(frozen=True)
class Comparison:
    """Side-by-side metrics, the tolerances and the verdict."""

    rows: list[Row]
    tolerances: list[Tolerance]
    counts: dict[str, dict[str, int]]      # "simulated"/"measured" -> arrived/completed/failed/...

    @property
    def within(self) -> bool:
        return all(r.ok for r in self.rows if r.tolerance is not None)

    @property
    def verdict(self) -> str:
        return "within tolerance" if self.within else "outside tolerance"

    @property
    def failures(self) -> list[Row]:
        return [r for r in self.rows if r.ok is False]

    def to_dict(self) -> dict:
        def num(x):
            return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x
        return {"verdict": self.verdict, "within": self.within, "counts": self.counts,
                "metrics": [{"metric": r.metric, "simulated": num(r.simulated), "measured": num(r.measured),
                             "error": num(r.error), "tolerance": r.tolerance.describe() if r.tolerance else None,
                             "ok": r.ok} for r in self.rows]}


def compare(sim_values: dict[str, float], measured_values: dict[str, float], tolerances: list[Tolerance],
            counts: dict[str, dict[str, int]]) -> Comparison:
    """Rows for every metric the measurement has; a tolerance on a metric the measurement lacks is an
    InputError (the file cannot answer it)."""
    by_metric = {t.metric: t for t in tolerances}
    for t in tolerances:
        if not math.isfinite(measured_values.get(t.metric, math.nan)):
            have = sorted(k for k, v in measured_values.items() if math.isfinite(v))
            raise InputError(f"{t.metric}: the measured run has no value for it; it has "
                             f"{', '.join(have) if have else 'no comparable metric'}", field="--tolerance")
    rows = [Row(m, sim_values.get(m, math.nan), measured_values[m], by_metric.get(m))
            for m in METRICS if m in measured_values and math.isfinite(measured_values[m])]
    return Comparison(rows, tolerances, counts)


def measured_values(measured) -> tuple[dict[str, float], Summary | None]:
    """Metric values of a Measured: from its request log when it has one, else its file aggregates."""
    if measured.log is None:
        return dict(measured.aggregates), None
    summary = summarize(measured.log, itl=measured.itl)
    values = metric_values(summary)
    if measured.itl is None:
        for s in STATS:
            values[f"itl_{s}"] = measured.aggregates.get(f"itl_{s}", math.nan)
    return values, summary


def counts_of(log: RequestLog | None) -> dict[str, int]:
    return log.counts() if log is not None else {}


def quantile_pairs(sim: np.ndarray, measured: np.ndarray, n: int = 99) -> tuple[np.ndarray, np.ndarray]:
    """Matching quantiles (1%..99%) of two samples, for a Q-Q plot."""
    q = np.linspace(0.01, 0.99, n)
    return np.quantile(sim, q), np.quantile(measured, q)
