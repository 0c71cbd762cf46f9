"""Backend engine profiles: catalog data with sources, work-dependent factors, scheduler defaults."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.catalog import load_catalog
from chaos.engine.config import EngineConfig
from chaos.errors import CatalogError
from chaos.perf import build_perf_model
from chaos.perf.config import EfficiencyConfig
from chaos.sim.backend import approximations, efficiency_of, engine_with_defaults

CAT = load_catalog()
H100 = CAT.gpu("h100-sxm")
L8B, L70B, DSV3 = CAT.model("llama-3.1-8b"), CAT.model("llama-3.1-70b"), CAT.model("deepseek-v3")
BACKENDS = ("vllm", "sglang", "trtllm")


def perf(backend: str, model=L8B, tp: int = 1, gpu=H100):
    return build_perf_model(model, gpu, tp, 450e9, 2e-6, efficiency_of(CAT.backend(backend)))


def test_bundled_profiles_have_every_factor_and_its_source():
    assert set(CAT.backends) >= set(BACKENDS)
    for name in BACKENDS:
        b = CAT.backend(name)
        assert set(dict(b.sources)) == {"gemm", "attention", "hbm", "allreduce", "overhead", "moe"}
        assert all(len(text) > 20 for _, text in b.sources)
        assert b.scheduler.source
        eff = efficiency_of(b)            # validates every value
        assert eff.overhead_prefill_s >= eff.overhead_s


def test_gemm_efficiency_rises_with_tokens_per_iteration():
    p = perf("vllm")
    eff = efficiency_of(CAT.backend("vllm"))
    flops_per_token = 2 * (L8B.n_active_params - 2 * L8B.vocab_size * L8B.hidden_size)
    achieved = []
    for tokens in (16, 128, 1024, 8192):
        gemm_s = p.compute_fixed_s + tokens * p.compute_s_per_token
        achieved.append(flops_per_token * tokens / gemm_s / H100.bf16_flops)
    assert achieved == sorted(achieved)
    assert achieved[0] == pytest.approx(eff.mfu * 16 / (16 + eff.gemm_half_tokens))
    assert achieved[-1] > 0.95 * eff.mfu


def test_allreduce_small_messages_are_latency_bound():
    p = perf("vllm", L70B, 4)
    per_call = [(p.allreduce_fixed_s + t * p.allreduce_s_per_token) / 160 for t in (1, 8192)]
    bytes_ = [t * 8192 * 2 for t in (1, 8192)]
    bus = [b / s for b, s in zip(bytes_, per_call)]
    assert bus[1] > 100 * bus[0]          # 16 KB is latency-bound, 134 MB runs near the bus bandwidth
    assert p.allreduce_fixed_s == pytest.approx(160 * (6 * 2e-6 + 6e-6))


def test_overhead_depends_on_the_iteration_kind():
    p = perf("vllm")
    eff = efficiency_of(CAT.backend("vllm"))
    decode = p.breakdown(8, 8000, 0)["overhead_s"]
    mixed = p.breakdown(8, 8000, 512, 512 * 256)["overhead_s"]
    assert decode == pytest.approx(eff.overhead_s + 8 * eff.overhead_per_seq_s)
    assert mixed == pytest.approx(eff.overhead_prefill_s + 9 * eff.overhead_per_seq_s)


def test_backends_order_decode_step_by_scheduler_overhead():
    steps = [perf(b).iteration_time(1, 1000, 0) for b in BACKENDS]
    assert steps[0] > steps[1] > steps[2]          # vLLM > SGLang (overlap scheduler) > TRT-LLM (C++ runtime)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60)
@given(n=st.integers(1, 512), ctx=st.floats(0, 2e6), pre=st.integers(0, 8192), k=st.integers(1, 40),
       dn=st.integers(0, 64), dctx=st.floats(0, 1e5), dpre=st.integers(0, 2048))
def test_latency_monotone_and_stretch_equals_iterations(backend, n, ctx, pre, k, dn, dctx, dpre):
    for model, tp in ((L8B, 1), (DSV3, 8)):
        p = perf(backend, model, tp, CAT.gpu("h200-sxm") if model is DSV3 else H100)
        attn = pre * (pre + 1) / 2
        base = p.iteration_time(n, ctx, pre, attn)
        assert p.iteration_time(n + dn, ctx + dctx, pre, attn) >= base
        more = pre + dpre
        assert p.iteration_time(n, ctx, more, more * (more + 1) / 2) >= base
        stretch = p.decode_stretch(n, ctx, k)
        one = np.array([p.iteration_time(n, ctx + i * n, 0) for i in range(k)])
        np.testing.assert_allclose(stretch, one, rtol=1e-12)


def test_profile_fills_only_the_engine_fields_the_scenario_left_unset():
    sglang = CAT.backend("sglang")
    plain = engine_with_defaults(EngineConfig(backend="sglang"), sglang)
    assert (plain.block_size, plain.max_num_batched_tokens) == (1, 8192)
    mine = engine_with_defaults(EngineConfig(backend="sglang", block_size=16, max_num_seqs=32), sglang)
    assert (mine.block_size, mine.max_num_seqs) == (16, 32)
    trt = engine_with_defaults(EngineConfig(backend="trtllm"), CAT.backend("trtllm"))
    assert (trt.chunked_prefill, trt.max_num_seqs, trt.block_size) == (False, 2048, 32)
    notes = approximations(CAT.backend("trtllm"))
    assert any("preemption none" in n for n in notes)
    assert approximations(CAT.backend("vllm")) == []


def test_scenario_efficiency_overrides_single_factors():
    base = efficiency_of(CAT.backend("sglang"))
    eff = EfficiencyConfig(mfu=0.5, overhead="3ms").to_efficiency(base)
    assert eff.mfu == 0.5 and eff.overhead_s == 3e-3 and eff.overhead_prefill_s == 3e-3
    assert eff.gemm_half_tokens == base.gemm_half_tokens
    assert EfficiencyConfig().to_efficiency(base) == base


def _profile(tmp_path, body: str):
    (tmp_path / "b.yaml").write_text("backends:\n  mine:\n" + body)
    return load_catalog([tmp_path])


GOOD = """    efficiency:
      gemm: {mfu: 0.7, half_tokens: 32}
      attention: {prefill: 0.5, decode: 0.5}
      hbm: {efficiency: 0.8, grouped_gemm: 0.6}
      allreduce: {efficiency: 0.8, latency: 5us}
      overhead: {decode: 1ms, prefill: 2ms, per_sequence: 0s}
      moe: {layer: 0s}
      sources: {gemm: a, attention: b, hbm: c, allreduce: d, overhead: e, moe: f}
    scheduler: {chunked_prefill: true, max_num_batched_tokens: 4096, max_num_seqs: 64, block_size: 16,
                prefix_cache: hashed_blocks, preemption: recompute, mixing: decode_first, source: mine}
