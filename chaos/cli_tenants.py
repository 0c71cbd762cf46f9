"""The CLI's per-tenant table (printed by `fleetchaos run` after the summary when the scenario has tenants)."""
from __future__ import annotations

COLUMNS = ("tenant", "prio", "in", "done", "rej", "fail", "TTFT50", "TTFT99", "TPOT99", "tok/s", "SLO")


def tenant_rows(result) -> list[list[str]]:
    """One row of text per tenant, in tenants: order (empty without tenants)."""
    from chaos.units import format_duration

    def dur(x: float) -> str:
        if x != x:
            return "n/a"
        return f"{1e3 * x:.0f}ms" if x < 1 else format_duration(x)

    rows = []
    for t in result.tenants:
        s = result.tenant_summaries.get(t.name)
        if s is None:
            continue
        req = s.requests
        slo = "n/a" if s.slo_attainment != s.slo_attainment else f"{100 * s.slo_attainment:.0f}%"
        rows.append([t.name, str(t.priority), str(req["arrived"]), str(req["completed"]),
                     str(req["rejected"]), str(req["failed"]), dur(s.ttft_s.p50), dur(s.ttft_s.p99),
                     dur(s.tpot_s.p99), f"{s.throughput_tok_s:.0f}", slo])
    return rows


def print_tenant_table(result, console) -> None:
    """A rich table of tenant_rows (nothing without tenants)."""
    from rich.table import Table

    rows = tenant_rows(result)
    if not rows:
        return
    table = Table(show_header=True, header_style="bold", title="per tenant", padding=(0, 1), box=None)
    for i, name in enumerate(COLUMNS):
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def tenant_resilience_lines(experiment) -> list[str]:
    """One line per tenant: its resilience score, output tokens lost and time to recover against the
    twin (empty without tenants or without a twin)."""
    from chaos.report.tenants import recover_text, resilience_facts

    lines = []
    for name, res in (experiment.tenant_resilience or {}).items():
        score, lost, recover, never = resilience_facts(res.to_dict(curves=False))
        lines.append(f"{name}: {score:.1f}/100, {lost:,.0f} output tokens lost, recovered in "
                     f"{recover_text(recover, never)}")
    return lines
