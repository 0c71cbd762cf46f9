"""The `efficiency:` YAML section (optional): overrides of the perf model's named efficiency factors."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chaos.perf.efficiency import Efficiency
from chaos.units import parse_duration

_DEFAULT = Efficiency()


class EfficiencyConfig(BaseModel):
    """`efficiency: {mfu: 0.5, memory_efficiency: 0.8, allreduce_efficiency: 0.7, overhead: 3ms,
    grouped_gemm_efficiency: 0.4, moe_layer: 0.45ms}`."""

    model_config = ConfigDict(extra="forbid")

    mfu: float = Field(_DEFAULT.mfu, gt=0, le=1)
    memory_efficiency: float = Field(_DEFAULT.memory_efficiency, gt=0, le=1)
    allreduce_efficiency: float = Field(_DEFAULT.allreduce_efficiency, gt=0, le=1)
    overhead: float = Field(_DEFAULT.overhead_s, ge=0, description="seconds per engine iteration")
    grouped_gemm_efficiency: float = Field(_DEFAULT.grouped_gemm_efficiency, gt=0, le=1,
                                           description="HBM efficiency of MoE grouped expert GEMMs")
    moe_layer: float = Field(_DEFAULT.moe_layer_s, ge=0, description="latency floor per MoE layer, seconds")

    @field_validator("overhead", "moe_layer", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return parse_duration(value)

    def to_efficiency(self) -> Efficiency:
        """The frozen dataclass the perf model uses."""
        return Efficiency(mfu=self.mfu, memory_efficiency=self.memory_efficiency,
                          allreduce_efficiency=self.allreduce_efficiency, overhead_s=self.overhead,
                          grouped_gemm_efficiency=self.grouped_gemm_efficiency, moe_layer_s=self.moe_layer)
