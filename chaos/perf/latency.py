"""Latency of one engine iteration (a batch of decodes plus prefill chunks) on one TP replica.

Per GPU of a TP group of size tp, for a batch of T = n_decode + prefill_tokens tokens of which
S = n_decode + prefill_seqs are sampled (vLLM computes logits only at each request's last scheduled
position, not for every prompt token):

  FLOPs    = 2 * body_params * (T + gemm_half_tokens) / (tp * peak_w * mfu)
             + 2 * lm_head_params * S / (tp * peak_bf16 * mfu)
             + A_dec * decode_ctx_sum / (tp * peak_attn * attention_decode_efficiency)
             + A_pre * prefill_attn_ctx / (tp * peak_attn * attention_prefill_efficiency)
             (GEMM efficiency mfu * T / (T + gemm_half_tokens) rises with the tokens of the iteration)
             body_params = n_active_params - embedding - LM head (the embedding is a row lookup, no FLOPs)
             peak_w    = fp8_flops for FP8 weights (weight_dtype_bytes == 1), else bf16_flops;
             peak_bf16 = bf16_flops: FP8 checkpoints keep the LM head in BF16;
             peak_attn = fp8_flops only with an FP8 KV cache (kv_dtype_bytes == 1), else bf16_flops:
                         FlashAttention/MLA kernels compute in the KV dtype, not the weights' dtype.
             A = attention FLOPs per (query token, context token) over all layers:
               GQA: 4 * n_layers * n_heads * head_dim        (QK^T and PV, 2 FLOPs per MAC)
               MLA decode (absorbed):   2 * n_layers * n_heads * (2 * kv_lora_rank + qk_rope_head_dim)
               MLA prefill (expanded):  2 * n_layers * n_heads * (2 * head_dim + qk_rope_head_dim)
  bytes    = dense_weight_bytes / tp                                   (at memory_efficiency)
             + routed_expert_bytes / tp * (1 - (1 - k/E)^T)           (MoE, at grouped_gemm_efficiency)
             + (decode_ctx_sum + prefill_kv_read + T) * kv_bytes_per_token_per_gpu
             + T * hidden_size * 2 / tp                                (embedding rows looked up)
             The MoE term is E_distinct/E, with E_distinct = E * (1 - (1 - k/E)^T) the expected number
             of distinct experts T tokens touch in one layer (each picks k of E uniformly);
             dense_weight_bytes = weight_bytes - routed_expert_bytes - embedding table (attention,
             shared experts, LM head, dense layers; the table stays when tied to the LM head).
             KV: read the cached context, write the T new tokens.
  gpu_s    = slowdown * (max(FLOPs time, bytes time) + n_moe_layers * moe_layer_s)
             The plain max keeps the roofline monotone: more tokens or context never lower the
             latency. moe_layer_s is the per-MoE-layer floor of its small routing/grouped kernels.
  comm_s   = 2 * n_layers all-reduces (after attention and after the FFN) when tp > 1, each a ring:
             2 * (tp-1)/tp * T * hidden_size * 2 bytes / (link_Bps * allreduce_efficiency)
             + 2 * (tp-1) * link_latency_s + allreduce_latency_s (per call: small messages are latency-bound)
  repl_s   = T * kv_bytes_per_token_per_gpu / kv_replication_Bps when KV replication is on
             (build_perf_model(kv_replication_Bps=...), DejaVu-style streaming of each iteration's new
             KV to a peer replica over the NIC; every GPU ships its own shard in parallel). Not
             overlapped with compute: a conservative bound, the iteration waits for its copy.
  over_s   = overhead_s (pure decode) or overhead_prefill_s (a prompt chunk in the batch)
             + overhead_per_seq_s * S
  latency  = gpu_s + comm_s + repl_s + over_s, and exactly 0.0 when T == 0.

Every term is linear in its work argument except the MoE term, which is increasing and saturates at
all experts. The constants are folded into per-unit seconds once, in build_perf_model; the scalar
path is plain float math and the array path runs the same expression on numpy arrays. A pure-decode
iteration (no prefill) sums its constants first: max(c1 * ctx + a, c2 * ctx + b) (`_decode_terms`), the
same value up to rounding, evaluated with the same float operations by the scalar path and by a decode
stretch, so a stretch prices each iteration exactly as the per-iteration reference stepper does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from chaos.catalog import GPUSpec, ModelSpec
from chaos.errors import InputError, PlacementError
from chaos.perf.efficiency import Efficiency
from chaos.perf.memory import kv_bytes_per_token_per_gpu

_ARRAYS = (np.ndarray, list, tuple)
# Embedding table and LM head are BF16 even in FP8 checkpoints (DeepSeek-V3's FP8 quantisation covers
# the transformer blocks' linear layers, not embed_tokens or lm_head).
_EMBED_DTYPE_BYTES = 2


@dataclass(frozen=True, slots=True)
class PerfModel:
    """Iteration latency of one replica; built once by build_perf_model, called in the engine's hot loop."""

    model: ModelSpec
    gpu: GPUSpec
    tp: int
    link_Bps: float
    link_latency_s: float
    efficiency: Efficiency
    slowdown: float
    # folded constants, seconds per unit of work (per GPU, before slowdown)
    compute_s_per_token: float
    compute_fixed_s: float          # GEMM ramp: compute_s_per_token * gemm_half_tokens
    compute_s_per_sampled: float    # LM head per sampled position
    compute_s_per_decode_ctx: float
    compute_s_per_prefill_ctx: float
    dense_weights_s: float
    routed_experts_s: float
    expert_miss: float          # 1 - k/E: probability one token does not pick a given expert
    kv_s_per_token: float
    embed_s_per_token: float        # the embedding row a new token looks up
    moe_floor_s: float              # n_moe_layers * moe_layer_s
    allreduce_fixed_s: float
    allreduce_s_per_token: float
    overhead_s: float               # pure-decode iteration
    overhead_prefill_s: float       # iteration with a prompt chunk
    overhead_per_seq_s: float
    kv_replication_Bps: float | None = None     # NIC bandwidth per GPU for KV replication; None = off
    kv_replication_s_per_token: float = 0.0     # kv_bytes_per_token_per_gpu / kv_replication_Bps

    def iteration_time(self, n_decode, decode_ctx_sum, prefill_tokens, prefill_attn_ctx=0.0,
                       prefill_kv_read=0.0, prefill_seqs=None):
        """Seconds for one engine iteration; any argument may be an array (broadcast) -> array result.

        n_decode: sequences decoding one token each; decode_ctx_sum: tokens already in their KV;
        prefill_tokens: prompt tokens computed this iteration; prefill_attn_ctx: sum over those tokens
        of the context each attends to; prefill_kv_read: prefix tokens of the chunks read from KV;
        prefill_seqs: prompts (chunks) in the iteration, each sampled once; None = one when
        prefill_tokens > 0 (the engine's protocol does not pass it; the LM head of one extra sampled
        position is ~0.01% of a prefill chunk).
        """
        if (isinstance(n_decode, _ARRAYS) or isinstance(decode_ctx_sum, _ARRAYS)
                or isinstance(prefill_tokens, _ARRAYS) or isinstance(prefill_attn_ctx, _ARRAYS)
                or isinstance(prefill_kv_read, _ARRAYS) or isinstance(prefill_seqs, _ARRAYS)):
            dec = np.asarray(n_decode, dtype=np.float64)
            pre = np.asarray(prefill_tokens, dtype=np.float64)
            tokens = dec + pre
            seqs = (pre > 0).astype(np.float64) if prefill_seqs is None else np.asarray(prefill_seqs, np.float64)
            dctx = np.asarray(decode_ctx_sum, dtype=np.float64)
            overhead = np.where(pre > 0, self.overhead_prefill_s, self.overhead_s)
            t = _latency(self, tokens, dec + seqs, dctx, dctx + np.asarray(prefill_kv_read, dtype=np.float64),
                         np.asarray(prefill_attn_ctx, dtype=np.float64), overhead, np.maximum)
            return np.where(tokens > 0, t, 0.0)
        tokens = float(n_decode + prefill_tokens)
        if tokens <= 0:
            return 0.0
        if prefill_tokens == 0 and not prefill_seqs:       # pure decode: the stretch's expression
            return _decode_latency(self, tokens, float(decode_ctx_sum))
        seqs = (1.0 if prefill_tokens > 0 else 0.0) if prefill_seqs is None else float(prefill_seqs)
        overhead = self.overhead_prefill_s if prefill_tokens > 0 else self.overhead_s
        return float(_latency(self, tokens, n_decode + seqs, decode_ctx_sum, decode_ctx_sum + prefill_kv_read,
                              prefill_attn_ctx, overhead, max))

    def decode_stretch(self, n_decode: int, ctx_sum0: float, k: int) -> np.ndarray:
        """Latencies of k consecutive pure-decode iterations; iteration i has ctx sum ctx_sum0 + i*n_decode."""
        if n_decode <= 0:
            return np.zeros(k)
        return _decode_latencies(self, float(n_decode), ctx_sum0, k)

    def breakdown(self, n_decode: float, decode_ctx_sum: float, prefill_tokens: float,
                  prefill_attn_ctx: float = 0.0, prefill_kv_read: float = 0.0,
                  prefill_seqs: float | None = None) -> dict[str, float]:
        """Scalar parts of iteration_time in seconds: compute_s and memory_s (after slowdown; the
        roofline takes the larger), moe_floor_s, allreduce_s, replication_s, overhead_s, total_s."""
        tokens = float(n_decode + prefill_tokens)
        if tokens <= 0:
            return dict(compute_s=0.0, memory_s=0.0, moe_floor_s=0.0, allreduce_s=0.0, replication_s=0.0,
                        overhead_s=0.0, total_s=0.0)
        seqs = (1.0 if prefill_tokens > 0 else 0.0) if prefill_seqs is None else float(prefill_seqs)
        compute, memory = _roofline(self, tokens, n_decode + seqs, decode_ctx_sum,
                                    decode_ctx_sum + prefill_kv_read, prefill_attn_ctx)
        overhead = (self.overhead_prefill_s if prefill_tokens > 0 else self.overhead_s) + (
            n_decode + seqs) * self.overhead_per_seq_s
        return dict(compute_s=self.slowdown * compute, memory_s=self.slowdown * memory,
                    moe_floor_s=self.slowdown * self.moe_floor_s,
                    allreduce_s=self.allreduce_fixed_s + tokens * self.allreduce_s_per_token,
                    replication_s=tokens * self.kv_replication_s_per_token, overhead_s=overhead,
                    total_s=self.iteration_time(n_decode, decode_ctx_sum, prefill_tokens,
                                                prefill_attn_ctx, prefill_kv_read, prefill_seqs))

    def with_slowdown(self, slowdown: float) -> "PerfModel":
        """The same replica with its GPU time multiplied by `slowdown` (a straggler, throttling)."""
        _check_slowdown(slowdown)
        return replace(self, slowdown=float(slowdown))


