"""The `efficiency:` YAML section (optional): overrides of single factors of the backend profile."""
from __future__ import annotations

from dataclasses import replace
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chaos.perf.efficiency import YAML_KEYS, Efficiency
from chaos.units import parse_duration

_DURATION_KEYS = ("overhead", "overhead_prefill", "overhead_per_seq", "allreduce_latency", "moe_layer")


class EfficiencyConfig(BaseModel):
    """`efficiency: {mfu: 0.5, memory_efficiency: 0.8, overhead: 3ms, ...}`: each key set here replaces
    that factor of the deployment's backend profile (engine.backend); unset keys keep the profile's."""

    model_config = ConfigDict(extra="forbid")

    mfu: Optional[float] = Field(None, gt=0, le=1, description="peak GEMM fraction of tensor-core FLOP/s")
    gemm_half_tokens: Optional[float] = Field(None, ge=0, description="tokens at which GEMMs reach half of mfu")
    attention_prefill_efficiency: Optional[float] = Field(None, gt=0, le=1)
    attention_decode_efficiency: Optional[float] = Field(None, gt=0, le=1)
    memory_efficiency: Optional[float] = Field(None, gt=0, le=1, description="fraction of HBM bandwidth")
    grouped_gemm_efficiency: Optional[float] = Field(None, gt=0, le=1,
                                                     description="HBM efficiency of MoE grouped expert GEMMs")
    allreduce_efficiency: Optional[float] = Field(None, gt=0, le=1, description="fraction of link bandwidth")
    allreduce_latency: Optional[float] = Field(None, ge=0, description="seconds per all-reduce call")
    overhead: Optional[float] = Field(None, ge=0, description="seconds per pure-decode iteration")
    overhead_prefill: Optional[float] = Field(None, ge=0, description="seconds per iteration with a prompt chunk")
    overhead_per_seq: Optional[float] = Field(None, ge=0, description="seconds per scheduled sequence")
    moe_layer: Optional[float] = Field(None, ge=0, description="latency floor per MoE layer, seconds")

    @field_validator(*_DURATION_KEYS, mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return None if value is None else parse_duration(value)

    def overrides(self) -> dict[str, float]:
        """{Efficiency field: value} of the keys the scenario set."""
        by_key = {key: name for name, key in YAML_KEYS.items()}
        return {by_key[k]: v for k, v in self.model_dump().items() if v is not None}

    def to_efficiency(self, base: Efficiency | None = None) -> Efficiency:
        """`base` (the backend profile's factors; the generic roofline when None) with these overrides.
        An overhead set alone moves overhead_prefill with it unless that is set too."""
        base = Efficiency() if base is None else base
        changes = self.overrides()
        if "overhead_s" in changes and "overhead_prefill_s" not in changes:
            changes["overhead_prefill_s"] = max(base.overhead_prefill_s, changes["overhead_s"])
        return replace(base, **changes)


class LatencyConfig(BaseModel):
    """`latency:` where iteration latencies come from: `{source: roofline}` (default: the backend
    profile's roofline), `{table: measured.csv}` (chaos.perf.sources), or `{source: aiconfigurator}`
    (chaos.perf.aiconfigurator; `fallback: roofline` runs shapes it cannot price on the roofline, with
    a warning in the journal, instead of stopping with its error)."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["roofline", "table", "aiconfigurator"] = "roofline"
    table: Optional[str] = Field(None, description="CSV of measured iteration latencies: tokens,context,latency_ms")
    fallback: Optional[Literal["roofline"]] = Field(None, description="use the roofline where the source "
                                                                      "cannot serve, with a warning")

    @model_validator(mode="before")
    @classmethod
    def _table_implies_source(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("table") is not None and "source" not in data:
            data = {**data, "source": "table"}
        return data

    @model_validator(mode="after")
    def _table_needs_a_file(self) -> "LatencyConfig":
        if self.source == "table" and not self.table:
            raise ValueError("source table needs table: path/to/measured.csv")
        if self.source != "table" and self.table:
            raise ValueError(f"table: is only used with source: table, not source: {self.source}")
        return self
