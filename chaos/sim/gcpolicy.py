"""The cyclic garbage collector during one run: the long-lived heap frozen, the young generation
collected less often; the process's own settings back afterwards, whatever happens.

A run builds a large heap that lives until its end (fabric graph, fleet, workload, router, wiring)
and then allocates millions of short-lived objects (SimPy events, requests, stretches) that reference
counting frees. CPython's collector still re-traverses the long-lived heap at every full (gen 2)
collection and runs a gen-0 pass every 700 net container allocations. `gc.freeze()` once the run is
wired moves the long-lived heap out of every later collection; a larger gen-0 threshold makes the
young passes rarer (what survives a pass is promoted less, so gen 1/2 run less too). Cycles are still
collected, only later: the soak's RSS stays flat (benchmarks/README.md, "#12 round 3").
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Callable, Iterator

GEN0_THRESHOLD = 20_000
"""Net container allocations between two young collections during a run (CPython's default: 700).
Chosen by measurement on bench_fleet's 0.25 h slice (benchmarks/README.md, "#12 round 3")."""


@contextmanager
def run_gc(gen0: int = GEN0_THRESHOLD) -> Iterator[Callable[[], None]]:
    """Collector settings for one run; yields `freeze()`, to call once the long-lived state is built.

    On exit (normal or by an exception) the thresholds are restored and what `freeze()` froze is
    unfrozen (it joins the oldest generation). A process that froze objects itself (gc.freeze before
    a fork, say) or disabled the collector keeps its policy: nothing is frozen then.
    """
    old = gc.get_threshold()
    frozen = False

    def freeze() -> None:
        nonlocal frozen
        if not frozen and gc.isenabled() and gc.get_freeze_count() == 0:
            gc.freeze()
            frozen = True

    gc.set_threshold(max(old[0], gen0), *old[1:])
    try:
        yield freeze
    finally:
        gc.set_threshold(*old)
        if frozen:
            gc.unfreeze()
