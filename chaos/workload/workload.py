"""The request stream a simulation replays: open-loop columns (`Workload`) or a closed-loop driver."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

# (input_tokens, output_tokens, hash_ids or None)
RequestShape = tuple[int, int, "tuple[int, ...] | None"]


@dataclass(slots=True)
class ClosedLoop:
    """`concurrency` users, each sending a request, waiting for it to finish, thinking `think_time_s`,
    and sending the next; arrivals depend on completions, so the simulation drives it via next_request.

    Lengths come from the "lengths" stream in fixed chunks of the pool size, so the k-th request's
    shape is the same whatever the timing. `max_requests` / `stop_s` end the stream: next_request
    returns None after max_requests requests or when now_s > stop_s. Call `reset()` before replaying it in a second run.
    """
    concurrency: int
    think_time_s: float
    max_requests: int | None
    stop_s: float | None
    _draw: Callable[[], tuple[np.ndarray, np.ndarray, list | None]] = field(repr=False)
    _reset: Callable[[], None] = field(repr=False)
    _pool: tuple[np.ndarray, np.ndarray, list | None] | None = field(default=None, repr=False)
    _pos: int = field(default=0, repr=False)
    issued: int = 0

    def next_request(self, now_s: float) -> RequestShape | None:
        """Shape of the next request sent at `now_s`, or None once the stream is over."""
        if self.max_requests is not None and self.issued >= self.max_requests:
            return None
        if self.stop_s is not None and now_s > self.stop_s:
            return None
        if self._pool is None or self._pos >= len(self._pool[0]):
            self._pool = self._draw()
            self._pos = 0
        inp, out, hashes = self._pool
        i = self._pos
        self._pos += 1
        self.issued += 1
        return int(inp[i]), int(out[i]), (hashes[i] if hashes is not None else None)

    def reset(self) -> None:
        """Start the stream over (same seed, same sequence)."""
        self._reset()
        self._pool = None
        self._pos = 0
        self.issued = 0


@dataclass(slots=True)
class Workload:
    """Requests as numpy columns sorted by arrival; request i has id i.

    hash_ids holds per request one id per `hash_block_tokens` prompt tokens (equal ids = identical
    prefix block), or None when the source has no prefix information. Closed-loop workloads have
    empty columns and a `closed_loop` driver instead.
    """
    arrival_s: np.ndarray          # float64, non-decreasing
    input_tokens: np.ndarray       # int64, >= 1
    output_tokens: np.ndarray      # int64, >= 1
    hash_ids: list[tuple[int, ...]] | None = None
    hash_block_tokens: int = 512
    closed_loop: ClosedLoop | None = None
    tenant: np.ndarray | None = None   # int64 tenant id per request (chaos.workload.tenants); None: all 0

    def __post_init__(self) -> None:
        n = len(self.arrival_s)
        if len(self.input_tokens) != n or len(self.output_tokens) != n or (
                self.hash_ids is not None and len(self.hash_ids) != n) or (
                self.tenant is not None and len(self.tenant) != n):
            raise ValueError("Workload columns must have equal lengths")

    def __len__(self) -> int:
        return len(self.arrival_s)

    def tenant_of(self, i: int) -> int:
        """Tenant id of request i (0 without tenants)."""
        return int(self.tenant[i]) if self.tenant is not None else 0

    @property
    def ids(self) -> np.ndarray:
        """Request ids 0..n-1 in arrival order."""
        return np.arange(len(self.arrival_s), dtype=np.int64)

    @property
    def span_s(self) -> float:
        """Time from the first to the last arrival (0 for fewer than two requests)."""
        return float(self.arrival_s[-1] - self.arrival_s[0]) if len(self.arrival_s) > 1 else 0.0
