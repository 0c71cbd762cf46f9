"""Sweep files: grids, zips, ranges, samples, constraints and seeds; bad files get file:line and exit 2."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli import app
from chaos.errors import SweepError
from chaos.scenario import load_scenario
from chaos.sweep import Sweep

FLEET = (Path(__file__).resolve().parents[2] / "examples" / "fleet-small.yaml").as_posix()


def _sweep(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(f"name: t\nbase: {FLEET}\n" + body)
    return p


def test_grid_zip_range_constraints_and_seeds(tmp_path):
    s = Sweep.load(_sweep(tmp_path, """\
axes:
  deployment.replicas: {from: 1, to: 3}
  router.policy: [round_robin, kv_aware]
zip:
  - {deployment.tp: [2, 4], engine.max_num_seqs: [64, 128]}
constraints: ["total_gpus <= 8", "router.policy != 'kv_aware' or deployment.replicas == 1"]
seeds: 2
"""))
    assert s.grid_size == 3 * 2 * 2
    labels = [p.values for p in s.points]
    # spares: 1 copies the largest TP group, so replicas x tp + tp <= 8
    assert {(v["deployment.replicas"], v["deployment.tp"], v["router.policy"]) for v in labels} == {
        (1, 2, "round_robin"), (2, 2, "round_robin"), (3, 2, "round_robin"), (1, 4, "round_robin"),
        (1, 2, "kv_aware"), (1, 4, "kv_aware")}
    assert all(v["engine.max_num_seqs"] == 32 * v["deployment.tp"] for v in labels)
    assert s.seeds == [3, 4]      # the base's seed and the next
    run = s.resolve(s.points[0], 4)
    assert run.scenario.seed == 4 and run.scenario.deployment.replicas == s.points[0].values["deployment.replicas"]


def test_sample_is_seeded_and_a_subset(tmp_path):
    body = "axes: {deployment.replicas: {from: 1, to: 6}, router.policy: [random, round_robin]}\nsample: 5\n"
    a = [p.values for p in Sweep.load(_sweep(tmp_path, body)).points]
    b = [p.values for p in Sweep.load(_sweep(tmp_path, body)).points]
    c = [p.values for p in Sweep.load(_sweep(tmp_path, body + "sample_seed: 9\n")).points]
    assert a == b and len(a) == 5 and a != c


def test_invalid_point_gets_the_loaders_own_error(tmp_path):
    s = Sweep.load(_sweep(tmp_path, "axes: {router.policy: [kv_aware, kv-aware]}\n"))
    good, bad = [s.resolve(p, 3) for p in s.points]
    assert good.error is None
    with pytest.raises(Exception) as info:
        load_scenario(FLEET, overrides=['router.policy="kv-aware"', "seed=3"])
    assert bad.scenario is None and bad.error == str(info.value)
    assert "did you mean kv_aware" in bad.error


@pytest.mark.parametrize("body,where,fragment", [
    ("axes: {deployment.replicaz: [1, 2]}\n", ":3:", "unknown key 'replicaz' in deployment (did you mean replicas?)"),
    ("axes: {deployment.tp: []}\n", ":3:", "non-empty list"),
    ("axes: {deployment.tp: {from: 1, to: 4, step: -1}}\n", ":3:", "never gets from 1 to 4"),
    ("zip: [{deployment.tp: [1, 2], deployment.replicas: [1]}]\n", ":3:", "same non-zero length"),
    ("axes: {deployment.tp: [1]}\nconstraints: ['deployment.tp ==']\n", ":4:", "does not parse"),
    ("axes: {deployment.tp: [1]}\nconstraints: ['open(1)']\n", ":4:", "function call is not allowed"),
    ("axes: {deployment.tp: [1]}\nconstraints: ['nope > 1']\n", ":4:", "unknown name 'nope'"),
    ("seeds: 0\n", ":3:", "a count >= 1"),
    ("slo: {ttft_p99: fast}\n", ":3:", "duration like 2s"),
    ("slo: {ttft_p98: 2s}\n", ":3:", "did you mean ttft_p99"),
    ("axes: {deployment.tp: [1]}\nanalysis: {curves: [{axis: 'faults[0].at'}]}\n", ":4:", "not an axis of this sweep"),
    ("colour: blue\n", ":3:", "unknown key 'colour'"),
    ('axes: {"faults[0]..at": [1]}\n', ":3:", "malformed field path"),
], ids=["axis-typo", "empty-axis", "bad-range", "zip-lengths", "constraint-syntax", "constraint-call",
        "constraint-name", "seeds", "slo-unit", "slo-metric", "curve-axis", "unknown-key", "bad-path"])
def test_bad_sweep_file_is_one_located_error_and_exit_2(tmp_path, body, where, fragment):
    path = _sweep(tmp_path, body)
    with pytest.raises(SweepError) as info:
        Sweep.load(path)
    text = str(info.value)
    assert text.startswith(f"{path}{where}") and fragment in text, text
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and fragment in result.output


def test_yaml_syntax_error_in_a_sweep_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: t\naxes: {a: [1, 2}\n")
    with pytest.raises(SweepError, match=r"s\.yaml:2:\d+: YAML syntax error"):
        Sweep.load(path)
