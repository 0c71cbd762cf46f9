"""`latency: {source: aiconfigurator}`: grids from aiconfigurator's per-op databases, cached on disk, priced
like a measured table. Tests that query aiconfigurator skip (with the reason) only when it is not installed."""
from __future__ import annotations

import json
import sys
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from chaos.catalog import load_catalog
from chaos.cli import app
from chaos.perf import build_perf_model
from chaos.perf import aiconfigurator as aic
from chaos.sim.backend import _aiconfigurator_source, efficiency_of

CAT = load_catalog()
MODEL, GPU = CAT.model("llama-3.1-8b"), CAT.gpu("h100-sxm")
ROOF = build_perf_model(MODEL, GPU, 1, 0.0, 0.0, efficiency_of(CAT.backend("vllm")))
runner = CliRunner()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("aic-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("FLEETCHAOS_CACHE_DIR", str(folder))
    yield folder
    mp.undo()


@pytest.fixture(scope="module")
def cost(cache):
    pytest.importorskip("aiconfigurator", reason="aiconfigurator is not installed (pip install 'fleetchaos[aic]')")
    return aic.aiconfigurator_cost(ROOF, "vllm")


def test_unmapped_model_is_named_or_falls_back_to_the_roofline():
    perf = replace(ROOF, model=replace(MODEL, aiconfigurator=""))
    latency = {"backend": "vllm"}
    with pytest.raises(aic.AiconfiguratorUnavailable, match="llama-3.1-8b.*has no aiconfigurator name") as info:
        _aiconfigurator_source(latency, "vllm", None)(perf)
    assert info.value.field == "latency.source"
    latency = {"backend": "vllm"}
    assert _aiconfigurator_source(latency, "vllm", "roofline")(perf) is perf
    assert "using the roofline" in latency["warnings"][0] and latency["shapes"]["llama-3.1-8b on 1 x h100-sxm"][
        "source"] == "roofline"


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "aiconfigurator", None)
    with pytest.raises(aic.AiconfiguratorUnavailable, match=r"pip install 'fleetchaos\[aic\]'"):
        aic.aiconfigurator_cost(ROOF, "vllm")


def test_grid_points_equal_aiconfigurators_own_step_latencies(cost):
    """Independent of the adapter's grids: aiconfigurator's decode step and static prefill at grid points."""
    from aiconfigurator.cli.api import cli_estimate
    raised = cost.tables.meta["monotone_raise_max"]["decode"]
    assert 0 <= raised < 0.1
    for batch, ctx, rel in [(1, 1024, 1e-6), (64, 4096, 1e-6), (8, 1024, raised)]:
        ref = cli_estimate("meta-llama/Meta-Llama-3.1-8B", "h100_sxm", mode="static_gen", backend_name="vllm",
                           isl=ctx, osl=2, batch_size=batch, tp_size=1, stride=1).tpot
        # the decode token after a prompt of ctx tokens attends ctx + 1: ctx tokens already in KV;
        # (8, 1024) is one of the points the monotone envelope raised (batch 6 costs more there)
        got = cost.iteration_time(batch, batch * ctx, 0) * 1e3
        assert ref <= got * (1 + 1e-9) and got == pytest.approx(ref, rel=rel + 1e-9)
    for batch, isl in [(1, 1024), (8, 1024), (1, 8192)]:
        ref = cli_estimate("meta-llama/Meta-Llama-3.1-8B", "h100_sxm", mode="static_ctx", backend_name="vllm",
                           isl=isl, osl=1, batch_size=batch, tp_size=1).ttft
        got = cost.iteration_time(0, 0.0, batch * isl, batch * isl * (isl + 1) / 2.0, 0.0, batch) * 1e3
        assert got == pytest.approx(ref, rel=0.01)


def test_tables_are_cached_on_disk_keyed_by_versions_and_shape(cost, cache):
    files = list((cache / "aiconfigurator").glob("*.npz"))
    assert len(files) == 1 and "_h100_sxm_vllm_tp1_" in files[0].name
    meta = cost.tables.meta
    assert meta["aiconfigurator"] and meta["database"] and meta["cache"] == str(files[0])
    aic._load_cached.cache_clear()
    again = aic.aiconfigurator_cost(ROOF, "vllm")
    assert again.tables.meta["cache_hit"] is True
    assert np.array_equal(again.tables.decode.latency_s, cost.tables.decode.latency_s)
    assert again.iteration_time(3, 3000.0, 100, 5050.0) == cost.iteration_time(3, 3000.0, 100, 5050.0)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3000), per_seq=st.floats(0, 150_000), dn=st.integers(0, 500), dc=st.floats(0, 1e6),
       p=st.integers(1, 20000), k=st.floats(0, 50_000), dp=st.integers(0, 4000))
