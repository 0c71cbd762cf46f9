"""The router's incremental view of a pool: the same picks as a full scan, without scanning per request."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.engine import Request
from chaos.rng import stream
from chaos.routing import RouterConfig, build_resilient_router, build_router
from chaos.routing.base import fewest_outstanding
from chaos.routing.view import LoadIndex


class Loaded:
    """A replica that reports its load changes through `on_load`, as chaos.engine.Replica does, and
    counts how often its load is read."""

    block_size = 16
    num_waiting = 0
    num_running = 0
    kv_blocks_used = 0
    kv_blocks_total = 1000
    prefill_tokens_pending = 0

    def __init__(self, replica_id: str) -> None:
        self.replica_id = replica_id
        self.on_load = None
        self.reads = 0
        self._load = 0

    @property
    def outstanding(self) -> int:
        self.reads += 1
        return self._load

    def set_load(self, n: int) -> None:
        self._load = n
        if self.on_load is not None:
            self.on_load(self)

    def match_prefix_blocks(self, hash_ids) -> int:
        return 0


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def req(i: int) -> Request:
    return Request(id=i, arrival_s=0.0, input_tokens=100, output_tokens=10)


ops = st.lists(st.tuples(st.sampled_from(["load", "down", "up", "error", "tick", "join", "leave", "pick"]),
                         st.integers(0, 11), st.integers(0, 9)), min_size=1, max_size=120)


@settings(max_examples=60)
@given(policy=st.sampled_from(["least_outstanding", "power_of_two", "round_robin", "random"]), ops=ops)
def test_incremental_view_picks_exactly_what_a_full_scan_picks(policy, ops):
    """Over random load changes, health marks, ejections (and their expiry) and membership changes, the
    router's kept view gives the policy what filtering the whole pool would, and the policy picks the same."""
    clock = Clock()
    cfg = RouterConfig(policy=policy, outlier={"consecutive_errors": 1, "ejection_time": 5.0,
                                               "max_ejection_percent": 100})
    rr = build_resilient_router(cfg, 3, clock)
    bare = build_router(cfg, stream(3, "routing"))      # the same rng stream, fed the scanned list
    everyone = [Loaded(f"r{i}") for i in range(12)]
    members = everyone[:8]
    pool = tuple(members)
    assert rr.pick(req(-1), pool) is bare.route(req(-1), list(pool))
    for n, (op, k, v) in enumerate(ops):
        rep = everyone[k]
        if op == "load":
            rep.set_load(v)
        elif op == "down":
            rr.mark(rep.replica_id, False, "health check", clock.t)
        elif op == "up":
            rr.mark(rep.replica_id, True, "health check", clock.t)
        elif op == "error" and rep in members:
            rr.on_error(rep.replica_id, clock.t, "refused")
        elif op == "tick":
            clock.t += v
        elif op == "join" and rep not in members:
            members.append(rep)
            pool = tuple(members)
        elif op == "leave" and rep in members and len(members) > 1:
            members.remove(rep)
            pool = tuple(members)
        got = rr.pick(req(n), pool)
        scanned = [r for r in pool if rr.available(r.replica_id)]
        want = bare.route(req(n), scanned) if scanned else None
        assert got is want
        if policy == "least_outstanding" and scanned:
            assert got is scanned[fewest_outstanding(scanned, range(len(scanned)))]


def test_least_outstanding_on_a_large_pool_reads_no_load_per_pick():
    """After the view is built, a pick is a heap lookup: no replica's load is read again (a scan would
    read all 1,000), and a load change is one read of that replica."""
    rr = build_resilient_router(RouterConfig(policy="least_outstanding"), 1, Clock())
    reps = [Loaded(f"r{i}") for i in range(1000)]
    for i, r in enumerate(reps):
        r._load = 5 + i % 7
    pool = tuple(reps)
    assert rr.pick(req(0), pool) is reps[0]
    before = sum(r.reads for r in reps)
    reps[500].set_load(0)
    assert rr.pick(req(1), pool) is reps[500]
    reps[500].set_load(9)
    reps[999].set_load(1)
    assert rr.pick(req(2), pool) is reps[999]
    assert sum(r.reads for r in reps) - before == 3
    rr.mark("r999", False, "health check", 0.0)          # a mark rebuilds the view once
    assert rr.pick(req(3), pool).replica_id == "r0"


def test_load_index_ties_go_to_the_lowest_position():
    reps = [Loaded(f"r{i}") for i in range(4)]
    for r in reps:
        r._load = 2
    index = LoadIndex(reps)
    assert index.argmin() == 0
    reps[0]._load = 3
    index.update(reps[0])
    assert index.argmin() == 1
    reps[0]._load = 2
    index.update(reps[0])
    assert index.argmin() == 0
    for _ in range(300):                                  # stale entries are compacted, answers unchanged
        reps[2]._load = 1
        index.update(reps[2])
        reps[2]._load = 4
        index.update(reps[2])
    assert index.argmin() == 0 and len(index._heap) <= 4 * 4 + 64
