"""The bundled sweep files load, every point resolves, and example 2 reports the cliffs its comment names."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli import app
from chaos.sweep import Sweep
from chaos.sweep.metrics import METRICS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sweeps"


@pytest.mark.parametrize("name", ["pd-split-32gpu", "tp-shapes-crashes", "routing-health"])
def test_example_loads_and_every_point_resolves(name):
    s = Sweep.load(EXAMPLES / f"{name}.yaml")
    runs = list(s.runs())
    assert runs and all(r.error is None for r in runs)
    assert (EXAMPLES / f"{name}.yaml").read_text().startswith("# Example")


def test_schema_and_list_cover_the_sweep_file():
    schema = json.loads(CliRunner().invoke(app, ["schema", "--sweep"]).output)
    assert {"base", "axes", "zip", "constraints", "seeds", "slo", "budget", "analysis"} <= set(schema["properties"])
    listed = CliRunner().invoke(app, ["list", "metrics"]).output
    assert {line.split()[0] for line in listed.splitlines() if line.strip()} == set(METRICS)


@pytest.mark.slow
def test_example_2_reports_its_cliffs(tmp_path):
    r = CliRunner().invoke(app, ["sweep", str(EXAMPLES / "tp-shapes-crashes.yaml"), "--out", str(tmp_path),
                                 "--workers", "2", "--no-report", "--recommend"])
    assert r.exit_code == 1, r.output          # no shape survives 3 crashes: no recommendation
    out = r.output
    assert ("deployment.tp=8, deployment.replicas=2: throughput per GPU: fine up to faults[0].target.value=1, "
            "falls off a cliff at faults[0].target.value=2") in out
    assert ("deployment.tp=4, deployment.replicas=4: TTFT p99: fine up to faults[0].target.value=2, falls off a "
            "cliff at faults[0].target.value=3") in out
    assert "recommendation: none" in out
    assert "deployment.tp=2, deployment.replicas=8: at faults[0].target.value=1: TTFT p99" in out   # TP2 queues
