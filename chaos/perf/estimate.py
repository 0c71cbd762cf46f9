"""A static what-if, in the style of aiconfigurator's estimate: one replica, one batch, no queueing.

  ttft_ms    one forward pass that prefills all `batch` prompts of `isl` tokens at once
             (batch x isl tokens, causal attention, batch sampled positions, no chunking)
  tpot_ms    mean latency of one decode step with all `batch` sequences decoding, over the contexts
             isl+1 ... isl+osl-1 (the osl-1 steps after the first token; 0 when osl == 1)
  request_latency_ms = ttft + (osl - 1) * tpot;  tokens_per_s = batch * osl / request latency;
  tokens_per_s_per_gpu = that / tp;  tokens_per_s_per_user = 1000 / tpot (a user's decode speed;
  osl / request latency when osl == 1)
  fits / max_batch   whether batch x (isl + osl) tokens, in whole KV blocks, fit the replica's KV pool,
             and the largest batch that does
  memory_gib per GPU: weights, kv (this batch's), activations (profile peak), reserve (non-torch)

The latencies are the same cost object's `iteration_time` / `decode_stretch` the engine calls, so a
static batch run through the engine gives exactly these numbers (tests/perf/test_estimate.py).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from chaos.catalog import GPUSpec, ModelSpec
from chaos.engine.cost import IterationCost
from chaos.errors import InputError
from chaos.perf.memory import (NON_TORCH_BYTES, NON_TORCH_TP_BYTES, activation_peak_bytes,
                               kv_bytes_per_token_per_gpu, kv_capacity_tokens)

GiB = 2.0 ** 30
# A TP group of one host rides NVLink; 1 us per hop is the topology room's default nvlink_latency.
NVLINK_LATENCY_S = 1e-6


@dataclass(frozen=True)
class Estimate:
    """The JSON keys of `fleetchaos estimate --json`, in order."""

    ttft_ms: float
    tpot_ms: float
    tokens_per_s: float
    tokens_per_s_per_gpu: float
    tokens_per_s_per_user: float
    request_latency_ms: float
    fits: bool
    max_batch: int
    memory_gib: dict

    def to_dict(self) -> dict:
        return asdict(self)


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"expected a positive integer but got {value!r}", field=name)
    return value


def estimate(cost: IterationCost, model: ModelSpec, gpu: GPUSpec, tp: int, *, batch: int, isl: int, osl: int,
             block_size: int = 16, memory_fraction: float = 0.9, max_num_batched_tokens: int = 8192,
             max_num_seqs: int = 256) -> Estimate:
    """Price one static batch on one replica (see the module docstring); `cost` is its latency source."""
    batch, isl, osl = _positive("batch", batch), _positive("isl", isl), _positive("osl", osl)
    ttft_s = float(cost.iteration_time(0, 0.0, batch * isl, batch * isl * (isl + 1) / 2.0, 0.0, batch))
    if osl > 1:
        # context length isl + j = the isl + j - 1 tokens in KV + the one decoded (the engine's decode_ctx_sum
        # counts the cached ones), for j = 1 .. osl - 1
        steps = cost.decode_stretch(batch, batch * float(isl), osl - 1)
        tpot_s = float(sum(float(x) for x in steps) / (osl - 1))
    else:
        tpot_s = 0.0
    request_s = ttft_s + (osl - 1) * tpot_s
    capacity = kv_capacity_tokens(model, gpu, tp, memory_fraction, max_num_batched_tokens=max_num_batched_tokens,
                                  max_num_seqs=max_num_seqs)
    per_seq_tokens = math.ceil((isl + osl) / block_size) * block_size
    max_batch = capacity // per_seq_tokens
    kv_per_gpu = batch * (isl + osl) * kv_bytes_per_token_per_gpu(model, tp)
    memory = {
        "weights": model.weight_bytes / tp / GiB,
        "kv": kv_per_gpu / GiB,
        "activations": activation_peak_bytes(model, tp, max_num_batched_tokens, max_num_seqs) / GiB,
        "reserve": (NON_TORCH_BYTES + (NON_TORCH_TP_BYTES if tp > 1 else 0.0)) / GiB,
    }
    tokens_per_s = batch * osl / request_s
    per_user = 1.0 / tpot_s if osl > 1 else osl / request_s
    return Estimate(ttft_ms=1e3 * ttft_s, tpot_ms=1e3 * tpot_s, tokens_per_s=tokens_per_s,
                    tokens_per_s_per_gpu=tokens_per_s / tp, tokens_per_s_per_user=per_user,
                    request_latency_ms=1e3 * request_s, fits=batch <= max_batch, max_batch=int(max_batch),
                    memory_gib=memory)
