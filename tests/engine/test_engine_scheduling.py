"""engine.scheduling: priority (vLLM's priority scheduling) and fair (VTC), against fcfs and the reference stepper."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.engine import EngineConfig
from chaos.engine.scheduling import FairQueue, PriorityQueue, TenantTable

from engine_helpers import simulate, simulate_disaggregated
from test_engine_equivalence import assert_conserved, assert_same, scenarios, schedules

W_IN, W_OUT = 1.0, 2.0


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(["priority", "fair"]))
def test_fast_equals_reference_with_tenants(data, policy):
    specs, config, kv_tokens = data.draw(scenarios())
    config = config.model_copy(update={"scheduling": policy})
    tenants = data.draw(st.lists(st.integers(0, 2), min_size=len(specs), max_size=len(specs)))
    table = TenantTable(priorities=tuple(data.draw(st.lists(st.integers(0, 3), min_size=3, max_size=3))),
                        weights=tuple(data.draw(st.lists(st.sampled_from([0.5, 1.0, 3.0]), min_size=3, max_size=3))))
    actions = data.draw(schedules(specs, kv_tokens)) if data.draw(st.booleans()) else ()
    probes = sorted(data.draw(st.lists(st.floats(0.0, 3.0), max_size=10)))
    kw = dict(observe_at=probes, actions=actions, tenants=tenants, table=table)
    fast = simulate(specs, config, kv_tokens, stepper="fast", **kw)
    ref = simulate(specs, config, kv_tokens, stepper="reference", **kw)
    assert_same(fast, ref)
    assert fast.observations == ref.observations
    if not actions:
        assert_conserved(fast)       # every request ends: neither policy starves anyone for good
    assert_tenant_itl(fast, ref)


def assert_tenant_itl(fast, ref):
    """ITL by tenant: each tenant's decode tokens agree between the steppers, and the tenants' weights
    sum to the replica's (every decode token is some tenant's)."""
    per_fast, per_ref = fast.replica.tenant_itl_samples(), ref.replica.tenant_itl_samples()
    tokens = lambda per: {t: int(a.weights.sum()) for t, a in per.items() if a.weights.sum()}
    assert tokens(per_fast) == tokens(per_ref)
    assert sum(tokens(per_fast).values()) == int(fast.replica.itl_weights.sum())


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(["priority", "fair"]), st.floats(0.0, 0.05), st.sampled_from([1.0, 0.5, 0.25]))
def test_fast_equals_reference_disaggregated_with_tenants(data, policy, transfer_s, decode_frac):
    """Both policies on a prefill and a decode replica, the decode pool small enough that transfers
    queue for KV reservations and reserved requests are admitted past a blocked head."""
    specs, config, kv_tokens = data.draw(scenarios())
    config = config.model_copy(update={"scheduling": policy})
    tenants = data.draw(st.lists(st.integers(0, 2), min_size=len(specs), max_size=len(specs)))
    table = TenantTable(priorities=tuple(data.draw(st.lists(st.integers(0, 3), min_size=3, max_size=3))),
                        weights=tuple(data.draw(st.lists(st.sampled_from([0.5, 1.0, 3.0]), min_size=3, max_size=3))))
    decode_kv = max(config.block_size, int(kv_tokens * decode_frac))
    kw = dict(transfer_s=transfer_s, decode_kv_tokens=decode_kv, tenants=tenants, table=table)
    fast = simulate_disaggregated(specs, config, kv_tokens, stepper="fast", **kw)
    ref = simulate_disaggregated(specs, config, kv_tokens, stepper="reference", **kw)
    assert_same(fast, ref)
    assert_conserved(fast)
    assert fast.replica.num_reserving == 0 and fast.replica.num_reserved == 0
    assert_tenant_itl(fast, ref)


def _service(requests, tenant: int) -> float:
    """Weighted service a tenant's requests received so far: w_p x prompt tokens computed + w_q x output."""
    total = 0.0
    for r in requests:
        if r.tenant != tenant:
            continue
        prompt = r.input_tokens if r.generated_tokens > 0 else r.prefilled_tokens
        total += W_IN * prompt + W_OUT * r.generated_tokens
    return total