def _roofline(p: PerfModel, tokens, sampled, dctx, ctx_read, pattn):
    """(compute seconds, memory seconds) of one iteration before slowdown (see the module docstring)."""
    compute = (p.compute_fixed_s + tokens * p.compute_s_per_token + sampled * p.compute_s_per_sampled
               + dctx * p.compute_s_per_decode_ctx + pattn * p.compute_s_per_prefill_ctx)
    memory = (p.dense_weights_s + p.routed_experts_s * (1.0 - p.expert_miss ** tokens)
              + (ctx_read + tokens) * p.kv_s_per_token + tokens * p.embed_s_per_token)
    return compute, memory


def _latency(p: PerfModel, tokens, sampled, dctx, ctx_read, pattn, overhead, maximum):
    """The one latency expression shared by the scalar and array paths (see the module docstring)."""
    compute, memory = _roofline(p, tokens, sampled, dctx, ctx_read, pattn)
    return (p.slowdown * (maximum(compute, memory) + p.moe_floor_s) + p.allreduce_fixed_s
            + tokens * (p.allreduce_s_per_token + p.kv_replication_s_per_token) + overhead
            + sampled * p.overhead_per_seq_s)


def _decode_terms(p: PerfModel, n: float) -> tuple[float, float, float]:
    """A pure-decode iteration of n sequences is max(c1 * ctx + a, c2 * ctx + b), then the MoE floor and
    slowdown, then + c, with ctx the decode context sum: `_latency` with its prefill terms zero and its
    constants summed first. Returns (a, b, c); c1 and c2 are compute_s_per_decode_ctx and kv_s_per_token."""
    a = p.compute_fixed_s + n * p.compute_s_per_token + n * p.compute_s_per_sampled
    b = p.dense_weights_s + p.routed_experts_s * (1.0 - p.expert_miss ** n) + n * p.kv_s_per_token \
        + n * p.embed_s_per_token
    c = (p.allreduce_fixed_s + n * (p.allreduce_s_per_token + p.kv_replication_s_per_token) + p.overhead_s
         + n * p.overhead_per_seq_s)
    return a, b, c


