"""The router interface: one method, `route(request, replicas) -> replica`, over read-only replica views.

A policy is registered under its YAML name in ROUTERS and built as `ROUTERS.get(name)(config, rng)`,
where rng is `chaos.rng.stream(seed, "routing")`, so routing draws never shift other random streams.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence, TypeVar

import numpy as np

from chaos.errors import SimulationError
from chaos.registry import Registry

if TYPE_CHECKING:
    from chaos.engine.request import Request
    from chaos.routing.config import RouterConfig


class ReplicaView(Protocol):
    """What a router may read from a replica (chaos.engine.Replica provides it; tests use fakes)."""

    replica_id: str
    block_size: int

    @property
    def outstanding(self) -> int: ...
    @property
    def num_waiting(self) -> int: ...
    @property
    def num_running(self) -> int: ...
    @property
    def kv_blocks_used(self) -> int: ...
    @property
    def kv_blocks_total(self) -> int: ...
    def match_prefix_blocks(self, hash_ids) -> int: ...


R = TypeVar("R", bound=ReplicaView)

ROUTERS: Registry[type["Router"]] = Registry("router policy")


class Router:
    """Base of routing policies. Subclasses implement `_pick(request, replicas, pool) -> index`."""

    uses_load_index = False
    """The policy reads `replicas.load_index` (routing/view.py) when the resilience layer provides one."""

    def __init__(self, config: "RouterConfig", rng: np.random.Generator) -> None:
        self.config = config
        self.rng = rng

    def route(self, request: "Request", replicas: Sequence[R], pool: str = "aggregated") -> R:
        """The replica that serves `request`; `pool` names the candidate list (policies may keep state per pool)."""
        if not replicas:
            raise SimulationError(f"no replica to route request {request.id} to (pool {pool!r} is empty)")
        return replicas[self._pick(request, replicas, pool)]

    def route_disaggregated(self, request: "Request", prefill_replicas: Sequence[R],
                            decode_replicas: Sequence[R]) -> tuple[R, R]:
        """(prefill replica, decode replica): the same policy on each pool."""
        return self.route(request, prefill_replicas, "prefill"), self.route(request, decode_replicas, "decode")

    def _pick(self, request: "Request", replicas: Sequence[ReplicaView], pool: str) -> int:
        raise NotImplementedError


def fewest_outstanding(replicas: Sequence[ReplicaView], candidates: Sequence[int]) -> int:
    """Index among `candidates` with the fewest outstanding requests; ties -> lowest index."""
    return min(candidates, key=lambda i: (replicas[i].outstanding, i))
