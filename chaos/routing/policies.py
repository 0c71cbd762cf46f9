"""The routing policies, keyed by their YAML names."""
from __future__ import annotations

from typing import Sequence

from chaos.routing.base import ROUTERS, ReplicaView, Router, fewest_outstanding


@ROUTERS.register("round_robin")
class RoundRobin(Router):
    """Each pool's replicas in turn, one counter per pool."""

    def __init__(self, config, rng) -> None:
        super().__init__(config, rng)
        self._next: dict[str, int] = {}

    def _pick(self, request, replicas: Sequence[ReplicaView], pool: str) -> int:
        i = self._next.get(pool, 0)
        self._next[pool] = i + 1
        return i % len(replicas)


@ROUTERS.register("random")
class Random(Router):
    """Uniformly random replica (routing rng stream)."""

    def _pick(self, request, replicas, pool) -> int:
        return int(self.rng.integers(len(replicas)))


@ROUTERS.register("least_outstanding")
class LeastOutstanding(Router):
    """Fewest queued + running requests; ties -> lowest index. O(log n) on a view with a load index
    (the resilience layer's UsableView of replicas that report load changes), else a scan."""

    uses_load_index = True

    def _pick(self, request, replicas, pool) -> int:
        index = getattr(replicas, "load_index", None)
        if index is not None:
            return index.argmin()
        return fewest_outstanding(replicas, range(len(replicas)))


@ROUTERS.register("power_of_two")
class PowerOfTwo(Router):
    """Two distinct replicas sampled at random (`two_distinct`: O(1), not a pass over the pool); the one
    with fewer outstanding requests (tie -> lower index)."""

    def _pick(self, request, replicas, pool) -> int:
        if len(replicas) == 1:
            return 0
        return fewest_outstanding(replicas, two_distinct(self.rng, len(replicas)))


def two_distinct(rng, n: int) -> tuple[int, int]:
    """Two distinct indices of [0, n), uniform over ordered pairs, from one draw of two uniforms (a tenth
    of the cost of Generator.choice(n, 2, replace=False), which it replaced)."""
    u0, u1 = rng.random(2).tolist()
    a = min(int(u0 * n), n - 1)
    b = min(int(u1 * (n - 1)), n - 2)
    return a, b + 1 if b >= a else b


@ROUTERS.register("kv_aware")
class KVAware(Router):
    """Lowest cost = overlap_weight * prefill blocks still to compute on that replica (its queued and
    partial prompts, plus this prompt's blocks not in its prefix cache) + KV blocks in use, as NVIDIA
    Dynamo's KV router scores workers; ties -> fewer outstanding, then lower index. On a decode pool:
    KV blocks in use. Counting the queued prompts keeps cache affinity from piling work on one replica.
    Every replica's prefix cache is consulted, so a pick costs O(replicas), as Dynamo's router does."""

    def _pick(self, request, replicas, pool) -> int:
        w = self.config.overlap_weight
        best, best_key = 0, None
        for i, rep in enumerate(replicas):
            if pool == "decode":
                cost = float(rep.kv_blocks_used)
            else:
                prompt_blocks = -(-request.input_tokens // rep.block_size)
                cached = rep.match_prefix_blocks(request.hash_ids) if request.hash_ids else 0
                queued = -(-rep.prefill_tokens_pending // rep.block_size)
                cost = w * (queued + max(0, prompt_blocks - cached)) + rep.kv_blocks_used
            key = (cost, rep.outstanding, i)
            if best_key is None or key < best_key:
                best, best_key = i, key
        return best
