"""Iteration latency: hand-computed roofline numbers, TP all-reduce, MoE expert reads, invariants."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.catalog import load_catalog
from chaos.errors import InputError, PlacementError
from chaos.perf import Efficiency, PerfModel, build_perf_model

CAT = load_catalog()
H100 = CAT.gpu("h100-sxm")
L8B = CAT.model("llama-3.1-8b")
L70B = CAT.model("llama-3.1-70b")
DSV3 = CAT.model("deepseek-v3")
MIXTRAL = CAT.model("mixtral-8x7b")
NVLINK = 450e9
LAT = 2e-6


@pytest.fixture(scope="module")
def p8b() -> PerfModel:
    return build_perf_model(L8B, H100, 1, NVLINK, LAT)


EMBED = 128_256 * 4096          # Llama-3.1-8B embedding table = LM head parameters


def test_8b_batch1_decode_is_memory_bound(p8b):
    # weights minus the embedding table (a step reads only its rows): 16.06e9 - 1.05e9 bytes at
    # 85% of 3.35 TB/s = 5.27 ms, + 1k tokens of KV + 2 ms overhead = 7.32 ms
    t = p8b.iteration_time(1, 1000, 0)
    ideal = (L8B.weight_bytes - 2 * EMBED) / H100.hbm_Bps + Efficiency().overhead_s
    assert t == pytest.approx(ideal, rel=0.15)
    weights = (16.06e9 - 2 * EMBED) / (3.35e12 * 0.85)
    kv = (1001 * 131_072 + 4096 * 2) / (3.35e12 * 0.85)
    assert t == pytest.approx(weights + kv + 2e-3, rel=1e-9)
    assert t == pytest.approx(7.32e-3, rel=0.01)
    parts = p8b.breakdown(1, 1000, 0)
    assert parts["memory_s"] > 100 * parts["compute_s"]
    assert parts["allreduce_s"] == 0.0


def test_8b_prefill_8192_is_compute_bound(p8b):
    ctx = 8192 * 8193 / 2
    # the LM head runs for the one sampled position only, the embedding is a lookup (no FLOPs)
    flops = 2 * (8.03e9 - 2 * EMBED) * 8192 + 2 * EMBED * 1 + 4 * 32 * 32 * 128 * ctx
    expected = flops / (989.4e12 * 0.6) + 2e-3                   # 0.2258 s
    assert p8b.iteration_time(0, 0, 8192, ctx) == pytest.approx(expected, rel=1e-9)
    parts = p8b.breakdown(0, 0, 8192, ctx)
    assert parts["compute_s"] > 10 * parts["memory_s"]


def test_lm_head_only_for_sampled_positions(p8b):
    """Regression (issue #15 item 8): `2 * n_active_params * T` billed the LM head for every prompt
    token (+12% prefill compute on 8B) and read the embedding table every step (+6.5% decode bytes)."""
    ctx = 8192 * 8193 / 2
    old_flops = 2 * 8.03e9 * 8192 + 4 * 32 * 32 * 128 * ctx
    new = p8b.breakdown(0, 0, 8192, ctx)["compute_s"]
    assert old_flops / (989.4e12 * 0.6) / new == pytest.approx(1.128, abs=0.01)
    # sixteen prompts in one pass sample sixteen positions: 15 more LM-head passes than one
    assert (p8b.breakdown(0, 0, 8192, ctx, prefill_seqs=16)["compute_s"] - new
            == pytest.approx(15 * 2 * EMBED / (989.4e12 * 0.6), rel=1e-9))
    old_bytes = 16.06e9 + 1001 * 131_072
    assert old_bytes / (p8b.breakdown(1, 1000, 0)["memory_s"] * 3.35e12 * 0.85) == pytest.approx(1.065, abs=0.005)
    tied = build_perf_model(replace(L8B, tie_word_embeddings=True), H100, 1, NVLINK, LAT)
    assert tied.breakdown(1, 1000, 0)["memory_s"] > p8b.breakdown(1, 1000, 0)["memory_s"]   # table = head


def test_zero_work_is_zero(p8b):
    assert p8b.iteration_time(0, 0, 0) == 0.0
    assert p8b.iteration_time(0, 0, 0, 0, 0) == 0.0
    assert list(p8b.iteration_time(np.array([0, 1]), 0, 0)) == [0.0, p8b.iteration_time(1, 0, 0)]
    assert p8b.decode_stretch(0, 100.0, 3).tolist() == [0.0, 0.0, 0.0]


def test_tp2_adds_allreduce_and_slow_link_costs_more():
    tp1 = build_perf_model(L8B, H100, 1, NVLINK, LAT)
    tp2 = build_perf_model(L8B, H100, 2, NVLINK, LAT)
    parts = tp2.breakdown(8, 8000, 0)
    # 64 all-reduces of 8 tokens * 4096 * 2 bytes over a ring of 2: 2*(1/2) * 65536 B / (450e9 * 0.8)
    # + 2 * 1 * 2 us each
    expected = 64 * (65536 / (450e9 * 0.8) + 2 * 2e-6)
    assert parts["allreduce_s"] == pytest.approx(expected, rel=1e-12)
    assert parts["memory_s"] == pytest.approx(tp1.breakdown(8, 8000, 0)["memory_s"] / 2, rel=1e-9)
    slow = build_perf_model(L8B, H100, 2, 50e9, 5e-6)    # across hosts: a 400 Gb/s NIC
    assert slow.iteration_time(8, 8000, 0) > tp2.iteration_time(8, 8000, 0)
    assert slow.iteration_time(0, 0, 4096, 4096 * 4097 / 2) > tp2.iteration_time(0, 0, 4096, 4096 * 4097 / 2)


def test_70b_tp4_numbers():
    p = build_perf_model(L70B, H100, 4, NVLINK, LAT)
    # weights 141.1 GB minus the 2.1 GB embedding table, / 4 per GPU at 2.85 TB/s = 12.2 ms;
    # 160 all-reduces * 6 * 2 us = 1.9 ms
    weights = (141.1e9 - 2 * 128_256 * 8192) / 4
    assert p.iteration_time(1, 2000, 0) == pytest.approx(weights / (3.35e12 * 0.85) + 160 * 6 * 2e-6 + 2e-3,
                                                         rel=0.01)
    assert 0.4 < p.iteration_time(0, 0, 8192, 8192 * 8193 / 2) < 0.8


def test_moe_more_tokens_touch_more_experts():
    eff = Efficiency()
    p = build_perf_model(DSV3, CAT.gpu("h200-sxm"), 8, NVLINK, LAT)
    table = 129_280 * 7168 * 2
    dense = (DSV3.weight_bytes - DSV3.routed_expert_bytes - table) / 8 / (4.8e12 * 0.85)
    routed = DSV3.routed_expert_bytes / 8 / (4.8e12 * eff.grouped_gemm_efficiency)
    memory = [p.breakdown(n, 0, 0)["memory_s"] for n in (1, 2, 8, 32, 128, 1024, 8192)]
    assert all(b > a for a, b in zip(memory, memory[1:]))
    kv = (DSV3.n_layers * 576 * 2 + 7168 * 2 / 8) / (4.8e12 * 0.85)        # KV write + embedding row
    assert memory[0] == pytest.approx(dense + routed * 8 / 256 + kv, rel=1e-9)      # one token: 8 experts
    assert memory[-1] == pytest.approx(dense + routed + 8192 * kv, rel=1e-6)        # saturates at all 256
    # expected distinct experts for 32 tokens: 256 * (1 - (1 - 8/256)^32) = 161.2
    frac = (memory[3] - dense - 32 * kv) / routed
    assert frac * 256 == pytest.approx(256 * (1 - (1 - 8 / 256) ** 32), rel=1e-9)


def _sglang_bench_one_batch_tok_s(p, batch, isl=128, osl=256):
    """Output tok/s of SGLang's bench_one_batch: one prefill of batch x isl, then osl - 1 decode steps."""
    prefill = p.iteration_time(0, 0, batch * isl, batch * isl * (isl + 1) / 2, 0, batch)
    decode = p.decode_stretch(batch, batch * (isl + 1.0), osl - 1).sum()
    return batch * osl / (prefill + decode)


@pytest.mark.parametrize("batch, published", [(1, 30.29), (8, 206.32), (32, 760.52)])
def test_deepseek_v3_decode_matches_sglang_publication(batch, published):
    """Regression (issue #15 item 5): DeepSeek-V3 TP8 on H200 decoded at 205/906/1,836 tok/s; SGLang
    PR 2643 publishes 30.29/206.32/760.52 (batch 1/8/32, input 128, output 256). The per-MoE-layer
    latency floor brings the model within 10% of each point."""
    p = build_perf_model(DSV3, CAT.gpu("h200-sxm"), 8, NVLINK, LAT)
    assert _sglang_bench_one_batch_tok_s(p, batch) == pytest.approx(published, rel=0.10)
    assert p.breakdown(1, 256, 0)["moe_floor_s"] == pytest.approx(58 * Efficiency().moe_layer_s)


def test_moe_factors_are_named_and_overridable():
    p = build_perf_model(DSV3, CAT.gpu("h200-sxm"), 8, NVLINK, LAT,
                         Efficiency(moe_layer_s=0.0, grouped_gemm_efficiency=0.5))
    q = build_perf_model(DSV3, CAT.gpu("h200-sxm"), 8, NVLINK, LAT, Efficiency(moe_layer_s=0.0))
    assert p.iteration_time(32, 32 * 300, 0) > q.iteration_time(32, 32 * 300, 0)
    assert p.breakdown(1, 0, 0)["moe_floor_s"] == 0.0
    dense = build_perf_model(L8B, H100, 1, NVLINK, LAT)
    assert dense.moe_floor_s == 0.0          # dense models have no MoE layers
    with pytest.raises(InputError, match="efficiency.moe_layer"):
        Efficiency(moe_layer_s=-1.0)


def test_fp8_model_uses_fp8_peak_for_gemms_only():
    p = build_perf_model(DSV3, H100, 8, NVLINK, LAT)
    body = 37e9 - 2 * 129_280 * 7168
    assert p.compute_s_per_token == pytest.approx(2 * body / (1978.9e12 * 0.6 * 8))
    assert p.compute_s_per_sampled == pytest.approx(2 * 129_280 * 7168 / (989.4e12 * 0.6 * 8))


def test_attention_priced_at_kv_dtype_peak():
    """Regression (issue #15 item 6): attention of FP8-weight models ran at fp8_flops; FlashAttention
    and MLA kernels compute in BF16 (the KV dtype), so DeepSeek-V3 prefill was 18% fast at 8k tokens."""
    p = build_perf_model(DSV3, H100, 8, NVLINK, LAT)
    a_pre = 2 * 61 * 128 * (2 * 128 + 64)
    assert p.compute_s_per_prefill_ctx == pytest.approx(a_pre / (989.4e12 * 0.6 * 8))
    old = build_perf_model(DSV3, H100, 8, NVLINK, LAT, kv_dtype_bytes=1)    # FP8 KV: FP8 attention
    assert p.compute_s_per_prefill_ctx == pytest.approx(2 * old.compute_s_per_prefill_ctx)
    ctx = 8192 * 8193 / 2
    slower = p.breakdown(0, 0, 8192, ctx)["compute_s"] / old.breakdown(0, 0, 8192, ctx)["compute_s"]
    assert slower > 1.15
    assert p8b_attention_unchanged()


def p8b_attention_unchanged() -> bool:
    """BF16 models are unaffected: their GEMMs and attention both run at the BF16 peak."""
    p = build_perf_model(L8B, H100, 1, NVLINK, LAT)
    return p.compute_s_per_decode_ctx == pytest.approx(4 * 32 * 32 * 128 / (989.4e12 * 0.6))


def test_mla_decode_reads_replicated_latent():
    p = build_perf_model(DSV3, H100, 8, NVLINK, LAT)
    assert p.kv_s_per_token == pytest.approx(61 * 576 * 2 / (3.35e12 * 0.85))


def test_slowdown_doubles_gpu_time(p8b):
    slow = p8b.with_slowdown(2.0)
    for args in [(1, 1000, 0), (0, 0, 8192, 8192 * 8193 / 2), (64, 64 * 3000, 512, 512 * 600, 300)]:
        a, b = p8b.breakdown(*args), slow.breakdown(*args)
        assert b["total_s"] - b["overhead_s"] - b["allreduce_s"] == pytest.approx(
            2 * (a["total_s"] - a["overhead_s"] - a["allreduce_s"]), rel=1e-12)


def test_arrays_broadcast(p8b):
    n = np.array([1, 8, 64])
    out = p8b.iteration_time(n, n * 1000.0, 0)
    assert isinstance(out, np.ndarray) and out.shape == (3,)
    assert out.tolist() == pytest.approx([p8b.iteration_time(int(k), k * 1000.0, 0) for k in n], rel=1e-12)
    grid = p8b.iteration_time(np.array([[1], [2]]), 0.0, np.array([0, 128, 256]))
    assert grid.shape == (2, 3)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(tp=0), PlacementError, "positive integer tensor-parallel size"),
    (dict(tp=3), PlacementError, "32 attention heads, which tp=3 does not divide"),
    (dict(tp=2, link_Bps=0.0), InputError, "positive link bandwidth"),
    (dict(link_latency_s=-1.0), InputError, "non-negative link latency"),
    (dict(slowdown=0.0), InputError, "positive finite slowdown"),
    (dict(efficiency="fast"), TypeError, "expected an Efficiency"),
    (dict(kv_replication_Bps=0.0), InputError, "kv_replication_Bps=0.0"),
    (dict(kv_replication_Bps=float("inf")), InputError, "positive finite KV replication bandwidth"),
], ids=["tp-zero", "tp-not-dividing-heads", "zero-link", "negative-latency", "zero-slowdown", "bad-efficiency",
        "zero-replication", "infinite-replication"])
