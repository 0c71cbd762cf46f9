"""Synthetic request streams: arrival processes and token-length distributions.

Arrivals come from the "arrivals" stream and lengths from the "lengths" stream, so changing a length
distribution never moves an arrival (and vice versa). Draws are made in fixed-size chunks so that the
first k values never depend on how many are drawn in total.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from chaos.errors import WorkloadError
from chaos.workload.config import LengthDist, PrefixConfig, SyntheticConfig, format_from_path
from chaos.workload.traces import read_trace

CHUNK = 4096
MAX_REQUESTS = 50_000_000   # guard against "rate: 1e9/s for 1h" filling memory


def arrival_times(cfg: SyntheticConfig, rng: np.random.Generator, *, stop_s: float | None,
                  max_requests: int | None) -> np.ndarray:
    """Open-loop arrival times (s, increasing, first one after one gap) until stop_s or max_requests.

    poisson: exponential gaps, mean 1/rate. gamma: gaps with mean 1/rate and coefficient of variation
    cv (shape 1/cv^2; cv > 1 is burstier than Poisson). constant: gaps exactly 1/rate.
    """
    if stop_s is None and max_requests is None:
        raise WorkloadError("synthetic arrivals need requests: N or a duration (here or the scenario's)",
                            field="workload.synthetic")
    rate = float(cfg.rate)  # validated > 0
    limit = max_requests if max_requests is not None else MAX_REQUESTS
    if stop_s is not None and stop_s * rate > MAX_REQUESTS:
        raise WorkloadError(f"rate {rate:g}/s for {stop_s:g}s gives more than {MAX_REQUESTS} requests",
                            field="workload.synthetic.rate")
    parts: list[np.ndarray] = []
    t0, n = 0.0, 0
    while n < limit:
        if cfg.arrival == "poisson":
            gaps = rng.exponential(1.0 / rate, CHUNK)
        elif cfg.arrival == "gamma":
            shape = 1.0 / cfg.cv ** 2
            gaps = rng.gamma(shape, 1.0 / (rate * shape), CHUNK)
        else:  # constant
            gaps = np.full(CHUNK, 1.0 / rate)
        t = t0 + np.cumsum(gaps)
        if stop_s is not None and t[-1] >= stop_s:
            t = t[: int(np.searchsorted(t, stop_s, side="left"))]
            parts.append(t)
            n += len(t)
            break
        parts.append(t)
        n += len(t)
        t0 = float(t[-1])
    out = np.concatenate(parts) if parts else np.empty(0)
    return out[:limit].astype(np.float64, copy=False)


@lru_cache(maxsize=16)
def _empirical_values(path: str, mtime_ns: int, column: str) -> np.ndarray:
    raw = read_trace(Path(path), format_from_path(path), field="workload.synthetic.empirical.trace")
    return raw.input_tokens if column == "input" else raw.output_tokens


def empirical_values(dist: LengthDist, side: str, base_dir: Path, field: str) -> np.ndarray:
    """The token counts of column `dist.column` (default `side`) of the trace `dist.trace`."""
    path = (Path(base_dir) / dist.trace).resolve()
    if not path.is_file():
        raise WorkloadError(f"trace file not found: {path} (resolved against {base_dir})",
                            field=f"{field}.trace")
    format_from_path(str(path), field=f"{field}.trace")
    return _empirical_values(str(path), path.stat().st_mtime_ns, dist.column or side)


def draw_lengths(dist: LengthDist, n: int, rng: np.random.Generator, *, side: str, base_dir: Path,
                 field: str) -> np.ndarray:
    """n token counts (int64, >= 1) from `dist`; chunked so the first k draws do not depend on n."""
    values = empirical_values(dist, side, base_dir, field) if dist.dist == "empirical" else None
    chunks = []
    for start in range(0, max(n, 0), CHUNK):
        chunks.append(_draw_chunk(dist, CHUNK, rng, values))
    out = np.concatenate(chunks)[:n] if chunks else np.empty(0, dtype=np.int64)
    return out.astype(np.int64, copy=False)


def _draw_chunk(dist: LengthDist, k: int, rng: np.random.Generator, values: np.ndarray | None) -> np.ndarray:
    if dist.dist == "fixed":
        return np.full(k, dist.value, dtype=np.int64)
    if dist.dist == "uniform":
        return rng.integers(dist.min, dist.max, endpoint=True, size=k)
    if dist.dist == "empirical":
        return values[rng.integers(0, len(values), size=k)]
    # lognormal
    if dist.sigma is not None:
        sigma = dist.sigma
    else:
        sigma = math.sqrt(math.log1p(dist.cv ** 2))
    mu = math.log(dist.median) if dist.median is not None else math.log(dist.mean) - sigma ** 2 / 2
    x = np.rint(rng.lognormal(mu, sigma, size=k)).astype(np.int64)
    lo = dist.min if dist.min is not None else 1
    return np.clip(x, max(lo, 1), dist.max if dist.max is not None else None)


def draw_groups(prefix: PrefixConfig | None, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """Prefix-group index per request (uniform over groups), or None without a prefix model."""
    if prefix is None:
        return None
    chunks = [rng.integers(0, prefix.groups, size=CHUNK) for _ in range(0, max(n, 0), CHUNK)]
    return np.concatenate(chunks)[:n] if chunks else np.empty(0, dtype=np.int64)


class PrefixHasher:
    """Hash ids for synthetic prompts: block i (of `block_tokens` tokens) is shared by a prefix group
    when it lies entirely within the first min(prefix.tokens, input) tokens, otherwise unique."""

    def __init__(self, prefix: PrefixConfig, block_tokens: int) -> None:
        self.block = block_tokens
        self.shared_blocks = prefix.tokens // block_tokens
        self._next_unique = prefix.groups * self.shared_blocks

    def ids(self, input_tokens: int, group: int) -> tuple[int, ...]:
        n_blocks = -(-int(input_tokens) // self.block)
        shared = min(self.shared_blocks, int(input_tokens) // self.block)
        base = int(group) * self.shared_blocks
        unique = n_blocks - shared
        first = self._next_unique
        self._next_unique += unique
        return tuple(range(base, base + shared)) + tuple(range(first, first + unique))
