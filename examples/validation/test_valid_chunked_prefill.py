"""Effect 2: chunked prefill trades a little TTFT for much smoother decode, and the token budget sets the
trade (Sarathi-Serve, OSDI 2024). Sweep chunked-prefill.sweep.yaml: no chunking and budgets 512..8192."""
from __future__ import annotations

import pytest

from validation_kit import pick, sweep

BUDGETS = (512, 1024, 2048, 8192)


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sweep("chunked-prefill.sweep.yaml", tmp_path_factory.mktemp("chunked-prefill"))


def at(rows, rate, budget=None):
    if budget is None:
        return pick(rows, workload__synthetic__rate=rate, engine__chunked_prefill=False)
    return pick(rows, workload__synthetic__rate=rate, engine__chunked_prefill=True,
                engine__max_num_batched_tokens=budget)


@pytest.mark.parametrize("rate", [4, 6])
def test_small_chunks_cut_the_decode_tail_many_fold_for_a_modest_ttft_cost(rows, rate):
    whole, chunked = at(rows, rate), at(rows, rate, 512)
    itl_gain = whole["itl_p99"] / chunked["itl_p99"]
    tpot_gain = whole["tpot_p99"] / chunked["tpot_p99"]
    ttft_cost = chunked["ttft_p50"] / whole["ttft_p50"]
    assert itl_gain > 5, (whole["itl_p99"], chunked["itl_p99"])          # measured 8.8x at 4/s, 18x at 6/s
    assert tpot_gain > 1.5, (whole["tpot_p99"], chunked["tpot_p99"])     # 1.9x at 4/s, 4.0x at 6/s
    assert 1.1 < ttft_cost < 2.5, (whole["ttft_p50"], chunked["ttft_p50"])  # 1.5x at 4/s, 1.8x at 6/s
    # chunking loses no throughput (Sarathi-Serve: it raises capacity under a TBT SLO)
    assert chunked["throughput_tok_s"] >= 0.99 * whole["throughput_tok_s"]


@pytest.mark.parametrize("rate", [2, 4, 6])
def test_the_token_budget_moves_along_the_trade(rows, rate):
    itl = [at(rows, rate, b)["itl_p99"] for b in BUDGETS]
    ttft = [at(rows, rate, b)["ttft_p50"] for b in BUDGETS]
    assert itl == sorted(itl) and itl[-1] > 3 * itl[0], itl        # bigger chunks: worse decode tail
    assert ttft == sorted(ttft, reverse=True), ttft                # ... and a better TTFT


def test_the_decode_tail_grows_with_load_only_without_small_chunks(rows):
    whole = [at(rows, r)["itl_p99"] for r in (2, 4, 6)]
    small = [at(rows, r, 512)["itl_p99"] for r in (2, 4, 6)]
    assert whole[-1] > 4 * whole[0], whole                    # 64 ms -> 359 ms
    assert small[-1] < 1.5 * small[0], small                  # 18 ms -> 19 ms
