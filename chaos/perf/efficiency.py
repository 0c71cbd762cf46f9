"""Named efficiency factors between datasheet peaks and what an inference engine achieves."""
from __future__ import annotations

import math
from dataclasses import dataclass

from chaos.errors import InputError


@dataclass(frozen=True, slots=True)
class Efficiency:
    """Fractions of datasheet peak that the roofline uses, plus a fixed per-iteration cost."""

    # Dense GEMMs at prefill sizes (thousands of tokens) reach 60-70% of dense BF16 peak on
    # Hopper in vLLM/SGLang prefill runs and MLPerf Inference submissions; 0.6 leaves room for
    # attention and norm kernels, which run further from peak.
    mfu: float = 0.6
    # Decode streams weights and KV through GEMV/attention kernels; these reach 80-90% of the
    # datasheet HBM bandwidth (a STREAM-like copy reaches ~90% on H100). 0.85 puts Llama-3.1-8B
    # batch-1 decode on H100 at ~7.6 ms/token with the overhead below, in line with vLLM.
    memory_efficiency: float = 0.85
    # NCCL ring all-reduce bus bandwidth is ~80% of the per-direction link bandwidth
    # (nccl-tests all_reduce_perf on DGX H100 without NVLS: ~360 of 450 GB/s).
    allreduce_efficiency: float = 0.8
    # Scheduling, input preparation, sampling and kernel launch per engine step with CUDA
    # graphs (vLLM v1 / SGLang): 1-3 ms of CPU/GPU time that does not overlap the forward pass.
    overhead_s: float = 2e-3
    # Routed-expert weights are read by grouped GEMMs whose per-expert token counts are tiny in
    # decode (a few tokens per expert); these kernels reach a smaller fraction of HBM bandwidth than
    # a dense GEMV. Fitted with moe_layer_s to SGLang's published DeepSeek-V3 decode on 8xH200
    # (sgl-project/sglang PR 2643: 30.29 / 206.32 / 760.52 output tok/s at batch 1 / 8 / 32,
    # input 128, output 256); see docs/calibration.md.
    grouped_gemm_efficiency: float = 0.85
    # Latency floor per MoE layer: router GEMM, top-k, token sort/align, two grouped GEMMs with their
    # activation quantisation, un-permute and shared expert are ~10 extra small kernels per layer
    # that run near their launch/latency floor in decode, so a MoE model's step does not shrink
    # with the batch. Fitted with grouped_gemm_efficiency (above); vLLM issue 11539 reports ~26 tok/s
    # for DeepSeek-V3 batch 1 on 8xH200 with SGLang, in line.
    moe_layer_s: float = 0.445e-3

    def __post_init__(self) -> None:
        for name in ("mfu", "memory_efficiency", "allreduce_efficiency", "grouped_gemm_efficiency"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value <= 1):
                raise InputError(f"expected a fraction in (0, 1] but got {value!r}", field=f"efficiency.{name}")
        if not (isinstance(self.overhead_s, (int, float)) and math.isfinite(self.overhead_s)
                and self.overhead_s >= 0):
            raise InputError(f"expected a non-negative duration but got {self.overhead_s!r}",
                             field="efficiency.overhead")
        if not (isinstance(self.moe_layer_s, (int, float)) and math.isfinite(self.moe_layer_s)
                and self.moe_layer_s >= 0):
            raise InputError(f"expected a non-negative duration but got {self.moe_layer_s!r}",
                             field="efficiency.moe_layer")
