"""The `engine:` section of a scenario: vLLM-style scheduler and KV-cache settings for every replica."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FairConfig(BaseModel):
    """Token weights of the Virtual Token Counter (engine.scheduling: fair). Sheng et al., "Fairness in
    Serving Large Language Models", OSDI 2024, weigh a client's service as w_p x input + w_q x output
    tokens; their experiments and S-LoRA's VTC queue use w_p = 1, w_q = 2 (an output token costs about
    twice an input token)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_weight: float = Field(1.0, gt=0, description="service per prompt token computed (w_p)")
    output_weight: float = Field(2.0, gt=0, description="service per output token generated (w_q)")


class EngineConfig(BaseModel):
    """Scheduler limits and KV-cache settings of one replica (the names follow vLLM's flags)."""

    model_config = ConfigDict(extra="forbid")

    max_num_seqs: int = Field(256, ge=1, description="sequences in one batch (running = prefilling + decoding)")
    max_num_batched_tokens: int = Field(8192, ge=1, description="token budget of one iteration")
    block_size: int = Field(16, ge=1, description="tokens per KV block")
    prefix_cache: bool = Field(True, description="share KV blocks of common prompt prefixes (hash ids)")
    gpu_memory_utilization: float = Field(0.9, gt=0.0, le=1.0, description="HBM fraction for weights + KV")
    chunked_prefill: bool = Field(
        True, description="split long prompts over iterations; False: a prompt runs whole in one iteration")
    stepper: Literal["fast", "reference"] = Field(
        "fast", description="fast: decode stretches in one numpy call; reference: one event per iteration")
    scheduling: Literal["fcfs", "priority", "fair"] = Field(
        "fcfs", description="waiting-queue order: fcfs (arrival); priority (tenant priority, then arrival; a "
                            "higher-priority request may preempt a lower-priority running one); fair (VTC: the "
                            "backlogged tenant with the least weighted service first)")
    fair: FairConfig = Field(default_factory=FairConfig, description="VTC token weights (scheduling: fair)")
