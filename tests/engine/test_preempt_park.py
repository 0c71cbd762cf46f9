"""A preempted request keeps its computed KV cached (vLLM V1 hashes every full block), so its recompute
resumes instead of starting over: chunk admission under KV pressure makes progress instead of thrashing."""
from __future__ import annotations

from pathlib import Path

import pytest

from chaos.engine.kv import KVBlockManager
from chaos.scenario import load_scenario
from chaos.sim.run import run

FAULTS = Path(__file__).resolve().parents[2] / "faults"


def test_parked_blocks_are_the_tail_evicted_first_and_come_back_whole():
    kv = KVBlockManager(20, 4)
    kv.alloc(2)
    kv.insert((7, 8), 0, 2, 1)             # a prompt's two cached segments, referenced
    kv.alloc(6)                             # and its private tail
    kv.give_back(6)
    kv.release((7, 8), 2)
    kv.park(-5, 6, before=(7, 8))
    assert (kv.free, kv.evictable, kv.used) == (12, 8, 0)
    assert kv.parked(-5) == 6
    kv.alloc(13)                            # one block short: the parked tail goes first, whole
    assert kv.parked(-5) == 0 and kv.match((7, 8)) == 2
    kv.give_back(4)                         # another preempted request's 4 blocks
    kv.park(-6, 4)
    assert kv.unpark(-6) == 4 and kv.parked(-6) == 0 and kv.free == 9


@pytest.mark.parametrize("admission", ["chunk", "prompt"])
def test_kv_capacity_loss_does_not_thrash(admission):
    # faults/kv-capacity-loss: a decode-heavy replica loses 85% of its KV for 3 minutes. Before parking,
    # chunk admission completed 870 of 2,476 requests (a preempted re-prefill took its first chunk,
    # could not get the next, preempted itself and started over); prompt admission 2,275.
    result = run(load_scenario(FAULTS / "kv-capacity-loss.yaml", [f"engine.kv_admission={admission}"]))
    completed = int((result.log.status == 1).sum())
    assert completed >= 2200, completed
    assert result.summary.prefix_hit_ratio > 0          # the recomputes hit their parked blocks
