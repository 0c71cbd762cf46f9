"""Several journals -> the comparison page; figures at fleet scale; the 12,000-request timing."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from chaos.report import render_report
from chaos.report.figures import heatmap
from chaos.report.view import read_journal
from report_checks import check_png_file, check_self_contained


def test_comparison_of_two_journals(journals, tmp_path):
    a, b = journals["gpu-crash"], journals["disagg-node-loss"]
    files = render_report([a, b], tmp_path / "cmp")
    assert set(files.figures) == {"compare_timeline"}
    check_png_file(files.figures["compare_timeline"])
    html = files.html.read_text()
    assert check_self_contained(html) == 1
    assert "Comparison: gpu-crash vs disagg-node-loss" in html
    assert "<th>gpu-crash</th><th>disagg-node-loss</th>" in html
    assert 'class="worst"' in html
    md = files.markdown.read_text()
    assert "| metric | gpu-crash | disagg-node-loss |" in md
    assert "hypothesis not evaluated" in md
    assert "](compare_timeline.png)" in md


def test_comparison_disambiguates_same_scenario(journals, enriched, tmp_path):
    """Policy A vs policy B usually share the scenario name: the folder tells them apart."""
    files = render_report([journals["gpu-crash"], enriched], tmp_path / "cmp")
    html = files.html.read_text()
    header = next(line for line in files.markdown.read_text().splitlines() if line.startswith("| metric"))
    cells = [c.strip() for c in header.strip("|").split("|")]
    assert len(cells) == 3 and len(set(cells)) == 3, cells
    assert all(c.startswith("gpu-crash") for c in cells[1:])
    assert "deviated" in html and "71.5/100" in html


def _large_journal(src, dst, *, racks=16, hosts=8, gpus_per_host=8, tp=4):
    """A journal of a 1,024-GPU fleet with 256 replicas, built from a real one (data shapes as written)."""
    j = json.loads(src.read_text())
    topo = j["scenario"]["resolved"]["topology"]
    topo.update(racks=racks, hosts_per_rack=hosts, gpus_per_host=gpus_per_host)
    topo["scale_out"]["spines"] = 8
    gpus = [f"rack{r}/host{h}/gpu{g}" for r in range(racks) for h in range(hosts) for g in range(gpus_per_host)]
    reps = [{"id": f"aggregated-{i}", "role": "aggregated", "tp": tp, "gpus": gpus[i * tp:(i + 1) * tp],
             "link_Bps": 4.5e11, "cross_host": False} for i in range(len(gpus) // tp)]
    j["fleet"]["replicas"] = reps
    n = len(j["fleet_series"]["t_s"])
    rng = np.random.default_rng(1)
    lost = [r["id"] for r in reps if r["gpus"][0].startswith("rack3/")]
    j["fleet_series"]["replica_load"] = {r["id"]: rng.integers(0, 30, n).tolist() for r in reps}
    j["fleet_series"]["replicas_up"] = {"aggregated": [len(reps)] * n}
    j["faults"] = [{"type": "rack_failure", "cause": "faults[0] rack_failure", "start_s": 40.0, "end_s": 100.0,
                    "permanent": False, "target_kind": "rack", "targets": ["rack3"], "replicas_lost": lost,
                    "replicas_degraded": [], "detail": ""},
                   {"type": "switch_failure", "cause": "faults[1] switch_failure", "start_s": 60.0, "end_s": 90.0,
                    "permanent": False, "target_kind": "switch", "targets": ["spine2"], "replicas_lost": [],
                    "replicas_degraded": [r["id"] for r in reps[:8]], "detail": ""}]
    dst.mkdir(parents=True)
    (dst / "journal.json").write_text(json.dumps(j))
    return dst / "journal.json"


def test_figures_stay_readable_at_fleet_scale(journals, tmp_path):
    path = _large_journal(journals["gpu-crash"], tmp_path / "large")
    t0 = time.perf_counter()
    files = render_report([path], tmp_path / "out")
    elapsed = time.perf_counter() - t0
    for name in ("fabric", "load", "timeline", "capacity"):
        w, h = check_png_file(files.figures[name])
        assert w <= 2_000 and h <= 1_500, f"{name}: {w}x{h}"
    run = read_journal(path)
    mat, labels, members = heatmap.rows(run)
    assert len(labels) <= heatmap.MAX_ROWS < 256
    assert sum(len(m) for m in members) == 256
    assert check_self_contained(files.html.read_text()) == 4   # no requests.csv: no distributions
    print(f"\n1,024-GPU, 256-replica report in {elapsed:.2f}s")


def test_fabric_draws_nothing_without_topology(journals, tmp_path):
    j = json.loads(journals["gpu-crash"].read_text())
    del j["scenario"]["resolved"]["topology"]
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "journal.json").write_text(json.dumps(j))
    files = render_report([tmp_path / "j" / "journal.json"], tmp_path / "out")
    assert "fabric" not in files.figures and "timeline" in files.figures


@pytest.mark.slow
def test_one_hour_12k_request_report(tmp_path):
    """The Mooncake hour (12,031 requests) renders every figure; its time is printed, not asserted (speed belongs to benchmarks/)."""
    from report_helpers import run_to_dir
    path = run_to_dir("examples/mooncake-8xh100.yaml", [], tmp_path / "run")
    t0 = time.perf_counter()
    files = render_report([path], tmp_path / "run")
    elapsed = time.perf_counter() - t0
    print(f"\nreport for the one-hour 12,031-request Mooncake run: {elapsed:.2f}s "
          f"({len(files.figures)} figures, report.html {files.html.stat().st_size / 1e6:.2f} MB)")
    assert len(files.figures) == 5
