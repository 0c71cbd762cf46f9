"""The typed records of the catalog: one GPU, one model. Plain frozen dataclasses, SI units."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GPUSpec:
    """One GPU: dense tensor-core FLOP/s, HBM capacity and bandwidth, per-GPU link bandwidths."""

    name: str
    bf16_flops: float     # dense BF16 FLOP/s
    fp8_flops: float      # dense FP8 FLOP/s (= bf16_flops where the GPU has no FP8 tensor cores)
    hbm_bytes: float
    hbm_Bps: float
    nvlink_Bps: float     # per GPU, one direction
    nic_Bps: float        # per GPU NIC, one direction
    source: str
    aiconfigurator: str = ""   # aiconfigurator's system name (h100_sxm, ...); "" = not mapped


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model's shape as in its config.json, plus parameter counts and served weight size.

    `weight_bytes` is the size of the weights as served: n_params * weight_dtype_bytes unless the
    catalog says otherwise (DeepSeek-V3 is served in FP8: 671 GB, not 1,342 GB of BF16).
    MoE fields are zero for dense models; `n_dense_layers` are leading layers with a dense FFN.
    """

    name: str
    n_layers: int
    hidden_size: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    ffn_size: int
    vocab_size: int
    n_params: float
    n_active_params: float
    weight_bytes: float
    weight_dtype_bytes: int = 2
    n_experts: int = 0
    n_active_experts: int = 0
    n_shared_experts: int = 0
    moe_ffn_size: int = 0
    n_dense_layers: int = 0
    attention: str = "gqa"
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    tie_word_embeddings: bool = False
    source: str = ""
    aiconfigurator: str = ""   # the Hugging Face id aiconfigurator knows the model by; "" = not mapped

    @property
    def is_moe(self) -> bool:
        """True when the model routes tokens to experts."""
        return self.n_experts > 0

    @property
    def embedding_params(self) -> float:
        """Parameters of the input embedding table (vocab x hidden); a step reads only the rows it uses."""
        return float(self.vocab_size * self.hidden_size)

    @property
    def lm_head_params(self) -> float:
        """Parameters of the LM head (vocab x hidden; the embedding table itself when tied)."""
        return float(self.vocab_size * self.hidden_size)

    @property
    def n_moe_layers(self) -> int:
        """Layers whose FFN is a mixture of experts."""
        return self.n_layers - self.n_dense_layers if self.is_moe else 0

    @property
    def expert_bytes(self) -> float:
        """Bytes of one routed expert in one layer (SwiGLU: gate, up and down projections)."""
        return 3.0 * self.hidden_size * self.moe_ffn_size * self.weight_dtype_bytes

    @property
    def routed_expert_bytes(self) -> float:
        """Bytes of all routed experts in all MoE layers (the part a small batch does not read)."""
        return self.n_moe_layers * self.n_experts * self.expert_bytes


@dataclass(frozen=True, slots=True)
class SchedulerSpec:
    """A backend's scheduler defaults and behaviour, as it documents them (catalog `scheduler:`)."""

    chunked_prefill: bool
    max_num_batched_tokens: int
    max_num_seqs: int
    block_size: int
    prefix_cache: str          # hashed_blocks | radix_lru | none
    preemption: str            # recompute | swap | none
    mixing: str                # decode_first | prefill_first
    source: str
    kv_admission: str = "prompt"  # chunk (blocks per scheduled chunk, vLLM V1) | prompt (whole prompt up front)


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """One inference engine: its efficiency factors (chaos.perf.Efficiency field -> value), the source of
    each group of factors, its scheduler, and the published measurements it was calibrated against."""

    name: str
    efficiency: tuple[tuple[str, float], ...]
    sources: tuple[tuple[str, str], ...]
    scheduler: SchedulerSpec
    calibration: tuple[str, ...] = ()

    def factors(self) -> dict[str, float]:
        """{Efficiency field: value}."""
        return dict(self.efficiency)
