"""Tenants at the router: token buckets admit exactly their rate, caps, isolation, priority shedding."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.engine import Request
from chaos.routing.tenancy import (REJECT_CONCURRENCY, REJECT_RATE, REJECT_TOKENS, SheddingConfig, TenantGate,
                                   TenantRules, TokenBucket)


def rules(name="t", priority=1, rate=None, token_rate=None, burst=1.0, concurrency=None, isolation=None):
    return TenantRules(name, priority, TokenBucket(rate, rate * burst) if rate else None,
                       TokenBucket(token_rate, token_rate * burst) if token_rate else None, concurrency,
                       frozenset(isolation) if isolation else None)


def req(i, tenant=0, t=0.0, inp=100, out=50):
    return Request(id=i, arrival_s=t, input_tokens=inp, output_tokens=out, tenant=tenant)


@settings(max_examples=40, deadline=None)
@given(rate=st.sampled_from([0.5, 2.0, 5.0, 13.0]), offered=st.sampled_from([2.0, 4.0, 10.0]),
       burst=st.sampled_from([1.0, 5.0]))
def test_token_bucket_admits_exactly_its_rate_over_a_long_window(rate, offered, burst):
    """Offered `offered` x rate evenly for T seconds: admitted = rate x T + the initial burst, +-1."""
    gate = TenantGate([rules(rate=rate, burst=burst)])
    horizon = 600.0
    n = int(horizon * rate * offered)
    admitted = sum(gate.admit(req(i, t=i / (rate * offered)), i / (rate * offered)) is None for i in range(n))
    assert abs(admitted - (rate * horizon + rate * burst)) <= 1.0 + 1e-9


def test_token_rate_counts_prompt_and_output_tokens():
    gate = TenantGate([rules(token_rate=1500.0, burst=1.0)])
    got = [gate.admit(req(i, t=0.0, inp=400, out=100), 0.0) for i in range(4)]
    assert got == [None, None, None, REJECT_TOKENS]          # 3 x 500 tokens fill the 1500-token bucket
    assert gate.admit(req(9, t=1.0), 1.0) is None            # refilled a second later


def test_rate_under_the_limit_admits_everything():
    gate = TenantGate([rules(rate=10.0)])
    assert all(gate.admit(req(i), i * 0.2) is None for i in range(500))


def test_concurrency_cap_and_release():
    gate = TenantGate([rules(concurrency=2), rules(name="free")])
    a, b, c = req(0), req(1), req(2)
    assert gate.admit(a, 0) is None and gate.admit(b, 0) is None
    assert gate.admit(c, 0) == REJECT_CONCURRENCY
    assert gate.admit(req(3, tenant=1), 0) is None            # another tenant is not capped
    gate.release(a)
    gate.release(c)                                           # never admitted: nothing to give back
    assert gate.admit(c, 0) is None
    assert gate.admit(req(4), 0) == REJECT_CONCURRENCY
    assert gate.stats() == {"t": {REJECT_CONCURRENCY: 2}}


def test_a_rejected_request_takes_no_tokens():
    gate = TenantGate([rules(rate=2.0, token_rate=100.0, burst=1.0)])
    assert gate.admit(req(0, inp=30, out=30), 0.0) is None        # 40 tokens left
    assert gate.admit(req(1, inp=30, out=30), 0.0) == REJECT_TOKENS
    assert gate.admit(req(2, inp=20, out=20), 0.0) is None        # the request bucket kept its token
    assert gate.admit(req(3, inp=1, out=1), 0.0) == REJECT_RATE


def test_a_request_larger_than_the_bucket_passes_from_a_full_bucket_and_leaves_a_debt():
    gate = TenantGate([rules(token_rate=100.0, burst=1.0)])
    assert gate.admit(req(0, inp=250, out=250), 0.0) is None      # 500 tokens from a 100-token bucket
    assert gate.admit(req(1, inp=5, out=5), 3.9) == REJECT_TOKENS  # -400 + 390 = -10 < 10
    assert gate.admit(req(2, inp=5, out=5), 4.2) is None


@dataclass
class Rep:
    replica_id: str
    waiting: list = field(default_factory=list)

    def waiting_requests(self):
        return list(self.waiting)

    @property
    def num_waiting(self):
        return len(self.waiting)


def test_isolation_set_by_pool_or_replica():
    gate = TenantGate([rules(isolation=["r1", "r2"]), rules(name="all"), rules(name="pool", isolation=["aggregated"])])
    pool = [Rep("r0"), Rep("r1"), Rep("r2")]
    assert [r.replica_id for r in gate.allowed(req(0), pool, "aggregated")] == ["r1", "r2"]
    assert gate.allowed(req(1, tenant=1), pool, "aggregated") == pool
    assert gate.allowed(req(2, tenant=2), pool, "aggregated") == pool


def test_shedding_takes_the_lowest_priority_newest_waiting_request_first():
    gate = TenantGate([rules("premium", 0), rules("std", 1), rules("batch", 2)],
                      SheddingConfig(max_queue_per_replica=2))
    old_batch, new_batch, std = req(1, 2, t=1.0), req(2, 2, t=2.0), req(3, 1, t=0.5)
    reps = [Rep("a", [old_batch, std]), Rep("b", [new_batch, req(4, 0, t=0.1)])]
    assert gate.shed_victim(req(9, 0, t=3.0), reps) == (False, new_batch)
    assert gate.shed_victim(req(9, 2, t=3.0), reps) == (True, None)       # nothing below batch waits
    reps = [Rep("a", [std, req(5, 0)]), Rep("b", [req(6, 1, t=0.7), req(7, 0)])]
    assert gate.shed_victim(req(9, 1, t=3.0), reps) == (True, None)       # std sheds itself, never premium
    assert gate.shed_victim(req(9, 0, t=3.0), reps)[1].id == 6
    assert gate.shed_victim(req(9, 0, t=3.0), [Rep("a", [std])]) == (False, None)   # not overloaded
    with pytest.raises(ValueError):
        SheddingConfig(max_queue_per_replica=0)
