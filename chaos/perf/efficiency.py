"""Named efficiency factors between datasheet peaks and what an inference engine achieves.

The defaults here are the generic roofline; a backend profile (catalog `backends:`, see
chaos/catalog/data/backends.yaml) supplies its own, with sources, and a scenario's `efficiency:`
section overrides single factors on top of the profile.

Factors that are functions of work stay linear in it, so the roofline stays monotone and a decode
stretch prices exactly like single iterations:
  GEMM efficiency rises with the tokens of an iteration, mfu * T / (T + gemm_half_tokens): small
  batches do not fill the tensor cores. Its time is 2 * params * (T + gemm_half_tokens) / (peak * mfu).
  All-reduce efficiency rises with message size: a fixed allreduce_latency_s per call (kernel launch
  and NCCL/custom all-reduce handshake) plus the bytes at allreduce_efficiency of the link.
  Per-iteration overhead depends on the scheduler: overhead_s for pure-decode iterations (CUDA-graph
  replay), overhead_prefill_s when a prompt chunk is in the batch (eager/piecewise graphs, input
  preparation), plus overhead_per_seq_s per scheduled sequence (CPU bookkeeping, sampling).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from chaos.errors import InputError

_FRACTIONS = ("mfu", "memory_efficiency", "allreduce_efficiency", "grouped_gemm_efficiency",
              "attention_prefill_efficiency", "attention_decode_efficiency")
_DURATIONS = ("overhead_s", "overhead_prefill_s", "overhead_per_seq_s", "allreduce_latency_s", "moe_layer_s")
# field name -> the `efficiency:` YAML key that sets it (durations drop their _s)
YAML_KEYS = {**{f: f for f in _FRACTIONS}, "gemm_half_tokens": "gemm_half_tokens",
             **{f: f[:-2] for f in _DURATIONS}}


@dataclass(frozen=True, slots=True)
class Efficiency:
    """Fractions of datasheet peak that the roofline uses, plus per-iteration and per-call costs."""

    # Dense GEMMs at prefill sizes (thousands of tokens) reach 60-70% of dense BF16 peak on
    # Hopper in vLLM/SGLang prefill runs and MLPerf Inference submissions; 0.6 leaves room for
    # attention and norm kernels, which run further from peak.
    mfu: float = 0.6
    # Decode streams weights and KV through GEMV/attention kernels; these reach 80-90% of the
    # datasheet HBM bandwidth (a STREAM-like copy reaches ~90% on H100).
    memory_efficiency: float = 0.85
    # NCCL ring all-reduce bus bandwidth is ~80% of the per-direction link bandwidth
    # (nccl-tests all_reduce_perf on DGX H100 without NVLS: ~360 of 450 GB/s).
    allreduce_efficiency: float = 0.8
    # Scheduling, input preparation, sampling and kernel launch per engine step with CUDA
    # graphs (vLLM v1 / SGLang): 1-3 ms of CPU/GPU time that does not overlap the forward pass.
    overhead_s: float = 2e-3
    # Routed-expert weights are read by grouped GEMMs; fitted with moe_layer_s to SGLang's published
    # DeepSeek-V3 decode on 8xH200 (sgl-project/sglang PR 2643: 30.29 / 206.32 / 760.52 output tok/s
    # at batch 1 / 8 / 32, input 128, output 256): the fit lands at the 0.85 bound (uniform routing
    # already explains the batch growth); docs/calibration.md has the errors.
    grouped_gemm_efficiency: float = 0.85
    # Latency floor per MoE layer: router GEMM, top-k, token sort/align, two grouped GEMMs with their
    # activation quantisation, un-permute and shared expert are ~10 extra small kernels per layer
    # that run near their latency floor in decode, so a MoE model's step does not shrink with the
    # batch. Fitted as above (0.445 ms); vLLM issue 11539 reports ~26 tok/s at batch 1 (held out).
    moe_layer_s: float = 0.445e-3
    # Generic roofline: no GEMM ramp, attention at the GEMM efficiency, one overhead for all
    # iterations, no per-call all-reduce latency beyond the links' own (the backend profiles set these).
    gemm_half_tokens: float = 0.0
    attention_prefill_efficiency: float = 0.6
    attention_decode_efficiency: float = 0.6
    overhead_prefill_s: float = 2e-3
    overhead_per_seq_s: float = 0.0
    allreduce_latency_s: float = 0.0

    def __post_init__(self) -> None:
        for name in _FRACTIONS:
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and 0 < value <= 1):
                raise InputError(f"expected a fraction in (0, 1] but got {value!r}",
                                 field=f"efficiency.{YAML_KEYS[name]}")
        for name in (*_DURATIONS, "gemm_half_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value)
                                               and value >= 0):
                what = "duration" if name in _DURATIONS else "number of tokens"
                raise InputError(f"expected a non-negative {what} but got {value!r}",
                                 field=f"efficiency.{YAML_KEYS[name]}")
        if self.overhead_prefill_s < self.overhead_s:
            raise InputError(f"expected overhead_prefill >= overhead ({self.overhead_s * 1e3:g}ms) but got "
                             f"{self.overhead_prefill_s * 1e3:g}ms: an iteration with a prompt chunk never "
                             f"costs less than a pure decode one", field="efficiency.overhead_prefill")

    def to_dict(self) -> dict[str, float]:
        """Plain {field: value} for journals and profile files."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
