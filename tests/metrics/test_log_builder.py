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
