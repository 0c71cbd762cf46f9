"""vLLM V1 admission and caching (issue 15.7): blocks per scheduled chunk (`kv_admission: chunk`), full
blocks cached as they are computed and a preempted request's computed blocks kept in the prefix cache
(both admissions); `kv_admission: prompt` (the default) admits a whole prompt's blocks at once."""
from __future__ import annotations

import pytest

from chaos.engine import EngineConfig

from engine_helpers import simulate

STEPPERS = ("fast", "reference")


@pytest.mark.parametrize("stepper", STEPPERS)
def test_chunk_admission_starts_a_prompt_the_whole_prompt_rule_would_block(stepper):
    """100 blocks of 16 tokens; A decodes holding 63+ blocks; B's 1,000-token prompt needs 63 blocks in
    all but only 16 for its first 256-token chunk: V1 starts chunking it at once, the whole-prompt rule
    keeps it queued until A is done."""
    specs = [(0.0, 1000, 400), (0.5, 1000, 5)]
    running = {}
    for admission in ("chunk", "prompt"):
        cfg = EngineConfig(block_size=16, max_num_batched_tokens=256, kv_admission=admission, stepper=stepper)
        run = simulate(specs, cfg, kv_tokens=1600, observe_at=[0.52])
        running[admission] = run.observations[0][1]
        a, b = run.requests
        assert a.status == b.status == "completed"
    assert running == {"chunk": 2, "prompt": 1}


@pytest.mark.parametrize("stepper", STEPPERS)
def test_full_blocks_are_cached_as_they_are_computed(stepper):
    """B shares A's prefix and arrives while A prefills its 1,000 tokens in 256-token chunks; B joins the
    iteration of A's last chunk (232 tokens leave room for it) and hits the 768 tokens A computed in
    the three before (before: segments were cached only when a prefill finished, so B hit nothing)."""
    prefix = tuple(range(64))                           # segments of 16 tokens
    specs = [(0.0, 1000, 5, prefix[:62], 16), (0.02, 1024, 5, prefix, 16)]
    cfg = EngineConfig(block_size=16, max_num_batched_tokens=256, stepper=stepper)
    run = simulate(specs, cfg)
    a, b = run.requests
    assert a.prefix_hit_tokens == 0 and b.prefix_hit_tokens == 768


@pytest.mark.parametrize("stepper", STEPPERS)
def test_a_preempted_prefill_keeps_its_computed_blocks_cached(stepper):
    """B is preempted while prefilling (A's decode growth needs its blocks); when readmitted it finds
    its own computed segments in the prefix cache and recomputes only the rest (before: from 0)."""
    specs = [(0.0, 600, 600, tuple(range(1000, 1038)), 16), (0.01, 700, 3, tuple(range(44)), 16)]
    cfg = EngineConfig(block_size=16, max_num_batched_tokens=128, kv_admission="chunk", stepper=stepper)
    run = simulate(specs, cfg, kv_tokens=1280)
    a, b = run.requests
    assert a.status == b.status == "completed"
    assert b.preemptions >= 1 and b.prefix_hit_tokens > 0
