"""render_report: journal.json (one or several) -> report.html, report.md and PNG figures.

One journal gives the run's report; several give the comparison page (policy A vs policy B …).
report.html is one self-contained file: figures embedded as base64 PNG, CSS inline, no script, no
network. report.md carries the same verdict and tables with links to the PNGs, for a pull request.
Jinja2 and matplotlib are imported here, inside the functions (STYLE point 8).
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from chaos.errors import InputError, SimulationError
from chaos.forked import ForkedCall, can_fork_in_parallel
from chaos.report import tables
from chaos.report.style import pyplot
from chaos.report.tenants import tenant_table
from chaos.report.view import RunView, read_journal

HTML_NAME = "report.html"
MD_NAME = "report.md"

# name -> (file, caption); the order is the order on the page.
FIGURES = {
    "timeline": ("timeline.png", "Timeline: TTFT p50/p99, TPOT p99 and throughput per window, faulted run "
                                 "against its baseline twin; fault windows shaded, SLO lines dash-dotted."),
    "capacity": ("capacity.png", "Capacity: replicas up per pool, queue depth and running sequences, KV use; "
                                 "controller actions dotted."),
    "distributions": ("distributions.png", "TTFT and E2E latency CDFs of completed requests."),
    "fabric": ("fabric.png", "The fabric: GPUs coloured by pool, failed elements outlined, blast radius in red "
                             "(lost) and orange (degraded)."),
    "load": ("load_heatmap.png", "Load per replica over time (outstanding requests); fault starts in red."),
    "tenants": ("tenants.png", "Per tenant: TTFT p99 and output tokens/s per window, each tenant's TTFT target "
                               "dash-dotted; fault windows shaded."),
}
COMPARE_FIGURES = {
    "compare_timeline": ("compare_timeline.png", "TTFT p99, TPOT p99 and throughput of every run overlaid."),
}


@dataclass(frozen=True)
class ReportFiles:
    """What render_report wrote: the HTML page, the Markdown summary and the PNG figures by name."""

    html: Path
    markdown: Path
    figures: dict[str, Path] = field(default_factory=dict)

    @property
    def paths(self) -> list[Path]:
        return [self.html, self.markdown, *self.figures.values()]


def render_report(journal_paths: Sequence[str | Path] | str | Path, out_dir: str | Path,
                  parallel: bool | None = None) -> ReportFiles:
    """Write the report of one journal, or the comparison page of several, into `out_dir`.

    `journal_paths`: journal.json files (or run folders holding one); requests.csv and
    baseline_requests.csv next to a journal feed the latency distributions when present.
    `parallel` (None: when two cores are usable) draws part of one run's figures in a forked child.
    Raises JournalError (an InputError) for a missing or unreadable journal.
    """
    if isinstance(journal_paths, (str, Path)):
        journal_paths = [journal_paths]
    paths = [Path(p) for p in journal_paths]
    if not paths:
        raise InputError("render_report needs at least one journal.json (got none)")
    runs = [read_journal(p) for p in paths]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if len(runs) == 1:
        return _single(runs[0], out, parallel)
    return _comparison(runs, out)


# -- one run --------------------------------------------------------------------------------------
def _requests(path: Path | None):
    if path is None:
        return None
    from chaos.metrics import RequestLog
    from chaos.report.figures.distributions import latencies
    try:
        return latencies(RequestLog.from_csv(path))
    except (OSError, ValueError, KeyError, IndexError):
        return None  # a truncated or foreign CSV costs the figure, not the report


CHILD_FIGURES = ("fabric", "load", "tenants")
"""Drawn in a forked child while this process draws the others, when two cores are usable (about half
of the drawing time each on a fleet-hour)."""


def draw_figures(run: RunView, out: Path, parallel: bool | None = None) -> dict[str, Path]:
    """Every figure the run's data allows, as name -> PNG path (in FIGURES order). With `parallel`
    (None: when two cores are usable) CHILD_FIGURES are drawn in a forked child; the PNG bytes are the
    same either way (fixed metadata, same code)."""
    from chaos.report.figures import capacity, distributions, fabric, heatmap, tenants, timeline

    jobs = {
        "timeline": lambda: timeline.draw(run, out / FIGURES["timeline"][0]),
        "capacity": lambda: capacity.draw(run, out / FIGURES["capacity"][0]),
        "distributions": lambda: distributions.draw(run.name, _requests(run.requests_csv),
                                                    _requests(run.baseline_csv), run.slo,
                                                    out / FIGURES["distributions"][0]),
        "fabric": lambda: fabric.draw(run, out / FIGURES["fabric"][0]),
        "load": lambda: heatmap.draw(run, out / FIGURES["load"][0]),
        "tenants": lambda: tenants.draw(run, out / FIGURES["tenants"][0]),
    }
    child = None
    if (parallel is None or parallel) and can_fork_in_parallel():
        with pyplot():                          # import matplotlib once, before the fork: the child has it
            pass
        child = ForkedCall(_draw, {name: jobs[name] for name in CHILD_FIGURES}, name="report-figures")
    figs = _draw({name: job for name, job in jobs.items() if child is None or name not in CHILD_FIGURES})
    if child is not None:
        try:
            figs.update(child.result())
        except SimulationError:                 # the child died (out of memory?): draw its share here
            figs.update(_draw({name: jobs[name] for name in CHILD_FIGURES}))
    return {name: figs[name] for name in jobs if figs.get(name) is not None}


def _draw(jobs: dict) -> dict[str, Path | None]:
    return {name: job() for name, job in jobs.items()}


def _single(run: RunView, out: Path, parallel: bool | None = None) -> ReportFiles:
    figures = draw_figures(run, out, parallel)
    ctx = run_context(run, figures, out)
    html = out / HTML_NAME
    md = out / MD_NAME
    html.write_text(_env("html").get_template("report.html.j2").render(**ctx, embed=_embed(figures)),
                    encoding="utf-8")
    md.write_text(_env("md").get_template("report.md.j2").render(**ctx), encoding="utf-8")
    return ReportFiles(html=html, markdown=md, figures=figures)


def run_context(run: RunView, figures: dict[str, Path], out: Path) -> dict:
    """Everything the report templates show, as formatted text."""
    return {
        "run": run,
        "head": tables.headline(run),
        "sections": tables.scenario_sections(run),
        "plan": tables.fault_plan(run),
        "played": tables.faults_played(run),
        "actions": tables.controller_actions(run),
        "metrics": tables.key_metrics(run),
        "hypothesis": tables.hypothesis_tables(run),
        "hypothesis_missing": run.hypothesis is None,
        "hypothesis_why": tables.missing_reason(run, "hypothesis"),
        "resilience_why": tables.missing_reason(run, "resilience"),
        "resilience": tables.resilience_table(run),
        "breakdown": tables.breakdown_rows(run),
        "score_table": tables.score_table(run),
        "cliffs": tables.cliff_rows(run),
        "router": tables.router_rows(run),
        "tenants": tenant_table(run),
        "figures": [(name, _link(path, out), FIGURES[name][1]) for name, path in figures.items()],
        "missing_figures": [name for name in FIGURES if name not in figures and (name != "tenants" or run.tenant_series)],
        "journal_name": _link(run.path, out),
        "not_evaluated": tables.NOT_EVALUATED,
        "horizon": tables.dur(run.horizon_s),
    }


# -- several runs ---------------------------------------------------------------------------------
def _comparison(runs: list[RunView], out: Path) -> ReportFiles:
    from chaos.report.figures import compare

    labels = _unique_labels(runs)
    figures = {}
    path = compare.draw(_labelled(runs, labels), out / COMPARE_FIGURES["compare_timeline"][0])
    if path is not None:
        figures["compare_timeline"] = path
    ctx = {
        "runs": [{"label": label, "run": run, "head": tables.headline(run), "journal_name": _link(run.path, out),
                  "played": tables.faults_played(run)}
                 for run, label in zip(runs, labels)],
        "table": tables.comparison(_labelled(runs, labels)),
        "figures": [(name, _link(p, out), COMPARE_FIGURES[name][1]) for name, p in figures.items()],
        "not_evaluated": tables.NOT_EVALUATED,
    }
    html = out / HTML_NAME
    md = out / MD_NAME
    html.write_text(_env("html").get_template("compare.html.j2").render(**ctx, embed=_embed(figures)),
                    encoding="utf-8")
    md.write_text(_env("md").get_template("compare.md.j2").render(**ctx), encoding="utf-8")
    return ReportFiles(html=html, markdown=md, figures=figures)


def _unique_labels(runs: list[RunView]) -> list[str]:
    """Run names; when two runs share a name, what differs between their scenarios (policy A vs policy
    B: "gpu-crash (controller.policy=restart)"), then their folder, then their position."""
    names = [r.name for r in runs]
    flat = [_flatten(getattr(r, "resolved", {}) or {}) for r in runs]
    labels = []
    for i, r in enumerate(runs):
        label = r.name
        if names.count(r.name) > 1:
            same_name = [flat[j] for j in range(len(runs)) if names[j] == r.name]
            keys = sorted(k for k in set().union(*same_name) if len({repr(f.get(k)) for f in same_name}) > 1)
            shown = [f"{k}={_short(flat[i].get(k))}" for k in keys[:3]]
            label = f"{r.name} ({', '.join(shown)})" if shown else f"{r.name} ({r.path.parent.name})"
        labels.append(label)
    for i, label in enumerate(labels):
        if labels.count(label) > 1:
            labels[i] = f"{label} #{i + 1}"
    return labels


def _flatten(value, prefix: str = "") -> dict:
    """A resolved scenario as dotted keys ("router.policy": "kv_aware"); lists stay whole values."""
    if isinstance(value, dict):
        out: dict = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}


def _short(value) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Labelled:
    """A RunView seen under another label (for the comparison figure and table)."""

    def __init__(self, run: RunView, label: str) -> None:
        self._run = run
        self.label = label

    def __getattr__(self, name):
        return getattr(self._run, name)


def _labelled(runs: list[RunView], labels: list[str]) -> list:
    return [_Labelled(r, label) for r, label in zip(runs, labels)]


# -- templates ------------------------------------------------------------------------------------
def _link(path: Path, out: Path) -> str:
    """`path` relative to the report folder when it is inside it, else its absolute form (a link
    in the Markdown; plain text in the HTML)."""
    import os
    try:
        return Path(os.path.relpath(path.resolve(), out.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return path.resolve().as_posix()


def _embed(figures: dict[str, Path]) -> dict[str, str]:
    return {name: "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode("ascii")
            for name, p in figures.items()}


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|#"})


class Raw(str):
    """Text that goes into the Markdown as is (a link target the template built)."""


def md_escape(value) -> str:
    """Every `{{ }}` of a Markdown template: escape what Markdown or a table would read as syntax,
    and keep each value on one line."""
    if value is None:
        return ""
    if isinstance(value, Raw):
        return str(value)
    text = str(value).replace("\r", " ").replace("\n", " ")
    return text.translate(_MD_SPECIAL)


def _env(kind: str):
    import jinja2
    loader = jinja2.PackageLoader("chaos.report", "templates")
    if kind == "html":
        env = jinja2.Environment(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True,
                                 undefined=jinja2.StrictUndefined)
    else:
        env = jinja2.Environment(loader=loader, autoescape=False, trim_blocks=True, lstrip_blocks=True,
                                 finalize=md_escape, undefined=jinja2.StrictUndefined)
        env.filters["raw"] = Raw
    return env


def render_template(kind: str, name: str, **context) -> str:
    """Render template `name` of this room with its environment (`kind` "html": autoescaped; "md":
    Markdown-escaped, `| raw` for links) — the sweep page (chaos.sweep.page) shares the run report's look."""
    return _env(kind).get_template(name).render(**context)


def embed_figures(figures: dict[str, Path]) -> dict[str, str]:
    """name -> data: URI of each PNG, for a self-contained page."""
    return _embed(figures)