"""


def test_user_profile_loads(tmp_path):
    b = _profile(tmp_path, GOOD).backend("MINE")
    assert b.factors()["grouped_gemm_efficiency"] == 0.6 and b.scheduler.max_num_seqs == 64


@pytest.mark.parametrize("old, new, parts", [
    ("mfu: 0.7", "mfu: 1.7", ["backends.mine.efficiency.gemm.mfu", "fraction in (0, 1]"]),
    ("latency: 5us", "latency: fast", ["backends.mine.efficiency.allreduce.latency"]),
    ("decode: 1ms, prefill: 2ms", "decode: 3ms, prefill: 2ms", ["overhead.prefill", ">= overhead.decode"]),
    (", moe: f}", "}", ["efficiency.sources", "missing: moe"]),
    ("mixing: decode_first", "mixing: fifo", ["scheduler.mixing", "decode_first"]),
    ("hbm: {efficiency: 0.8, grouped_gemm: 0.6}", "hbm: {efficency: 0.8, grouped_gemm: 0.6}",
     ["efficiency.hbm.efficency", "did you mean efficiency"]),
], ids=["fraction", "duration", "overhead-order", "source-missing", "mixing", "typo"])
def test_bad_profiles_name_file_line_and_field(tmp_path, old, new, parts):
    assert old in GOOD
    with pytest.raises(CatalogError) as info:
        _profile(tmp_path, GOOD.replace(old, new))
    message = str(info.value)
    assert "b.yaml" in message and info.value.line is not None
    for part in parts:
        assert part in message
