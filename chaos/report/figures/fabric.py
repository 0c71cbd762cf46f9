"""Figure 4, the fabric: the topology rebuilt as the run's NetworkX graph (chaos.topology.build_fabric),
drawn in a hierarchical layout — spine switches on top, one leaf per rack below them, racks side by side
with their hosts stacked, each host a row of GPUs coloured by the replica (pool) they serve.

Failed elements (fault targets) are outlined in black and the blast radius (GPUs of lost or degraded
replicas) filled red or orange. Past AGGREGATE_GPUS GPUs a host becomes one cell coloured by its worst
state, so 1,000 GPUs still read as a picture, not as noise.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chaos.report import style
from chaos.report.view import RunView

AGGREGATE_GPUS = 256
MAX_RACK_COLUMNS = 8
SPARE = "#ced4da"
IDLE = "#f1f3f5"


@dataclass
class _Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def top(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h)

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)


def build(run: RunView):
    """The run's Fabric, or None when the journal has no usable topology."""
    from chaos.errors import InputError
    from chaos.topology import build_fabric
    from chaos.topology.config import FabricSpec

    raw = run.resolved.get("topology")
    if not isinstance(raw, dict):
        return None
    try:
        spec = FabricSpec.model_validate(raw)
    except Exception:  # noqa: BLE001 - a journal from another version: no figure rather than no report
        return None
    nvlink, nic = _catalog_bandwidths(spec.gpu)
    try:
        return build_fabric(spec, nvlink_Bps=nvlink, nic_Bps=nic)
    except InputError:
        return None


def _catalog_bandwidths(gpu: str) -> tuple[float, float]:
    """The GPU's NVLink and NIC bytes/s from the bundled catalog; 1.0 placeholders for a GPU only a
    user catalog knows (the drawing needs the graph's shape, not its bandwidths)."""
    try:
        from chaos.catalog import load_catalog
        spec = load_catalog().gpu(gpu)
        return spec.nvlink_Bps, spec.nic_Bps
    except Exception:  # noqa: BLE001
        return 1.0, 1.0


def gpu_states(run: RunView, fabric) -> tuple[dict[str, str], set[str]]:
    """(gpu -> "lost" | "degraded", the fabric elements a fault hit directly)."""
    gpus_of = {r.id: r.gpus for r in run.replicas}
    state: dict[str, str] = {}
    failed: set[str] = set()
    for f in run.faults:
        for rid in f.replicas_degraded:
            for g in gpus_of.get(rid, ()):
                state.setdefault(g, "degraded")
        for rid in f.replicas_lost:
            for g in gpus_of.get(rid, ()):
                state[g] = "lost"
        if f.target_kind in ("gpu", "host", "rack", "nic", "switch", "link"):
            failed.update(f.targets)
        elif f.target_kind == "replica":
            for rid in f.targets:
                for g in gpus_of.get(rid, ()):
                    state[g] = "lost"
    return state, failed


