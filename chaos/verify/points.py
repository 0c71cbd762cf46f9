"""From a measured run to `fleetchaos calibrate` points: the verify -> calibrate hand-off.

A serving benchmark measures requests, not engine steps. Two kinds of request carry a step latency
that the request log alone lets us read, and only those become points:

* **step**: a completed request's TPOT is the mean decode-iteration latency over its decode interval
  [first token, finish]. The batch it decoded in is the time-averaged number of measured requests
  decoding meanwhile, divided by the deployment's decode replicas (the router is taken to spread them
  evenly); its context is the batch's mean context (each request counted at isl + osl/2). Requests
  whose decode interval overlapped a prefill for more than `max_prefill_overlap` of its time are left
  out: a mixed iteration (chunked prefill) is slower than the decode step the point claims. Requests
  are grouped by (batch, context to the nearest `context_bucket` tokens) and each group's median TPOT
  is one point.
* **ttft**: a request that arrived with nothing else in flight and had the fleet to itself until its
  first token was one unbatched prefill pass of its prompt (aggregated deployments only; with
  disaggregation a TTFT also carries the KV transfer).

Every `holdout_every`-th point is held out, so `calibrate` reports how the fit does on points it did
not see. This is an approximation (time-averaged batch, contexts at their midpoint, even routing);
its error shows up as the scatter of the fit, which `calibrate` prints per point.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chaos.metrics import RequestLog, Status

COLUMNS = ("kind", "batch", "isl", "osl", "context", "latency_ms", "held_out", "source")


@dataclass(frozen=True)
class Coverage:
    """How many measured requests became points, and why the others did not."""

    completed: int
    step_requests: int
    mixed: int            # decode overlapped prefills too much
    ttft_requests: int
    points: int


def _integral(starts: np.ndarray, ends: np.ndarray, weights: np.ndarray):
    """The step function sum_j w_j [s_j <= t < e_j] as (times, cumulative integral at each time)."""
    times = np.concatenate([starts, ends])
    deltas = np.concatenate([weights, -weights])
    order = np.argsort(times, kind="stable")
    times, deltas = times[order], deltas[order]
    level = np.cumsum(deltas)
    area = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(times))])
    return times, area


def _mean_over(times: np.ndarray, area: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean of the step function over each [a_i, b_i] (b_i > a_i)."""
    fa = np.interp(a, times, area)
    fb = np.interp(b, times, area)
    return (fb - fa) / (b - a)


def calibration_points(log: RequestLog, decode_replicas: int, *, aggregated: bool = True, source: str = "",
                       context_bucket: int = 256, min_group: int = 3, max_prefill_overlap: float = 0.1,
                       max_ttft_points: int = 12, holdout_every: int = 5) -> tuple[list[dict], Coverage]:
    """Rows for calibrate's CSV (see the module docstring) from a measured request log."""
    if decode_replicas < 1:
        raise ValueError(f"decode_replicas must be >= 1, got {decode_replicas}")
    ok = (log.status == Status.COMPLETED) & np.isfinite(log.first_token_s) & np.isfinite(log.finish_s)
    arr, ft, fin = log.arrival_s[ok], log.first_token_s[ok], log.finish_s[ok]
    isl, osl = log.input_tokens[ok].astype(int), log.output_tokens[ok].astype(int)
    if not len(arr):
        return [], Coverage(0, 0, 0, 0, 0)
    ctx = isl + osl / 2.0
    dec_t, dec_n = _integral(ft, fin, np.ones(len(ft)))
    ctx_t, ctx_sum = _integral(ft, fin, ctx)
    pre_t, pre_n = _integral(arr, ft, np.ones(len(arr)))
    rows: list[dict] = []

    decoding = (osl >= 2) & (fin > ft)
    a, b = ft[decoding], fin[decoding]
    decoders = _mean_over(dec_t, dec_n, a, b)            # fleet-wide, r itself included
    batch = decoders / decode_replicas
    mean_ctx = _mean_over(ctx_t, ctx_sum, a, b) / np.maximum(decoders, 1e-12)
    prefilling = _mean_over(pre_t, pre_n, a, b)          # mean prefills in flight during the decode
    tpot_ms = (b - a) / (osl[decoding] - 1) * 1e3
    clean = prefilling <= max_prefill_overlap
    groups: dict[tuple[int, int], list[float]] = {}
    for n, c, t in zip(np.maximum(np.rint(batch[clean]), 1).astype(int),
                       (np.rint(mean_ctx[clean] / context_bucket) * context_bucket).astype(int), tpot_ms[clean]):
        groups.setdefault((int(n), max(int(c), 1)), []).append(float(t))
    for (n, c), lat in sorted(groups.items()):
        if len(lat) >= min_group:
            rows.append({"kind": "step", "batch": n, "isl": "", "osl": "", "context": c,
                         "latency_ms": round(float(np.median(lat)), 4), "source": f"{source} median of {len(lat)}"})

    n_ttft = 0
    if aggregated:
        # alone: nothing else arrived, prefilling or decoding from its arrival to its first token
        busy_t, busy = _integral(arr, fin, np.ones(len(arr)))
        own = (ft - arr) > 0
        others = _mean_over(busy_t, busy, arr[own], ft[own]) - 1.0       # minus itself
        alone = np.flatnonzero(own)[others <= 1e-9]
        if len(alone) > max_ttft_points:       # spread over prompt lengths
            alone = alone[np.argsort(isl[alone], kind="stable")]
            alone = alone[np.linspace(0, len(alone) - 1, max_ttft_points).round().astype(int)]
        for i in alone:
            rows.append({"kind": "ttft", "batch": 1, "isl": int(isl[i]), "osl": "", "context": "",
                         "latency_ms": round(float(ft[i] - arr[i]) * 1e3, 4), "source": f"{source} request alone"})
        n_ttft = len(alone)
    for k, row in enumerate(rows):
        row["held_out"] = "true" if holdout_every and k % holdout_every == holdout_every - 1 else ""
    cov = Coverage(completed=int(ok.sum()), step_requests=int(clean.sum()), mixed=int((~clean).sum()),
                   ttft_requests=n_ttft, points=len(rows))
    return rows, cov


def write_points(rows: list[dict], path: str | Path, header: str = "") -> Path:
    """Write the rows as calibrate's measurements CSV (`#` comment lines first)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as fh:
        for line in header.splitlines():
            fh.write(f"# {line}\n")
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in COLUMNS})
    return path
