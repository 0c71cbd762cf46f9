"""The report's per-tenant section and figure (and their absence without tenants)."""
from __future__ import annotations

import json
from pathlib import Path

from chaos.cli_tenants import tenant_resilience_lines

from chaos.report.journal import write_journal
from chaos.report.render import render_report
from chaos.report.tenants import HEADER
from chaos.scenario import load_scenario
from chaos.sim.experiment import run_experiment
from chaos.units import format_duration

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
    # resilience per tenant against the twin: the table and the CLI lines show the journal's figures
    journal = json.loads((tmp_path / "journal.json").read_text())
    for name, row in rows.items():
        res = journal["resilience"]["tenants"][name]
        lost = res["run"]["lost_output_tokens"]
        hurt = [f for f in res["faults"] if f["impacted"]]
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert cells[HEADER.index("lost output tokens")] == f"{lost:,.0f}"
        recover = sum(f["time_to_recover_s"] or 0 for f in hurt)
        assert cells[HEADER.index("time to recover")].startswith(format_duration(recover) if recover else "0s")
    lines = tenant_resilience_lines(exp)
    assert [line.split(":")[0] for line in lines] == ["premium", "batch"]
    assert f"{journal['resilience']['tenants']['batch']['run']['lost_output_tokens']:,.0f} output tokens lost" in lines[1]


def test_a_run_without_tenants_has_no_tenant_section(journals):
    path = next(iter(journals.values()))
    files = render_report(path, path.parent / "again")
    assert "tenants" not in files.figures and "Tenants" not in files.markdown.read_text()
    assert "tenants" not in files.html.read_text()          # not listed among the figures it could not draw
