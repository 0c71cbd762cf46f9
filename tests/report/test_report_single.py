"""One journal -> report.html, report.md and the PNG figures."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from chaos.errors import InputError
from chaos.report import JournalError, ReportFiles, render_report
from report_checks import check_png_file, check_self_contained

FIGURES = {"timeline", "capacity", "distributions", "fabric", "load"}


@pytest.fixture(scope="module")
def reports(journals, tmp_path_factory) -> dict[str, ReportFiles]:
    out = tmp_path_factory.mktemp("reports")
    return {name: render_report([path], out / name) for name, path in journals.items()}


@pytest.mark.parametrize("name", ["gpu-crash", "disagg-node-loss", "mooncake-8xh100"])
def test_every_file_written(reports, name):
    files = reports[name]
    assert files.html.name == "report.html" and files.markdown.name == "report.md"
    assert set(files.figures) == FIGURES
    for path in files.paths:
        assert path.is_file() and path.stat().st_size > 0


@pytest.mark.parametrize("name", ["gpu-crash", "disagg-node-loss", "mooncake-8xh100"])
def test_pngs_are_valid_and_sensibly_sized(reports, name):
    for fig, path in reports[name].figures.items():
        w, h = check_png_file(path)
        assert w >= 500, f"{fig}: {w}px wide"


@pytest.mark.parametrize("name", ["gpu-crash", "disagg-node-loss", "mooncake-8xh100"])
def test_html_is_self_contained(reports, name):
    html = reports[name].html.read_text()
    assert check_self_contained(html) == len(FIGURES)
    assert html.lstrip().lower().startswith("<!doctype html>")


@pytest.mark.parametrize("name", ["gpu-crash", "disagg-node-loss", "mooncake-8xh100"])
def test_html_sections_in_order(reports, name):
    html = reports[name].html.read_text()
    order = ["steady-state hypothesis", "resilience score", "Key metrics", "Steady-state hypothesis",
             "Resilience per fault", "Faults played", "Figures", "Scenario", "Fault plan", "scenario hash"]
    positions = [html.find(s) for s in order]
    assert all(p >= 0 for p in positions), dict(zip(order, positions))
    assert positions == sorted(positions)


@pytest.mark.parametrize("name", ["gpu-crash", "disagg-node-loss", "mooncake-8xh100"])
def test_missing_sections_say_not_evaluated(reports, name):
    html = reports[name].html.read_text()
    md = reports[name].markdown.read_text()
    for text in (html, md):
        assert "Hypothesis: not evaluated" in text
        assert "Resilience: not evaluated" in text
        assert "baseline twin: not evaluated" in text


@pytest.mark.parametrize("name", ["gpu-crash", "disagg-node-loss", "mooncake-8xh100"])
def test_markdown_has_verdict_tables_and_figure_links(reports, name):
    md = reports[name].markdown.read_text()
    assert "**Hypothesis: not evaluated**" in md
    # a fault-free run is "this run", not "faulted run" (issue #17), and no literal backtick reaches the page
    assert ("| metric | faulted run |" if reports[name].figures and "mooncake" not in name else "| metric | this run |") in md
    assert "`" not in md.replace("\\`", "")
    assert "| --- | --- |" in md
    for fig, path in reports[name].figures.items():
        assert f"]({path.name})" in md
    assert len(md) < 6_000, "short enough for a pull-request comment"


def test_scenario_and_footer_facts(reports, journals):
    j = json.loads(journals["disagg-node-loss"].read_text())
    html = reports["disagg-node-loss"].html.read_text()
    assert j["scenario"]["hash"] in html
    assert "seed <code>47</code>" in html
    assert "4 x TP4" in html and "2 x TP8" in html          # pools
    assert "least_outstanding" in html                        # router policy
    assert "node_failure" in html and "rack0/host1" in html   # fault plan and target
    assert "rerole" in html                                   # a controller action


def test_enriched_journal_shows_verdict_score_hypothesis_resilience(enriched, tmp_path):
    files = render_report([enriched], tmp_path / "out")
    html = files.html.read_text()
    md = files.markdown.read_text()
    assert 'class="badge bad"' in html and ">deviated<" in html
    assert "71.5/100" in html  # one decimal, as the CLI prints it
    # the failing probe's row is highlighted, the passing ones are not
    bad_rows = [r for r in html.split("<tr") if r.startswith(' class="bad"')]
    assert any("throughput_tok_s" in r and "FAILED" in r for r in bad_rows)
    assert not any("ttft_p99" in r and "ok" in r for r in bad_rows if "FAILED" not in r)
    assert "Phase: during" in html and "Phase: before" in html
    assert "time to recover" in html and "1m04s" in html and "47.0%" in html
    assert "Performance cliffs" in html
    # a real baseline twin: the metrics table gains baseline and change columns
    assert "<th>baseline</th><th>change</th>" in html
    assert "not evaluated" not in html.split("<footer")[0].split("Figures")[0]
    assert "**Hypothesis: deviated**" in md and "**Resilience score: 71.5/100**" in md
    assert "| metric | faulted run | baseline | change |" in md
    assert "**FAILED**" in md
    assert check_self_contained(html) == 5


def test_verdict_as_object_and_missing_requests_csv(journals, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(journals["gpu-crash"].parent, run_dir)
    (run_dir / "requests.csv").unlink()
    j = json.loads((run_dir / "journal.json").read_text())
    j["verdict"] = {"verdict": "held", "reason": "every probe within tolerance"}
    (run_dir / "journal.json").write_text(json.dumps(j))
    files = render_report([run_dir], tmp_path / "out")     # a run folder works as well as its journal
    html = files.html.read_text()
    assert 'class="badge ok"' in html and "every probe within tolerance" in html
    assert "distributions" not in files.figures
    assert "Not drawn (no data in the journal): distributions" in html


def test_everything_is_escaped(journals, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(journals["gpu-crash"].parent, run_dir)
    j = json.loads((run_dir / "journal.json").read_text())
    evil = '<script>alert("x")</script> | *a* [l](http://evil.example)'
    j["scenario"]["name"] = evil
    j["scenario"]["resolved"]["description"] = evil
    j["controller"][0]["detail"] = evil
    (run_dir / "journal.json").write_text(json.dumps(j))
    files = render_report([run_dir / "journal.json"], tmp_path / "out")
    html = files.html.read_text()
    assert "<script" not in html and "&lt;script&gt;" in html
    check_self_contained(html)
    md = files.markdown.read_text()
    assert "<script>" not in md and "\\<script\\>" in md
    assert "[l](" not in md and "\\[l\\](" in md      # no live link, the brackets are escaped
    table_lines = [line for line in md.splitlines() if line.startswith("|")]
    widths = {line.count(" | ") - line.count("\\|") for line in table_lines if "metric" in line or "---" in line}
    assert widths  # headers still parse as tables


def test_rerender_is_byte_identical(journals, tmp_path):
    a = render_report([journals["gpu-crash"]], tmp_path / "a")
    b = render_report([journals["gpu-crash"]], tmp_path / "b")
    assert a.html.read_bytes() == b.html.read_bytes()
    for name in a.figures:
        assert a.figures[name].read_bytes() == b.figures[name].read_bytes(), name


@pytest.mark.parametrize("bad, match", [
    ([], "at least one journal"),
    (["nowhere/journal.json"], "no journal at"),
], ids=["no-journal", "missing-file"])
def test_bad_input(bad, match, tmp_path):
    with pytest.raises(InputError, match=match):
        render_report(bad, tmp_path / "out")


@pytest.mark.parametrize("text, match", [
    ("{not json", "not a readable JSON journal"),
    ('{"hello": 1}', "not a fleetchaos journal"),
], ids=["not-json", "not-a-journal"])
def test_bad_journal(text, match, tmp_path):
    p = tmp_path / "journal.json"
    p.write_text(text)
    with pytest.raises(JournalError, match=match):
        render_report([p], tmp_path / "out")


def test_import_loads_neither_matplotlib_nor_jinja2():
    code = ("import sys, chaos.report; "
            "print(sorted(m for m in ('matplotlib', 'jinja2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_hypothesis_and_resilience_in_the_metrics_room_shape(journals, tmp_path):
    """chaos.metrics.resilience's ResilienceReport.to_dict() layout reads as well as the issue's."""
    run_dir = tmp_path / "run"
    shutil.copytree(journals["gpu-crash"].parent, run_dir)
    j = json.loads((run_dir / "journal.json").read_text())
    j["resilience"] = {
        "score": {"score": 83.25, "formula": "100 - sum(...)",
                  "components": [{"name": "lost_throughput", "weight": 25.0, "scale": 0.05, "measure": 0.02,
                                  "penalty": 8.2, "per_fault": {"gpu_crash#0": 8.2}, "unattributed": 0.0}],
                  "per_fault": {"gpu_crash#0": 8.2}},
        "run": {"lost_output_tokens": 1000.0},
        "faults": [{"name": "gpu_crash#0", "start_s": 40.0, "end_s": 80.0, "time_to_detect_s": 9.5,
                    "detected_by": "router: health check", "impacted": True, "time_to_recover_s": None,
                    "recovered_at_s": None, "impact_end_s": 150.0, "max_throughput_drop": 0.5,
                    "lost_output_tokens": 1000.0, "requests": {"failed": 0, "rejected": 0, "retried": 26},
                    "baseline_requests": {}, "slo_attainment": {"during": 0.9}, "cliffs": [0]}],
        "cliffs": [{"kind": "ttft", "t_s": 50.0, "from_value": 1.0, "to_value": 4.0, "change": 4.0,
                    "baseline_value": 1.1, "faults_active": ["gpu_crash#0"], "caused_by": ["gpu_crash#0"],
                    "cause": "gpu_crash#0 started 10s before"}],
    }
    checks = [{"index": 0, "probe": "ttft_p99", "phase": "during", "t0_s": 40.0 + 10 * k, "t1_s": 50.0 + 10 * k,
               "value": v, "baseline_value": 1.0, "tolerance": "max 2s", "ok": v <= 2.0, "no_data": False,
               "faults_active": ["gpu_crash#0"]} for k, v in enumerate([1.5, 3.5, 4.5, 1.0])]
    checks.append({"index": 1, "probe": "requests_failed", "phase": "after", "t0_s": 80.0, "t1_s": 150.0,
                   "value": None, "baseline_value": None, "tolerance": "max 0", "ok": True, "no_data": True,
                   "faults_active": []})
    j["hypothesis"] = {"verdict": "deviated", "deviated": True, "failing": checks[1:3], "checks": checks,
                       "per_phase": {"before": {"status": "skipped", "reason": "no probe asks for it",
                                                "checks": 0, "failed": 0, "no_data": 0, "notes": []},
                                     "during": {"status": "evaluated", "checks": 4, "failed": 2, "no_data": 0,
                                                "notes": ["steady_state[0] ttft_p99: partial window dropped"]},
                                     "after": {"status": "evaluated", "checks": 1, "failed": 0, "no_data": 1,
                                               "notes": []}}}
    (run_dir / "journal.json").write_text(json.dumps(j))
    files = render_report([run_dir], tmp_path / "out")
    html = files.html.read_text()
    assert "Phase: before" in html and "skipped: no probe asks for it" in html
    row = next(r for r in html.split("<tr") if "ttft_p99" in r)
    assert row.startswith(' class="bad"') and "FAILED" in row and "50.00s–1m00s" in row and "3.50s" in row
    assert "1 (1 no data)" in html and "partial window dropped" in html
    assert html.count("ttft_p99") <= 3   # one row per probe, not one per window
    assert "**FAILED**" in files.markdown.read_text()
    assert "83.2/100" in html
    assert "gpu_crash#0" in html and "not recovered" in html and "9.50s" in html
    assert "lost_throughput" in html.replace("lost throughput", "lost_throughput") and "-8.2 of 25" in html
    assert "x4.0 TTFT p99" in html and "26 retried" in html


def test_verdict_none_means_no_probes(journals, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(journals["gpu-crash"].parent, run_dir)
    j = json.loads((run_dir / "journal.json").read_text())
    j["verdict"] = "none"
    (run_dir / "journal.json").write_text(json.dumps(j))
    files = render_report([run_dir], tmp_path / "out")
    html = files.html.read_text()
    assert 'class="badge none"' in html and "no steady_state probes" in html
    assert "**Hypothesis: not evaluated**" in files.markdown.read_text()


def test_figures_drawn_in_a_second_process_are_the_same_bytes(enriched, tmp_path, monkeypatch):
    """Half of the figures in a forked child (two cores) or all here: the same files, byte for byte;
    a child that dies costs nothing but time (its figures are drawn here)."""
    import os

    from chaos.report import render
    monkeypatch.setattr(render, "can_fork_in_parallel", lambda: True)     # a 1-core CI box still forks
    parallel = render_report([enriched], tmp_path / "p", parallel=True)
    serial = render_report([enriched], tmp_path / "s", parallel=False)
    assert set(parallel.figures) == set(serial.figures) >= {"timeline", "capacity", "fabric", "load"}
    assert list(parallel.figures) == list(serial.figures)          # FIGURES order either way
    for name in parallel.figures:
        assert parallel.figures[name].read_bytes() == serial.figures[name].read_bytes(), name
    assert parallel.html.read_bytes().replace(b"/p/", b"/s/") == serial.html.read_bytes()

    real = render._draw

    def dies_in_the_child(jobs):
        if set(jobs) == set(render.CHILD_FIGURES) and os.getpid() != parent:
            os._exit(3)
        return real(jobs)
    parent = os.getpid()
    monkeypatch.setattr(render, "_draw", dies_in_the_child)
    again = render_report([enriched], tmp_path / "d", parallel=True)
    assert set(again.figures) == set(serial.figures)
    assert again.figures["fabric"].read_bytes() == serial.figures["fabric"].read_bytes()
