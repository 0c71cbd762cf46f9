"""KV bytes per token, KV capacity of a replica (and when a model does not fit), KV transfer time."""
from __future__ import annotations

import numpy as np
import pytest

from chaos.catalog import load_catalog
from chaos.errors import PlacementError
from chaos.perf import (activation_peak_bytes, kv_bytes_per_token, kv_bytes_per_token_per_gpu,
                        kv_capacity_tokens, kv_transfer_time, non_kv_reserve_bytes)
from chaos.perf.memory import NON_TORCH_BYTES, NON_TORCH_TP_BYTES

GiB = 2**30

CAT = load_catalog()
H100, H200 = CAT.gpu("h100-sxm"), CAT.gpu("h200-sxm")


@pytest.mark.parametrize("name, expected", [
    ("llama-3.1-8b", 2 * 32 * 8 * 128 * 2),       # 131,072
    ("llama-3.1-70b", 2 * 80 * 8 * 128 * 2),      # 327,680
    ("qwen3-32b", 2 * 64 * 8 * 128 * 2),          # 262,144
    ("mixtral-8x7b", 2 * 32 * 8 * 128 * 2),       # 131,072
    ("deepseek-v3", 61 * (512 + 64) * 2),         # 70,272: MLA latent + rope key
])
def test_kv_bytes_per_token(name, expected):
    assert kv_bytes_per_token(CAT.model(name)) == expected


def test_kv_bytes_known_values():
    assert kv_bytes_per_token(CAT.model("llama-3.1-70b")) == 327_680
    assert kv_bytes_per_token(CAT.model("llama-3.1-8b")) == 131_072
    assert kv_bytes_per_token(CAT.model("llama-3.1-8b"), dtype_bytes=1) == 65_536   # FP8 KV


def test_kv_per_gpu_sharding():
    l70 = CAT.model("llama-3.1-70b")
    assert kv_bytes_per_token_per_gpu(l70, 4) == 327_680 / 4
    assert kv_bytes_per_token_per_gpu(l70, 16) == 327_680 / 8      # 8 KV heads: replicated beyond tp=8
    assert kv_bytes_per_token_per_gpu(CAT.model("deepseek-v3"), 8) == 70_272   # MLA latent replicated


def test_hbm_is_the_cuda_visible_capacity():
    # issue #15 item 4: "80 GB" is what CUDA sees as 79.11 GiB on H100, 139.81 GiB on H200
    assert H100.hbm_bytes == pytest.approx(79.11 * GiB)
    assert H200.hbm_bytes == pytest.approx(139.81 * GiB)
    assert H100.hbm_bytes > 84.9e9 and H200.hbm_bytes > 150e9


# Published vLLM start-up figures (docs/calibration.md, "KV capacity"): the tokens vLLM reports for the
# KV pool at gpu_memory_utilization 0.9, max_num_batched_tokens 8192, max_num_seqs 256.
@pytest.mark.parametrize("model, tp, published", [
    ("llama-3.1-8b", 1, 449_986),    # log: 79.14 GiB total, KV 54.93 GiB / 128 KiB per token
    ("llama-3.1-8b", 1, 447_776),    # vLLM 0.11 log: "GPU KV cache size: 447,776 tokens"
    ("llama-3.1-70b", 4, 487_000),   # issue #15's vLLM start-up (old model 423,889 = -13%)
], ids=["8b-tp1-log-a", "8b-tp1-log-b", "70b-tp4"])
def test_kv_capacity_matches_published_vllm_startup(model, tp, published):
    tokens = kv_capacity_tokens(CAT.model(model), H100, tp)
    assert tokens == pytest.approx(published, rel=0.03)


def test_capacity_8b_on_one_h100_by_hand():
    l8 = CAT.model("llama-3.1-8b")
    # activations: 8192 tokens * 2 B * (3*14336 + (32+16)*128 + 2*4096) + sampler 256 * 128256 * 8 B
    act = 8192 * 2 * (3 * 14336 + 48 * 128 + 2 * 4096) + 256 * 128_256 * 8
    assert activation_peak_bytes(l8, 1) == act
    assert act / GiB == pytest.approx(1.2, abs=0.1)          # vLLM logs 1.19-1.24 GiB
    reserve = NON_TORCH_BYTES + act
    assert non_kv_reserve_bytes(l8, 1) == reserve
    assert kv_capacity_tokens(l8, H100, 1) == int((0.9 * 79.11 * GiB - 16.06e9 - reserve) / 131_072)


