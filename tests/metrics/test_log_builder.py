"""RequestLogBuilder: rows written as requests finish equal the log built from the objects at the end."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.metrics import COLUMNS, RequestLog
from chaos.metrics.log import RequestLogBuilder


@dataclass
class Rec:
    id: int
    arrival_s: float
    status: str
    first_token_s: float = math.nan
    finish_s: float = math.nan
    input_tokens: int = 10
    output_tokens: int = 5
    generated_tokens: int = 0
    reason: str = ""
    replicas: list = field(default_factory=list)
    retries: int = 0
    preemptions: int = 0
    prefix_hit_tokens: int = 0


records = st.lists(st.builds(
    Rec, id=st.integers(0, 10**6), arrival_s=st.floats(0, 1e4),
    status=st.sampled_from(["completed", "failed", "rejected", "queued", "in_flight"]),
    first_token_s=st.one_of(st.just(math.nan), st.floats(0, 1e4)), generated_tokens=st.integers(0, 100),
    reason=st.sampled_from(["", "deadline of 5s exceeded", "no healthy replica"]),
    replicas=st.lists(st.sampled_from(["aggregated-0", "prefill-1", "decode-2"]), max_size=2),
    retries=st.integers(0, 3)), max_size=40, unique_by=lambda r: r.id)


def _same(a: RequestLog, b: RequestLog) -> None:
    for name in COLUMNS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), name
        else:
            assert x.tolist() == y.tolist(), name


@settings(max_examples=50)
@given(records, st.integers(0, 40))
def test_builder_equals_from_records_sorted_by_id(recs, n_done):
    builder = RequestLogBuilder()
    for r in recs[:n_done]:
        builder.append(r)
    assert len(builder) == len(recs[:n_done])
    got = builder.build(recs[n_done:], sort_by_id=True)
    _same(got, RequestLog.from_records(sorted(recs, key=lambda r: r.id)))
    _same(builder.build(), RequestLog.from_records(recs[:n_done]))


def test_strings_are_shared_between_rows():
    builder = RequestLogBuilder()
    for i in range(3):
        builder.append(Rec(i, 0.0, "failed", reason="x" * 3 + "", replicas=["aggregated-" + str(7)]))
    log = builder.build()
    assert log.replica[0] is log.replica[2] and log.reason[0] is log.reason[1]


@settings(max_examples=40)
@given(records, st.integers(0, 40), st.integers(1, 7))
def test_a_spilling_builder_gives_the_same_log_memory_mapped(recs, n_done, chunk):
    """metrics.spill: full chunks written to disk and read back memory-mapped give the in-memory log."""
    memory, disk = RequestLogBuilder("off"), RequestLogBuilder("on", chunk_rows=chunk)
    for r in recs[:n_done]:
        memory.append(r)
        disk.append(r)
    done = len(recs[:n_done])
    assert len(disk) == len(memory) == done and disk.spilled_rows == (done // chunk) * chunk
    for sort in (True, False):
        _same(disk.build(recs[n_done:], sort_by_id=sort), memory.build(recs[n_done:], sort_by_id=sort))
    if disk.spilled_rows:
        assert isinstance(disk.build().arrival_s.base, np.memmap)


def test_auto_spills_only_past_the_threshold(monkeypatch):
    from chaos.metrics import spill
    monkeypatch.setattr(spill, "AUTO_ROWS", 10)
    builder = RequestLogBuilder("auto", chunk_rows=4)
    for i in range(9):
        builder.append(Rec(i, float(i), "completed", generated_tokens=5))
    assert builder.spilled_rows == 0             # 9 rows: under the threshold, all in memory
    for i in range(9, 12):
        builder.append(Rec(i, float(i), "completed", generated_tokens=5))
    assert builder.spilled_rows == 10 and len(builder) == 12     # the 10th row crossed it: all 10 went
    assert builder.build().id.tolist() == list(range(12))


@settings(max_examples=60, deadline=None)
@given(status=st.sampled_from(["completed", "failed", "rejected", "queued", "running", "in_flight"]),
       reason=st.sampled_from(["", "deadline of 5s exceeded", "shed: overload"]),
       replicas=st.lists(st.sampled_from(["aggregated-0", "prefill-1", "decode-2"]), max_size=3),
       generated=st.integers(0, 40), retries=st.integers(0, 3), tenant=st.integers(0, 3),
       first=st.one_of(st.just(math.nan), st.floats(0, 1e4)))
def test_request_row_is_row_of_an_engine_request(status, reason, replicas, generated, retries, tenant, first):
    """The driver's fast row (request_row) is exactly what the generic reader gives for a Request."""
    from chaos.engine.request import Request
    from chaos.metrics.log import _row, request_row

    r = Request(7, 1.25, 300, 41, None, 512, tenant=tenant)
    r.status, r.reason, r.replicas, r.generated, r.retries, r.first_token_s = (
        status, reason, list(replicas), generated, retries, first)
    fast, generic = request_row(r), _row(r)
    assert len(fast) == len(COLUMNS)
    assert [type(v) for v in fast] == [type(v) for v in generic]
    assert all(a == b or (a != a and b != b) for a, b in zip(fast, generic))