def test_bad_build_arguments(kwargs, exc, match):
    args = dict(model=L8B, gpu=H100, tp=1, link_Bps=NVLINK, link_latency_s=LAT) | kwargs
    with pytest.raises(exc, match=match):
        build_perf_model(**args)


@pytest.mark.parametrize("kwargs, field", [
    (dict(mfu=0.0), "efficiency.mfu"), (dict(memory_efficiency=1.5), "efficiency.memory_efficiency"),
    (dict(allreduce_efficiency=-0.1), "efficiency.allreduce_efficiency"), (dict(overhead_s=-1e-3), "efficiency.overhead"),
], ids=["mfu-zero", "mem-above-one", "allreduce-negative", "overhead-negative"])
def test_bad_efficiency(kwargs, field):
    with pytest.raises(InputError) as info:
        Efficiency(**kwargs)
    assert info.value.field == field


# ------------------------------------------------------------------------------------ properties

MODELS = {name: CAT.model(name) for name in CAT.models}
work = st.fixed_dictionaries({
    "n_decode": st.integers(0, 512), "decode_ctx_sum": st.floats(0, 5e6),
    "prefill_tokens": st.integers(0, 16384), "prefill_attn_ctx": st.floats(0, 1e8),
    "prefill_kv_read": st.floats(0, 1e6)})


