"""The report's per-tenant section: one row per tenant from the journal's summary.tenants, with its
priority, weight, SLO, the router's rejections of it and its resilience score against the twin."""
from __future__ import annotations

from chaos.report.tables import Table
from chaos.report.view import RunView

HEADER = ["tenant", "priority", "weight", "arrived", "completed", "rejected", "failed", "TTFT p50", "TTFT p99",
          "TPOT p99", "output tok/s", "SLO attainment", "resilience", "lost output tokens", "time to recover",
          "rejected by the router"]


def resilience_facts(res: dict | None) -> tuple[float | None, float | None, float | None, bool]:
    """(score, output tokens lost against the twin, time to recover summed over the faults that hurt the
    tenant, whether one never recovered) from a tenant's resilience dict (journal resilience.tenants)."""
    if not res:
        return None, None, None, False
    score = (res.get("score") or {}).get("score")
    lost = (res.get("run") or {}).get("lost_output_tokens")
    hurt = [f for f in res.get("faults") or () if f.get("impacted")]
    never = any(f.get("time_to_recover_s") is None for f in hurt)
    recover = sum(f.get("time_to_recover_s") or 0.0 for f in hurt) if hurt else 0.0
    return score, lost, recover, never


def recover_text(recover: float | None, never: bool) -> str:
    """"5m20s"; "never" when a fault that hurt the tenant was never recovered from."""
    from chaos.units import format_duration
    if recover is None:
        return "n/a"
    text = format_duration(recover) if recover else "0s"
    if never:
        return "never" if not recover else f"{text} + never"
    return text


def _dur(x) -> str:
    if x is None:
        return "n/a"
    return f"{1e3 * x:.0f} ms" if x < 1 else f"{x:.2f} s"


def tenant_table(run: RunView) -> Table | None:
    """None when the journal has no tenants."""
    per = (run.summary or {}).get("tenants") or {}
    if not per:
        return None
    config = {t.get("name"): t for t in (run.resolved.get("tenants") or []) if isinstance(t, dict)}
    facts = {name: resilience_facts(r) for name, r in (run.tenant_resilience or {}).items()}
    rows, bad = [], []
    for name, s in per.items():
        req = s.get("requests") or {}
        cfg = config.get(name, {})
        ttft, tpot = s.get("ttft_s") or {}, s.get("tpot_s") or {}
        att = s.get("slo_attainment")
        score, lost, recover, never = facts.get(name, (None, None, None, False))
        refused = run.tenancy.get(name) or {}
        slo = (cfg.get("slo") or {}).get("ttft")
        rows.append([name, str(cfg.get("priority", "")), f"{cfg.get('weight', 1):g}", str(req.get("arrived", 0)),
                     str(req.get("completed", 0)), str(req.get("rejected", 0)), str(req.get("failed", 0)),
                     _dur(ttft.get("p50")), _dur(ttft.get("p99")), _dur(tpot.get("p99")),
                     f"{s.get('throughput_tok_s') or 0:.0f}", "n/a" if att is None else f"{100 * att:.1f}%",
                     "n/a" if score is None else f"{score:.1f}", "n/a" if lost is None else f"{lost:,.0f}",
                     recover_text(recover, never),
                     ", ".join(f"{k}: {v}" for k, v in refused.items()) or "none"])
        bad.append(slo is not None and ttft.get("p99") is not None and ttft["p99"] > slo)
    return Table(HEADER, rows, bad, note="A row is highlighted when the tenant's TTFT p99 over the run is above its "
                                        "own slo: target. Resilience is the tenant's score against the twin, "
                                        "lost output tokens and time to recover its own against the twin's.")
