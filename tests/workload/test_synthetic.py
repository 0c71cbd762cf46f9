"""Synthetic arrivals and lengths: rates, burstiness, distributions, determinism, closed loop."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.workload import WorkloadConfig, build_workload

TRACES = Path(__file__).parents[2] / ".." / "shared" / "traces"
FIXED = {"dist": "fixed", "value": 100}


def synth(**kw) -> WorkloadConfig:
    body = {"arrival": "poisson", "rate": "20/s", "input": FIXED, "output": FIXED, **kw}
    return WorkloadConfig(synthetic=body)


def build(cfg, seed=0, duration_s=None, base_dir=TRACES):
    return build_workload(cfg, seed=seed, base_dir=base_dir, duration_s=duration_s)


def test_poisson_rate_10k():
    w = build(synth(rate="50/s", requests=10_000))
    assert len(w) == 10_000
    rate = len(w) / w.arrival_s[-1]
    assert rate == pytest.approx(50, rel=0.03)
    gaps = np.diff(w.arrival_s)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.05)   # exponential: CV 1


def test_duration_stops_arrivals():
    w = build(synth(rate="20/s"), duration_s=100)
    assert w.arrival_s.max() < 100
    assert len(w) == pytest.approx(2000, rel=0.1)
    short = build(synth(rate="20/s", duration="10s"), duration_s=100)
    assert short.arrival_s.max() < 10
    assert np.array_equal(short.arrival_s, w.arrival_s[: len(short)])


@pytest.mark.parametrize("cv", [0.5, 2.0, 4.0])
def test_gamma_cv(cv):
    w = build(synth(arrival="gamma", rate="10/s", cv=cv, requests=20_000))
    gaps = np.diff(w.arrival_s)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.1)
    assert 1 / gaps.mean() == pytest.approx(10, rel=0.1)


def test_constant():
    w = build(synth(arrival="constant", rate="4/s", requests=8))
    assert np.allclose(w.arrival_s, np.arange(1, 9) * 0.25)


def test_lognormal_median_and_mean():
    w = build(synth(requests=20_000, input={"dist": "lognormal", "median": 1000, "sigma": 0.8},
                    output={"dist": "lognormal", "mean": 200, "cv": 1.0}))
    assert np.median(w.input_tokens) == pytest.approx(1000, rel=0.03)
    assert w.output_tokens.mean() == pytest.approx(200, rel=0.05)
    assert w.input_tokens.min() >= 1


def test_uniform_bounds():
    w = build(synth(requests=5000, input={"dist": "uniform", "min": 10, "max": 20}))
    assert w.input_tokens.min() == 10 and w.input_tokens.max() == 20


@pytest.mark.skipif(not (TRACES / "azure_llm_2023_code.csv").is_file(), reason="shared traces absent")
def test_empirical_draws_only_trace_values():
    from chaos.workload import read_azure
    raw = read_azure(TRACES / "azure_llm_2023_code.csv")
    w = build(synth(requests=3000, input={"dist": "empirical", "trace": "azure_llm_2023_code.csv"},
                    output={"dist": "empirical", "trace": "azure_llm_2023_code.csv"}))
    assert set(w.input_tokens.tolist()) <= set(raw.input_tokens.tolist())
    assert set(w.output_tokens.tolist()) <= set(raw.output_tokens.tolist())
    cross = build(synth(requests=3000, input={"dist": "empirical", "trace": "azure_llm_2023_code.csv",
                                               "column": "output"}))
    assert set(cross.input_tokens.tolist()) <= set(raw.output_tokens.tolist())


def test_prefix_groups_share_leading_blocks():
    w = build(synth(requests=200, input={"dist": "uniform", "min": 1, "max": 4000},
                    prefix={"groups": 3, "tokens": 1024}, hash_block_tokens=256))
    shared_ids = set(range(3 * 4))
    for n, h in zip(w.input_tokens.tolist(), w.hash_ids):
        assert len(h) == -(-n // 256)
        k = min(4, n // 256)
        assert set(h[:k]) <= shared_ids and not set(h[k:]) & shared_ids
    flat = [x for h in w.hash_ids for x in h[4:]]
    assert len(flat) == len(set(flat))          # non-prefix blocks are unique
    assert w.hash_block_tokens == 256


def test_closed_loop_driver():
    cfg = synth(arrival="closed_loop", rate=None, concurrency=8, think_time="500ms", requests=5000,
                input={"dist": "uniform", "min": 1, "max": 100})
    w = build(cfg)
    assert len(w) == 0
    cl = w.closed_loop
    assert cl.concurrency == 8 and cl.think_time_s == 0.5
    shapes = [cl.next_request(float(i)) for i in range(5000)]
    assert cl.next_request(0.0) is None                     # requests exhausted
    assert all(1 <= s[0] <= 100 and s[1] == 100 and s[2] is None for s in shapes)
    cl.reset()
    assert [cl.next_request(0.0) for _ in range(10)] == shapes[:10]
    again = build(cfg).closed_loop
    assert [again.next_request(0.0) for _ in range(10)] == shapes[:10]


def test_closed_loop_stops_at_duration():
    cl = build(synth(arrival="closed_loop", rate=None, concurrency=2), duration_s=60).closed_loop
    assert cl.next_request(60.0) is not None
    assert cl.next_request(60.001) is None


def test_streams_are_independent_of_seed_name():
    a = build(synth(requests=100), seed=1)
    b = build(synth(requests=100), seed=2)
    assert not np.array_equal(a.arrival_s, b.arrival_s)


LENGTHS = st.one_of(
    st.builds(lambda v: {"dist": "fixed", "value": v}, st.integers(1, 10_000)),
    st.builds(lambda lo, d: {"dist": "uniform", "min": lo, "max": lo + d}, st.integers(1, 1000), st.integers(0, 1000)),
    st.builds(lambda m, s: {"dist": "lognormal", "median": m, "sigma": s},
              st.floats(1, 10_000), st.floats(0, 3)),
)


@settings(max_examples=40, deadline=None)
@given(arrival=st.sampled_from(["poisson", "gamma", "constant"]), rate=st.floats(0.1, 500),
       n=st.integers(1, 3000), inp=LENGTHS, out=LENGTHS, out2=LENGTHS, seed=st.integers(0, 2**31))
def test_invariants(arrival, rate, n, inp, out, out2, seed):
    cfg = synth(arrival=arrival, rate=rate, requests=n, input=inp, output=out)
    w = build(cfg, seed=seed)
    assert len(w) == n
    assert np.all(np.diff(w.arrival_s) >= 0)
    assert w.input_tokens.min() >= 1 and w.output_tokens.min() >= 1
    w2 = build(cfg, seed=seed)
    assert np.array_equal(w.arrival_s, w2.arrival_s)
    assert np.array_equal(w.input_tokens, w2.input_tokens)
    assert np.array_equal(w.output_tokens, w2.output_tokens)
    w3 = build(synth(arrival=arrival, rate=rate, requests=n, input=out2, output=inp), seed=seed)
    assert np.array_equal(w.arrival_s, w3.arrival_s)     # lengths never move arrivals
