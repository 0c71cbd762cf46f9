"""KV-cache arithmetic: bytes per token, how many tokens a replica holds, how long a KV transfer takes.

  kv_bytes_per_token     GQA: 2 (K and V) * n_layers * n_kv_heads * head_dim * dtype_bytes
                         MLA: n_layers * (kv_lora_rank + qk_rope_head_dim) * dtype_bytes
                         (one compressed latent plus the decoupled RoPE key per token and layer)
  per GPU of a TP group  GQA: KV heads are sharded, n_kv_heads / tp per rank, but never fewer than
                         one head (with tp > n_kv_heads each head is replicated);
                         MLA: the latent is shared by all heads, so every rank holds all of it
                         (replicated across TP ranks, not sharded).
  kv_capacity_tokens     free_per_gpu / kv_bytes_per_token_per_gpu, where
                         free_per_gpu = hbm * memory_fraction - weight_bytes / tp - reserve_bytes.
                         Every token lives on all ranks of the group, so the replica holds as many
                         tokens as one rank does.
  kv_transfer_time       path_latency_s + tokens * kv_bytes_per_token / path_Bps
"""
from __future__ import annotations

import math

import numpy as np

from chaos.catalog import GPUSpec, ModelSpec
from chaos.errors import PlacementError

# Per-GPU memory kept out of the KV pool besides the weights: vLLM profiles a forward pass at
# max_num_batched_tokens (8192) and reserves its peak activations, plus CUDA-graph pools, NCCL
# buffers and the CUDA context that gpu_memory_utilization does not see; about 1-3 GB per GPU
# for 8B-70B models. 2 GB is the middle of that range.
DEFAULT_RESERVE_BYTES = 2e9

_SUGGEST_TP = (1, 2, 4, 8, 16, 32, 64)


def kv_bytes_per_token(model: ModelSpec, dtype_bytes: int = 2) -> float:
    """KV-cache bytes one token occupies in the whole model (all layers, all heads), BF16 by default."""
    if model.attention == "mla":
        return float(model.n_layers * (model.kv_lora_rank + model.qk_rope_head_dim) * dtype_bytes)
    return float(2 * model.n_layers * model.n_kv_heads * model.head_dim * dtype_bytes)


def kv_bytes_per_token_per_gpu(model: ModelSpec, tp: int, dtype_bytes: int = 2) -> float:
    """KV bytes one token occupies on each GPU of a TP group (see the module docstring)."""
    whole = kv_bytes_per_token(model, dtype_bytes)
    if model.attention == "mla":
        return whole
    return whole / min(tp, model.n_kv_heads)


def _free_bytes_per_gpu(model: ModelSpec, gpu: GPUSpec, tp: int, memory_fraction: float,
                        reserve_bytes: float) -> float:
    return gpu.hbm_bytes * memory_fraction - model.weight_bytes / tp - reserve_bytes


def kv_capacity_tokens(model: ModelSpec, gpu: GPUSpec, tp: int, memory_fraction: float = 0.9,
                       reserve_bytes: float = DEFAULT_RESERVE_BYTES, *, dtype_bytes: int = 2,
                       min_tokens: int = 1) -> int:
    """Tokens of KV cache one replica (a TP group of `tp` GPUs) can hold.

    Raises PlacementError when the weights do not fit or leave room for fewer than `min_tokens`
    tokens (pass the longest sequence the deployment must serve), suggesting a TP size that fits.
    """
    if isinstance(tp, bool) or not isinstance(tp, (int, np.integer)) or tp < 1:
        raise PlacementError(f"expected a positive integer tensor-parallel size but got {tp!r}",
                             field="deployment.tp")
    if not 0 < memory_fraction <= 1:
        raise PlacementError(f"expected a memory fraction in (0, 1] but got {memory_fraction!r}",
                             field="engine.gpu_memory_utilization")
    tokens = _capacity(model, gpu, int(tp), memory_fraction, reserve_bytes, dtype_bytes)
    if tokens >= min_tokens:
        return tokens
    fits = [t for t in _SUGGEST_TP if t > tp
            and _capacity(model, gpu, t, memory_fraction, reserve_bytes, dtype_bytes) >= min_tokens]
    fix = f"use tp >= {fits[0]} or a larger GPU" if fits else "use a larger GPU or a smaller model"
    holds = "holds" if tp == 1 else "hold"
    budget = (f"{tp} x {gpu.name} at {memory_fraction:.0%} memory {holds} "
              f"{tp * gpu.hbm_bytes * memory_fraction / 1e9:.0f} GB for weights and KV "
              f"({reserve_bytes / 1e9:g} GB per GPU reserved for activations)")
    if tokens <= 0 and _free_bytes_per_gpu(model, gpu, tp, memory_fraction, reserve_bytes) <= 0:
        message = f"{model.name} needs {model.weight_bytes / 1e9:.0f} GB of weights; {budget} — {fix}"
    else:
        message = (f"{model.name} needs {model.weight_bytes / 1e9:.0f} GB of weights; {budget}, leaving KV "
                   f"room for {max(tokens, 0)} tokens but at least {min_tokens} are needed — {fix}")
    field = "deployment.tp" if fits else "deployment.model"
    raise PlacementError(message, field=field)


def _capacity(model: ModelSpec, gpu: GPUSpec, tp: int, memory_fraction: float, reserve_bytes: float,
              dtype_bytes: int) -> int:
    free = _free_bytes_per_gpu(model, gpu, tp, memory_fraction, reserve_bytes)
    if free <= 0:
        return 0
    return int(math.floor(free / kv_bytes_per_token_per_gpu(model, tp, dtype_bytes)))


def kv_transfer_time(model: ModelSpec, tokens: float | np.ndarray, path_Bps: float, path_latency_s: float,
                     *, dtype_bytes: int = 2) -> float | np.ndarray:
    """Seconds to move the KV of `tokens` tokens over a path (prefill -> decode replica)."""
    if not path_Bps > 0:
        raise ValueError(f"expected a positive path bandwidth but got path_Bps={path_Bps!r}")
    return path_latency_s + tokens * kv_bytes_per_token(model, dtype_bytes) / path_Bps