def _run_sampled(policy, specs, tenants, weights, kv_tokens, config, until=30.0):
    """Run to `until`, sampling the weighted service gap every 10 ms while both tenants are backlogged."""
    config = config.model_copy(update={"scheduling": policy, "stepper": "reference", "prefix_cache": False})
    table = TenantTable(priorities=(1, 1), weights=weights)
    gaps: list[float] = []
    holder: list = []

    def sample():
        run = holder[0]
        waiting = {r.tenant for r in run.replica.requests() if r.status == "queued"}
        if waiting == {0, 1}:
            gaps.append(abs(_service(run.requests, 0) / weights[0] - _service(run.requests, 1) / weights[1]))

    actions = [(i * 0.01, "sample", None) for i in range(1, int(until / 0.01))]
    run = simulate(specs, config, kv_tokens, tenants=tenants, table=table, until=until,
                   actions=actions, on_action={"sample": sample}, holder=holder)
    return gaps, run


def _vtc_bound(specs, kv_tokens, weights) -> float:
    """2U / min weight, U = max(w_p x longest prompt, w_q x M), M the KV capacity in tokens: the service
    difference bound of two backlogged clients (Sheng et al., OSDI 2024, §4.2, weighted in §4.3)."""
    longest = max(s[1] for s in specs)
    return 2 * max(W_IN * longest, W_OUT * kv_tokens) / min(weights)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_vtc_bounds_service_difference_of_backlogged_tenants(data):
    n = 60
    specs, tenants = [], []
    for tenant in (0, 1):
        for _ in range(n):
            specs.append((0.0, data.draw(st.integers(1, 200)), data.draw(st.integers(1, 300))))
            tenants.append(tenant)
    weights = (float(data.draw(st.sampled_from([1, 2, 3]))), float(data.draw(st.sampled_from([1, 2]))))
    config = EngineConfig(block_size=16, max_num_seqs=data.draw(st.integers(1, 6)),
                          max_num_batched_tokens=data.draw(st.sampled_from([64, 256, 2048])),
                          chunked_prefill=data.draw(st.booleans()))
    kv_tokens = 16 * 160
    gaps, run = _run_sampled("fair", specs, tenants, weights, kv_tokens, config, until=8.0)
    assert gaps, "both tenants should be backlogged for a while"
    assert max(gaps) <= _vtc_bound(specs, kv_tokens, weights)


def test_fcfs_breaks_the_bound_that_vtc_keeps():
    """A tenant whose requests are 20x longer takes nearly all service under fcfs; VTC evens it out."""
    specs, tenants = [], []
    for i in range(300):
        specs.append((i * 1e-4, 100, 400))
        tenants.append(0)
        specs.append((i * 1e-4 + 5e-5, 100, 20))
        tenants.append(1)
    config = EngineConfig(block_size=16, max_num_seqs=4, max_num_batched_tokens=512)
    kv_tokens = 16 * 128
    bound = _vtc_bound(specs, kv_tokens, (1.0, 1.0))
    fair, _ = _run_sampled("fair", specs, tenants, (1.0, 1.0), kv_tokens, config, until=20.0)
    fcfs, _ = _run_sampled("fcfs", specs, tenants, (1.0, 1.0), kv_tokens, config, until=20.0)
    assert max(fair) <= bound
    assert max(fcfs) > 2 * bound


def test_fair_weights_split_service_in_proportion():
    specs, tenants = [], []
    for i in range(400):
        specs.append((0.0, 64, 64))
        tenants.append(i % 2)
    config = EngineConfig(block_size=16, max_num_seqs=8, max_num_batched_tokens=512, scheduling="fair")
    run = simulate(specs, config, 1 << 16, tenants=tenants, table=TenantTable((1, 1), (3.0, 1.0)), until=5.0)
    a, b = _service(run.requests, 0), _service(run.requests, 1)
    assert 2.6 < a / b < 3.4


def _preemption_case(policy: str):
    # two batch requests (tenant 1, priority 2) fill a 2-sequence batch; an interactive one arrives at 0.1s
    specs = [(0.0, 50, 500), (0.0, 50, 500), (0.1, 50, 10)]
    config = EngineConfig(block_size=16, max_num_seqs=2, max_num_batched_tokens=512, scheduling=policy)
    return simulate(specs, config, 1 << 16, tenants=[1, 1, 0], table=TenantTable((0, 2), (1.0, 1.0)))


