"""Latency sources behind IterationCost: the measured table (monotone, roofline-scaled outside)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from chaos.catalog import load_catalog
from chaos.cli import app
from chaos.errors import InputError
from chaos.perf import build_perf_model
from chaos.perf.sources import TableCost, load_latency_table
from chaos.sim.backend import efficiency_of

CAT = load_catalog()
ROOF = build_perf_model(CAT.model("llama-3.1-8b"), CAT.gpu("h100-sxm"), 1, 0.0, 0.0,
                        efficiency_of(CAT.backend("vllm")))
TOKENS = [1, 8, 64, 512, 4096]
CONTEXT = [0, 1000, 10_000, 100_000]
runner = CliRunner()
SMALL = {"name": "table-small", "seed": 2, "duration": "20s",
         "topology": {"gpu": "h100-sxm", "racks": 1, "hosts_per_rack": 1, "gpus_per_host": 8},
         "deployment": {"model": "llama-3.1-8b", "replicas": 2, "tp": 1},
         "workload": {"synthetic": {"arrival": "poisson", "rate": "5/s", "requests": 40,
                                    "input": {"dist": "fixed", "value": 500}, "output": {"dist": "fixed", "value": 50}}},
         "router": {"policy": "round_robin"}}


def write(tmp_path, doc):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _write(tmp_path, scale=1.3, drop=None) -> str:
    rows = ["tokens,context,latency_ms"]
    for t in TOKENS:
        for c in CONTEXT:
            ms = 1e3 * scale * ROOF.iteration_time(t, c, 0)
            if drop == (t, c):
                ms *= 0.5                         # a noisy, non-monotone measurement
            rows.append(f"{t},{c},{ms:.6f}")
    path = tmp_path / "measured.csv"
    path.write_text("\n".join(rows) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return TableCost(load_latency_table(_write(tmp_path_factory.mktemp("t"))), ROOF)


def test_grid_points_are_returned_exactly(table):
    for t in TOKENS:
        for c in CONTEXT:
            assert table.iteration_time(t, c, 0) == pytest.approx(1.3 * ROOF.iteration_time(t, c, 0), rel=1e-6)
    assert table.iteration_time(0, 0, 0) == 0.0


def test_outside_the_grid_the_roofline_is_scaled_to_the_edge(table):
    edge = table.iteration_time(4096, 100_000, 0)
    beyond_t = table.iteration_time(8192, 100_000, 0)
    assert beyond_t == pytest.approx(edge * ROOF.iteration_time(8192, 100_000, 0)
                                     / ROOF.iteration_time(4096, 100_000, 0), rel=1e-9)
    beyond_c = table.iteration_time(64, 200_000, 0)
    assert beyond_c == pytest.approx(table.iteration_time(64, 100_000, 0) * ROOF.iteration_time(1, 200_000, 0)
                                     / ROOF.iteration_time(1, 100_000, 0), rel=1e-9)
    both = table.iteration_time(8192, 200_000, 0)
    assert both > beyond_t and both > table.iteration_time(4096, 200_000, 0)


def test_non_monotone_measurements_are_raised_and_counted(tmp_path):
    t = load_latency_table(_write(tmp_path, drop=(64, 1000)))
    assert t.adjusted >= 1
    assert np.all(np.diff(t.latency_s, axis=0) >= 0) and np.all(np.diff(t.latency_s, axis=1) >= 0)


@settings(max_examples=80)
@given(n=st.integers(1, 6000), ctx=st.floats(0, 3e5), dn=st.integers(0, 500), dctx=st.floats(0, 5e4),
       k=st.integers(1, 30))
def test_table_is_monotone_and_stretch_equals_iterations(table, n, ctx, dn, dctx, k):
    base = table.iteration_time(n, ctx, 0)
    assert table.iteration_time(n + dn, ctx, 0) >= base * (1 - 1e-12)
    assert table.iteration_time(n, ctx + dctx, 0) >= base * (1 - 1e-12)
    stretch = table.decode_stretch(n, ctx, k)
    np.testing.assert_allclose(stretch, [table.iteration_time(n, ctx + i * n, 0) for i in range(k)], rtol=1e-12)


@pytest.mark.parametrize("body, fragment", [
    ("tokens,ctx,latency_ms\n1,0,1\n", "expected the header tokens,context,latency_ms"),
    ("tokens,context,latency_ms\n1,0,1\n8,1000,2\n", "not a full grid"),
    ("tokens,context,latency_ms\n1,0,fast\n", "expected three numbers"),
    ("tokens,context,latency_ms\n1,0,1\n1,0,2\n", "duplicate point"),
], ids=["header", "grid", "number", "duplicate"])
def test_bad_tables_are_named(tmp_path, body, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(InputError, match=fragment):
        load_latency_table(path)


def test_scenario_with_a_table(tmp_path):
    doc = dict(SMALL, latency={"table": _write(tmp_path)})
    res = runner.invoke(app, ["run", str(write(tmp_path, doc)), "--out", str(tmp_path / "o"), "-q", "--no-baseline"])
    assert res.exit_code == 0, res.output
    lat = json.loads((tmp_path / "o" / "journal.json").read_text())["fleet"]["latency"]
    assert lat["source"] == "table" and lat["table"].endswith("measured.csv") and "scaled" in lat["extrapolation"]

