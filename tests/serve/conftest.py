"""A small fleet to serve, and a server running it in a thread for the duration of a test."""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import yaml

pytest.importorskip("uvicorn", reason="fleetchaos serve needs the [serve] extra (starlette, uvicorn)")
pytest.importorskip("starlette", reason="fleetchaos serve needs the [serve] extra (starlette, uvicorn)")

from chaos.scenario import load_scenario  # noqa: E402
from chaos.serve import FleetServer, ServeOptions  # noqa: E402

FLEET = {
    "name": "serve-small", "seed": 4,
    "topology": {"gpu": "h100-sxm", "racks": 1, "hosts_per_rack": 1, "gpus_per_host": 8},
    "deployment": {"model": "llama-3.1-8b", "replicas": 2, "tp": 1},
    "workload": {"synthetic": {"arrival": "poisson", "rate": "4/s", "requests": 24,
                               "input": {"dist": "uniform", "min": 2000, "max": 6000},
                               "output": {"dist": "uniform", "min": 40, "max": 160}}},
    "router": {"policy": "least_outstanding", "health": {"interval": "1s", "timeout": "500ms", "failures": 1}},
    "recovery": {"requests": "fail"},
    "controller": {"policy": "none"},
    "slo": {"ttft_p99": "2s", "tpot_p99": "50ms"},
}


def write_scenario(tmp_path: Path, doc: dict = FLEET) -> Path:
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@contextlib.contextmanager
def serving(scenario_path: Path, out: Path | None = None, **options):
    server = FleetServer(load_scenario(scenario_path), ServeOptions(port=0, out=out, report=False, **options))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def scenario_path(tmp_path):
    return write_scenario(tmp_path)