def _decode_latency(p: PerfModel, n: float, ctx: float) -> float:
    """One pure-decode iteration (the scalar path); `_decode_latencies` does the same float operations."""
    a, b, c = _decode_terms(p, n)
    x = max(ctx * p.compute_s_per_decode_ctx + a, ctx * p.kv_s_per_token + b)
    return (x + p.moe_floor_s) * p.slowdown + c


# iteration offsets 0 .. MAX-1 as floats, sliced by every stretch (an arange per call was a tenth of it)
_OFFSETS = np.arange(4096, dtype=np.float64)
_MARGIN = 1e-9      # relative: a branch this far ahead at both ends of a stretch is ahead all along


def _decode_latencies(p: PerfModel, n: float, ctx_sum0: float, k: int) -> np.ndarray:
    """`_decode_latency` for k pure-decode iterations, context ctx_sum0 + i * n, with the same float
    operations per element (the engine prices a stretch after every arrival and finish, so its cost is
    the number of numpy calls). Both roofline branches are affine in the context: when one is ahead by
    a margin at both ends of the stretch it is ahead at every iteration between, and the other branch
    and the maximum are not computed (the maximum would return the same floats)."""
    a, b, c = _decode_terms(p, n)
    c1, c2 = p.compute_s_per_decode_ctx, p.kv_s_per_token
    ctx = _OFFSETS[:k] * n if k <= len(_OFFSETS) else np.arange(k, dtype=np.float64) * n
    ctx += ctx_sum0
    last = ctx_sum0 + (k - 1) * n
    lo_c, lo_m = ctx_sum0 * c1 + a, ctx_sum0 * c2 + b
    hi_c, hi_m = last * c1 + a, last * c2 + b
    if lo_c > lo_m * (1.0 + _MARGIN) and hi_c > hi_m * (1.0 + _MARGIN):
        ctx *= c1
        ctx += a
        lat = ctx
    elif lo_m > lo_c * (1.0 + _MARGIN) and hi_m > hi_c * (1.0 + _MARGIN):
        ctx *= c2
        ctx += b
        lat = ctx
    else:
        lat = ctx * c1
        lat += a
        ctx *= c2
        ctx += b
        np.maximum(lat, ctx, out=lat)
    if p.moe_floor_s:
        lat += p.moe_floor_s
    if p.slowdown != 1.0:
        lat *= p.slowdown
    lat += c
    return lat


