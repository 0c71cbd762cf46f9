"""The router's incrementally maintained view of a pool (DESIGN principle 10: O(log replicas) routing).

`UsableView` is the tuple of a pool's usable replicas (neither marked down nor ejected), in pool order,
that the resilience layer hands to a policy. It is rebuilt only when the pool's membership or a health
mark changes, not per request. When every member reports its load changes (a replica calls its
`on_load` hook whenever `outstanding` changes, as chaos.engine.Replica does), the view also carries a
`LoadIndex`, so "fewest outstanding" is a heap lookup instead of a scan of the pool.
"""
from __future__ import annotations

import heapq
from typing import Sequence

from chaos.routing.base import ReplicaView


class LoadIndex:
    """Fewest outstanding requests among a fixed sequence of replicas, ties -> lowest position: a heap
    of (outstanding, position) with lazy deletion, kept current by `update(replica)` on every change."""

    __slots__ = ("_pos", "_load", "_heap")

    def __init__(self, replicas: Sequence[ReplicaView]) -> None:
        self._pos = {r.replica_id: i for i, r in enumerate(replicas)}
        self._load = [r.outstanding for r in replicas]
        self._heap: list[tuple[int, int]] = []
        self._rebuild()

    def _rebuild(self) -> None:
        self._heap = [(load, i) for i, load in enumerate(self._load)]
        heapq.heapify(self._heap)

    def update(self, replica: ReplicaView) -> None:
        """`replica.outstanding` may have changed (ignored when it is not in the index)."""
        i = self._pos.get(replica.replica_id)
        if i is None:
            return
        load = replica.outstanding
        if load != self._load[i]:
            self._load[i] = load
            heapq.heappush(self._heap, (load, i))
            if len(self._heap) > 4 * len(self._load) + 64:     # stale entries: compact, amortised O(1)
                self._rebuild()

    def argmin(self) -> int:
        """Position of the replica with the fewest outstanding requests (lowest position on a tie)."""
        heap, loads = self._heap, self._load
        while True:
            load, i = heap[0]
            if loads[i] == load:
                return i
            heapq.heappop(heap)


class UsableView(tuple):
    """A pool's usable replicas in pool order (a tuple, so policies index it as any sequence);
    `load_index` is a LoadIndex over it when its members report load changes, else None."""

    load_index: LoadIndex | None = None

    @classmethod
    def of(cls, replicas: Sequence[ReplicaView], indexed: bool) -> "UsableView":
        view = cls(replicas)
        if indexed and view:
            view.load_index = LoadIndex(view)
        return view


def reports_load(replica: object) -> bool:
    """The replica calls `on_load(replica)` whenever its outstanding count changes."""
    return hasattr(replica, "on_load")
