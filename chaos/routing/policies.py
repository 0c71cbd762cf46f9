"""The routing policies, keyed by their YAML names."""
from __future__ import annotations

from typing import Sequence

from chaos.routing.base import ROUTERS, ReplicaView, Router, fewest_outstanding
from chaos.routing.pairs import DistinctPairs


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
    """Two distinct replicas sampled at random (the draws of `rng.choice(n, 2, replace=False)`, replayed
    in O(1) by routing/pairs.py, not a pass over the pool); the one with fewer outstanding requests
    (tie -> lower index)."""

    def __init__(self, config, rng) -> None:
        super().__init__(config, rng)
        self._pairs = DistinctPairs(rng)

    def _pick(self, request, replicas, pool) -> int:
        if len(replicas) == 1:
            return 0
        a, b = self._pairs.draw(len(replicas))
        la, lb = replicas[a].outstanding, replicas[b].outstanding   # fewest_outstanding of the pair
        return a if la < lb or (la == lb and a < b) else b


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
