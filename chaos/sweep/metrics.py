"""The outcome columns of a sweep: what one point-and-seed run is scored on, which way is better, and
the unit each is shown in. One table, shared by results.csv, fronts, curves, `slo:` and the page.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chaos.units import format_duration


@dataclass(frozen=True)
class Metric:
    """One outcome column: `better` says which way is good; `kind` how its values read and print."""

    name: str
    label: str
    better: Literal["lower", "higher"]
    kind: Literal["duration", "rate", "fraction", "count", "score"]

    def format(self, value: float | None) -> str:
        """The value for people: "1.20s", "812 tok/s/GPU", "97.5%"."""
        if value is None or value != value:
            return "n/a"
        if self.kind == "duration":
            return format_duration(value)
        if self.kind == "fraction":
            return f"{100 * value:.1f}%"
        if self.kind == "count":
            return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
        if self.kind == "score":
            return f"{value:.1f}"
        unit = {"throughput_per_gpu": " tok/s/GPU", "throughput_tok_s": " tok/s"}.get(
            self.name.removeprefix("baseline_"), "/s")
        return f"{value:.3g}{unit}" if abs(value) < 100 else f"{value:.0f}{unit}"


def _m(name: str, label: str, better: str, kind: str) -> Metric:
    return Metric(name, label, better, kind)  # type: ignore[arg-type]


# Scored on the faulted run; the fault-free twin's copy of RUN_METRICS is prefixed "baseline_".
RUN_METRICS: dict[str, Metric] = {m.name: m for m in (
    _m("ttft_p50", "TTFT p50", "lower", "duration"), _m("ttft_p90", "TTFT p90", "lower", "duration"),
    _m("ttft_p99", "TTFT p99", "lower", "duration"), _m("tpot_p50", "TPOT p50", "lower", "duration"),
    _m("tpot_p99", "TPOT p99", "lower", "duration"), _m("itl_p99", "ITL p99", "lower", "duration"),
    _m("e2e_p50", "E2E p50", "lower", "duration"), _m("e2e_p99", "E2E p99", "lower", "duration"),
    _m("throughput_tok_s", "throughput", "higher", "rate"),
    _m("throughput_per_gpu", "throughput per GPU", "higher", "rate"),
    _m("throughput_rps", "requests/s", "higher", "rate"), _m("goodput_rps", "goodput", "higher", "rate"),
    _m("slo_attainment", "SLO attainment", "higher", "fraction"),
    _m("requests_completed", "requests completed", "higher", "count"),
    _m("requests_failed", "requests failed", "lower", "count"),
    _m("requests_rejected", "requests rejected", "lower", "count"),
    _m("requests_lost", "requests lost (failed + rejected)", "lower", "count"),
)}
# Only with the fault-free twin (the base scenario has faults).
RESILIENCE_METRICS: dict[str, Metric] = {m.name: m for m in (
    _m("resilience_score", "resilience score", "higher", "score"),
    _m("max_throughput_drop", "max throughput drop", "lower", "fraction"),
    _m("lost_output_tokens", "lost output tokens", "lower", "count"),
)}
METRICS: dict[str, Metric] = {**RUN_METRICS, **RESILIENCE_METRICS,
                              **{f"baseline_{k}": Metric(f"baseline_{k}", f"{m.label} (fault-free)", m.better, m.kind)
                                 for k, m in RUN_METRICS.items()}}


def metric(name: str) -> Metric:
    """The Metric called `name`; KeyError for an unknown one (callers turn it into a located error)."""
    return METRICS[name]


def run_metrics(summary: dict, gpus: int) -> dict[str, float | None]:
    """RUN_METRICS of one run from its `Summary.to_dict()` and the GPUs its deployment holds."""
    def q(key: str, p: str) -> float | None:
        return (summary.get(key) or {}).get(p)

    req = summary["requests"]
    tput = summary.get("throughput_tok_s")
    return {
        "ttft_p50": q("ttft_s", "p50"), "ttft_p90": q("ttft_s", "p90"), "ttft_p99": q("ttft_s", "p99"),
        "tpot_p50": q("tpot_s", "p50"), "tpot_p99": q("tpot_s", "p99"), "itl_p99": q("itl_s", "p99"),
        "e2e_p50": q("e2e_s", "p50"), "e2e_p99": q("e2e_s", "p99"),
        "throughput_tok_s": tput, "throughput_per_gpu": tput / gpus if tput is not None and gpus else None,
        "throughput_rps": summary.get("throughput_rps"), "goodput_rps": summary.get("goodput_rps"),
        "slo_attainment": summary.get("slo_attainment"),
        "requests_completed": req["completed"], "requests_failed": req["failed"],
        "requests_rejected": req["rejected"], "requests_lost": req["failed"] + req["rejected"],
    }
