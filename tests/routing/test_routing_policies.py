"""Each routing policy on hand-built fake replicas; config validation messages."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import simpy
from pydantic import ValidationError

from chaos.engine import EngineConfig, Replica, Request, call_at
from chaos.errors import RegistryError, SimulationError
from chaos.rng import stream
from chaos.routing import ROUTERS, Router, RouterConfig, build_router


@dataclass
class FakeReplica:
    replica_id: str
    outstanding: int = 0
    kv_blocks_used: int = 0
    kv_blocks_total: int = 1000
    cached: tuple[int, ...] = ()
    block_size: int = 16
    num_waiting: int = 0
    num_running: int = 0
    prefill_tokens_pending: int = 0

    def match_prefix_blocks(self, hash_ids) -> int:
        m = 0
        while m < len(hash_ids) and m < len(self.cached) and hash_ids[m] == self.cached[m]:
            m += 1
        return m * 2                       # 32-token hash blocks = 2 KV blocks of 16


def req(i=0, input_tokens=320, hash_ids=None):
    return Request(id=i, arrival_s=0.0, input_tokens=input_tokens, output_tokens=10, hash_ids=hash_ids,
                   hash_block_tokens=32)


def router(policy, seed=0, **kw) -> Router:
    return build_router(RouterConfig(policy=policy, **kw), stream(seed, "routing"))


def test_registered_policies():
    assert ROUTERS.names() == ["kv_aware", "least_outstanding", "power_of_two", "random", "round_robin"]


def test_round_robin_cycles_in_order_per_pool():
    reps = [FakeReplica(f"r{i}") for i in range(3)]
    rr = router("round_robin")
    assert [rr.route(req(), reps).replica_id for _ in range(7)] == ["r0", "r1", "r2", "r0", "r1", "r2", "r0"]
    pre, dec = [FakeReplica("p0"), FakeReplica("p1")], [FakeReplica("d0"), FakeReplica("d1"), FakeReplica("d2")]
    rr = router("round_robin")
    pairs = [tuple(x.replica_id for x in rr.route_disaggregated(req(), pre, dec)) for _ in range(4)]
    assert pairs == [("p0", "d0"), ("p1", "d1"), ("p0", "d2"), ("p1", "d0")]


@pytest.mark.parametrize("loads, expected", [
    ([3, 1, 2], "r1"),
    ([2, 1, 1], "r1"),          # tie -> lowest index
    ([0, 0, 0], "r0"),
], ids=["fewest", "tie-lowest-index", "all-idle"])
def test_least_outstanding(loads, expected):
    reps = [FakeReplica(f"r{i}", outstanding=n) for i, n in enumerate(loads)]
    assert router("least_outstanding").route(req(), reps).replica_id == expected


def test_power_of_two_is_deterministic_under_a_seed_and_picks_the_lighter_of_two():
    reps = [FakeReplica(f"r{i}", outstanding=n) for i, n in enumerate([5, 0, 3, 9, 1])]
    a = [router("power_of_two", seed=7).route(req(), reps).replica_id for _ in range(1)]
    r1, r2 = router("power_of_two", seed=7), router("power_of_two", seed=7)
    picks1 = [r1.route(req(), reps).replica_id for _ in range(50)]
    picks2 = [r2.route(req(), reps).replica_id for _ in range(50)]
    assert picks1 == picks2 and picks1[0] == a[0]
    assert "r3" not in picks1                         # the most loaded one never wins a pair
    rng = stream(7, "routing")                        # replay the draws by hand
    for pick in picks1[:10]:
        i, j = rng.choice(5, size=2, replace=False)
        assert pick == f"r{min((i, j), key=lambda k: (reps[k].outstanding, k))}"
    assert router("power_of_two").route(req(), reps[:1]).replica_id == "r0"


def test_random_uses_the_routing_stream():
    reps = [FakeReplica(f"r{i}") for i in range(4)]
    picks = [router("random", seed=3).route(req(), reps).replica_id for _ in range(1)]
    rng = stream(3, "routing")
    assert picks[0] == f"r{int(rng.integers(4))}"


def test_kv_aware_prefers_the_replica_with_the_cached_prefix():
    ids = tuple(range(10))                            # 10 hash blocks of 32 tokens = 320 tokens
    reps = [FakeReplica("r0", kv_blocks_used=5), FakeReplica("r1", kv_blocks_used=8, cached=ids[:6]),
            FakeReplica("r2", kv_blocks_used=0)]
    # costs: r0 = 20 + 5, r1 = (20 - 12) + 8 = 16, r2 = 20 + 0
    assert router("kv_aware").route(req(hash_ids=ids), reps).replica_id == "r1"
    # with overlap weight 0 only KV use counts
    assert router("kv_aware", overlap_weight=0.0).route(req(hash_ids=ids), reps).replica_id == "r2"
    # ties -> fewer outstanding, then index
    tied = [FakeReplica("a", outstanding=2), FakeReplica("b", outstanding=1), FakeReplica("c", outstanding=1)]
    assert router("kv_aware").route(req(), tied).replica_id == "b"


def test_kv_aware_on_the_decode_pool_uses_kv_use_only():
    ids = tuple(range(10))
    pre = [FakeReplica("p0"), FakeReplica("p1", cached=ids)]
    dec = [FakeReplica("d0", kv_blocks_used=9, cached=ids), FakeReplica("d1", kv_blocks_used=3)]
    p, d = router("kv_aware").route_disaggregated(req(hash_ids=ids), pre, dec)
    assert (p.replica_id, d.replica_id) == ("p1", "d1")


def test_kv_aware_on_real_replicas_follows_the_prefix_cache():
    env = simpy.Environment()
    cfg = EngineConfig(block_size=16)
    reps = [Replica(env, f"r{i}", "aggregated", _Cost(), 100_000, cfg, lambda *a: None) for i in range(3)]
    warm = Request(id=0, arrival_s=0.0, input_tokens=512, output_tokens=2, hash_ids=(1, 2, 3, 4),
                   hash_block_tokens=128)
    call_at(env, 0.0, lambda: reps[2].submit(warm))
    env.run()
    kv = router("kv_aware")
    same_prefix = Request(id=1, arrival_s=1.0, input_tokens=600, output_tokens=2, hash_ids=(1, 2, 3, 4, 5),
                          hash_block_tokens=128)
    assert kv.route(same_prefix, reps).replica_id == "r2"
    other = Request(id=2, arrival_s=1.0, input_tokens=600, output_tokens=2, hash_ids=(9,), hash_block_tokens=128)
    assert kv.route(other, reps).replica_id == "r0"


class _Cost:
    def iteration_time(self, n_decode, decode_ctx_sum, prefill_tokens, prefill_attn_ctx=0.0, prefill_kv_read=0.0,
                       prefill_seqs=None):
        return 0.01

    def decode_stretch(self, n_decode, ctx_sum0, k):
        return np.full(k, 0.01)


def test_empty_pool_is_an_error():
    with pytest.raises(SimulationError, match="pool 'aggregated' is empty"):
        router("round_robin").route(req(), [])


@pytest.mark.parametrize("bad, message", [
    ({"policy": "kv-awre"}, "expected one of kv_aware, least_outstanding, power_of_two, random, round_robin "
                            "but got 'kv-awre' (did you mean kv_aware?)"),
    ({"policy": "fastest"}, "but got 'fastest'"),
    ({"policy": "kv_aware", "overlap_weight": -1}, "greater than or equal to 0"),
    ({"policy": "random", "weights": 1}, "Extra inputs are not permitted"),
], ids=["typo", "unknown", "negative-weight", "unknown-field"])
def test_bad_router_config(bad, message):
    with pytest.raises(ValidationError) as info:
        RouterConfig(**bad)
    assert message in str(info.value)


def test_registry_lookup_of_unknown_name():
    with pytest.raises(RegistryError, match="unknown router policy: expected one of .* \\(did you mean random\\?\\)"):
        ROUTERS.get("randm")


def test_default_policy():
    assert RouterConfig().policy == "least_outstanding"


def test_kv_aware_counts_the_prompts_already_queued_on_a_replica():
    """Cache affinity loses to a long queue: 320 cached tokens do not beat 4,000 queued ones."""
    hashes = tuple(range(10))
    cached_but_busy = FakeReplica("a", cached=hashes, prefill_tokens_pending=4000)
    idle = FakeReplica("b")
    picked = router("kv_aware").route(req(hash_ids=hashes), [cached_but_busy, idle])
    assert picked is idle          # costs: a = 250 queued blocks + 0 uncached, b = 0 + 20 prompt blocks
    lightly_busy = FakeReplica("a", cached=hashes, prefill_tokens_pending=160)
    assert router("kv_aware").route(req(hash_ids=hashes), [lightly_busy, idle]) is lightly_busy
