"""The bundled catalog's numbers, lookups, user overrides and bad catalog files."""
from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings, HealthCheck
from hypothesis import strategies as st

from chaos.catalog import GPUSpec, ModelSpec, load_catalog
from chaos.errors import CatalogError, InputError


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_bundled_names(catalog):
    assert set(catalog.gpus) == {"a100-sxm-40gb", "a100-sxm-80gb", "h100-sxm", "h200-sxm", "b200", "gb200"}
    assert set(catalog.models) == {"llama-3.1-8b", "llama-3.1-70b", "llama-2-7b", "llama-2-70b", "qwen3-32b",
                                   "mixtral-8x7b", "deepseek-v3"}


def test_h100_numbers(catalog):
    h = catalog.gpu("h100-sxm")
    assert isinstance(h, GPUSpec)
    assert h.bf16_flops == pytest.approx(989.4e12)
    assert h.fp8_flops == pytest.approx(1978.9e12)
    assert h.hbm_bytes == pytest.approx(79.11 * 2**30)       # CUDA-visible, not the datasheet's 80e9
    assert h.hbm_Bps == pytest.approx(3.35e12)
    assert h.nvlink_Bps == 450e9
    assert h.nic_Bps == 400e9 / 8
    assert "datasheet" in h.source


@pytest.mark.parametrize("name, nvlink_GBps, nic_Gbps", [
    ("a100-sxm-80gb", 300, 200), ("h100-sxm", 450, 400), ("h200-sxm", 450, 400),
    ("b200", 900, 800), ("gb200", 900, 800)])
def test_link_bandwidths(catalog, name, nvlink_GBps, nic_Gbps):
    g = catalog.gpu(name)
    assert g.nvlink_Bps == nvlink_GBps * 1e9
    assert g.nic_Bps == nic_Gbps * 1e9 / 8


def test_llama_70b_shape(catalog):
    m = catalog.model("llama-3.1-70b")
    assert isinstance(m, ModelSpec)
    assert (m.n_layers, m.hidden_size, m.n_heads, m.n_kv_heads, m.head_dim) == (80, 8192, 64, 8, 128)
    assert m.weight_bytes == pytest.approx(141.1e9)
    assert not m.is_moe and m.attention == "gqa"


def test_deepseek_v3_is_fp8_mla_moe(catalog):
    m = catalog.model("deepseek-v3")
    assert m.attention == "mla" and (m.kv_lora_rank, m.qk_rope_head_dim) == (512, 64)
    assert (m.n_layers, m.n_dense_layers, m.n_moe_layers) == (61, 3, 58)
    assert (m.n_experts, m.n_active_experts, m.n_shared_experts, m.moe_ffn_size) == (256, 8, 1, 2048)
    assert m.weight_dtype_bytes == 1 and m.weight_bytes == 671e9
    # routed experts: 58 layers * 256 * 3 * 7168 * 2048 bytes = 654 GB of the 671 GB
    assert m.routed_expert_bytes == pytest.approx(58 * 256 * 3 * 7168 * 2048)
    # active = non-expert + 8 experts per MoE layer, about 37B
    active = (m.weight_bytes - m.routed_expert_bytes) + 8 * 58 * m.expert_bytes
    assert active == pytest.approx(m.n_active_params, rel=0.03)


def test_mixtral_active_params_match_experts(catalog):
    m = catalog.model("mixtral-8x7b")
    active_bytes = (m.weight_bytes - m.routed_expert_bytes) + 2 * m.n_moe_layers * m.expert_bytes
    assert active_bytes / 2 == pytest.approx(m.n_active_params, rel=0.01)


def test_lookup_is_case_insensitive(catalog):
    assert catalog.gpu("H100-SXM") is catalog.gpu("h100-sxm")
    assert catalog.model(" Llama-3.1-8B ") is catalog.model("llama-3.1-8b")


