"""KV-cache blocks of one replica: a free count, private blocks per request, and a prefix cache.

Blocks are counted, not named. A block is in exactly one of three states:
  free       - holds nothing;
  private    - owned by one request (its `_own0` plus decode growth; the replica knows how many);
  cached     - holds the KV of one prompt segment keyed by a hash id (one hash id covers
               `hash_block_tokens` prompt tokens = ceil(hash_block_tokens / block_size) blocks).
Cached entries carry a reference count: running requests that use the same prefix share them (not
double counted). Entries with count 0 stay cached but are evictable, least recently released first,
whenever an allocation needs more than the free blocks. `match` is side-effect free (routers call it).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

from chaos.errors import SimulationError


class KVBlockManager:
    """Block accounting and the LRU prefix cache of one replica."""

    __slots__ = ("total_blocks", "block_size", "free", "evictable", "_ref", "_size", "_lru")

    def __init__(self, total_blocks: int, block_size: int) -> None:
        self.total_blocks = int(total_blocks)
        self.block_size = int(block_size)
        self.free = self.total_blocks       # blocks holding nothing
        self.evictable = 0                  # blocks of cached entries with reference count 0
        self._ref: dict[int, int] = {}      # hash id -> reference count
        self._size: dict[int, int] = {}     # hash id -> blocks
        self._lru: OrderedDict[int, int] = OrderedDict()  # count-0 entries, least recently released first

    # ---- views -------------------------------------------------------------------------------------
    @property
    def used(self) -> int:
        """Blocks referenced by requests (private or shared cached); evictable cache counts as free, as in vLLM."""
        return self.total_blocks - self.free - self.evictable

    @property
    def available(self) -> int:
        """Blocks an allocation can get: free plus evictable."""
        return self.free + self.evictable

    @property
    def cached_entries(self) -> int:
        return len(self._ref)

    def match(self, hash_ids: Sequence[int] | None, limit: int | None = None) -> int:
        """Number of leading hash ids (at most `limit`) present in the cache. No side effects."""
        if not hash_ids:
            return 0
        ref = self._ref
        n = len(hash_ids) if limit is None else min(limit, len(hash_ids))
        m = 0
        while m < n and hash_ids[m] in ref:
            m += 1
        return m

    def match_blocks(self, hash_ids: Sequence[int] | None) -> int:
        """KV blocks of the longest cached prefix of `hash_ids`. No side effects."""
        m = self.match(hash_ids)
        size = self._size
        return sum(size[h] for h in hash_ids[:m]) if m else 0

    def evictable_among(self, hash_ids: Sequence[int], m: int) -> int:
        """Blocks of the first m hash ids that are currently evictable (they stop being so once acquired)."""
        ref, size = self._ref, self._size
        return sum(size[h] for h in hash_ids[:m] if ref[h] == 0)

    # ---- changes -----------------------------------------------------------------------------------
    def acquire(self, hash_ids: Sequence[int], m: int) -> None:
        """Reference the first m (cached) hash ids."""
        ref, lru = self._ref, self._lru
        for h in hash_ids[:m]:
            r = ref[h]
            if r == 0:
                self.evictable -= lru.pop(h)
            ref[h] = r + 1

    def release(self, hash_ids: Sequence[int], m: int) -> None:
        """Drop one reference on each of the first m hash ids; the tail of a prompt becomes evictable first."""
        ref, lru, size = self._ref, self._lru, self._size
        for h in reversed(hash_ids[:m]):
            r = ref[h] - 1
            ref[h] = r
            if r == 0:
                s = size[h]
                lru[h] = s
                self.evictable += s

    def insert(self, hash_ids: Sequence[int], start: int, end: int, blocks_each: int) -> None:
        """Turn a request's private blocks for segments [start, end) into cached entries it references.

        A segment already cached (another request computed it meanwhile) is shared instead and the
        request's duplicate private blocks are freed. The caller lowers the request's private count by
        (end - start) * blocks_each either way.
        """
        ref, size, lru = self._ref, self._size, self._lru
        for h in hash_ids[start:end]:
            r = ref.get(h)
            if r is None:
                ref[h] = 1
                size[h] = blocks_each
            else:
                if r == 0:
                    self.evictable -= lru.pop(h)
                ref[h] = r + 1
                self.free += blocks_each

    def park(self, key: int, blocks: int, before: Sequence[int] = ()) -> None:
        """Keep `blocks` just-freed private blocks of a preempted request as one evictable entry under
        `key` (its computed KV beyond its prompt's hashed segments; see Scheduler._park). It is the tail
        of the request's KV, so it goes before the prompt segments `before` it just released in eviction
        order, as vLLM frees a request's blocks tail first."""
        self.unpark(key)
        self.free -= blocks
        self._ref[key] = 0
        self._size[key] = blocks
        self._lru[key] = blocks
        self.evictable += blocks
        lru = self._lru
        for h in reversed(before):
            if h in lru:
                lru.move_to_end(h)

    def parked(self, key: int) -> int:
        """Blocks still parked under `key` (0 once evicted). No side effects."""
        return self._size.get(key, 0) if self._ref.get(key) == 0 else 0

    def unpark(self, key: int) -> int:
        """Free what is parked under `key` (its owner reuses the blocks or gave up on them); returns them."""
        s = self.parked(key)
        if s:
            del self._ref[key], self._size[key], self._lru[key]
            self.evictable -= s
            self.free += s
        return s

    def alloc(self, n: int) -> None:
        """Take n blocks, evicting least recently released cached entries when the free ones run out."""
        if n > self.free:
            self._evict(n - self.free)
        self.free -= n

    def give_back(self, n: int) -> None:
        """Return n private blocks."""
        self.free += n

    def resize(self, total_blocks: int) -> None:
        """Change the number of blocks (HBM pages retired or restored). Retiring takes free blocks first,
        then evicts unreferenced cached entries; it never takes blocks in use (the caller frees them first)."""
        total_blocks = int(total_blocks)
        if total_blocks < self.used:
            raise SimulationError(f"KV resize to {total_blocks} blocks below the {self.used} in use")
        retire = self.total_blocks - total_blocks
        if retire > self.free:
            self._evict(retire - self.free)
        self.free -= retire
        self.total_blocks = total_blocks

    def clear(self) -> None:
        """Forget everything (the replica lost its GPU memory)."""
        self.free = self.total_blocks
        self.evictable = 0
        self._ref.clear()
        self._size.clear()
        self._lru.clear()

    def _evict(self, n: int) -> None:
        lru, ref, size = self._lru, self._ref, self._size
        freed = 0
        while freed < n:
            if not lru:
                raise SimulationError(f"KV allocation of {n} blocks beyond the evictable cache "
                                      f"(free {self.free}, evictable {self.evictable})")
            h, s = lru.popitem(last=False)
            del ref[h], size[h]
            freed += s
            self.evictable -= s
            self.free += s
