"""Summaries of a hand-computed five-request log, weighted ITL percentiles, SLO config, NaN handling."""
from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chaos.errors import SimulationError
from chaos.metrics import (ItlSamples, RequestLog, Slo, SloConfig, Status, summarize, weighted_quantile)

NAN = math.nan


def test_per_request_metrics(log5):
    log = log5
    assert np.allclose(log.ttft_s()[:4], [1.0, 0.5, 2.0, 0.5]) and np.isnan(log.ttft_s()[4])
    assert np.allclose(log.tpot_s()[:3], [0.5, 0.1, 0.1]) and np.isnan(log.tpot_s()[3:]).all()
    assert np.allclose(log.e2e_s()[:3], [3.0, 0.7, 3.0])


def test_five_request_summary_by_hand(log5):
    s = summarize(log5, slo=Slo(ttft_s=1.0, tpot_s=0.2)).to_dict()
    assert s["requests"] == {"arrived": 5, "completed": 3, "failed": 1, "rejected": 1, "in_flight": 0}
    # TTFT of every request that got a first token: sorted [0.5, 0.5, 1.0, 2.0]
    assert s["ttft_s"] == pytest.approx({"p50": 0.75, "p90": 1.7, "p99": 1.97, "max": 2.0, "mean": 1.0})
    # TPOT of completed requests: sorted [0.1, 0.1, 0.5]
    assert s["tpot_s"] == pytest.approx({"p50": 0.1, "p90": 0.42, "p99": 0.492, "max": 0.5, "mean": 0.7 / 3})
    assert s["e2e_s"] == pytest.approx({"p50": 3.0, "p90": 3.0, "p99": 3.0, "max": 3.0, "mean": 6.7 / 3})
    # span 0..5 s (last finish); 5 + 3 + 11 tokens
    assert s["throughput_tok_s"] == pytest.approx(19 / 5)
    assert s["throughput_rps"] == pytest.approx(3 / 5)
    # only request 1 meets ttft <= 1 s and tpot <= 0.2 s
    assert s["goodput_rps"] == pytest.approx(1 / 5)
    assert s["slo_attainment"] == pytest.approx(1 / 3)
    # hits 150 over inputs 100+200+300+400 of requests that started
    assert s["prefix_hit_ratio"] == pytest.approx(0.15)
    assert s["itl_s"] == {"p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    json.dumps(s)


def test_window(log5):
    s = summarize(log5, window=(0.0, 2.6), slo=Slo(ttft_s=1.0))
    assert s.requests == {"arrived": 3, "completed": 3, "failed": 0, "rejected": 0, "in_flight": 0}
    assert s.throughput_tok_s == pytest.approx(3 / 2.6)      # only request 1 finished (1.7 s)
    assert s.throughput_rps == pytest.approx(1 / 2.6)
    assert s.ttft_s.p50 == pytest.approx(0.75) and s.ttft_s.max == 1.0   # first tokens at 1.0 and 1.5
    assert s.goodput_rps == pytest.approx(1 / 2.6)
    with pytest.raises(ValueError, match="end >= start"):
        summarize(log5, window=(3, 2))
    assert math.isnan(summarize(log5, window=(3, 3)).throughput_rps)


def test_no_slo_gives_nan_goodput(log5):
    d = summarize(log5).to_dict()
    assert d["goodput_rps"] is None and d["slo_attainment"] is None


def test_empty_log_is_all_none():
    empty = RequestLog(id=[], generated_tokens=[])
    d = summarize(empty, slo=Slo(1.0, 0.1)).to_dict()
    assert d["requests"] == {"arrived": 0, "completed": 0, "failed": 0, "rejected": 0, "in_flight": 0}
    assert d["ttft_s"]["p99"] is None and d["throughput_rps"] is None and d["slo_attainment"] is None
    json.dumps(d)


def test_itl_weighted(log5):
    itl = ItlSamples(gaps_s=[0.05, 0.01, 0.02], weights=[1, 3, 2], t_s=[10.0, 1.0, 2.0])
    s = summarize(log5, itl=itl)
    # as if [0.01, 0.01, 0.01, 0.02, 0.02, 0.05]
    assert s.itl_s.p50 == pytest.approx(0.015)
    assert s.itl_s.mean == pytest.approx(0.02)
    assert s.itl_s.max == 0.05
    windowed = summarize(log5, itl=itl, window=(0, 5))
    assert windowed.itl_s.max == 0.02


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.integers(0, 6)), min_size=1, max_size=40),
       st.lists(st.floats(0, 1), min_size=1, max_size=5))