def _perf(name: str, tp: int, slowdown: float = 1.0) -> PerfModel:
    gpu = CAT.gpu("b200")
    return build_perf_model(MODELS[name], gpu, tp, gpu.nvlink_Bps, LAT, slowdown=slowdown)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(MODELS)), tp=st.sampled_from([1, 2, 8]), w=work,
       arg=st.sampled_from(["n_decode", "decode_ctx_sum", "prefill_tokens", "prefill_attn_ctx", "prefill_kv_read"]),
       extra=st.floats(0, 1e5))
def test_monotone_in_every_work_argument(name, tp, w, arg, extra):
    p = _perf(name, tp)
    more = dict(w)
    more[arg] = w[arg] + (int(extra) if isinstance(w[arg], int) else extra)
    assert p.iteration_time(**more) >= p.iteration_time(**w)


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(sorted(MODELS)), w=work, s1=st.floats(0.1, 10), s2=st.floats(0.1, 10))
def test_monotone_in_slowdown(name, w, s1, s2):
    lo, hi = sorted((s1, s2))
    assert _perf(name, 8, hi).iteration_time(**w) >= _perf(name, 8, lo).iteration_time(**w)


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(sorted(MODELS)), tp=st.sampled_from([1, 4, 8]), n=st.integers(0, 1024),
       ctx0=st.integers(0, 10**7), k=st.integers(0, 300))
