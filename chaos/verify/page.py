"""verify.md and verify.html: the verdict, the side-by-side table and the figures, in the report room's
style (its CSS and table macros; figures embedded so the page is one self-contained file)."""
from __future__ import annotations

import base64
import math
from pathlib import Path

from chaos.report.tables import Table
from chaos.units import format_duration

CAPTIONS = {
    "cdf": "CDFs of TTFT, TPOT, E2E latency (requests) and ITL (token gaps): simulated against measured.",
    "qq": "Q-Q plots: the 1st to 99th percentiles of the simulation against those of the measurement; "
          "on the dashed line they agree; p50 and p99 circled.",
    "timeseries": "Per window: TTFT p50, TPOT p99 and output throughput, simulated against measured.",
}


def fmt_value(metric: str, value: float) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if metric == "throughput_tok_s":
        return f"{value:,.1f} tok/s"
    if metric == "throughput_rps":
        return f"{value:.3f} req/s"
    return format_duration(value)


def fmt_error(err: float) -> str:
    return "n/a" if not math.isfinite(err) else f"{100 * err:+.1f}%"


def metrics_table(comparison) -> Table:
    rows, bad = [], []
    for r in comparison.rows:
        result = "" if r.ok is None else ("ok" if r.ok else "outside")
        rows.append([r.metric, fmt_value(r.metric, r.simulated), fmt_value(r.metric, r.measured), fmt_error(r.error),
                     r.tolerance.describe() if r.tolerance else "", result])
        bad.append(r.ok is False)
    return Table(["metric", "simulated", "measured", "error", "tolerance", "result"], rows, bad,
                 note="TTFT over requests with a first token; TPOT, E2E and throughput over completed requests.")


def counts_table(comparison) -> Table:
    keys = ("arrived", "completed", "failed", "rejected", "in_flight")
    rows = [[side, *[str(c.get(k, "")) for k in keys]] for side, c in comparison.counts.items() if c]
    return Table(["run", *keys], rows)


def write_pages(out: Path, *, name: str, comparison, figures: dict[str, Path], measured, sim_label: str,
                notes: list[str]) -> tuple[Path, Path]:
    """Write verify.html and verify.md into `out`; returns their paths."""
    import jinja2
    loader = jinja2.ChoiceLoader([jinja2.PackageLoader("chaos.verify", "templates"),
                                  jinja2.PackageLoader("chaos.report", "templates")])
    env = jinja2.Environment(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    embed = {k: "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode() for k, p in figures.items()}
    tol = ", ".join(f"{t.metric} {t.describe()}" for t in comparison.tolerances)
    facts = [("measured", f"{measured.source} · {measured.path.name}"), ("tolerance", tol)]
    html = env.get_template("verify.html.j2").render(
        name=name, measured_label=f"measured by {measured.source}", sim_label=sim_label,
        within=comparison.within, verdict=comparison.verdict, facts=facts, notes=notes,
        metrics=metrics_table(comparison), counts=counts_table(comparison),
        figures=[(k, CAPTIONS[k]) for k in figures], embed=embed, measured_path=str(measured.path))
    html_path = out / "verify.html"
    html_path.write_text(html, encoding="utf-8")
    md_path = out / "verify.md"
    md_path.write_text(markdown(name, comparison, figures, measured, notes), encoding="utf-8")
    return html_path, md_path


def markdown(name: str, comparison, figures: dict[str, Path], measured, notes: list[str]) -> str:
    t = metrics_table(comparison)
    lines = [f"# {name}: simulation against measurement", "",
             f"**Verdict: {comparison.verdict}** (measured by {measured.source}: `{measured.path.name}`)", ""]
    lines += [f"> {n}" for n in notes] + ([""] if notes else [])
    lines += ["| " + " | ".join(t.header) + " |", "|" + "---|" * len(t.header)]
    lines += ["| " + " | ".join(row) + " |" for row in t.rows]
    c = counts_table(comparison)
    lines += ["", "| " + " | ".join(c.header) + " |", "|" + "---|" * len(c.header)]
    lines += ["| " + " | ".join(row) + " |" for row in c.rows]
    if figures:
        lines += [""] + [f"![{CAPTIONS[k]}]({p.name})" for k, p in figures.items()]
    return "\n".join(lines) + "\n"
