"""Trace replay against the real Mooncake and Azure traces in ../shared/traces."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chaos.workload import WorkloadConfig, build_workload, read_azure, read_mooncake

TRACES = Path(__file__).parents[2] / ".." / "shared" / "traces"
MOONCAKE = TRACES / "mooncake_conversation.jsonl"
AZURE = TRACES / "azure_llm_2023_code.csv"

pytestmark = pytest.mark.skipif(not MOONCAKE.is_file() or not AZURE.is_file(),
                                reason=f"shared traces not found in {TRACES.resolve()} (CI always has them)")


def trace(path: str, **kw) -> WorkloadConfig:
    return WorkloadConfig(trace={"path": path, **kw})


def build(cfg: WorkloadConfig, seed: int = 0):
    return build_workload(cfg, seed=seed, base_dir=TRACES, duration_s=None)


def test_mooncake_real_numbers():
    w = build(trace("mooncake_conversation.jsonl"))
    assert len(w) == 12_031
    assert w.span_s == pytest.approx(3536.999)            # ~59 minutes
    assert w.input_tokens.mean() == pytest.approx(12_035.06, abs=0.01)
    assert w.output_tokens.mean() == pytest.approx(342.62, abs=0.01)
    assert w.hash_block_tokens == 512
    assert len(w.hash_ids) == 12_031
    # one hash id per started 512-token block of the prompt
    blocks = -(-w.input_tokens // 512)
    assert np.array_equal(blocks, [len(h) for h in w.hash_ids])
    assert np.all(np.diff(w.arrival_s) >= 0)
    assert np.array_equal(w.ids, np.arange(12_031))


def test_azure_real_numbers():
    w = build(trace("azure_llm_2023_code.csv"))
    # the README says 8,818 rows; the file has 8,819 data rows after the header
    assert len(w) == 8_819
    assert w.span_s == pytest.approx(3435.948056)
    assert w.arrival_s[0] == 0.0 and w.arrival_s[1] == pytest.approx(0.052)  # 100 ns timestamps
    assert w.input_tokens.mean() == pytest.approx(2047.85, abs=0.01)
    assert w.output_tokens.mean() == pytest.approx(27.88, abs=0.01)
    assert w.hash_ids is None
    assert w.output_tokens.min() >= 1


@pytest.mark.parametrize("reader,path", [(read_mooncake, MOONCAKE), (read_azure, AZURE)], ids=["mooncake", "azure"])
def test_load_twice_same(reader, path):
    """Reading a trace is a pure function of the file (its speed is measured in benchmarks/, not here)."""
    a, b = reader(path), reader(path)
    assert np.array_equal(a.arrival_s, b.arrival_s)
    assert np.array_equal(a.input_tokens, b.input_tokens)


def test_time_scale_halves_span():
    base = build(trace("mooncake_conversation.jsonl"))
    fast = build(trace("mooncake_conversation.jsonl", time_scale=2.0))
    assert fast.span_s == pytest.approx(base.span_s / 2)
    assert np.array_equal(fast.input_tokens, base.input_tokens)


def test_window_keeps_and_shifts():
    base = build(trace("azure_llm_2023_code.csv"))
    w = build(trace("azure_llm_2023_code.csv", window=["10m", "20m"]))
    expected = ((base.arrival_s >= 600) & (base.arrival_s < 1200)).sum()
    assert len(w) == expected
    assert w.arrival_s.min() >= 0 and w.arrival_s.max() < 600


def test_sample_and_limit():
    base = build(trace("mooncake_conversation.jsonl"))
    s = build(trace("mooncake_conversation.jsonl", sample=0.25), seed=3)
    assert abs(len(s) / len(base) - 0.25) < 0.02
    again = build(trace("mooncake_conversation.jsonl", sample=0.25), seed=3)
    assert np.array_equal(s.arrival_s, again.arrival_s)
    other = build(trace("mooncake_conversation.jsonl", sample=0.25), seed=4)
    assert not np.array_equal(s.arrival_s, other.arrival_s)
    lim = build(trace("mooncake_conversation.jsonl", limit=100))
    assert len(lim) == 100 and np.array_equal(lim.arrival_s, base.arrival_s[:100])


def test_format_from_extension_and_override(tmp_path):
    src = tmp_path / "t.txt"
    src.write_text(AZURE.read_text())
    w = build_workload(trace("t.txt", format="azure"), seed=0, base_dir=tmp_path, duration_s=None)
    assert len(w) == 8_819
