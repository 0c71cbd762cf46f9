"""Shared pieces of the validation examples: run a scenario or a sweep of this folder and read the
numbers back, and the queueing-theory estimate the worker-count example checks the simulator against.

Each `test_valid_*.py` beside this file reproduces one effect measured on real fleets (docs/validation.md
puts the simulator's figure beside the published one). Run a curve by hand with
`fleetchaos sweep examples/validation/<name>.sweep.yaml`, a single scenario with `fleetchaos run`.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

HERE = Path(__file__).resolve().parent
TRACES = HERE.parents[1].parent / "shared" / "traces"


def run(name: str, **overrides: Any):
    """The Result of scenario `name` (a file of this folder) with `--set`-style overrides, no twin."""
    from chaos import testing

    return testing.run(HERE / name, set=overrides, baseline=False).result


def sweep(name: str, out_dir: Path, workers: int | None = None) -> list[dict]:
    """Run sweep file `name` of this folder into `out_dir` and return its rows (one per point and seed).
    In-process by default (FLEETCHAOS_VALIDATION_WORKERS sets a process pool), so pytest-xdist's own
    workers are not multiplied."""
    from chaos.sweep import Sweep
    from chaos.sweep.run import run_sweep

    workers = workers or int(os.environ.get("FLEETCHAOS_VALIDATION_WORKERS", "1"))
    rows = run_sweep(Sweep.load(HERE / name), out_dir, workers=workers).rows
    bad = [r for r in rows if r["status"] != "ok"]
    assert not bad, f"{name}: points failed: {[(r['values'], r['error']) for r in bad]}"
    return rows


def pick(rows: list[dict], **values: Any) -> dict:
    """The one row whose axis values include `values` (keys use '__' for '.': deployment__tp=4)."""
    want = {k.replace("__", "."): v for k, v in values.items()}
    found = [r for r in rows if all(r["values"].get(k) == v for k, v in want.items())]
    assert len(found) == 1, f"expected one row with {want}, found {len(found)}"
    return found[0]


def mean_ttft_s(result) -> float:
    """Mean TTFT of the requests that got a first token."""
    return float(np.nanmean(result.log.ttft_s()))


# -- queueing theory -------------------------------------------------------------------------------------

def erlang_c(servers: int, offered_load: float) -> float:
    """Probability an arrival waits in an M/M/c queue (Erlang C), offered load a = lambda * E[S] < c."""
    if offered_load >= servers:
        return 1.0
    head = sum(offered_load ** k / math.factorial(k) for k in range(servers))
    tail = offered_load ** servers / math.factorial(servers) * servers / (servers - offered_load)
    return tail / (head + tail)


def mgc_wait_s(rate_per_s: float, service_mean_s: float, service_scv: float, servers: int) -> float:
    """Mean queueing delay of an M/G/c queue by the Allen-Cunneen approximation: the M/M/c wait scaled by
    (1 + Cs^2) / 2 for Poisson arrivals (Allen, "Probability, Statistics and Queueing Theory", 2nd ed.,
    §6.3; exact for c = 1, the Pollaczek-Khinchine formula). Infinite at or past saturation."""
    a = rate_per_s * service_mean_s
    if a >= servers:
        return math.inf
    return erlang_c(servers, a) / (servers / service_mean_s - rate_per_s) * (1.0 + service_scv) / 2.0


def service_time_s(result) -> tuple[float, float]:
    """Mean and squared coefficient of variation of the completed requests' end-to-end latency: the
    service time when nothing queued (run at light load to measure it)."""
    e2e = result.log.e2e_s()
    e2e = e2e[~np.isnan(e2e)]
    mean = float(e2e.mean())
    return mean, float(e2e.var() / mean ** 2)


def ratio(a: float, b: float) -> float:
    """a / b, for the messages."""
    return a / b if b else math.inf


def fmt(values: Mapping[str, float]) -> str:
    """{"x": 1.234} -> "x=1.23" for assertion messages."""
    return ", ".join(f"{k}={v:.3g}" for k, v in values.items())


# -- prefix reuse in a trace --------------------------------------------------------------------------------

def prefix_hit_ceiling(trace: Path, until_s: float, block_tokens: int = 512) -> float:
    """Share of prompt tokens an infinite prefix cache shared by the whole fleet would hit, over the
    Mooncake-format requests arriving before `until_s`: each request's longest run of leading hash_ids
    seen before (one id per `block_tokens`-token block), capped at its prompt length. No router and no
    KV capacity can beat it."""
    import json

    seen: set[int] = set()
    hit = total = 0
    with open(trace, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["timestamp"] / 1000.0 >= until_s:
                break
            ids = r.get("hash_ids") or []
            n = 0
            while n < len(ids) and ids[n] in seen:
                n += 1
            hit += min(n * block_tokens, r["input_length"])
            total += r["input_length"]
            seen.update(ids)
    return hit / total if total else 0.0
