"""The `slo:` section of a scenario: `{ttft_p99: 2s, tpot_p99: 100ms}` (`ttft`/`tpot` accepted too)."""
from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, model_validator

from chaos.metrics.summary import Slo
from chaos.units import parse_duration

_ALIASES = {"ttft_p99": "ttft", "tpot_p99": "tpot", "ttft": "ttft", "tpot": "tpot"}


class SloConfig(BaseModel):
    """Per-request latency targets in seconds (None = no target). A request meets the SLO when its
    TTFT and TPOT are within them; `_p99` in the key is the usual name, the check is per request."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    ttft: Optional[float] = None
    tpot: Optional[float] = None

    @model_validator(mode="before")
    @classmethod
    def _keys(cls, data: object) -> object:
        if not isinstance(data, dict):
            raise ValueError(f"expected a mapping like {{ttft_p99: 2s, tpot_p99: 100ms}} but got {data!r}")
        out: dict[str, object] = {}
        for key, value in data.items():
            name = _ALIASES.get(key)
            if name is None:
                out[key] = value  # let extra="forbid" name it
                continue
            if name in out:
                raise ValueError(f"{key}: the {name} target is given twice (use one of {name}, {name}_p99)")
            out[name] = None if value is None else parse_duration(value)
        return out

    def to_slo(self) -> Slo:
        return Slo(ttft_s=self.ttft, tpot_s=self.tpot)