@pytest.mark.parametrize("kind, name, expected", [
    ("gpu", "h100", "did you mean h100-sxm?"),
    ("gpu", "H200", "did you mean h200-sxm?"),
    ("model", "llama3.1-8b", "did you mean llama-3.1-8b?"),
    ("model", "gpt-5", "expected one of deepseek-v3, llama-2-70b"),
], ids=["gpu-missing-suffix", "gpu-uppercase", "model-typo", "model-unknown"])
def test_unknown_name(catalog, kind, name, expected):
    with pytest.raises(CatalogError, match="expected one of") as info:
        getattr(catalog, kind)(name, field="deployment.model")
    assert expected in str(info.value)
    assert str(info.value).startswith("deployment.model: unknown")
    assert isinstance(info.value, (InputError, ValueError))


def _write(tmp_path, text, name="mine.yaml"):
    (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path


_GOOD_GPU = """\
gpus:
  my-gpu:
    bf16_flops: 1e15
    fp8_flops: 2e15
    hbm: 96GB
    hbm_bandwidth: 4TB/s
    nvlink_bandwidth: 450GB/s
    nic_bandwidth: 400Gbps
    source: made up
"""


def test_user_dir_adds_and_overrides(tmp_path):
    _write(tmp_path, _GOOD_GPU + _GOOD_GPU.replace("gpus:\n", "").replace("my-gpu", "H100-SXM")
           .replace("96GB", "94GB").replace("made up", "H100 NVL"))
    cat = load_catalog([tmp_path])
    assert cat.gpu("my-gpu").hbm_bytes == 96e9
    assert cat.gpu("h100-sxm").hbm_bytes == 94e9
    assert cat.gpu("h100-sxm").source == "H100 NVL"
    assert load_catalog().gpu("h100-sxm").hbm_bytes == pytest.approx(79.11 * 2**30)   # bundled data untouched
    assert "deepseek-v3" in cat.models


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hbm_GB=st.integers(1, 1000), bw_TBps=st.floats(0.1, 20), layers=st.integers(1, 200),
       kv_heads=st.sampled_from([1, 2, 4, 8]))
def test_user_catalog_round_trip(tmp_path_factory, hbm_GB, bw_TBps, layers, kv_heads):
    d = tmp_path_factory.mktemp("cat")
    (d / "x.yaml").write_text(textwrap.dedent(f"""\
        gpus:
          H100-SXM:
            bf16_flops: 989.4e12
            fp8_flops: 1978.9e12
            hbm: {hbm_GB}GB
            hbm_bandwidth: {bw_TBps!r}TB/s
            nvlink_bandwidth: 450GB/s
            nic_bandwidth: 400Gbps
            source: override
        models:
          tiny:
            n_layers: {layers}
            hidden_size: 1024
            n_heads: 8
            n_kv_heads: {kv_heads}
            head_dim: 128
            ffn_size: 4096
            vocab_size: 32000
            n_params: 1e9
            n_active_params: 1e9
            source: test
        """))
    cat = load_catalog([d])
    g = cat.gpu("h100-sxm")
    assert g.hbm_bytes == hbm_GB * 1e9
    assert g.hbm_Bps == pytest.approx(bw_TBps * 1e12)
    m = cat.model("TINY")
    assert (m.name, m.n_layers, m.n_kv_heads, m.weight_bytes, m.weight_dtype_bytes) == ("tiny", layers, kv_heads, 2e9, 2)


