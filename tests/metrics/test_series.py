"""Per-window time series, fleet series and the CSV export."""
from __future__ import annotations

import math

import numpy as np
import pytest

from chaos.metrics import FleetSeries, RequestLog, Slo, Status, grouped_quantiles, summarize, time_series

NAN = math.nan



def test_five_request_series_by_hand(log5):
    ts = time_series(log5, window_s=1.0, t_end=6.0, slo=Slo(ttft_s=1.0, tpot_s=0.2))
    assert ts.t_s.tolist() == [0, 1, 2, 3, 4, 5]
    assert ts.arrivals.tolist() == [1, 1, 1, 1, 1, 0]
    assert ts.completions.tolist() == [0, 1, 0, 1, 0, 1]          # finishes at 1.7, 3.0, 5.0
    assert ts.throughput_tok_s.tolist() == [0, 3, 0, 5, 0, 11]
    assert ts.goodput_rps.tolist() == [0, 1, 0, 0, 0, 0]
    assert ts.failed.tolist() == [0, 0, 0, 1, 0, 0]               # no finish time: binned at arrival
    assert ts.rejected.tolist() == [0, 0, 0, 0, 1, 0]
    # first tokens: 1.0 (ttft 1) and 1.5 (0.5) in window 1; 3.5 (0.5) in 3; 4.0 (2.0) in 4
    assert np.allclose(ts.ttft_p50_s, [NAN, 0.75, NAN, 0.5, 2.0, NAN], equal_nan=True)
    assert np.allclose(ts.ttft_p99_s[1], 0.995)
    assert np.allclose(ts.tpot_p99_s, [NAN, 0.1, NAN, 0.5, NAN, 0.1], equal_nan=True)
    d = ts.to_dict()
    assert d["ttft_p50_s"][0] is None and d["arrivals"] == [1, 1, 1, 1, 1, 0]



def random_log(n: int, seed: int = 0, horizon: float = 3600.0) -> RequestLog:
    rng = np.random.default_rng(seed)
    arrival = np.sort(rng.uniform(0, horizon, n))
    first = arrival + rng.exponential(0.5, n)
    finish = first + rng.uniform(1, 30, n)
    status = rng.choice(np.array([1, 1, 1, 1, 2, 3, 4], dtype=np.uint8), n)
    done = status == Status.COMPLETED
    return RequestLog(id=np.arange(n), arrival_s=arrival, first_token_s=np.where(status == 3, NAN, first),
                      finish_s=np.where(done | (status == 2), finish, NAN), input_tokens=rng.integers(1, 5000, n),
                      output_tokens=np.full(n, 200), generated_tokens=np.where(done, 200, 17), status=status)


def test_series_sums_equal_totals():
    log = random_log(12_000)
    t_end = 3700.0
    ts = time_series(log, window_s=10.0, t_end=t_end, slo=Slo(ttft_s=1.0, tpot_s=0.1))
    s = summarize(log, window=(0.0, t_end), slo=Slo(ttft_s=1.0, tpot_s=0.1))
    c = log.counts()
    assert ts.arrivals.sum() == c["arrived"]
    assert ts.completions.sum() == c["completed"] == s.requests["completed"]
    assert ts.failed.sum() == c["failed"] and ts.rejected.sum() == c["rejected"]
    assert (ts.throughput_tok_s * 10).sum() == pytest.approx(s.throughput_tok_s * t_end)
    assert (ts.goodput_rps * 10).sum() == pytest.approx(s.goodput_rps * t_end)


def test_series_one_window_per_second_for_an_hour():
    """Shape at fleet-hour resolution (its speed is a benchmark's business, not a test's)."""
    log = random_log(12_000)
    ts = time_series(log, window_s=1.0, t_end=3600.0, slo=Slo(ttft_s=1.0))
    assert len(ts.t_s) == 3600


def test_grouped_quantiles_match_numpy():
    rng = np.random.default_rng(1)
    g = rng.integers(0, 20, 500)
    v = rng.exponential(1.0, 500)
    got = grouped_quantiles(g, v, 25, (0.5, 0.99))
    for k in range(25):
        if (g == k).any():
            assert np.allclose(got[:, k], np.quantile(v[g == k], [0.5, 0.99]))
        else:
            assert np.isnan(got[:, k]).all()


def test_bad_window(log5):
    with pytest.raises(ValueError, match="window_s must be > 0"):
        time_series(log5, window_s=0, t_end=10)


def test_fleet_series():
    fs = FleetSeries()
    fs.append(0.0, queue_depth=3, running=10, kv_use_frac=0.5, replicas_up={"prefill": 2})
    fs.append(1.0, queue_depth=4, running=12, kv_use_frac=0.6, replicas_up={"prefill": 1, "decode": 2})
    assert len(fs) == 2
    assert fs["queue_depth"].tolist() == [3, 4]
    assert np.isnan(fs["replicas_up.decode"][0])
    d = fs.to_dict()
    assert d["t_s"] == [0.0, 1.0]
    assert d["replicas_up"] == {"prefill": [2.0, 1.0], "decode": [None, 2.0]}
    with pytest.raises(KeyError, match="no fleet series 'queue'"):
        fs["queue"]


def test_csv_round_trip_byte_identical(log5, tmp_path):
    log = log5
    log.reason[3] = 'crash, "hard"'
    log.arrival_s[1] = 0.1 + 0.2   # needs full repr precision
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    log.to_csv(a)
    back = RequestLog.from_csv(a)
    back.to_csv(b)
    RequestLog.from_csv(b).to_csv(c)
    assert a.read_bytes() == b.read_bytes() == c.read_bytes()
    assert back.arrival_s[1] == 0.1 + 0.2
    assert back.reason[3] == 'crash, "hard"'
    assert np.isnan(back.finish_s[3]) and back.status.tolist() == log.status.tolist()
    header = a.read_text().splitlines()[0]
    assert header.startswith("id,arrival_s,first_token_s,finish_s,input_tokens,output_tokens")


def test_event_at_horizon_is_counted(log5):
    # request 2 finishes at exactly 5.0 s: a run ending there must still count it
    ts = time_series(log5, window_s=1.0, t_end=5.0)
    assert len(ts.t_s) == 5
    assert ts.completions.tolist() == [0, 1, 0, 1, 1]
    assert ts.throughput_tok_s[-1] == 11
    assert summarize(log5, window=(0.0, 5.0)).requests["completed"] == 3
    assert summarize(log5, window=(0.0, 5.0)).throughput_rps == pytest.approx(3 / 5)
