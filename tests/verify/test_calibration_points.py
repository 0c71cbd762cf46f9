"""The verify -> calibrate hand-off: step and TTFT latencies read off a measured request log.

The "measured" run is a simulation whose backend was made slower (HBM efficiency 0.55, 5 ms per
iteration), so the true step latency of every derived point is known: the points must match it, and
`fleetchaos calibrate` on the file `verify` writes must fit the held-out points."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from chaos.catalog import load_catalog
from chaos.cli import app
from chaos.perf.calibrate import Point, predict_ms, read_points
from chaos.scenario import load_scenario
from chaos.sim.backend import efficiency_of
from chaos.sim.run import run
from chaos.verify.points import calibration_points
from tests.verify.test_verify_cli import as_aiperf

pytest.importorskip("scipy")
runner = CliRunner()
SLOW_FLEET = {
    "name": "points", "seed": 3,
    "topology": {"gpu": "h100-sxm", "racks": 1, "hosts_per_rack": 1, "gpus_per_host": 8},
    "deployment": {"model": "llama-3.1-8b", "replicas": 1, "tp": 1},
    "workload": {"synthetic": {"arrival": "poisson", "rate": "1/s", "requests": 200,
                               "input": {"dist": "uniform", "min": 200, "max": 3000},
                               "output": {"dist": "uniform", "min": 100, "max": 400}}},
    "efficiency": {"memory_efficiency": 0.55, "overhead": "5ms"},
}


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    path = tmp_path_factory.mktemp("pts") / "slow.yaml"
    path.write_text(yaml.safe_dump(SLOW_FLEET))
    scenario = load_scenario(path)
    return path, scenario, run(scenario)


def test_points_match_the_true_step_latencies(measured):
    _, scenario, result = measured
    rows, cov = calibration_points(result.log, 1, source="sim")
    assert cov.completed == 200 and cov.step_requests + cov.mixed == 200
    steps = [r for r in rows if r["kind"] == "step"]
    ttfts = [r for r in rows if r["kind"] == "ttft"]
    assert len(steps) >= 8 and len(ttfts) >= 5
    cat = load_catalog([])
    model, gpu = cat.model("llama-3.1-8b"), cat.gpu("h100-sxm")
    true = scenario.efficiency.to_efficiency(efficiency_of(cat.backend("vllm")))

    def err(r):
        p = Point(r["kind"], r["batch"], r["isl"] or 0, 0, r["context"] or 0, r["latency_ms"], False, "", 0)
        return r["latency_ms"] / predict_ms(p, model, gpu, 1, true) - 1

    step_err = np.array([err(r) for r in steps])
    # a decode that shared a few iterations with a prefill chunk reads slightly slow (measured +1.5..+4%)
    assert np.all(step_err > -0.01) and np.all(step_err < 0.06), step_err
    # a request alone on the replica is exactly one prefill pass
    assert np.abs([err(r) for r in ttfts]).max() < 1e-3
    assert sum(r["held_out"] == "true" for r in rows) == len(rows) // 5


def test_verify_writes_points_that_calibrate_fits(measured, tmp_path):
    path, _, result = measured
    export = as_aiperf(result.log, tmp_path / "profile_export.jsonl")
    out = tmp_path / "verify"
    res = runner.invoke(app, ["verify", str(export), "--scenario", str(path), "--out", str(out),
                              "--tolerance", "ttft_p50=1%"])
    assert res.exit_code == 0, res.output
    points_csv = out / "calibration_points.csv"
    assert "calibration points" in res.output and "fleetchaos calibrate" in res.output
    points = read_points(points_csv)
    assert {p.kind for p in points} == {"step", "ttft"}
    res = runner.invoke(app, ["calibrate", str(points_csv), "--model", "llama-3.1-8b", "--gpu", "h100-sxm",
                              "--tp", "1", "--backend", "vllm", "--out", str(tmp_path / "prof" / "fit.yaml")])
    assert res.exit_code == 0, res.output
    held = [ln for ln in res.output.splitlines() if ln.startswith("held out:")]
    # "held out: max |error| B% before, A% after (n points)": the default profile is 25-40% fast here
    before, after = (float(x.rstrip("%")) for x in held[0].split("|error| ")[1].split(" before, ")[0:1] +
                     held[0].split(" before, ")[1].split(" after")[0:1])
    assert before > 15 and after < 8, held
    doc = yaml.safe_load((tmp_path / "prof" / "fit.yaml").read_text())
    assert "vllm-calibrated" in doc["backends"]


def test_disaggregated_gives_no_ttft_points(measured):
    _, _, result = measured
    rows, cov = calibration_points(result.log, 1, aggregated=False)
    assert rows and all(r["kind"] == "step" for r in rows) and cov.ttft_requests == 0
    with pytest.raises(ValueError):
        calibration_points(result.log, 0)