def test_latency_is_monotone_in_tokens_and_context(cost, n, per_seq, dn, dc, p, k, dp):
    """More sequences (at the same context each), more prompt tokens, or more context never cost less."""
    t = cost.iteration_time
    ctx = n * per_seq
    assert t(n + dn, (n + dn) * per_seq, 0) >= t(n, ctx, 0) - 1e-12
    assert t(n, ctx + dc, 0) >= t(n, ctx, 0) - 1e-12
    attn = p * k + p * (p + 1) / 2.0
    assert t(n, ctx, p + dp, attn) >= t(n, ctx, p, attn) - 1e-12
    assert t(n, ctx, p, attn + dc) >= t(n, ctx, p, attn) - 1e-12
    assert t(n + dn, (n + dn) * per_seq + dc, p, attn) >= t(n, ctx, p, attn) - 1e-12


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9000), ctx=st.floats(0, 1e9), k=st.integers(1, 300), slow=st.sampled_from([1.0, 1.7]))
def test_decode_stretch_equals_per_iteration(cost, n, ctx, k, slow):
    c = cost.with_slowdown(slow)
    stretch = c.decode_stretch(n, ctx, k)
    single = [c.iteration_time(n, ctx + i * n, 0) for i in range(k)]
    assert np.allclose(stretch, single, rtol=1e-9, atol=0.0)


def test_array_calls_equal_scalar_calls(cost):
    n, ctx, p = np.array([0, 4, 16]), np.array([0.0, 4000.0, 9000.0]), np.array([512, 0, 64])
    attn = p * (p + 1) / 2.0
    arr = cost.iteration_time(n, ctx, p, attn)
    assert list(arr) == [cost.iteration_time(int(a), float(b), int(c), float(d)) for a, b, c, d in zip(n, ctx, p, attn)]
    assert arr[0] > 0 and cost.iteration_time(0, 0.0, 0) == 0.0


def test_scenario_and_estimate_use_aiconfigurator(cost, cache, tmp_path):
    from tests.perf.test_sources import SMALL, write
    doc = dict(SMALL, latency={"source": "aiconfigurator"})
    res = runner.invoke(app, ["run", str(write(tmp_path, doc)), "--out", str(tmp_path / "o"), "-q", "--no-baseline"])
    assert res.exit_code == 0, res.output
    lat = json.loads((tmp_path / "o" / "journal.json").read_text())["fleet"]["latency"]
    shape = lat["shapes"]["llama-3.1-8b on 1 x h100-sxm"]
    assert lat["source"] == "aiconfigurator" and shape["model_id"] == "meta-llama/Meta-Llama-3.1-8B"
    assert shape["cache"].startswith(str(cache)) and "silicon" in shape["op_sources"]
    res = runner.invoke(app, ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--batch", "8",
                              "--isl", "1024", "--osl", "128", "--latency", "aiconfigurator", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["ttft_ms"] == pytest.approx(cost.iteration_time(0, 0.0, 8192, 8 * 1024 * 1025 / 2.0, 0.0, 8) * 1e3)


@pytest.mark.parametrize("stepper", ["fast", "reference"])
def test_estimate_equals_the_engine_with_the_aiconfigurator_source(cost, stepper):
    """The Done-when contract of issue #10 for this source: the static batch through the engine (both
    steppers) gives exactly `estimate`'s TTFT, TPOT and request latency."""
    from chaos.perf import kv_capacity_tokens
    from chaos.perf.estimate import estimate
    from tests.perf.test_estimate import _engine_run
    batch, isl, osl = 12, 700, 40
    est = estimate(cost, MODEL, GPU, 1, batch=batch, isl=isl, osl=osl)
    for r in _engine_run(cost, kv_capacity_tokens(MODEL, GPU, 1), batch, isl, osl, stepper):
        assert r.first_token_s * 1e3 == pytest.approx(est.ttft_ms, rel=1e-9)
        assert (r.finish_s - r.first_token_s) / (osl - 1) * 1e3 == pytest.approx(est.tpot_ms, rel=1e-9)
        assert r.finish_s * 1e3 == pytest.approx(est.request_latency_ms, rel=1e-9)


@pytest.mark.parametrize("model_id, system, fragment", [
    ("meta-llama/Meta-Llama-3.1-8B", "tpu_v5", "has no vllm database for system 'tpu_v5'; it has: "),
    ("example/not-a-model", "h100_sxm", "cannot build model 'example/not-a-model' at tp=1 for vllm"),
], ids=["unknown-system", "unknown-model"])
def test_shapes_aiconfigurator_does_not_cover_are_named(cost, model_id, system, fragment):
    perf = replace(ROOF, model=replace(MODEL, aiconfigurator=model_id), gpu=replace(GPU, aiconfigurator=system))
    with pytest.raises(aic.AiconfiguratorUnavailable, match=fragment) as info:
        aic.aiconfigurator_cost(perf, "vllm")
    assert info.value.field == "latency.source"
