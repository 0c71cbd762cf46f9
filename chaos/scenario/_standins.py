"""TEMPORARY stand-ins for config models of rooms that have not landed yet (removed once they do)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class RouterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: Literal["round_robin", "random", "least_outstanding", "power_of_two", "kv_aware"] = "least_outstanding"
    overlap_weight: float = 1.0