def test_decode_stretch_equals_iteration_time(name, tp, n, ctx0, k):
    p = _perf(name, tp)
    stretch = p.decode_stretch(n, float(ctx0), k)
    assert stretch.shape == (k,)
    expected = [p.iteration_time(n, ctx0 + i * n, 0) for i in range(k)]
    np.testing.assert_allclose(stretch, expected, rtol=1e-12, atol=0)


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(sorted(MODELS)), tp=st.sampled_from([1, 4, 8]), n=st.integers(1, 1024),
       ctx0=st.integers(0, 10**7), k=st.integers(1, 600), slowdown=st.sampled_from([1.0, 2.7]),
       replicate=st.booleans())
def test_decode_stretch_is_bit_for_bit_the_scalar_path(name, tp, n, ctx0, k, slowdown, replicate):
    """A stretch prices each iteration with the scalar path's float operations (issue #12): the fast
    stepper's times are the per-iteration reference stepper's to the bit; and both stay within rounding
    of the general expression (`_latency` with its prefill terms zero)."""
    from chaos.perf.latency import _latency
    gpu = CAT.gpu("b200")
    p = build_perf_model(MODELS[name], gpu, tp, gpu.nvlink_Bps, LAT, slowdown=slowdown,
                         kv_replication_Bps=50e9 if replicate else None)
    stretch = p.decode_stretch(n, float(ctx0), k)
    assert np.array_equal(stretch, [p.iteration_time(n, ctx0 + i * n, 0, 0.0, 0.0, 0) for i in range(k)])
    dctx = float(ctx0) + np.arange(k, dtype=np.float64) * n
    general = _latency(p, float(n), float(n), dctx, dctx + 0.0, 0.0, p.overhead_s, np.maximum)
    np.testing.assert_allclose(stretch, general, rtol=1e-13, atol=0)