def test_priority_arrival_preempts_a_lower_priority_running_sequence():
    pri, fcfs = _preemption_case("priority"), _preemption_case("fcfs")
    ttft = lambda run: run.requests[2].first_token_s - 0.1
    assert ttft(pri) < 0.02                          # admitted at the next iteration
    assert ttft(fcfs) > 1.0                          # waits for a batch request to finish
    assert sum(r.preemptions for r in pri.requests[:2]) == 1
    assert pri.requests[1].preemptions == 1          # the victim: lowest priority, latest arrival
    assert all(r.status == "completed" for r in pri.requests)   # the preempted one comes back


def test_priority_queue_orders_by_priority_then_arrival_and_requeues_in_place():
    from chaos.engine import Request
    table = TenantTable((2, 0, 1))
    q = PriorityQueue(table)
    reqs = [Request(id=i, arrival_s=float(t), input_tokens=1, output_tokens=1, tenant=k)
            for i, (t, k) in enumerate([(0, 0), (1, 1), (2, 2), (3, 1), (4, 0)])]
    for r in reqs:
        q.append(r)
    q.remove(reqs[3])
    order = []
    while q:
        order.append(q.popleft().id)
    assert order == [1, 2, 0, 4]
    q.append(reqs[4])
    q.appendleft(reqs[0])            # a preempted request goes back by its key, not to the front
    assert q[0] is reqs[0] and [r.id for r in q] == [0, 4]


def test_fair_queue_lifts_a_newly_backlogged_tenant():
    from chaos.engine import Request
    clock = [0]
    q = FairQueue(TenantTable((1, 1), (1.0, 1.0)), 1.0, 2.0, clock=lambda: clock[0])
    a = Request(id=0, arrival_s=0.0, input_tokens=100, output_tokens=1, tenant=0)
    q.append(a)
    q.charge(q.popleft(), 1000, output=False)       # tenant 0 served 1000; queue empty again
    b = Request(id=1, arrival_s=1.0, input_tokens=1, output_tokens=1, tenant=1)
    q.append(b)                                      # idle tenant 1 is lifted to the last counter
    assert q.value(1) == 1000.0
    c = Request(id=2, arrival_s=1.0, input_tokens=1, output_tokens=1, tenant=0)
    q.append(c)
    assert q[0] is c                                 # tie on counters -> lower tenant id
    q.decode(c, 0, 1)
    clock[0] = 10                                    # 10 decode tokens for tenant 0
    assert q.value(0) == 1020.0 and q[0] is b


def test_a_head_that_preempts_the_last_decoder_gets_its_token_budget():
    """Regression (found by the property above): with max_num_batched_tokens 1 the decode replica's one
    decoder (low priority) used the whole budget; the high-priority recompute head preempted it, and
    the budget stayed 0, so neither the head nor the reserved transfers behind it were admitted; with
    nothing running the replica slept forever and 4 requests never ended. A preempted decoder's token
    now goes back to the iteration's budget."""
    specs = [(0.0, 1, 1, None, 3)] * 37
    specs[0] = (0.0, 160, 3, None, 3)
    specs[12] = (0.0, 128, 2, None, 3)
    specs[15] = (0.0, 208, 2, None, 3)
    specs[34] = (0.0, 103, 27, tuple(range(1034000, 1034035)), 3)
    tenants = [1 if i in (0, 12, 15) else 0 for i in range(37)]
    config = EngineConfig(max_num_seqs=1, max_num_batched_tokens=1, block_size=16, prefix_cache=True,
                          chunked_prefill=False, kv_admission="chunk", scheduling="priority")
    kw = dict(transfer_s=0.0, decode_kv_tokens=672, tenants=tenants,
              table=TenantTable(priorities=(0, 1, 0), weights=(0.5, 0.5, 0.5)))
    fast = simulate_disaggregated(specs, config, 672, stepper="fast", **kw)
    ref = simulate_disaggregated(specs, config, 672, stepper="reference", **kw)
    assert_same(fast, ref)
    assert_conserved(fast)
    assert [r.status for r in fast.requests].count("completed") == 37
