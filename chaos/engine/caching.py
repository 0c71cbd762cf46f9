"""The prefix cache as the scheduler uses it: cache what a request computed or received, and keep what a
preempted request computed so its recompute resumes (vLLM V1 hashes every full block, prompt and output).

A mixin of Replica, beside Scheduler (scheduler.py); the block accounting itself is KVBlockManager's (kv.py).
"""
from __future__ import annotations

from chaos.engine.request import Request


def park_key(r: Request) -> int:
    """The prefix-cache key of r's parked KV: negative, so it never meets a workload hash id."""
    return -1 - r.id


class PrefixCaching:
    """Cache-entry methods of Replica (see the module docstring)."""

    def _cache_computed(self, r: Request) -> None:
        """Turn the prompt segments r has fully computed into prefix-cache entries it references (vLLM V1
        and SGLang cache each full block as it is computed, not when the prefill ends), so a request
        arriving meanwhile, or r itself after a preemption, finds them."""
        k = min(r._n_full, r.prefilled_tokens // r.hash_block_tokens)
        if k > r._n_shared:
            bph = -(-r.hash_block_tokens // self.block_size)
            self.kv.insert(r.hash_ids, r._n_shared, k, bph)
            r._own0 -= (k - r._n_shared) * bph
            r._n_shared = k

    def _cache_transferred(self, r: Request) -> None:
        """Decode role: the transferred prompt's full segments become prefix-cache entries r references,
        as vLLM caches remote KV once it has landed (`cache_blocks` when a request leaves
        WAITING_FOR_REMOTE_KVS). A segment already cached is shared, not held twice; after a preemption
        the recompute finds them instead of starting over. Only where a segment is a whole number of
        blocks (hash_block_tokens a multiple of block_size), so r's block layout does not change."""
        hbt = r.hash_block_tokens
        n_full = min(len(r.hash_ids), r.input_tokens // hbt)
        if n_full:
            bph = hbt // self.block_size
            self.kv.insert(r.hash_ids, 0, n_full, bph)
            r._own0 -= n_full * bph
            r._n_full = r._n_shared = n_full

    def _park(self, r: Request, computed: int) -> None:
        """Keep the full blocks of r's computed KV beyond its cached prompt segments in the prefix cache,
        evictable, as vLLM V1 does: it hashes every full block, prompt and output, so a preempted
        request's recompute finds what was not evicted meanwhile. Modelled as one entry per request
        (evicted whole, not block by block) so that only a preemption pays for it."""
        seg = r._n_full * r.hash_block_tokens
        blocks = (computed - seg) // self.block_size
        if blocks > 0:
            self.kv.park(park_key(r), blocks, r.hash_ids[:r._n_full] if r._n_full else ())
            r._park = (self, r._n_full, blocks)

    def _unpark_hit(self, r: Request, n_full: int, m: int) -> int:
        """Blocks r parked here that line up after the m cached prompt segments now matched (0 if none)."""
        park = r._park
        if park is None:
            return 0
        if park[0] is not self or park[1] != n_full or m != n_full:
            if park[0] is self:
                self.kv.unpark(park_key(r))        # misaligned: the blocks are of no use to anyone
            r._park = None
            return 0
        return self.kv.parked(park_key(r))
