"""A decode replica caches the prompt KV it received (vLLM caches remote KV once it lands): prompts that
share a prefix share its blocks, and a sequence preempted there recomputes only what is not cached."""
from __future__ import annotations

from chaos.engine import EngineConfig

from engine_helpers import simulate_disaggregated

CONFIG = EngineConfig(block_size=4, max_num_seqs=8, max_num_batched_tokens=256, prefix_cache=True)


def test_preempted_decode_recomputes_only_the_uncached_part():
    # 64-token prompt (16 segments of 4 tokens) and 60 output tokens; decode KV of 80 tokens cannot hold
    # both sequences' growth, so the later one is preempted by recompute on the decode replica
    prompt = tuple(range(100, 116))
    specs = [(0.0, 64, 60, prompt, 4), (0.001, 64, 60, tuple(range(200, 216)), 4)]
    for stepper in ("fast", "reference"):
        run = simulate_disaggregated(specs, CONFIG, 4096, stepper=stepper, decode_kv_tokens=160)
        victim = max(run.requests, key=lambda r: r.preemptions)
        assert victim.preemptions >= 1 and all(r.status == "completed" for r in run.requests)
        # its transferred prompt stayed cached on the decode replica (evictable once it was preempted;
        # the other sequence's growth evicts the prompt's tail first): the recompute hit the first 9 of
        # its 16 segments (36 tokens) instead of none
        assert 32 <= victim.prefix_hit_tokens < 64 * victim.preemptions, victim


def test_shared_prefix_is_held_once_on_the_decode_replica():
    shared = tuple(range(10, 26))          # 16 segments = 64 tokens = 16 blocks
    specs = [(0.0, 64, 40, shared, 4), (0.0, 64, 40, shared, 4)]
    seen = []

    run = simulate_disaggregated(specs, CONFIG, 4096, stepper="reference", decode_kv_tokens=4096,
                                 observe=lambda dec: seen.append(dec.kv.used))
    assert all(r.status == "completed" for r in run.requests)
    # both decoding: 16 shared prompt blocks + each one's own tail and growth (<= 11 blocks each), not 2 x 27
    assert max(seen) <= 16 + 2 * 11, seen
    assert run.replica.kv.cached_entries == 16