def test_weighted_quantile_equals_repeat(pairs, qs):
    v = np.array([p[0] for p in pairs])
    w = np.array([p[1] for p in pairs])
    got = weighted_quantile(v, w, np.array(qs))
    if w.sum() == 0:
        assert np.isnan(got).all()
    else:
        assert np.allclose(got, np.quantile(np.repeat(v, w), qs))


def test_counts_must_add_up(log5):
    log = log5
    log.status[2] = 0   # not a Status code
    with pytest.raises(SimulationError, match="do not add up"):
        log.counts()


def test_from_records_engine_like():
    recs = [SimpleNamespace(id=0, arrival_s=0.0, first_token_s=0.5, finish_s=1.0, input_tokens=10,
                            output_tokens=4, status="completed", reason="", replicas=["prefill-0", "decode-1"],
                            retries=1, prefix_hit_tokens=0),
            SimpleNamespace(id=1, arrival_s=0.2, first_token_s=NAN, finish_s=NAN, input_tokens=10,
                            output_tokens=4, status="pending", reason="", replicas=[])]
    log = RequestLog.from_records(recs)
    assert log.replica.tolist() == ["prefill-0+decode-1", ""]
    assert log.generated_tokens.tolist() == [4, 0]
    assert log.counts() == {"arrived": 2, "completed": 1, "failed": 0, "rejected": 0, "in_flight": 1}
    assert log.retries.tolist() == [1, 0] and log.preemptions.tolist() == [0, 0]


def test_column_length_check():
    with pytest.raises(ValueError, match="arrival_s has length 2, expected 3"):
        RequestLog(id=[0, 1, 2], arrival_s=[0.0, 1.0], generated_tokens=[1, 1, 1])


@pytest.mark.parametrize("body,expected", [
    pytest.param({"ttft_p99": "2s", "tpot_p99": "100ms"}, Slo(2.0, 0.1), id="p99-keys"),
    pytest.param({"ttft": "500ms"}, Slo(0.5, None), id="short-key"),
    pytest.param({"tpot": 0.05}, Slo(None, 0.05), id="number"),
])
def test_slo_config(body, expected):
    assert SloConfig.model_validate(body).to_slo() == expected


@pytest.mark.parametrize("body,match", [
    pytest.param({"ttft": "2s", "ttft_p99": "1s"}, "given twice", id="duplicate"),
    pytest.param({"ttft_p50": "2s"}, "ttft_p50", id="unknown-key"),
    pytest.param({"ttft": "fast"}, "expected a duration", id="bad-duration"),
])
def test_slo_config_bad(body, match):
    with pytest.raises(ValidationError, match=match):
        SloConfig.model_validate(body)


def test_to_pandas_needs_pandas(log5):
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            log5.to_pandas()
    else:
        df = log5.to_pandas()
        assert list(df["status"]) == ["COMPLETED"] * 3 + ["FAILED", "REJECTED"]


LOGS = st.integers(1, 60).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0, 100), min_size=n, max_size=n),
    st.lists(st.floats(0, 10), min_size=n, max_size=n),
    st.lists(st.floats(0, 50), min_size=n, max_size=n),
    st.lists(st.integers(0, 200), min_size=n, max_size=n),
    st.lists(st.sampled_from(list(Status)), min_size=n, max_size=n)))


@settings(max_examples=60, deadline=None)
@given(LOGS, st.floats(0.01, 5), st.floats(0.001, 1))
def test_invariants(cols, ttft_slo, tpot_slo):
    arrival, ttft, dur, gen, status = (np.asarray(c) for c in cols)
    n = len(arrival)
    done = np.array([s == Status.COMPLETED for s in status])
    log = RequestLog(id=np.arange(n), arrival_s=arrival, first_token_s=np.where(done, arrival + ttft, NAN),
                     finish_s=np.where(done, arrival + ttft + dur, NAN), input_tokens=np.full(n, 10),
                     output_tokens=gen, generated_tokens=np.where(done, gen, 0), status=status)
    s = summarize(log, slo=Slo(ttft_slo, tpot_slo))
    c = s.requests
    assert c["completed"] + c["failed"] + c["rejected"] + c["in_flight"] == c["arrived"] == n
    for stats in (s.ttft_s, s.tpot_s, s.e2e_s):
        if not math.isnan(stats.p50):
            assert stats.p50 <= stats.p90 <= stats.p99 <= stats.max
    if not math.isnan(s.goodput_rps):
        assert s.goodput_rps <= s.throughput_rps + 1e-12
        assert math.isnan(s.slo_attainment) or 0 <= s.slo_attainment <= 1
