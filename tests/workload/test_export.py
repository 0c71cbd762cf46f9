"""Trace writer: the resolved workload as Mooncake JSONL that AIPerf replays, read back to the same arrivals."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from hypothesis import given, strategies as st
from typer.testing import CliRunner

from chaos.cli import app
from chaos.errors import WorkloadError
from chaos.workload import SyntheticConfig, Workload, WorkloadConfig, build_workload, read_mooncake
from chaos.workload.export import aiperf_command, write_mooncake

runner = CliRunner()


def synthetic(**kw) -> Workload:
    cfg = {"arrival": "poisson", "rate": "20/s", "requests": 300,
           "input": {"dist": "lognormal", "median": 900, "sigma": 0.5},
           "output": {"dist": "uniform", "min": 10, "max": 300},
           "prefix": {"groups": 4, "tokens": 1024}, **kw}
    return build_workload(WorkloadConfig(synthetic=cfg), seed=5, base_dir=".", duration_s=None)


def test_round_trip_gives_the_same_requests(tmp_path):
    wl = synthetic()
    out = tmp_path / "t.jsonl"
    assert write_mooncake(wl, out) == 300
    back = read_mooncake(out)
    first_ms = json.loads(out.read_text().splitlines()[0])["timestamp"]
    # the reader makes times relative to the first row; the file keeps the run's own origin
    assert np.max(np.abs(back.arrival_s + first_ms / 1000 - wl.arrival_s)) <= 0.0005
    assert np.array_equal(back.input_tokens, wl.input_tokens)
    assert np.array_equal(back.output_tokens, wl.output_tokens)
    assert back.hash_ids == wl.hash_ids and any(len(h) > 1 for h in back.hash_ids)


def test_lines_match_aiperfs_mooncake_model(tmp_path):
    """AIPerf's MooncakeTrace: integer timestamp (ms), int lengths, list[int] hash_ids; nothing else."""
    out = tmp_path / "t.jsonl"
    write_mooncake(synthetic(requests=20), out)
    for line in out.read_text().splitlines():
        row = json.loads(line)
        assert set(row) == {"timestamp", "input_length", "output_length", "hash_ids"}
        assert all(isinstance(row[k], int) for k in ("timestamp", "input_length", "output_length"))
        assert all(isinstance(h, int) for h in row["hash_ids"])


@given(st.lists(st.floats(0, 1e5, allow_nan=False), min_size=1, max_size=50))
def test_round_trip_property(tmp_path_factory, times):
    arrival = np.sort(np.asarray(times))
    n = len(arrival)
    wl = Workload(arrival_s=arrival, input_tokens=np.full(n, 7), output_tokens=np.arange(1, n + 1))
    out = tmp_path_factory.mktemp("rt") / "t.jsonl"
    write_mooncake(wl, out)
    back = read_mooncake(out)
    assert len(back.arrival_s) == n
    rel = arrival - arrival[0]
    assert np.max(np.abs(back.arrival_s - rel)) <= 0.001 + 1e-9     # two roundings of <= 0.5 ms
    assert np.array_equal(back.output_tokens, wl.output_tokens)


def test_closed_loop_cannot_be_exported(tmp_path):
    wl = build_workload(WorkloadConfig(synthetic=SyntheticConfig(
        arrival="closed_loop", concurrency=2, requests=5, input={"dist": "fixed", "value": 5},
        output={"dist": "fixed", "value": 5})), seed=0, base_dir=".", duration_s=None)
    with pytest.raises(WorkloadError, match="closed-loop"):
        write_mooncake(wl, tmp_path / "x.jsonl")


def test_aiperf_command_flags():
    argv = aiperf_command("t.jsonl", model="m", block_tokens=256, tokenizer="tok")
    joined = " ".join(argv)
    for flag in ("--custom-dataset-type mooncake_trace", "--fixed-schedule", "--isl-block-size 256",
                 "--streaming", "--input-file t.jsonl", "--extra-inputs ignore_eos:true", "--tokenizer tok"):
        assert flag in joined


SMALL = {
    "name": "export-small", "seed": 2, "duration": "10s",
    "topology": {"gpu": "h100-sxm", "racks": 1, "hosts_per_rack": 1, "gpus_per_host": 8},
    "deployment": {"model": "llama-3.1-8b", "replicas": 2, "tp": 1},
    "workload": {"synthetic": {"arrival": "poisson", "rate": "5/s",
                               "input": {"dist": "fixed", "value": 500}, "output": {"dist": "fixed", "value": 50}}},
}


def test_cli_exports_what_run_replays(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(SMALL))
    out = tmp_path / "trace.jsonl"
    res = runner.invoke(app, ["export-trace", str(scenario), "--out", str(out), "--tokenizer", "meta-llama/Llama-3.1-8B"])
    assert res.exit_code == 0, res.output
    assert "aiperf profile" in res.output and "--fixed-schedule" in res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all(r["timestamp"] <= 10_000 for r in rows)     # nothing after the duration
    assert 30 <= len(rows) <= 80                                       # ~5/s for 10 s


def test_cli_closed_loop_is_exit_2(tmp_path):
    doc = json.loads(json.dumps(SMALL))
    doc["workload"]["synthetic"] = {"arrival": "closed_loop", "concurrency": 2,
                                    "input": {"dist": "fixed", "value": 5}, "output": {"dist": "fixed", "value": 5}}
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(doc))
    res = runner.invoke(app, ["export-trace", str(scenario), "--out", str(tmp_path / "t.jsonl")])
    assert res.exit_code == 2
    assert "closed-loop" in res.output and "Traceback" not in res.output
