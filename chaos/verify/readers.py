"""Readers for what a benchmark measured on a real deployment, into the metrics room's RequestLog.

Two formats, from their sources:

* AIPerf's per-request export `profile_export.jsonl` (aiperf/common/models/record_models.py,
  MetricRecordInfo; docs/tutorials/working-with-profile-exports.md): one JSON object per line,
  `metadata` (request_start_ns, request_ack_ns, request_end_ns as time.time_ns(), session_num,
  benchmark_phase, was_cancelled), `metrics` (name -> {value, unit}: time_to_first_token,
  request_latency, input_sequence_length, output_sequence_length, inter_chunk_latency as a list …)
  and `error` ({code, type, message} or null; metrics then hold only error_isl).
* `vllm bench serve --save-result [--save-detailed]` JSON (vllm/benchmarks/serve.py): per-request
  lists `input_lens`, `output_lens`, `ttfts` (s), `itls` (list of lists, s), `latencies` (s),
  `start_times` (perf_counter s, recent vLLM), `errors` ("" when it succeeded) only with
  --save-detailed; always the aggregates `median_ttft_ms`, `p99_ttft_ms`, … `output_throughput`,
  `request_throughput`, `duration`, `completed`, `failed`.

Times become seconds from the first request's start, like a simulated run's clock.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chaos.errors import InputError
from chaos.metrics import ItlSamples, RequestLog

FORMATS = ("aiperf", "vllm")

# unit string -> seconds per unit (AIPerf writes display units: "ms" for latencies)
_TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "seconds": 1.0}


class MeasuredError(InputError):
    """A measured-run file is missing, of an unknown format or malformed (names file, line, field)."""


@dataclass
class Measured:
    """A measured run as the metrics room sees a simulated one: a request log (seconds from the first
    start), the per-chunk inter-token gaps, and the file's own aggregates when it has no per-request
    data (vLLM without --save-detailed)."""

    source: str                       # aiperf | vllm
    path: Path
    log: RequestLog | None
    itl: ItlSamples | None
    aggregates: dict[str, float] = field(default_factory=dict)   # metric key -> value (s, tok/s, req/s)
    has_arrivals: bool = True         # False when the file has no start times (no time series then)
    notes: list[str] = field(default_factory=list)

    @property
    def per_request(self) -> bool:
        return self.log is not None


def detect_format(path: Path) -> str:
    """aiperf for .jsonl files, vllm for .json files."""
    name = path.name.lower()
    if name.endswith(".jsonl"):
        return "aiperf"
    if name.endswith(".json"):
        return "vllm"
    raise MeasuredError(f"cannot tell the format of {path.name!r} from its extension; expected AIPerf's "
                        f"profile_export.jsonl (.jsonl) or a `vllm bench serve --save-result` file (.json), "
                        f"or pass --format aiperf|vllm", file=str(path))


def read_measured(path: str | Path, fmt: str | None = None) -> Measured:
    """Read a measured run; `fmt` is aiperf|vllm (default: by extension)."""
    path = Path(path)
    if not path.is_file():
        raise MeasuredError(f"measured-run file not found: {path}", file=str(path))
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise MeasuredError(f"expected one of {', '.join(FORMATS)} but got {fmt!r}", field="--format")
    return read_aiperf(path) if fmt == "aiperf" else read_vllm(path)


# ---- AIPerf --------------------------------------------------------------------------------------
def _seconds(metric: dict | None, name: str, path: Path, lineno: int):
    """A {value, unit} metric in seconds (a list stays a list); None when absent."""
    if metric is None:
        return None
    try:
        value, unit = metric["value"], metric.get("unit", "ms")
    except (TypeError, KeyError):
        raise MeasuredError(f"expected {{\"value\": ..., \"unit\": ...}} but got {metric!r}",
                            file=str(path), line=lineno, field=f"metrics.{name}") from None
    scale = _TIME_UNITS.get(str(unit).lower())
    if scale is None:
        raise MeasuredError(f"unknown time unit {unit!r}; expected one of {', '.join(_TIME_UNITS)}",
                            file=str(path), line=lineno, field=f"metrics.{name}.unit")
    if isinstance(value, list):
        return [float(v) * scale for v in value]
    return float(value) * scale


def _count(metrics: dict, *names: str) -> int | None:
    for name in names:
        m = metrics.get(name)
        if isinstance(m, dict) and m.get("value") is not None:
            return int(round(float(m["value"])))
    return None


def read_aiperf(path: Path) -> Measured:
    """AIPerf profile_export.jsonl -> Measured (warmup records are skipped; a failed or cancelled
    request is FAILED with its error type, code and message as the reason)."""
    rows = []          # (start_ns, end_ns, ttft_s, latency_s, isl, osl, status, reason)
    gaps: list[tuple[float, list[float]]] = []       # (start_ns, chunk gaps s) per request
    notes: list[str] = []
    non_streaming = 0
    with path.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise MeasuredError(f"not a JSON object: {exc.msg} (AIPerf writes one record per line)",
                                    file=str(path), line=lineno) from None
            if not isinstance(rec, dict) or not isinstance(rec.get("metadata"), dict):
                raise MeasuredError("expected an AIPerf record with metadata, metrics and error but got "
                                    f"{line.strip()[:80]!r}", file=str(path), line=lineno, field="metadata")
            meta = rec["metadata"]
            if meta.get("benchmark_phase", "profiling") != "profiling":
                continue
            for key in ("request_start_ns", "request_end_ns"):
                if not isinstance(meta.get(key), (int, float)):
                    raise MeasuredError(f"expected an integer epoch time in ns but got {meta.get(key)!r}",
                                        file=str(path), line=lineno, field=f"metadata.{key}")
            metrics = rec.get("metrics") or {}
            if not isinstance(metrics, dict):
                raise MeasuredError(f"expected a mapping of metric name to {{value, unit}} but got {metrics!r}",
                                    file=str(path), line=lineno, field="metrics")
            start, end = int(meta["request_start_ns"]), int(meta["request_end_ns"])
            error = rec.get("error")
            isl = _count(metrics, "input_sequence_length", "error_isl") or 0
            if error or meta.get("was_cancelled"):
                err = error if isinstance(error, dict) else {}
                reason = f"{err.get('type') or 'cancelled'}"
                if err.get("code") is not None:
                    reason += f" ({err['code']})"
                if err.get("message"):
                    reason += f": {err['message']}"
                rows.append((start, end, math.nan, (end - start) * 1e-9, isl, 0, "failed", reason))
                continue
            ttft = _seconds(metrics.get("time_to_first_token"), "time_to_first_token", path, lineno)
            latency = _seconds(metrics.get("request_latency"), "request_latency", path, lineno)
            if latency is None:
                latency = (end - start) * 1e-9
            osl = _count(metrics, "output_sequence_length", "output_token_count")
            if osl is None:
                raise MeasuredError("a successful record needs output_sequence_length (or output_token_count)",
                                    file=str(path), line=lineno, field="metrics.output_sequence_length")
            if ttft is None:
                non_streaming += 1
                ttft = math.nan
            rows.append((start, end, ttft, latency, isl, osl, "completed", ""))
            icl = _seconds(metrics.get("inter_chunk_latency"), "inter_chunk_latency", path, lineno)
            if isinstance(icl, list) and icl:
                gaps.append((start, icl, ttft))
    if not rows:
        raise MeasuredError("no profiling records in the file", file=str(path))
    if non_streaming:
        notes.append(f"{non_streaming} records have no time_to_first_token (a non-streaming run): "
                     f"their TTFT and TPOT are unknown")
    t0 = min(r[0] for r in rows)
    arrival = np.array([(r[0] - t0) * 1e-9 for r in rows])
    ttft = np.array([r[2] for r in rows])
    latency = np.array([r[3] for r in rows])
    status = [r[6] for r in rows]
    osl = np.array([r[5] for r in rows], dtype=np.int64)
    log = RequestLog(id=np.arange(len(rows)), arrival_s=arrival, first_token_s=arrival + ttft,
                     finish_s=arrival + latency, input_tokens=np.array([r[4] for r in rows], dtype=np.int64),
                     output_tokens=osl, generated_tokens=osl, status=status,
                     reason=np.array([r[7] for r in rows], dtype=object))
    return Measured("aiperf", path, log, _itl_from_chunks([((s - t0) * 1e-9, g, f) for s, g, f in gaps]),
                    notes=notes)


def _itl_from_chunks(per_request: list[tuple[float, list[float], float]]) -> ItlSamples | None:
    """Each gap between two chunks as one sample, stamped with when the later chunk came."""
    if not per_request:
        return None
    g_all, t_all = [], []
    for arrival_s, gaps_s, ttft_s in per_request:
        g = np.asarray(gaps_s, dtype=float)
        g_all.append(g)
        t_all.append(arrival_s + (ttft_s if ttft_s == ttft_s else 0.0) + np.cumsum(g))
    g = np.concatenate(g_all)
    return ItlSamples(g, np.ones(len(g)), np.concatenate(t_all))


# ---- vLLM ----------------------------------------------------------------------------------------
# vLLM aggregate key -> our metric key (ms values become seconds)
_VLLM_STATS = {"ttft": "ttft", "tpot": "tpot", "itl": "itl", "e2el": "e2e"}


def _vllm_aggregates(doc: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for theirs, ours in _VLLM_STATS.items():
        for key, value in doc.items():
            if not isinstance(value, (int, float)) or not key.endswith(f"_{theirs}_ms"):
                continue
            stat = key[: -len(f"_{theirs}_ms")]
            if stat == "median":
                stat = "p50"
            if stat in ("mean", "p50", "p90", "p99") or (stat.startswith("p") and stat[1:].replace(".", "").isdigit()):
                out[f"{ours}_{stat}"] = float(value) / 1000.0
    for theirs, ours in (("output_throughput", "throughput_tok_s"), ("request_throughput", "throughput_rps")):
        if isinstance(doc.get(theirs), (int, float)):
            out[ours] = float(doc[theirs])
    return out


def read_vllm(path: Path) -> Measured:
    """`vllm bench serve --save-result` JSON -> Measured: per request with --save-detailed, else the
    file's aggregates only (percentiles and throughput; no distributions or time series)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MeasuredError(f"not JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    if not isinstance(doc, dict):
        raise MeasuredError(f"expected the JSON object `vllm bench serve --save-result` writes but got a "
                            f"{type(doc).__name__}", file=str(path))
    aggregates = _vllm_aggregates(doc)
    detailed = all(k in doc for k in ("ttfts", "latencies", "output_lens"))
    if not detailed:
        if not aggregates:
            raise MeasuredError("no per-request lists (ttfts, latencies, output_lens: run with --save-detailed) "
                                "and no aggregates like median_ttft_ms: is this a `vllm bench serve "
                                "--save-result` file?", file=str(path))
        return Measured("vllm", path, None, None, aggregates, has_arrivals=False,
                        notes=["no per-request data (run vllm bench serve with --save-detailed for "
                               "distributions and time series): compared on the file's percentiles"])
    n = len(doc["ttfts"])
    lists = {k: doc.get(k) for k in ("input_lens", "output_lens", "ttfts", "itls", "latencies", "start_times",
                                      "errors")}
    for key, value in lists.items():
        if value is not None and (not isinstance(value, list) or len(value) != n):
            raise MeasuredError(f"expected a list of {n} values (one per request, like ttfts) but got "
                                f"{len(value) if isinstance(value, list) else type(value).__name__}",
                                file=str(path), field=key)
    errors = lists["errors"] or [""] * n
    failed = np.array([bool(e) for e in errors])
    notes = []
    if lists["start_times"] is not None:
        starts = np.asarray(lists["start_times"], dtype=float)
        arrival = starts - starts.min()
        has_arrivals = True
    else:
        arrival = np.zeros(n)
        has_arrivals = False
        notes.append("no start_times in the file (older vLLM): no time series, arrivals unknown")
    ttft = np.asarray(lists["ttfts"], dtype=float)
    latency = np.asarray(lists["latencies"], dtype=float)
    out_lens = np.asarray(lists["output_lens"], dtype=np.int64)
    in_lens = np.asarray(lists["input_lens"] or [0] * n, dtype=np.int64)
    status = np.where(failed, "failed", "completed").tolist()
    first = np.where(failed, np.nan, arrival + ttft)
    finish = np.where(failed, np.nan, arrival + latency)
    log = RequestLog(id=np.arange(n), arrival_s=arrival, first_token_s=first, finish_s=finish,
                     input_tokens=in_lens, output_tokens=out_lens, generated_tokens=np.where(failed, 0, out_lens),
                     status=status, reason=np.array([str(e or "") for e in errors], dtype=object))
    itl = None
    if lists["itls"] is not None:
        itl = _itl_from_chunks([(arrival[i], lists["itls"][i], ttft[i]) for i in range(n)
                                if not failed[i] and lists["itls"][i]])
    return Measured("vllm", path, log, itl, aggregates, has_arrivals=has_arrivals, notes=notes)