def test_decode_stretch_is_bit_for_bit_where_the_roofline_branches_cross():
    """A stretch whose context runs across the compute/memory crossover takes the maximum per
    iteration: still the scalar path's bits on both sides of the crossing."""
    gpu = CAT.gpu("b200")
    p = build_perf_model(MODELS[sorted(MODELS)[0]], gpu, 1, gpu.nvlink_Bps, LAT)
    n = 256
    # crossover context: c1 * x + a == c2 * x + b
    from chaos.perf.latency import _decode_terms
    a, b, _ = _decode_terms(p, float(n))
    x = (b - a) / (p.compute_s_per_decode_ctx - p.kv_s_per_token)
    if not x > 0:
        pytest.skip("the branches do not cross at positive context for this model")
    ctx0, k = max(0, int(x) - 50 * n), 100
    stretch = p.decode_stretch(n, float(ctx0), k)
    assert np.array_equal(stretch, [p.iteration_time(n, ctx0 + i * n, 0) for i in range(k)])


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(sorted(MODELS)), w=work)
def test_array_path_equals_scalar_path(name, w):
    p = _perf(name, 8)
    arr = p.iteration_time(**{k: np.array([v, v]) for k, v in w.items()})
    scalar = p.iteration_time(**w)
    assert math.isclose(arr[0], scalar, rel_tol=1e-12) and arr[0] == arr[1]


NIC_Bps = 50e9       # 400 Gb/s per GPU


@pytest.mark.parametrize("args", [(64, 64 * 3000, 0), (0, 0, 8192, 8192 * 8193 / 2), (8, 8000, 500, 500 * 300, 100)],
                         ids=["decode-64", "prefill-8192", "mixed"])
def test_kv_replication_adds_new_tokens_kv_over_the_nic(p8b, args):
    # llama-3.1-8b: 32 layers x 8 KV heads x 128 dims x (K, V) x 2 bytes = 131072 bytes per token
    repl = build_perf_model(L8B, H100, 1, NVLINK, LAT, kv_replication_Bps=NIC_Bps)
    tokens = args[0] + args[2]
    extra = tokens * 131072 / NIC_Bps                  # 64 decode tokens: 0.168 ms; 8192 prompt tokens: 21.5 ms
    assert repl.iteration_time(*args) - p8b.iteration_time(*args) == pytest.approx(extra, rel=1e-9)
    assert repl.breakdown(*args)["replication_s"] == pytest.approx(extra, rel=1e-12)
    assert p8b.breakdown(*args)["replication_s"] == 0.0
    assert repl.with_slowdown(2.0).breakdown(*args)["replication_s"] == repl.breakdown(*args)["replication_s"]


def test_kv_replication_per_gpu_shard_and_stretch_consistency():
    tp1 = build_perf_model(L8B, H100, 1, NVLINK, LAT, kv_replication_Bps=NIC_Bps)
    tp2 = build_perf_model(L8B, H100, 2, NVLINK, LAT, kv_replication_Bps=NIC_Bps)
    assert tp2.kv_replication_s_per_token == pytest.approx(tp1.kv_replication_s_per_token / 2, rel=1e-12)
    assert tp1.kv_replication_s_per_token == pytest.approx(2.62144e-6, rel=1e-12)
    lat = tp1.decode_stretch(37, 12345.0, 20)
    np.testing.assert_allclose(lat, [tp1.iteration_time(37, 12345.0 + i * 37, 0) for i in range(20)], rtol=1e-12)
    assert tp1.iteration_time(0, 0, 0) == 0.0
