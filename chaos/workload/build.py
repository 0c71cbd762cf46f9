"""Turn a validated WorkloadConfig into a Workload (trace replay or synthetic stream)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from chaos import rng as rngs
from chaos.errors import WorkloadError
from chaos.workload.config import SyntheticConfig, TraceConfig, WorkloadConfig
from chaos.workload.synthetic import (CHUNK, PrefixHasher, arrival_times, draw_groups, draw_lengths,
                                      empirical_values)
from chaos.workload.traces import read_trace
from chaos.workload.workload import ClosedLoop, Workload


def build_workload(config: WorkloadConfig, *, seed: int, base_dir: Path,
                   duration_s: float | None) -> Workload:
    """The request stream of `config` for `seed`; relative paths resolve against `base_dir`;
    synthetic arrivals stop at `duration_s` (or the synthetic `duration`, whichever is earlier)."""
    if config.trace is not None:
        return _from_trace(config.trace, seed=seed, base_dir=Path(base_dir))
    return _synthetic(config.synthetic, seed=seed, base_dir=Path(base_dir), duration_s=duration_s)


def _from_trace(cfg: TraceConfig, *, seed: int, base_dir: Path) -> Workload:
    field = "workload.trace"
    path = (base_dir / cfg.path).resolve()
    raw = read_trace(path, cfg.resolved_format(), field=f"{field}.path")
    arrival = raw.arrival_s
    keep = np.ones(len(arrival), dtype=bool)
    shift = 0.0
    if cfg.window is not None:
        start, end = cfg.window
        keep &= (arrival >= start) & (arrival < end)
        shift = start
    if cfg.sample < 1.0:
        # one uniform per trace row, so the kept set depends only on (seed, sample), not the window
        keep &= rngs.stream(seed, "arrivals").random(len(arrival)) < cfg.sample
    idx = np.flatnonzero(keep)
    idx = idx[np.argsort(arrival[idx], kind="stable")]
    if cfg.limit is not None:
        idx = idx[: cfg.limit]
    if len(idx) == 0:
        raise WorkloadError(
            f"no requests left in {path} after window={list(cfg.window) if cfg.window else None}, "
            f"sample={cfg.sample}; the trace spans 0..{raw.arrival_s.max():.1f}s", field=field)
    hashes = [raw.hash_ids[i] for i in idx] if raw.hash_ids is not None else None
    return Workload(arrival_s=(arrival[idx] - shift) / cfg.time_scale,
                    input_tokens=raw.input_tokens[idx].copy(), output_tokens=raw.output_tokens[idx].copy(),
                    hash_ids=hashes, hash_block_tokens=raw.hash_block_tokens)


def _synthetic(cfg: SyntheticConfig, *, seed: int, base_dir: Path, duration_s: float | None) -> Workload:
    field = "workload.synthetic"
    stops = [d for d in (cfg.duration, duration_s) if d is not None]
    stop_s = min(stops) if stops else None
    # resolve empirical traces now so a missing file fails at build time, not mid-run
    for side in ("input", "output"):
        dist = getattr(cfg, side)
        if dist.dist == "empirical":
            empirical_values(dist, side, base_dir, f"{field}.{side}")
    if cfg.arrival == "closed_loop":
        return Workload(arrival_s=np.empty(0), input_tokens=np.empty(0, dtype=np.int64),
                        output_tokens=np.empty(0, dtype=np.int64),
                        hash_ids=[] if cfg.prefix is not None else None,
                        hash_block_tokens=cfg.hash_block_tokens,
                        closed_loop=_closed_loop(cfg, seed=seed, base_dir=base_dir, stop_s=stop_s))
    arrival = arrival_times(cfg, rngs.stream(seed, "arrivals"), stop_s=stop_s, max_requests=cfg.requests)
    n = len(arrival)
    inp, out, hashes = _shapes(cfg, n, rngs.stream(seed, "lengths"), base_dir, PrefixHasher(
        cfg.prefix, cfg.hash_block_tokens) if cfg.prefix is not None else None)
    return Workload(arrival_s=arrival, input_tokens=inp, output_tokens=out, hash_ids=hashes,
                    hash_block_tokens=cfg.hash_block_tokens)


def _shapes(cfg: SyntheticConfig, n: int, gen: np.random.Generator, base_dir: Path,
            hasher: PrefixHasher | None) -> tuple[np.ndarray, np.ndarray, list | None]:
    """Input lengths, output lengths, then prefix groups: each drawn in whole chunks from `gen`."""
    field = "workload.synthetic"
    inp = draw_lengths(cfg.input, n, gen, side="input", base_dir=base_dir, field=f"{field}.input")
    out = draw_lengths(cfg.output, n, gen, side="output", base_dir=base_dir, field=f"{field}.output")
    groups = draw_groups(cfg.prefix, n, gen)
    hashes = None
    if hasher is not None and groups is not None:
        hashes = [hasher.ids(i, g) for i, g in zip(inp.tolist(), groups.tolist())]
    return inp, out, hashes


def _closed_loop(cfg: SyntheticConfig, *, seed: int, base_dir: Path, stop_s: float | None) -> ClosedLoop:
    if stop_s is None and cfg.requests is None:
        raise WorkloadError("a closed loop never runs dry: give requests: N or a duration (here or the "
                            "scenario's)", field="workload.synthetic")
    state: dict[str, object] = {}

    def reset() -> None:
        state["gen"] = rngs.stream(seed, "lengths")
        state["hasher"] = (PrefixHasher(cfg.prefix, cfg.hash_block_tokens)
                           if cfg.prefix is not None else None)

    def draw() -> tuple[np.ndarray, np.ndarray, list | None]:
        return _shapes(cfg, CHUNK, state["gen"], base_dir, state["hasher"])

    reset()
    return ClosedLoop(concurrency=int(cfg.concurrency), think_time_s=float(cfg.think_time),
                      max_requests=cfg.requests, stop_s=stop_s, _draw=draw, _reset=reset)
