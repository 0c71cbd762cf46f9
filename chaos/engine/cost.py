"""What the engine needs from a latency model: the cost of one iteration and of a pure-decode stretch.

Every latency source satisfies it (DESIGN principle 9): `chaos.perf.PerfModel` (the roofline of a
backend profile) and the table-backed sources in chaos.perf.sources; tests use small deterministic fakes.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class IterationCost(Protocol):
    """Latency (seconds) of engine iterations; `decode_stretch` must equal `iteration_time` elementwise."""

    def iteration_time(self, n_decode: int, decode_ctx_sum: float, prefill_tokens: int,
                       prefill_attn_ctx: float = 0.0, prefill_kv_read: float = 0.0,
                       prefill_seqs: int | None = None) -> float:
        """Seconds for one iteration with `n_decode` decoding sequences and `prefill_tokens` prompt tokens
        in `prefill_seqs` chunks (each sampled once; None: one when prefill_tokens > 0)."""
        ...

    def decode_stretch(self, n_decode: int, ctx_sum0: float, k: int) -> np.ndarray:
        """Latencies of k pure-decode iterations; iteration i has decode_ctx_sum = ctx_sum0 + i*n_decode."""
        ...
