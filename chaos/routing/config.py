"""The `router:` section of a scenario: which policy routes requests and its knobs."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chaos.errors import expected_one_of
from chaos.routing.base import ROUTERS


class RouterConfig(BaseModel):
    """Routing policy (a name registered in ROUTERS) and the kv_aware weight."""

    model_config = ConfigDict(extra="forbid")

    policy: str = Field("least_outstanding", description="round_robin | random | least_outstanding | "
                                                          "power_of_two | kv_aware")
    overlap_weight: float = Field(1.0, ge=0.0, description="kv_aware: weight of prompt blocks to compute "
                                                           "against KV blocks in use")

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, value: str) -> str:
        import chaos.routing.policies  # noqa: F401  (registers the built-in policies)
        if value not in ROUTERS:
            raise ValueError(expected_one_of(value, ROUTERS.names()))
        return value