def draw(run: RunView, out: Path) -> Path | None:
    fabric = build(run)
    if fabric is None:
        return None
    spec = fabric.spec
    g = fabric.graph
    n_gpus = len(fabric.gpus())
    aggregate = n_gpus > AGGREGATE_GPUS
    state, failed = gpu_states(run, fabric)
    role_of_gpu = {gpu: r.role for r in run.replicas for gpu in r.gpus}
    replica_of_gpu = {gpu: r.id for r in run.replicas for gpu in r.gpus}

    racks = fabric.racks()
    hosts_per_rack = spec.hosts_per_rack
    cols = min(len(racks), MAX_RACK_COLUMNS)
    rack_rows = -(-len(racks) // cols)
    cell = 1.0
    host_w = (1 if aggregate else spec.gpus_per_host) * cell
    host_h = cell
    gap_x, gap_y = 1.2, 0.35
    rack_w = host_w + 0.6
    rack_h = hosts_per_rack * (host_h + gap_y) + 0.6
    leaf_h = 1.4
    spine_band = 2.2 if spec.scale_out.spines else 0.0
    block_h = rack_h + leaf_h + 0.4

    boxes: dict[str, _Box] = {}
    gpu_boxes: dict[str, _Box] = {}
    for idx, rack in enumerate(racks):
        rc, rr = idx % cols, idx // cols
        x0 = rc * (rack_w + gap_x)
        y_top = -rr * (block_h + 0.8)
        rbox = _Box(x0, y_top - block_h, rack_w, rack_h)
        boxes[rack] = rbox
        boxes[f"{rack}/leaf"] = _Box(x0 + rack_w * 0.2, y_top - leaf_h + 0.3, rack_w * 0.6, 0.7)
        hosts = [h for h in fabric.hosts() if g.nodes[h]["rack"] == rack]
        for hi, host in enumerate(hosts):
            hy = rbox.y + rbox.h - 0.3 - (hi + 1) * (host_h + gap_y) + gap_y
            hbox = _Box(x0 + 0.3, hy, host_w, host_h)
            boxes[host] = hbox
            for gi, gpu in enumerate(fabric.gpus_of(host)):
                gpu_boxes[gpu] = hbox if aggregate else _Box(hbox.x + gi * cell, hy, cell, host_h)
    width = cols * (rack_w + gap_x) - gap_x
    spines = fabric.nodes_of_kind("spine")
    if spines:
        sw = min(2.4, width / max(len(spines), 1) * 0.7)
        for s_i, s in enumerate(spines):
            cx = (s_i + 0.5) * width / len(spines)
            boxes[s] = _Box(cx - sw / 2, spine_band - 0.2, sw, 0.7)

    fig_w = min(max(6.0, 1.2 + width * 0.42), 16.0)
    total_h = spine_band + rack_rows * (block_h + 0.8)
    fig_h = min(max(3.2, total_h * 0.42 + 1.2), 14.0)
    with style.pyplot() as plt:
        from matplotlib.patches import Patch, Rectangle
        fig, ax = plt.subplots(figsize=(fig_w, fig_h), constrained_layout=True)
        ax.set_axis_off()
        ax.grid(False)
        ax.set_aspect("equal")

        def rect(b: _Box, **kw):
            ax.add_patch(Rectangle((b.x, b.y), b.w, b.h, **kw))

        many_links = len(spines) * len(racks) > 64
        for rack in racks:
            leaf = f"{rack}/leaf"
            lx, ly = boxes[leaf].top
            for s in spines:
                sx, sy = boxes[s].centre
                down = leaf in failed or _link_failed(leaf, s, failed) or (s in failed and not many_links)
                if many_links and not down:
                    continue  # a full mesh of hundreds of lines says less than the note below
                ax.plot([lx, sx], [ly, sy - 0.35], color=style.LOST if down else "#adb5bd",
                        lw=2.0 if down else (0.4 if many_links else 0.8), alpha=1.0 if down else 0.7, zorder=1)
        for rack in racks:
            rb = boxes[rack]
            rect(rb, fill=False, ec=style.FAILED_ELEMENT if rack in failed else "#868e96",
                 lw=2.2 if rack in failed else 0.8, ls="-" if rack in failed else "--", zorder=2)
            ax.text(rb.x, rb.y - 0.15, rack + ("  (failed)" if rack in failed else ""), fontsize=7, va="top",
                    color=style.FAILED_ELEMENT if rack in failed else "#495057",
                    fontweight="bold" if rack in failed else "normal")
            leaf = boxes[f"{rack}/leaf"]
            lf = f"{rack}/leaf" in failed
            rect(leaf, fc=style.LOST if lf else "#495057", ec="black", lw=1.2 if lf else 0.5, zorder=3)
            ax.text(*leaf.centre, "leaf", color="white", fontsize=6.5, ha="center", va="center", zorder=4)
            lx, ly = leaf.centre
            for host in (h for h in fabric.hosts() if g.nodes[h]["rack"] == rack):
                hb = boxes[host]
                nic_down = any(n in failed or _link_failed(n, f"{rack}/leaf", failed)
                               for n in _host_nics(fabric, host))
                if aggregate and not nic_down:
                    continue
                ax.plot([hb.x + hb.w + 0.05, rb.x + rb.w - 0.1, rb.x + rb.w - 0.1, leaf.x + leaf.w],
                        [hb.y + hb.h / 2, hb.y + hb.h / 2, ly, ly], color=style.LOST if nic_down else "#ced4da",
                        lw=1.5 if nic_down else 0.5, zorder=1)
        for s in spines:
            sb = boxes[s]
            sf = s in failed
            rect(sb, fc=style.LOST if sf else "#343a40", ec="black", lw=1.2 if sf else 0.5, zorder=3)
            ax.text(*sb.centre, s, color="white", fontsize=6.5, ha="center", va="center", zorder=4)

        if aggregate:
            for host in fabric.hosts():
                gpus = fabric.gpus_of(host)
                states = {state.get(x) for x in gpus}
                roles = [role_of_gpu.get(x) for x in gpus if role_of_gpu.get(x)]
                colour = (style.LOST if "lost" in states else style.DEGRADED if "degraded" in states
                          else style.pool_colour(max(set(roles), key=roles.count)) if roles else IDLE)
                hit = host in failed or any(x in failed for x in gpus)
                rect(boxes[host], fc=colour, ec=style.FAILED_ELEMENT if hit else "white",
                     lw=2.0 if hit else 0.3, zorder=3)
        else:
            for gpu, b in gpu_boxes.items():
                st = state.get(gpu)
                role = role_of_gpu.get(gpu)
                colour = (style.LOST if st == "lost" else style.DEGRADED if st == "degraded"
                          else SPARE if role == "spare" else style.pool_colour(role) if role else IDLE)
                hit = gpu in failed or g.nodes[gpu]["host"] in failed or g.nodes[gpu]["nic"] in failed
                rect(b, fc=colour, ec=style.FAILED_ELEMENT if hit else "white", lw=2.0 if hit else 0.6,
                     hatch="xx" if hit else None, zorder=3)
            for host in fabric.hosts():
                hb = boxes[host]
                rect(hb, fill=False, ec=style.FAILED_ELEMENT if host in failed else "#495057",
                     lw=2.4 if host in failed else 0.7, zorder=4)
                if spec.gpus_per_host * len(racks) <= 64:
                    # replica ids on their GPU runs, when they fit
                    runs = _replica_runs(fabric.gpus_of(host), replica_of_gpu)
                    for rid, first, last in runs:
                        b0, b1 = gpu_boxes[first], gpu_boxes[last]
                        ax.text((b0.x + b1.x + b1.w) / 2, hb.y + hb.h / 2, _short(rid), fontsize=5.5,
                                ha="center", va="center", color="white", zorder=5)
            if len(racks) <= 4:
                for host in fabric.hosts():
                    hb = boxes[host]
                    ax.text(hb.x - 0.1, hb.y + hb.h / 2, host.split("/")[-1], fontsize=6, ha="right",
                            va="center", color=style.FAILED_ELEMENT if host in failed else "#495057",
                            fontweight="bold" if host in failed else "normal")

        xs = [b.x for b in boxes.values()] + [b.x + b.w for b in boxes.values()]
        ys = [b.y for b in boxes.values()] + [b.y + b.h for b in boxes.values()]
        ax.set_xlim(min(xs) - 1.0, max(xs) + 0.5)
        ax.set_ylim(min(ys) - 0.8, max(ys) + 0.3)
        roles_present = sorted({r.role for r in run.replicas}, key=lambda r: ("prefill", "aggregated", "decode",
                                                                               "spare").index(r)
                               if r in ("prefill", "aggregated", "decode", "spare") else 9)
        handles = [Patch(fc=SPARE if r == "spare" else style.pool_colour(r), label=r) for r in roles_present]
        handles.append(Patch(fc=IDLE, ec="#adb5bd", label="idle GPU"))
        if any(v == "lost" for v in state.values()):
            handles.append(Patch(fc=style.LOST, label="blast radius: replica lost"))
        if any(v == "degraded" for v in state.values()):
            handles.append(Patch(fc=style.DEGRADED, label="blast radius: replica degraded"))
        if failed:
            handles.append(Patch(fill=False, ec=style.FAILED_ELEMENT, lw=2, hatch="xx", label="failed element"))
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(handles), 6),
                  fontsize=7)
        if many_links:
            ax.text((min(b.x for b in boxes.values()) + width) / 2, spine_band - 0.45,
                    f"full mesh: every leaf to each of the {len(spines)} spines (only failed links drawn)",
                    fontsize=7, ha="center", va="top", color="#495057")
        agg = f"; {n_gpus} GPUs, one cell per host" if aggregate else f"; {n_gpus} GPUs"
        hit_text = ", ".join(sorted(failed))[:90] if failed else "no element failed"
        ax.set_title(f"{spec.name}: {spec.racks} rack(s) x {spec.hosts_per_rack} host(s) x {spec.gpus_per_host} "
                     f"{spec.gpu}{agg}\nfaults hit: {hit_text}", fontsize=style.FONT_SIZE)
        return style.save(fig, out)


def _host_nics(fabric, host: str) -> list[str]:
    return [fabric.graph.nodes[x]["nic"] for x in fabric.gpus_of(host)]


def _link_failed(u: str, v: str, failed: set[str]) -> bool:
    from chaos.topology import link_id
    return link_id(u, v) in failed


def _replica_runs(gpus: list[str], replica_of: dict[str, str]) -> list[tuple[str, str, str]]:
    """Consecutive GPUs of one host serving the same replica: (replica, first gpu, last gpu)."""
    runs: list[list] = []
    last_i = -2
    for i, x in enumerate(gpus):
        rid = replica_of.get(x)
        if rid is None:
            continue
        if runs and runs[-1][0] == rid and last_i == i - 1:
            runs[-1][2] = x
        else:
            runs.append([rid, x, x])
        last_i = i
    return [tuple(r) for r in runs]


def _short(rid: str) -> str:
    role, _, n = rid.rpartition("-")
    abbrev = {"aggregated": "agg", "prefill": "P", "decode": "D", "spare": "spare"}.get(role, role[:4])
    return f"{abbrev}{n}" if abbrev in ("P", "D") else f"{abbrev}-{n}"
