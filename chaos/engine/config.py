"""The `engine:` section of a scenario: vLLM-style scheduler and KV-cache settings for every replica."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from chaos.units import parse_duration

# Time a KV connector spends posting one transfer before bytes move (descriptor preparation and the
# notification round): vLLM NixlConnector's decode-side "avg post duration" of 6.7 ms per transfer
# (167 MB, 1,785 descriptors; vllm-project/vllm issue 50913, 3P1D on main) and 9.6 ms for 15.75 MB
# transfers (vllm-project/vllm pull request 42703's log).
KV_TRANSFER_SETUP_S = 6.7e-3


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

    backend: str = Field("vllm", description="backend profile (catalog `backends:`): vllm, sglang, trtllm or "
                                             "a user profile; it supplies efficiency factors and the defaults "
                                             "of the scheduler fields below that the scenario leaves unset")
    max_num_seqs: int = Field(256, ge=1, description="sequences in one batch (running = prefilling + decoding)")
    max_num_batched_tokens: int = Field(8192, ge=1, description="token budget of one iteration")
    block_size: int = Field(16, ge=1, description="tokens per KV block")
    prefix_cache: bool = Field(True, description="share KV blocks of common prompt prefixes (hash ids)")
    gpu_memory_utilization: float = Field(0.9, gt=0.0, le=1.0, description="HBM fraction for weights + KV")
    chunked_prefill: bool = Field(
        True, description="split long prompts over iterations; False: a prompt runs whole in one iteration")
    # The backend profile sets this (vllm: chunk; sglang, trtllm: prompt); "prompt" is the default only
    # for an engine built without a profile. A preempted request keeps its computed blocks cached
    # (Scheduler._park), as vLLM V1 does, so chunk admission under KV pressure makes progress.
    kv_admission: Literal["chunk", "prompt"] = Field(
        "prompt", description="chunk: blocks for each scheduled prefill chunk as it is scheduled, a partial "
                              "prefill short of blocks preempts from the running tail (vLLM V1); prompt: the "
                              "whole prompt's blocks at admission, a blocked head blocks the queue (SGLang's "
                              "conservative admission)")
    kv_transfer_setup: Annotated[float, BeforeValidator(parse_duration), Field(ge=0)] = Field(
        KV_TRANSFER_SETUP_S, description="disaggregated: per-transfer setup of the KV connector before "
                                         "bytes move, seconds (default: vLLM NixlConnector's measured post time)")
    stepper: Literal["fast", "reference"] = Field(
        "fast", description="fast: decode stretches in one numpy call; reference: one event per iteration")
    scheduling: Literal["fcfs", "priority", "fair"] = Field(
        "fcfs", description="waiting-queue order: fcfs (arrival); priority (tenant priority, then arrival; a "
                            "higher-priority request may preempt a lower-priority running one); fair (VTC: the "
                            "backlogged tenant with the least weighted service first)")
    fair: FairConfig = Field(default_factory=FairConfig, description="VTC token weights (scheduling: fair)")