def test_capacity_70b_tp4_and_tp8():
    l70 = CAT.model("llama-3.1-70b")
    for tp, kv_per_gpu in ((4, 81_920), (8, 40_960)):
        reserve = non_kv_reserve_bytes(l70, tp)
        assert reserve == NON_TORCH_BYTES + NON_TORCH_TP_BYTES + activation_peak_bytes(l70, tp)
        assert kv_capacity_tokens(l70, H100, tp) == int((0.9 * 79.11 * GiB - 141.1e9 / tp - reserve) / kv_per_gpu)


def test_reserve_grows_with_the_scheduler_budget():
    l8 = CAT.model("llama-3.1-8b")
    small = kv_capacity_tokens(l8, H100, 1, max_num_batched_tokens=2048, max_num_seqs=64)
    assert small > kv_capacity_tokens(l8, H100, 1) > kv_capacity_tokens(l8, H100, 1, max_num_batched_tokens=32768)


def test_capacity_deepseek_on_8_h200():
    ds = CAT.model("deepseek-v3")
    assert kv_capacity_tokens(ds, H200, 8) == int((0.9 * 139.81 * GiB - 671e9 / 8 - non_kv_reserve_bytes(ds, 8))
                                                  / 70_272)


def test_capacity_grows_with_memory_fraction_and_tp():
    l8 = CAT.model("llama-3.1-8b")
    assert kv_capacity_tokens(l8, H100, 1, 0.95) > kv_capacity_tokens(l8, H100, 1, 0.9)
    assert kv_capacity_tokens(l8, H100, 2) > 2 * kv_capacity_tokens(l8, H100, 1)
    assert kv_capacity_tokens(l8, H100, 1, reserve_bytes=0) > kv_capacity_tokens(l8, H100, 1)


def test_70b_on_one_h100_does_not_fit():
    with pytest.raises(PlacementError) as info:
        kv_capacity_tokens(CAT.model("llama-3.1-70b"), H100, 1)
    assert info.value.field == "deployment.tp"
    message = str(info.value)
    assert "llama-3.1-70b needs 141 GB of weights; 1 x h100-sxm at 90% memory holds 76 GB" in message
    assert "use tp >= 2 or a larger GPU" in message      # 2 x 76 GB hold 141 GB + a small KV pool, as in vLLM


@pytest.mark.parametrize("model, gpu, tp, kwargs, field, parts", [
    ("llama-3.1-70b", "h100-sxm", 2, {"min_tokens": 131072}, "deployment.tp",
     ["2 x h100-sxm", "hold 153 GB", "tp >= 4"]),
    ("deepseek-v3", "h100-sxm", 8, {}, "deployment.tp", ["needs 671 GB", "tp >= 16"]),
    ("deepseek-v3", "a100-sxm-80gb", 64, {"memory_fraction": 0.1}, "deployment.model",
     ["a larger GPU or a smaller model"]),
    ("llama-3.1-8b", "h100-sxm", 1, {"min_tokens": 10**6}, "deployment.tp",
     ["leaving KV room for 449514 tokens but at least 1000000 are needed", "tp >= 2"]),
    ("llama-3.1-8b", "h100-sxm", 0, {}, "deployment.tp", ["positive integer tensor-parallel size"]),
    ("llama-3.1-8b", "h100-sxm", 1, {"memory_fraction": 1.5}, "engine.gpu_memory_utilization", ["(0, 1]"]),
], ids=["70b-tp2", "dsv3-8xh100", "nothing-fits", "min-tokens", "tp-zero", "fraction-above-one"])
def test_placement_errors(model, gpu, tp, kwargs, field, parts):
    with pytest.raises(PlacementError) as info:
        kv_capacity_tokens(CAT.model(model), CAT.gpu(gpu), tp, **kwargs)
    assert info.value.field == field
    for part in parts:
        assert part in str(info.value)


def test_kv_transfer_time():
    l70 = CAT.model("llama-3.1-70b")
    # 1000 tokens * 327,680 B over a 400 Gb/s NIC (50 GB/s) + 10 us = 6.5636 ms
    assert kv_transfer_time(l70, 1000, 50e9, 10e-6) == pytest.approx(10e-6 + 327_680_000 / 50e9, rel=1e-12)
    assert kv_transfer_time(l70, 0, 50e9, 10e-6) == 10e-6
    out = kv_transfer_time(l70, np.array([0, 1000]), 50e9, 0.0)
    assert out.tolist() == [0.0, pytest.approx(6.5536e-3)]
    with pytest.raises(ValueError, match="positive path bandwidth"):
        kv_transfer_time(l70, 10, 0.0, 0.0)
