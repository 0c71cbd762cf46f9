"""The report's per-tenant section: one row per tenant from the journal's summary.tenants, with its
priority, weight, SLO, the router's rejections of it and its resilience score against the twin."""
from __future__ import annotations

from chaos.report.tables import Table
from chaos.report.view import RunView

HEADER = ["tenant", "priority", "weight", "arrived", "completed", "rejected", "failed", "TTFT p50", "TTFT p99",
          "TPOT p99", "output tok/s", "SLO attainment", "resilience", "rejected by the router"]


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
    scores = {name: ((r or {}).get("score") or {}).get("score") for name, r in (run.tenant_resilience or {}).items()}
    rows, bad = [], []
    for name, s in per.items():
        req = s.get("requests") or {}
        cfg = config.get(name, {})
        ttft, tpot = s.get("ttft_s") or {}, s.get("tpot_s") or {}
        att = s.get("slo_attainment")
        score = scores.get(name)
        refused = run.tenancy.get(name) or {}
        slo = (cfg.get("slo") or {}).get("ttft")
        rows.append([name, str(cfg.get("priority", "")), f"{cfg.get('weight', 1):g}", str(req.get("arrived", 0)),
                     str(req.get("completed", 0)), str(req.get("rejected", 0)), str(req.get("failed", 0)),
                     _dur(ttft.get("p50")), _dur(ttft.get("p99")), _dur(tpot.get("p99")),
                     f"{s.get('throughput_tok_s') or 0:.0f}", "n/a" if att is None else f"{100 * att:.1f}%",
                     "n/a" if score is None else f"{score:.1f}",
                     ", ".join(f"{k}: {v}" for k, v in refused.items()) or "none"])
        bad.append(slo is not None and ttft.get("p99") is not None and ttft["p99"] > slo)
    return Table(HEADER, rows, bad, note="A row is highlighted when the tenant's TTFT p99 over the run is above its "
                                        "own slo: target. Resilience is the tenant's score against the twin.")
