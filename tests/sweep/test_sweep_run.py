"""A tiny sweep end to end: parallel run, resume from the store, byte-identical results on rerun and on
Ray, invalid points recorded, the page and summary written (and rendered in Chromium when installed)."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli import app
from chaos.sweep.recommend import recommend
from chaos.sweep.configs import Config

TINY = Path(__file__).resolve().parent / "data" / "tiny.yaml"


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "tiny"
    result = CliRunner().invoke(app, ["sweep", str(TINY), "--out", str(out), "--workers", "2", "--recommend"])
    return out, result


def test_runs_in_parallel_and_records_invalid_points(first_run):
    out, result = first_run
    assert result.exit_code == 0, result.output
    assert "3 points x 1 seeds = 3 runs (1 of 4 grid points removed by constraints): 3 simulated" in result.output
    rows = (out / "results.csv").read_text().splitlines()
    assert rows[0].startswith("point,seed,key,status,deployment.replicas,deployment.tp,gpus,ttft_p50")
    assert len(rows) == 4
    invalid = [r for r in rows[1:] if ",invalid," in r]
    # the error as `fleetchaos validate` reports it: the base file's line, the field, what would fit
    assert len(invalid) == 1 and "fleet-small.yaml:" in invalid[0]
    assert "deployment.spares: needs 32 GPUs for 1 x tp16 + 1 spare x tp16 but the fabric has 16" in invalid[0]
    pids = {line.split(",")[-1] for line in (out / "timings.csv").read_text().splitlines()[1:] if line.split(",")[3]}
    assert pids and str(os.getpid()) not in pids   # pool workers ran them, not this process
    assert "wall_s" not in (out / "results.json").read_text()
    for name in ("sweep.html", "sweep.md", "front_ttft_p99_throughput_per_gpu.png"):
        assert (out / name).stat().st_size > 0
    assert "recommendation: deployment.replicas=" in result.output


def test_rerun_resumes_from_disk_with_identical_bytes(first_run, tmp_path):
    out, _ = first_run
    before = {n: (out / n).read_bytes() for n in ("results.csv", "results.json")}
    again = CliRunner().invoke(app, ["sweep", str(TINY), "--out", str(out), "--no-report"])
    assert again.exit_code == 0 and "0 simulated, 3 reused" in again.output
    assert {n: (out / n).read_bytes() for n in before} == before
    fresh = tmp_path / "fresh"
    shutil.copytree(out / "points", fresh / "points")
    (fresh / "points" / sorted(p.name for p in (fresh / "points").iterdir())[0]).unlink()
    partial = CliRunner().invoke(app, ["sweep", str(TINY), "--out", str(fresh), "--no-report", "-w", "1"])
    assert "1 simulated, 2 reused" in partial.output
    assert (fresh / "results.csv").read_bytes() == before["results.csv"]
    redo = CliRunner().invoke(app, ["sweep", str(TINY), "--out", str(fresh), "--no-report", "--no-resume", "-w", "1"])
    assert "3 simulated, 0 reused" in redo.output
    assert (fresh / "results.csv").read_bytes() == before["results.csv"]


@pytest.mark.slow
def test_ray_executor_gives_the_same_results_csv(first_run, tmp_path):
    pytest.importorskip("ray")
    out, _ = first_run
    result = CliRunner().invoke(app, ["sweep", str(TINY), "--out", str(tmp_path / "ray"), "--executor", "ray",
                                      "--workers", "2", "--no-report"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ray" / "results.csv").read_bytes() == (out / "results.csv").read_bytes()
    assert (tmp_path / "ray" / "results.json").read_bytes() == (out / "results.json").read_bytes()


def test_bad_executor_options_exit_2(tmp_path):
    for args, fragment in ((["--executor", "dask"], "expected one of local, ray"),
                           (["--address", "ray://x:1"], "needs --executor ray"),
                           (["--front", "ttft_p99"], "two different metric names"),
                           (["--front", "ttft_p99,throughput"], "did you mean")):
        r = CliRunner().invoke(app, ["sweep", str(TINY), "--out", str(tmp_path / "o"), *args])
        assert r.exit_code == 2 and fragment in r.output, r.output


def _config(i, tput, ttft, gpus=8, verdict="held", values=None):
    c = Config(index=i, values=values or {"deployment.tp": i}, gpus=gpus, seeds=[1], ok_seeds=[1], errors=[],
               verdicts={1: verdict}, deviations={1: ["steady_state[0] requests_failed = 3"]})
    c.mean = {"throughput_per_gpu": tput, "ttft_p99": ttft}
    c.worst = dict(c.mean)
    return c


def test_recommendation_ranks_and_explains():
    configs = [_config(1, 300.0, 1.0), _config(2, 500.0, 4.0), _config(4, 400.0, 1.5),
               _config(8, 450.0, 1.0, verdict="deviated"), _config(16, 900.0, 0.5, gpus=64)]
    rec = recommend(configs, {"ttft_p99": 2.0}, 32)
    assert [c.index for c in rec.shortlist] == [4, 1]
    reasons = {c.index: r for c, r in rec.rejected}
    assert reasons[2] == ["TTFT p99 4.00s > 2.00s (worst seed)"]
    assert reasons[8][0].startswith("steady-state hypothesis deviated (seed 1)")
    assert reasons[16] == ["over budget: 64 GPUs > 32"]
    text = "\n".join(rec.lines())
    assert "recommendation: deployment.tp=4" in text and "runner-up: deployment.tp=1" in text


def test_recommendation_judges_a_configuration_across_its_conditions():
    a = [_config(0, 100.0, 1.0, values={"deployment.tp": 4, "faults[0].target.value": 1}),
         _config(1, 80.0, 3.0, values={"deployment.tp": 4, "faults[0].target.value": 2})]
    b = [_config(2, 60.0, 1.0, values={"deployment.tp": 8, "faults[0].target.value": 1}),
         _config(3, 50.0, 1.5, values={"deployment.tp": 8, "faults[0].target.value": 2})]
    rec = recommend(a + b, {"ttft_p99": 2.0}, None, ["faults[0].target.value"])
    assert [c.values for c in rec.shortlist] == [{"deployment.tp": 8}]
    assert rec.shortlist[0].mean["throughput_per_gpu"] == 55.0
    assert rec.rejected[0][1] == ["at faults[0].target.value=2: TTFT p99 3.00s > 2.00s (worst seed)"]


def test_page_renders_in_headless_chromium(first_run, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
    from test_report_browser import open_headless  # the run report's check, skips without Chromium
    out, _ = first_run
    messages, dom = open_headless(out / "sweep.html", tmp_path, dump_dom=True)
    assert messages == []
    for text in ("Recommendation", "Every configuration", "invalid"):
        assert text in dom


def test_ray_executor_without_ray_says_how_to_install(monkeypatch):
    from chaos.errors import InputError
    from chaos.sweep.executors import RayExecutor
    monkeypatch.setitem(sys.modules, "ray", None)     # `import ray` raises ImportError
    with pytest.raises(InputError, match=r"pip install 'fleetchaos\[ray\]'"):
        RayExecutor()
