"""The sweep's page (`sweep.html`, self-contained, the run report's style and templates room) and its
Markdown summary (`sweep.md`), with the figures as PNGs next to them. The recommendation comes first.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from chaos.report.tables import Table
from chaos.sweep.analysis import Analysis
from chaos.sweep.configs import Config, short
from chaos.sweep.metrics import METRICS

HTML_NAME = "sweep.html"
MD_NAME = "sweep.md"
TABLE_METRICS = ("throughput_per_gpu", "ttft_p99", "tpot_p99", "slo_attainment", "requests_lost")


@dataclass(frozen=True)
class PageFiles:
    html: Path
    markdown: Path
    figures: dict[str, Path]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def _cell(c: Config, name: str) -> str:
    m = METRICS[name]
    mean = c.mean.get(name)
    if name not in c.mean:
        return "n/a"
    text = m.format(mean)
    sd = c.std.get(name)
    if len(c.ok_seeds) > 1 and sd is not None and mean:
        text += f" ± {m.format(sd)}" if m.kind != "fraction" else f" ± {100 * sd:.1f}"
    return text


def points_table(a: Analysis, on_front: set[int]) -> Table:
    """Every configuration: axes, GPUs, seed mean ± spread of the headline metrics, verdicts, status."""
    metrics = [m for m in TABLE_METRICS]
    faulted = any("baseline_throughput_per_gpu" in c.mean for c in a.configs)
    if faulted:
        metrics += ["baseline_throughput_per_gpu", "baseline_ttft_p99", "resilience_score"]
    header = ["#", *a.axes, "GPUs", *(METRICS[m].label for m in metrics), "hypothesis", "front"]
    rows, bad = [], []
    for c in a.configs:
        vals = ["-" if c.values.get(ax) is None else short(c.values[ax]) for ax in a.axes]
        if not c.valid:
            rows.append([str(c.index), *vals, "-", *(["-"] * len(metrics)), "invalid", c.errors[0] if c.errors else ""])
            bad.append(True)
            continue
        verdicts = sorted(set(c.verdicts.values()))
        rows.append([str(c.index), *vals, str(c.gpus), *(_cell(c, m) for m in metrics), "/".join(verdicts),
                     "yes" if c.index in on_front else ""])
        bad.append("deviated" in verdicts)
    seeds = ", ".join(map(str, a.seeds))
    return Table(header, rows, bad, note=f"Seed mean ± spread (population standard deviation) over seeds {seeds}. "
                                         f"'front': on the first Pareto front under faults.")


def recommendation_table(a: Analysis) -> Table:
    rec = a.recommendation
    header = ["rank", "configuration", "GPUs", *(METRICS[m].label for m in TABLE_METRICS[:3])]
    rows = [[str(k), c.label, str(c.gpus), *(_cell(c, m) for m in TABLE_METRICS[:3])]
            for k, c in enumerate(rec.shortlist, start=1)]
    return Table(header, rows, [False] * len(rows))


def rejected_table(a: Analysis) -> Table:
    rows = [[c.label, "; ".join(reasons)] for c, reasons in a.recommendation.rejected]
    return Table(["configuration", "why rejected"], rows, [True] * len(rows))


def falls_table(a: Analysis) -> list[tuple[str, Table]]:
    """Per pair with a fault-free front: every point of a quiet-day front configuration, where it lands
    under its faults and whether it stays on the front of its fault setting."""
    out = []
    for pair in a.fronts:
        if pair.quiet is None:
            continue
        mx, my = METRICS[pair.x], METRICS[pair.y]
        rows, bad = [], []
        for c in a.configs:
            if c.index not in pair.rep or not pair.on_quiet(c.index):
                continue
            q = pair.quiet.points[pair.rep[c.index]]
            f = (c.mean.get(pair.x), c.mean.get(pair.y))
            fx, fy = pair.falls.get(c.index, (None, None))
            stays = pair.on_faulted(c.index)
            rows.append([c.label, mx.format(q[0]), mx.format(f[0]), f"x{fx:.2f}" if fx is not None else "n/a",
                         my.format(q[1]), my.format(f[1]), f"x{fy:.2f}" if fy is not None else "n/a",
                         "stays on the front" if stays else "falls off the front"])
            bad.append(not stays)
        header = ["configuration", f"{mx.label} quiet", "under faults", "x", f"{my.label} quiet", "under faults",
                  "x", "under faults"]
        out.append((f"{my.label} vs {mx.label}", Table(header, rows, bad)))
    return out


def findings(a: Analysis) -> list[str]:
    """The sweep's findings in sentences: configurations that fall off the quiet-day front under faults,
    and the cliffs of the resilience curves."""
    lines: list[str] = []
    for pair in a.fronts:
        for i in pair.collapsed()[:3]:
            fx, fy = pair.falls.get(i, (None, None))
            lines.append(f"on the quiet-day front of {METRICS[pair.y].label} vs {METRICS[pair.x].label} but not "
                         f"under faults: {a.config(i).label} ({METRICS[pair.x].label} "
                         f"x{fx:.2f}, {METRICS[pair.y].label} x{fy:.2f})" if fx is not None and fy is not None
                         else f"falls off the front under faults: {a.config(i).label}")
    for c in a.curves:
        if c.cliffs:
            lines.append(f"{c.fixed_label}: {c.sentence()}")
    return lines


def write_page(a: Analysis, out: Path) -> PageFiles:
    """Draw the figures and write sweep.html and sweep.md into `out`."""
    from chaos.report.render import embed_figures, render_template
    from chaos.sweep import figures as figs

    out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Path] = {}
    captions: dict[str, str] = {}
    for pair in a.fronts:
        name = f"front_{_slug(pair.x)}_{_slug(pair.y)}"
        figures[name] = figs.draw_front(pair, a.configs, a.axes, out / f"{name}.png")
        captions[name] = (f"{METRICS[pair.y].label} against {METRICS[pair.x].label}: dominated configurations grey, "
                          f"the Pareto front highlighted and labelled by what differs"
                          + ("; left the fault-free twins, right under faults, arrows from each quiet-day front "
                             "configuration to where it lands" if pair.quiet is not None else "") + ".")
    for axis in dict.fromkeys(c.axis for c in a.curves):
        family = [c for c in a.curves if c.axis == axis]
        name = f"curves_{_slug(axis)}"
        path = figs.draw_curves(family, out / f"{name}.png")
        if path is not None:
            figures[name] = path
            captions[name] = (f"Resilience curves along {axis} (seed means; 'none' is the fault-free twin); "
                              f"a red ring marks the first cliff.")
    front_on = {c.index for c in a.configs if a.fronts and a.fronts[0].on_faulted(c.index)}
    ctx = {
        "a": a, "findings": findings(a), "rec": a.recommendation, "rec_lines": a.recommendation.lines(),
        "shortlist": recommendation_table(a), "rejected": rejected_table(a), "points": points_table(a, front_on),
        "falls": falls_table(a), "curves": a.curves,
        "figures": [(n, p.name, captions[n]) for n, p in figures.items()],
        "facts": [("grid", f"{a.grid_size} points, {a.filtered_out} removed by constraints"),
                  ("configurations", f"{len(a.configs)} ({len(a.invalid)} invalid)"),
                  ("seeds", ", ".join(map(str, a.seeds))), ("axes", ", ".join(a.axes) or "none")],
    }
    html = out / HTML_NAME
    md = out / MD_NAME
    html.write_text(render_template("html", "sweep.html.j2", **ctx, embed=embed_figures(figures)), encoding="utf-8")
    md.write_text(render_template("md", "sweep.md.j2", **ctx), encoding="utf-8")
    return PageFiles(html, md, figures)