def attention_flops_per_ctx(model: ModelSpec, *, prefill: bool) -> float:
    """Attention FLOPs per (query token, context token) over all layers, whole model (not per GPU)."""
    if model.attention == "mla":
        if prefill:   # K and V expanded from the latent: qk dim head_dim + rope, v dim head_dim
            dims = 2 * model.head_dim + model.qk_rope_head_dim
        else:         # absorbed: attend over the 512-d latent + 64-d rope key, values in the latent
            dims = 2 * model.kv_lora_rank + model.qk_rope_head_dim
        return 2.0 * model.n_layers * model.n_heads * dims
    return 4.0 * model.n_layers * model.n_heads * model.head_dim


def _check_slowdown(slowdown: float) -> None:
    if isinstance(slowdown, bool) or not isinstance(slowdown, (int, float)) or not (
            math.isfinite(slowdown) and slowdown > 0):
        raise InputError(f"expected a positive finite slowdown factor but got {slowdown!r}", field="slowdown")


def build_perf_model(model: ModelSpec, gpu: GPUSpec, tp: int, link_Bps: float, link_latency_s: float,
                     efficiency: Efficiency | None = None, slowdown: float = 1.0, *,
                     kv_dtype_bytes: int = 2, kv_replication_Bps: float | None = None) -> PerfModel:
    """Fold model, GPU, TP group links and efficiencies into a PerfModel (see the module docstring).

    link_Bps / link_latency_s: the slowest link on the group's all-reduce ring (ignored when tp == 1).
    kv_replication_Bps: per-GPU NIC bandwidth used to copy each iteration's new KV to a peer (None: off).
    """
    eff = Efficiency() if efficiency is None else efficiency
    if not isinstance(eff, Efficiency):
        raise TypeError(f"expected an Efficiency or None but got efficiency={efficiency!r}")
    if isinstance(tp, bool) or not isinstance(tp, (int, np.integer)) or tp < 1:
        raise PlacementError(f"expected a positive integer tensor-parallel size but got {tp!r}",
                             field="deployment.tp")
    tp = int(tp)
    if model.n_heads % tp:
        raise PlacementError(f"{model.name} has {model.n_heads} attention heads, which tp={tp} does not "
                             f"divide; use a tp that divides {model.n_heads}", field="deployment.tp")
    if tp > 1 and not (link_Bps > 0 and math.isfinite(link_Bps)):
        raise InputError(f"expected a positive link bandwidth for tp={tp} but got link_Bps={link_Bps!r}",
                         field="link_Bps")
    if not (link_latency_s >= 0 and math.isfinite(link_latency_s)):
        raise InputError(f"expected a non-negative link latency but got {link_latency_s!r}", field="link_latency_s")
    _check_slowdown(slowdown)
    if kv_replication_Bps is not None and (isinstance(kv_replication_Bps, bool) or not isinstance(
            kv_replication_Bps, (int, float)) or not (math.isfinite(kv_replication_Bps) and kv_replication_Bps > 0)):
        raise InputError(f"expected a positive finite KV replication bandwidth or None but got "
                         f"kv_replication_Bps={kv_replication_Bps!r}", field="kv_replication_Bps")
    kv_bytes = kv_bytes_per_token_per_gpu(model, tp, kv_dtype_bytes)

    peak = gpu.fp8_flops if model.weight_dtype_bytes == 1 else gpu.bf16_flops
    attn_peak = gpu.fp8_flops if kv_dtype_bytes == 1 else gpu.bf16_flops   # attention runs in the KV dtype
    flops_s = 1.0 / (peak * eff.mfu * tp)                  # seconds per FLOP of whole-model work
    head_flops_s = 1.0 / (gpu.bf16_flops * eff.mfu * tp)   # the LM head stays BF16 in FP8 checkpoints
    dattn_flops_s = 1.0 / (attn_peak * eff.attention_decode_efficiency * tp)
    pattn_flops_s = 1.0 / (attn_peak * eff.attention_prefill_efficiency * tp)
    bytes_s = 1.0 / (gpu.hbm_Bps * eff.memory_efficiency)  # seconds per byte on one GPU
    expert_bytes_s = 1.0 / (gpu.hbm_Bps * eff.grouped_gemm_efficiency)
    # The embedding table is a lookup: a step reads only its tokens' rows (BF16, vocab-parallel over
    # the TP ranks), not the table; when tied, the table is the LM head and is read in full anyway.
    table = 0.0 if model.tie_word_embeddings else model.embedding_params * _EMBED_DTYPE_BYTES
    body_params = model.n_active_params - model.lm_head_params - (
        0.0 if model.tie_word_embeddings else model.embedding_params)
    routed = model.routed_expert_bytes
    if tp > 1:
        n_allreduce = 2 * model.n_layers
        ring = 2.0 * (tp - 1) / tp
        allreduce_fixed_s = n_allreduce * (2 * (tp - 1) * link_latency_s + eff.allreduce_latency_s)
        allreduce_s_per_token = n_allreduce * ring * model.hidden_size * 2 / (link_Bps * eff.allreduce_efficiency)
    else:
        allreduce_fixed_s = allreduce_s_per_token = 0.0
    return PerfModel(
        model=model, gpu=gpu, tp=tp, link_Bps=float(link_Bps), link_latency_s=float(link_latency_s),
        efficiency=eff, slowdown=float(slowdown),
        compute_s_per_token=2.0 * body_params * flops_s,
        compute_fixed_s=2.0 * body_params * flops_s * eff.gemm_half_tokens,
        compute_s_per_sampled=2.0 * model.lm_head_params * head_flops_s,
        compute_s_per_decode_ctx=attention_flops_per_ctx(model, prefill=False) * dattn_flops_s,
        compute_s_per_prefill_ctx=attention_flops_per_ctx(model, prefill=True) * pattn_flops_s,
        dense_weights_s=(model.weight_bytes - routed - table) / tp * bytes_s,
        routed_experts_s=routed / tp * expert_bytes_s,
        expert_miss=1.0 - model.n_active_experts / model.n_experts if model.is_moe else 1.0,
        kv_s_per_token=kv_bytes * bytes_s,
        embed_s_per_token=model.hidden_size * _EMBED_DTYPE_BYTES / tp * bytes_s,
        moe_floor_s=model.n_moe_layers * eff.moe_layer_s,
        allreduce_fixed_s=allreduce_fixed_s,
        allreduce_s_per_token=allreduce_s_per_token,
        overhead_s=eff.overhead_s,
        overhead_prefill_s=eff.overhead_prefill_s,
        overhead_per_seq_s=eff.overhead_per_seq_s,
        kv_replication_Bps=None if kv_replication_Bps is None else float(kv_replication_Bps),
        kv_replication_s_per_token=0.0 if kv_replication_Bps is None else kv_bytes / kv_replication_Bps,
    )
