"""`fleetchaos estimate`: its numbers are the engine's own iteration latencies for the same static batch."""
from __future__ import annotations

import json

import pytest
import simpy
from typer.testing import CliRunner

from chaos.catalog import load_catalog
from chaos.cli import app
from chaos.engine import EngineConfig, Replica, Request, call_at
from chaos.errors import PlacementError
from chaos.perf import build_perf_model, kv_capacity_tokens
from chaos.perf.estimate import NVLINK_LATENCY_S, estimate
from chaos.sim.backend import efficiency_of

CAT = load_catalog()
KEYS = ["ttft_ms", "tpot_ms", "tokens_per_s", "tokens_per_s_per_gpu", "tokens_per_s_per_user",
        "request_latency_ms", "fits", "max_batch", "memory_gib"]
runner = CliRunner()


def _engine_run(cost, kv_tokens, batch, isl, osl, stepper):
    env = simpy.Environment()
    config = EngineConfig(max_num_seqs=batch, max_num_batched_tokens=batch * isl, stepper=stepper)
    rep = Replica(env, "r0", "aggregated", cost, kv_tokens, config, lambda *a: None)
    reqs = [Request(i, 0.0, isl, osl) for i in range(batch)]
    for r in reqs:
        call_at(env, 0.0, lambda r=r: rep.submit(r))
    env.run()
    return reqs


@pytest.mark.parametrize("model, gpu, tp, backend, batch, isl, osl", [
    ("llama-3.1-8b", "h100-sxm", 1, "vllm", 16, 1024, 256),
    ("llama-3.1-70b", "h100-sxm", 4, "sglang", 8, 2000, 64),
    ("deepseek-v3", "h200-sxm", 8, "trtllm", 4, 512, 33),
    ("qwen3-32b", "b200", 2, "vllm", 1, 100, 2),
])
@pytest.mark.parametrize("stepper", ["fast", "reference"])
def test_estimate_equals_the_engine_on_the_same_static_batch(model, gpu, tp, backend, batch, isl, osl, stepper):
    m, g, b = CAT.model(model), CAT.gpu(gpu), CAT.backend(backend)
    cost = build_perf_model(m, g, tp, g.nvlink_Bps, NVLINK_LATENCY_S, efficiency_of(b))
    est = estimate(cost, m, g, tp, batch=batch, isl=isl, osl=osl)
    reqs = _engine_run(cost, kv_capacity_tokens(m, g, tp), batch, isl, osl, stepper)
    for r in reqs:
        assert r.first_token_s * 1e3 == pytest.approx(est.ttft_ms, rel=1e-9)
        assert (r.finish_s - r.first_token_s) / (osl - 1) * 1e3 == pytest.approx(est.tpot_ms, rel=1e-9)
        assert r.finish_s * 1e3 == pytest.approx(est.request_latency_ms, rel=1e-9)


def test_json_has_exactly_the_documented_keys_and_consistent_numbers():
    res = runner.invoke(app, ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--tp", "1",
                              "--batch", "16", "--isl", "1024", "--osl", "256", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert list(out) == KEYS
    assert out["request_latency_ms"] == pytest.approx(out["ttft_ms"] + 255 * out["tpot_ms"])
    assert out["tokens_per_s"] == pytest.approx(16 * 256 / out["request_latency_ms"] * 1e3)
    assert out["tokens_per_s_per_user"] == pytest.approx(1e3 / out["tpot_ms"])
    assert out["fits"] is True and out["max_batch"] == kv_capacity_tokens(
        CAT.model("llama-3.1-8b"), CAT.gpu("h100-sxm"), 1) // 1280
    assert set(out["memory_gib"]) == {"weights", "kv", "activations", "reserve"}
    assert out["memory_gib"]["kv"] == pytest.approx(16 * 1280 * 131072 / 2**30)
    text = runner.invoke(app, ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--batch", "16",
                               "--isl", "1024", "--osl", "256"])
    assert text.exit_code == 0 and "ttft_ms" in text.output and "largest batch that fits" in text.output


def test_a_batch_too_big_for_kv_says_so():
    res = runner.invoke(app, ["estimate", "--model", "llama-3.1-70b", "--gpu", "h100-sxm", "--tp", "4",
                              "--batch", "512", "--isl", "4000", "--osl", "1000", "--json"])
    out = json.loads(res.output)
    assert out["fits"] is False and 0 < out["max_batch"] < 512


@pytest.mark.parametrize("model", sorted(CAT.models))
@pytest.mark.parametrize("gpu", sorted(CAT.gpus))
@pytest.mark.parametrize("backend", sorted(CAT.backends))
def test_every_bundled_combination_estimates_or_refuses_clearly(model, gpu, backend):
    m, g = CAT.model(model), CAT.gpu(gpu)
    for tp in (1, 2, 4, 8):
        if m.n_heads % tp:
            continue
        try:
            kv_capacity_tokens(m, g, tp)
        except PlacementError:
            continue
        cost = build_perf_model(m, g, tp, g.nvlink_Bps, NVLINK_LATENCY_S, efficiency_of(CAT.backend(backend)))
        est = estimate(cost, m, g, tp, batch=8, isl=512, osl=128)
        assert 0 < est.ttft_ms and 0 < est.tpot_ms < est.ttft_ms * 128
        break
    else:       # only a model larger than 8 GPUs' memory may fit no TP: DeepSeek-V3 on A100 / H100
        assert m.weight_bytes > 8 * g.hbm_bytes * 0.9 - 8 * 2**30, f"{model} fits no TP up to 8 on {gpu}"


@pytest.mark.parametrize("args, fragment", [
    (["--tp", "3", "--model", "llama-3.1-70b"], "--tp: llama-3.1-70b has 64 attention heads"),
    (["--tp", "1", "--model", "llama-3.1-70b"], "--tp: llama-3.1-70b needs 141 GB of weights"),
    (["--backend", "vlm"], "--backend: unknown backend"),
    (["--model", "llama-8b"], "--model: unknown model"),
    (["--batch", "0"], "--batch: expected a positive integer"),
], ids=["tp-heads", "tp-fit", "backend", "model", "batch"])
def test_bad_combinations_exit_2(args, fragment):
    flags = {"--model": "llama-3.1-8b", "--gpu": "h100-sxm", "--batch": "4", "--isl": "128", "--osl": "16"}
    flags.update(zip(args[::2], args[1::2]))
    res = runner.invoke(app, ["estimate", *[x for pair in flags.items() for x in pair]])
    assert res.exit_code == 2, res.output
    assert fragment in res.output


def test_backend_front_example_orders_the_fronts():
    """examples/backend_front.py: each front trades per-user speed for per-GPU throughput as the batch grows;
    SGLang's lower step overhead dominates vLLM at every batch; TensorRT-LLM's (lowest) wins at small batches
    and its calibrated per-sequence cost (docs/calibration.md) makes it fall behind at 64 sequences and more."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "examples" / "backend_front.py"
    spec = importlib.util.spec_from_file_location("backend_front", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fronts = module.front()
    for points in fronts.values():
        gpu = [p[1] for p in points]
        user = [p[2] for p in points]
        assert gpu == sorted(gpu) and user == sorted(user, reverse=True)
    for (batch, v_gpu, v_user), (_, s_gpu, s_user), (_, t_gpu, t_user) in zip(*fronts.values()):
        assert v_gpu < s_gpu and v_user < s_user
        if batch <= 4:
            assert s_gpu < t_gpu and s_user < t_user
        if batch >= 64:
            assert t_gpu < v_gpu and t_user < v_user