_BAD = [
    ("missing-field", _GOOD_GPU.replace("    hbm: 96GB\n", ""), ["gpus.my-gpu.hbm", "missing required field"]),
    ("negative-bandwidth", _GOOD_GPU.replace("4TB/s", "-4TB/s"), ["gpus.my-gpu.hbm_bandwidth", "non-negative", "-4TB/s"]),
    ("zero-flops", _GOOD_GPU.replace("bf16_flops: 1e15", "bf16_flops: 0"), ["gpus.my-gpu.bf16_flops", "positive"]),
    ("bad-unit", _GOOD_GPU.replace("400Gbps", "400Gbits"), ["nic_bandwidth", "400Gbits", "400Gbps"]),
    ("wrong-type", _GOOD_GPU.replace("source: made up", "source: [1, 2]"), ["gpus.my-gpu.source", "expected a string"]),
    ("unknown-key", _GOOD_GPU + "    hbm_size: 80GB\n", ["gpus.my-gpu.hbm_size", "unknown field", "hbm"]),
    ("unknown-top-level", _GOOD_GPU + "gpu_list: []\n", ["unknown top-level key", "did you mean gpus?"]),
    ("malformed-yaml", "gpus:\n  a: [1, 2\n", ["malformed YAML"]),
    ("entry-not-mapping", "gpus:\n  a: 3\n", ["gpus.a", "expected a mapping of fields"]),
    ("not-a-mapping", "- 1\n- 2\n", ["expected a mapping with gpus:, models: and/or backends:"]),
    ("model-bad-attention", "models:\n  m: {n_layers: 2, hidden_size: 64, n_heads: 2, n_kv_heads: 2, head_dim: 32,"
     " ffn_size: 128, vocab_size: 100, n_params: 1e6, n_active_params: 1e6, attention: mha, source: x}\n",
     ["models.m.attention", "expected one of gqa, mla but got 'mha'"]),
    ("model-negative-layers", "models:\n  m: {n_layers: -2, hidden_size: 64, n_heads: 2, n_kv_heads: 2, head_dim: 32,"
     " ffn_size: 128, vocab_size: 100, n_params: 1e6, n_active_params: 1e6, source: x}\n",
     ["models.m.n_layers", "expected an integer >= 1 but got -2"]),
    ("model-float-heads", "models:\n  m: {n_layers: 2, hidden_size: 64, n_heads: 2.5, n_kv_heads: 2, head_dim: 32,"
     " ffn_size: 128, vocab_size: 100, n_params: 1e6, n_active_params: 1e6, source: x}\n",
     ["models.m.n_heads", "expected an integer but got 2.5"]),
    ("mla-without-rank", "models:\n  m: {n_layers: 2, hidden_size: 64, n_heads: 2, n_kv_heads: 2, head_dim: 32,"
     " ffn_size: 128, vocab_size: 100, n_params: 1e6, n_active_params: 1e6, attention: mla, source: x}\n",
     ["models.m.kv_lora_rank", "missing required field"]),
    ("moe-active-gt-experts", "models:\n  m: {n_layers: 2, hidden_size: 64, n_heads: 2, n_kv_heads: 2, head_dim: 32,"
     " ffn_size: 128, vocab_size: 100, n_params: 1e6, n_active_params: 1e6, n_experts: 4, n_active_experts: 5,"
     " moe_ffn_size: 32, source: x}\n", ["models.m.n_active_experts", "expected 1..n_experts (4)"]),
]


@pytest.mark.parametrize("text, expected", [(t, e) for _, t, e in _BAD], ids=[i for i, _, _ in _BAD])
def test_bad_catalog_file(tmp_path, text, expected):
    _write(tmp_path, text, "bad.yaml")
    with pytest.raises(CatalogError) as info:
        load_catalog([tmp_path])
    message = str(info.value)
    assert "bad.yaml" in message
    for part in expected:
        assert part in message


def test_error_has_line_number(tmp_path):
    _write(tmp_path, _GOOD_GPU.replace("4TB/s", "-4TB/s"), "bad.yaml")
    with pytest.raises(CatalogError) as info:
        load_catalog([tmp_path])
    assert info.value.line == 6
    assert ":6: gpus.my-gpu.hbm_bandwidth:" in str(info.value)


def test_a_bare_directory_is_accepted(tmp_path):
    _write(tmp_path, _GOOD_GPU)
    assert load_catalog(str(tmp_path)).gpu("my-gpu").hbm_bytes == 96e9


def test_missing_dir_is_an_error(tmp_path):
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog([tmp_path / "nope"])


def test_empty_file_is_fine(tmp_path):
    _write(tmp_path, "", "empty.yaml")
    assert load_catalog([tmp_path]).gpus.keys() == load_catalog().gpus.keys()


def test_catalog_is_read_only(catalog):
    with pytest.raises(TypeError):
        catalog.gpus["x"] = catalog.gpu("b200")
