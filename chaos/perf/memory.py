"""KV-cache arithmetic: bytes per token, how many tokens a replica holds, how long a KV transfer takes.

  kv_bytes_per_token     GQA: 2 (K and V) * n_layers * n_kv_heads * head_dim * dtype_bytes
                         MLA: n_layers * (kv_lora_rank + qk_rope_head_dim) * dtype_bytes
                         (one compressed latent plus the decoupled RoPE key per token and layer)
  per GPU of a TP group  GQA: KV heads are sharded, n_kv_heads / tp per rank, but never fewer than
                         one head (with tp > n_kv_heads each head is replicated);
                         MLA: the latent is shared by all heads, so every rank holds all of it
                         (replicated across TP ranks, not sharded).
  kv_capacity_tokens     free_per_gpu / kv_bytes_per_token_per_gpu, where
                         free_per_gpu = hbm * memory_fraction - weight_bytes / tp - reserve_bytes,
                         hbm the CUDA-visible bytes (catalog) and reserve_bytes what vLLM's start-up
                         profile keeps out of the KV pool (non_kv_reserve_bytes below). Every token
                         lives on all ranks of the group, so the replica holds as many tokens as one
                         rank does. Checked against published vLLM start-up logs in
                         tests/perf/test_memory.py (docs/calibration.md lists them).
  non_kv_reserve_bytes   non-torch memory (CUDA context, cuBLAS workspaces; NCCL and custom
                         all-reduce buffers when tp > 1) + the activation peak of vLLM's profiling
                         forward pass at max_num_batched_tokens + the sampler's logits for
                         max_num_seqs sequences. Per GPU.
  kv_transfer_time       path_latency_s + tokens * kv_bytes_per_token / path_Bps
"""
from __future__ import annotations

import math

import numpy as np

from chaos.catalog import GPUSpec, ModelSpec
from chaos.errors import PlacementError

# Non-torch memory vLLM measures at start-up on one GPU: CUDA context, cuBLAS/cuDNN workspaces.
# Published vLLM logs for Llama-3.1-8B on one H100 print "non_torch_memory takes 0.12GiB" to
# "0.35GiB" (docs/calibration.md, KV capacity); 0.25 GiB is the middle.
NON_TORCH_BYTES = 0.25 * 2**30
# Extra non-torch memory of a TP group: NCCL communicator buffers plus vLLM's custom all-reduce
# IPC buffers, about 0.5 GiB per GPU (vLLM TP>1 start-up logs report non_torch_memory 0.5-1.5 GiB).
NON_TORCH_TP_BYTES = 0.5 * 2**30
# vLLM defaults for the profiling pass (EngineArgs: max_num_batched_tokens 8192 with chunked
# prefill, max_num_seqs 256).
DEFAULT_PROFILE_TOKENS = 8192
DEFAULT_PROFILE_SEQS = 256

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


def activation_peak_bytes(model: ModelSpec, tp: int, max_num_batched_tokens: int = DEFAULT_PROFILE_TOKENS,
                          max_num_seqs: int = DEFAULT_PROFILE_SEQS) -> float:
    """Per-GPU peak of vLLM's profiling forward pass (BF16 activations) plus its sampler's FP32 logits.

    Per token the largest live tensors of one layer: the FFN's gate/up output (2 x ffn / tp), its
    activation (ffn / tp), the QKV projection ((heads + 2 kv heads) x head_dim / tp) and the residual
    and normed hidden states (2 x hidden); ffn is the dense FFN or k routed experts' worth for MoE.
    The sampler holds logits and probabilities (2 x FP32) over the whole vocabulary for
    max_num_seqs sequences. Llama-3.1-8B at 8192 tokens: 1.12 GiB; vLLM logs 1.19-1.24 GiB.
    """
    ffn = max(model.ffn_size if model.n_dense_layers or not model.is_moe else 0,
              model.n_active_experts * model.moe_ffn_size)
    kv_heads = max(1, model.n_kv_heads // tp)
    per_token = 3 * ffn / tp + (model.n_heads / tp + 2 * kv_heads) * model.head_dim + 2 * model.hidden_size
    return 2.0 * per_token * max_num_batched_tokens + 8.0 * max_num_seqs * model.vocab_size


def non_kv_reserve_bytes(model: ModelSpec, tp: int, max_num_batched_tokens: int = DEFAULT_PROFILE_TOKENS,
                         max_num_seqs: int = DEFAULT_PROFILE_SEQS) -> float:
    """Per-GPU memory vLLM keeps out of the KV pool besides the weights (see the module docstring)."""
    non_torch = NON_TORCH_BYTES + (NON_TORCH_TP_BYTES if tp > 1 else 0.0)
    return non_torch + activation_peak_bytes(model, tp, max_num_batched_tokens, max_num_seqs)


def _free_bytes_per_gpu(model: ModelSpec, gpu: GPUSpec, tp: int, memory_fraction: float,
                        reserve_bytes: float) -> float:
    return gpu.hbm_bytes * memory_fraction - model.weight_bytes / tp - reserve_bytes


def kv_capacity_tokens(model: ModelSpec, gpu: GPUSpec, tp: int, memory_fraction: float = 0.9,
                       reserve_bytes: float | None = None, *, dtype_bytes: int = 2, min_tokens: int = 1,
                       max_num_batched_tokens: int = DEFAULT_PROFILE_TOKENS,
                       max_num_seqs: int = DEFAULT_PROFILE_SEQS) -> int:
    """Tokens of KV cache one replica (a TP group of `tp` GPUs) can hold.

    reserve_bytes: per-GPU memory kept out of the KV pool besides the weights; None = what vLLM's
    start-up profile reserves for this model, TP and scheduler budget (non_kv_reserve_bytes).
    Raises PlacementError when the weights do not fit or leave room for fewer than `min_tokens`
    tokens (pass the longest sequence the deployment must serve), suggesting a TP size that fits.
    """
    if isinstance(tp, bool) or not isinstance(tp, (int, np.integer)) or tp < 1:
        raise PlacementError(f"expected a positive integer tensor-parallel size but got {tp!r}",
                             field="deployment.tp")
    def reserve_at(t: int) -> float:
        if reserve_bytes is None:
            return non_kv_reserve_bytes(model, t, max_num_batched_tokens, max_num_seqs)
        return reserve_bytes
    if not 0 < memory_fraction <= 1:
        raise PlacementError(f"expected a memory fraction in (0, 1] but got {memory_fraction!r}",
                             field="engine.gpu_memory_utilization")
    reserve = reserve_at(int(tp))
    tokens = _capacity(model, gpu, int(tp), memory_fraction, reserve, dtype_bytes)
    if tokens >= min_tokens:
        return tokens
    fits = [t for t in _SUGGEST_TP if t > tp
            and _capacity(model, gpu, t, memory_fraction, reserve_at(t), dtype_bytes) >= min_tokens]
    fix = f"use tp >= {fits[0]} or a larger GPU" if fits else "use a larger GPU or a smaller model"
    holds = "holds" if tp == 1 else "hold"
    budget = (f"{tp} x {gpu.name} at {memory_fraction:.0%} memory {holds} "
              f"{tp * gpu.hbm_bytes * memory_fraction / 1e9:.0f} GB for weights and KV "
              f"({reserve / 1e9:.1f} GB per GPU reserved for activations)")
    if tokens <= 0 and _free_bytes_per_gpu(model, gpu, tp, memory_fraction, reserve) <= 0:
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
