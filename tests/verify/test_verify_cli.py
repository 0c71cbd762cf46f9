"""`fleetchaos verify`: a measurement equal to the simulation is within tolerance (exit 0), a slower one
is outside (exit 1), bad input is exit 2 with one clear message; the pages and figures are written."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from chaos.cli import app
from chaos.scenario import load_scenario
from chaos.sim.run import run
from chaos.verify import parse_tolerance
from chaos.verify.aiperf_export import ClientRecord, write_profile_export

runner = CliRunner()
SMALL = {
    "name": "verify-small", "seed": 2,
    "topology": {"gpu": "h100-sxm", "racks": 1, "hosts_per_rack": 1, "gpus_per_host": 8},
    "deployment": {"model": "llama-3.1-8b", "replicas": 2, "tp": 1},
    "workload": {"synthetic": {"arrival": "poisson", "rate": "8/s", "requests": 60,
                               "input": {"dist": "lognormal", "median": 800, "sigma": 0.5},
                               "output": {"dist": "uniform", "min": 20, "max": 120}}},
    "router": {"policy": "round_robin"},
}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    path = tmp_path_factory.mktemp("sc") / "s.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    return path


def as_aiperf(log, path: Path, ttft_scale: float = 1.0) -> Path:
    """What a client would have measured if the real fleet behaved like the simulation (TTFT scaled)."""
    base = 1_760_000_000_000_000_000
    recs = []
    for i in range(len(log)):
        start = base + int(log.arrival_s[i] * 1e9)
        first = start + int(log.ttft_s()[i] * ttft_scale * 1e9)
        end = first + int((log.finish_s[i] - log.first_token_s[i]) * 1e9)
        n = int(log.generated_tokens[i])
        recs.append(ClientRecord(start, end, int(log.input_tokens[i]), n, first,
                                 np.linspace(first, end, n).astype(np.int64).tolist()))
    return write_profile_export(recs, path)


@pytest.fixture(scope="module")
def sim_log(scenario):
    return run(load_scenario(scenario)).log


def test_same_as_simulation_is_within(tmp_path, scenario, sim_log):
    measured = as_aiperf(sim_log, tmp_path / "profile_export.jsonl")
    out = tmp_path / "out"
    res = runner.invoke(app, ["verify", str(measured), "--scenario", str(scenario), "--out", str(out),
                              "--tolerance", "ttft_p50=1%,tpot_p50=1%,e2e_p99=5ms"])
    assert res.exit_code == 0, res.output
    assert "verdict: within tolerance" in res.output
    doc = json.loads((out / "verify.json").read_text())
    rows = {r["metric"]: r for r in doc["metrics"]}
    assert abs(rows["ttft_p50"]["error"]) < 1e-3 and rows["ttft_p50"]["ok"] is True
    assert doc["counts"]["simulated"]["completed"] == doc["counts"]["measured"]["completed"] == 60
    for name in ("verify.html", "verify.md", "cdf.png", "qq.png", "timeseries.png", "measured_requests.csv"):
        assert (out / name).is_file(), name
    html = (out / "verify.html").read_text()
    assert "within tolerance" in html and "data:image/png;base64," in html


def test_slower_fleet_is_outside(tmp_path, scenario, sim_log):
    measured = as_aiperf(sim_log, tmp_path / "profile_export.jsonl", ttft_scale=1.5)
    res = runner.invoke(app, ["verify", str(measured), "--scenario", str(scenario), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1, res.output
    assert "verdict: outside tolerance" in res.output
    # TTFT 1.5x slower measured: the simulation is 1/1.5 - 1 = -33% off
    assert "ttft_p50: simulated" in res.output and "-33." in res.output


@pytest.mark.parametrize("args,message", [
    (["--tolerance", "ttft_p42=5%"], "expected one of"),
    (["--tolerance", "ttft_p50"], "expected metric=tolerance"),
    (["--tolerance", "throughput_rps=5ms"], "a throughput takes a relative tolerance"),
    (["--tolerance", "ttft_p50=-3%"], "cannot be negative"),
    (["--format", "locust"], "expected one of aiperf, vllm"),
], ids=["unknown metric", "no value", "absolute throughput", "negative", "bad format"])
def test_bad_input_is_exit_2(tmp_path, scenario, sim_log, args, message):
    measured = as_aiperf(sim_log, tmp_path / "p.jsonl")
    res = runner.invoke(app, ["verify", str(measured), "--scenario", str(scenario), "--out", str(tmp_path / "o"), *args])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output


def test_summary_only_vllm_file(tmp_path, scenario):
    path = tmp_path / "vllm.json"
    path.write_text(json.dumps({"median_ttft_ms": 10.0, "p99_ttft_ms": 30.0, "median_tpot_ms": 4.0,
                                "output_throughput": 500.0}))
    res = runner.invoke(app, ["verify", str(path), "--scenario", str(scenario), "--out", str(tmp_path / "o"),
                              "--tolerance", "ttft_p50=1000%,tpot_p50=1000%"])
    assert res.exit_code == 0, res.output
    assert "--save-detailed" in res.output
    res = runner.invoke(app, ["verify", str(path), "--scenario", str(scenario), "--out", str(tmp_path / "o"),
                              "--tolerance", "e2e_p50=10%"])
    assert res.exit_code == 2 and "the measured run has no value for it" in res.output


def test_parse_tolerance():
    a, b, c = parse_tolerance("ttft_p50=15%, tpot_p50=0.1,e2e_p99=200ms")
    assert (a.relative, b.relative, c.absolute_s) == (0.15, 0.1, 0.2)
    assert a.holds(1.15, 1.0) and not a.holds(1.16, 1.0) and c.holds(1.2, 1.0) and not c.holds(1.21, 1.0)
