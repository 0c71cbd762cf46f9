"""The report's per-tenant section and figure (and their absence without tenants)."""
from __future__ import annotations

from pathlib import Path

from chaos.report.journal import write_journal
from chaos.report.render import render_report
from chaos.scenario import load_scenario
from chaos.sim.experiment import run_experiment

ROOT = Path(__file__).resolve().parents[2]


def test_a_tenant_run_gets_a_tenant_section_and_figure(tmp_path):
    scenario = load_scenario(ROOT / "examples" / "multi-tenant.yaml",
                             overrides=["duration=4m", "faults[0].at=1m", "faults[0].duration=1m", "faults[1].at=3m"])
    exp = run_experiment(scenario)
    write_journal(exp.result, tmp_path / "journal.json", exp)
    files = render_report(tmp_path / "journal.json", tmp_path)
    assert "tenants" in files.figures and files.figures["tenants"].stat().st_size > 10_000
    md = files.markdown.read_text()
    assert "### Tenants" in md
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| premium") or
            line.startswith("| batch")}
    assert set(rows) == {"premium", "batch"}
    assert "tenant rate limit" in rows["batch"] and rows["premium"].rstrip().endswith("none |")
    assert "<h2>Tenants</h2>" in files.html.read_text()


def test_a_run_without_tenants_has_no_tenant_section(journals):
    path = next(iter(journals.values()))
    files = render_report(path, path.parent / "again")
    assert "tenants" not in files.figures and "Tenants" not in files.markdown.read_text()
    assert "tenants" not in files.html.read_text()          # not listed among the figures it could not draw
