"""hypothesis strategies for fault schedules on a scenario's real fleet, and the way back to YAML.

    fault_schedules(scenario, kinds=["gpu_crash", "node_failure"], max_faults=2, within=("0s", "10m"))
    gpu_crashes(scenario, ...), node_failures(...), rack_failures(...), stragglers(...),
    scheduler_stalls(...), network_partitions(...), kv_capacity_losses(...), traffic_spikes(...)
        -> SearchStrategy[list[dict]]: `faults:` entries as plain YAML-ready dicts, sorted by start
    with_faults(scenario, faults) -> Scenario            the scenario with these faults instead of its own
    schedule_yaml(scenario, faults, name=...) -> str      a complete scenario file to paste into faults/
    note_schedule(scenario, faults, ...) -> str           the same through hypothesis.note(): printed with
                                                          the falsifying (shrunk) example only
    chaos_settings(max_examples=20)                       settings for simulation-backed properties

Targets come from the placement of the scenario's deployment on its fabric (chaos.sim.build.check_scenario):
a GPU of a serving replica, a host or rack that holds one, a replica id. Every target is explicit (no
selector), so a schedule means the same thing whatever its position in the list.

Shrinking goes toward fewer faults, later starts (the start is drawn as a distance back from the end
of `within`), shorter durations, milder parameters (smaller factor, smaller fraction, a detected
rather than silent stall) and the first replica, host or rack in placement order.

A schedule is valid when `within` lies inside the run; durations are cut so that no fault outlives
the horizon.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from hypothesis import note, strategies as st

from chaos.units import parse_duration

__all__ = ["KINDS", "FleetTargets", "fault_schedules", "gpu_crashes", "node_failures", "rack_failures",
           "stragglers", "scheduler_stalls", "network_partitions", "kv_capacity_losses", "traffic_spikes",
           "with_faults", "schedule_yaml", "note_schedule", "targets_of", "chaos_settings", "SCHEDULE_BEGIN",
           "SCHEDULE_END"]

KINDS = ("gpu_crash", "node_failure", "rack_failure", "straggler", "scheduler_stall", "network_partition",
         "kv_capacity_loss", "traffic_spike")


def _scenario(scenario):
    from chaos.scenario import Scenario, load_scenario
    return scenario if isinstance(scenario, Scenario) else load_scenario(Path(scenario))


@dataclass(frozen=True)
class FleetTargets:
    """What a fault can aim at on the placed fleet, in placement order (spares excluded)."""
    replicas: tuple[str, ...]
    gpus: tuple[str, ...]            # one GPU per replica: any GPU of a TP group takes the group down
    hosts: tuple[str, ...]
    racks: tuple[str, ...]
    horizon_s: float | None


def targets_of(scenario) -> FleetTargets:
    """Replicas, one GPU per replica, hosts and racks holding serving replicas (check_scenario's placement)."""
    from chaos.sim.build import check_scenario

    sc = _scenario(scenario)
    fleet = check_scenario(sc.model_copy(update={"faults": []}))
    active = [p for p in fleet.placements.values() if p.role != "spare"]
    nodes = fleet.fabric.graph.nodes

    def unique(xs):
        return tuple(dict.fromkeys(xs))
    return FleetTargets(
        replicas=tuple(p.replica_id for p in active),
        gpus=tuple(p.gpus[0] for p in active),
        hosts=unique(nodes[g]["host"] for p in active for g in p.gpus),
        racks=unique(nodes[g]["rack"] for p in active for g in p.gpus),
        horizon_s=sc.duration)


def _dur(seconds: float) -> str:
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{seconds:.6g}s"


def _seconds(value, what: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as err:
        raise ValueError(f"{what}: {err}") from None


def _tenths(lo: float, hi: float) -> st.SearchStrategy[float]:
    """A value in [lo, hi] on a 0.1 grid, shrinking toward lo."""
    a, b = int(round(lo * 10)), int(round(hi * 10))
    if b < a:
        raise ValueError(f"expected a range (lo, hi) with lo <= hi but got ({lo}, {hi})")
    return st.integers(0, b - a).map(lambda k: (a + k) / 10)


def _fault(kind: str, t: FleetTargets, *, t0: float, t1: float, d0: float | None, d1: float | None, step: float,
           horizon: float | None, factor: tuple[float, float], fraction: tuple[float, float]) -> st.SearchStrategy[dict]:
    if kind not in KINDS:
        from chaos.errors import expected_one_of
        raise ValueError(f"kinds: {expected_one_of(kind, KINDS)}")
    pool = {"gpu_crash": ("gpu", t.gpus), "node_failure": ("host", t.hosts), "rack_failure": ("rack", t.racks),
            "straggler": ("gpu", t.gpus), "scheduler_stall": ("replica", t.replicas),
            "network_partition": ("replica", t.replicas), "kv_capacity_loss": ("replica", t.replicas),
            "traffic_spike": (None, ())}[kind]
    n_at = int(math.floor((t1 - t0) / step + 1e-9))

    @st.composite
    def one(draw) -> dict:
        at = t1 - step * draw(st.integers(0, n_at))                  # shrinks toward the latest start
        fault: dict[str, Any] = {"type": kind, "at": _dur(at)}
        if d0 is not None:
            n_d = int(math.floor((d1 - d0) / step + 1e-9))
            d = d0 + step * draw(st.integers(0, n_d))                 # shrinks toward the shortest
            if horizon is not None:
                d = min(d, horizon - at)
            fault["duration"] = _dur(d)
        key, ids = pool
        if key is not None:
            fault["target"] = {key: ids[draw(st.integers(0, len(ids) - 1))]}   # shrinks toward the first
        if kind in ("straggler", "traffic_spike"):
            fault["factor"] = draw(_tenths(*factor))
        elif kind == "kv_capacity_loss":
            fault["fraction"] = draw(_tenths(*fraction))
        elif kind == "scheduler_stall":
            fault["silent"] = draw(st.booleans())
        return fault
    return one()


def fault_schedules(scenario, *, kinds: Sequence[str] = ("gpu_crash",), min_faults: int = 1, max_faults: int = 2,
                    within: tuple | None = None, durations: tuple | None = ("10s", "2m"), step: str | float = "5s",
                    factor: tuple[float, float] = (1.5, 4.0),
                    fraction: tuple[float, float] = (0.1, 0.7)) -> st.SearchStrategy[list[dict]]:
    """Lists of `min_faults`..`max_faults` faults of `kinds` on the scenario's fleet (a Scenario or a path),
    sorted by start. Starts fall in `within` = (start, end) (default: the first three quarters of the run),
    durations in `durations` = (shortest, longest) (None: permanent, to the end of the run), both on a grid
    of `step`. `factor` bounds a straggler's slowdown and a spike's rate multiplier, `fraction` a
    kv_capacity_loss (both on a 0.1 grid). See the module docstring for the shrinking order."""
    sc = _scenario(scenario)
    t = targets_of(sc)
    step_s = _seconds(step, "step")
    if not step_s > 0:
        raise ValueError(f"step: expected a positive duration like \"5s\" but got {step!r}")
    horizon = sc.duration
    if within is None:
        if horizon is None:
            raise ValueError("within: the scenario has no duration; give the window of fault starts, like "
                             "within=(\"0s\", \"10m\")")
        within = (0.0, 0.75 * horizon)
    t0, t1 = _seconds(within[0], "within[0]"), _seconds(within[1], "within[1]")
    t1 = t0 + step_s * math.floor((t1 - t0) / step_s + 1e-9)
    if not t1 >= t0:
        raise ValueError(f"within: expected (start, end) with end >= start but got {within!r}")
    if horizon is not None and t1 >= horizon:
        raise ValueError(f"within: fault starts up to {_dur(t1)} must lie before the end of the run at {_dur(horizon)}")
    d0 = d1 = None
    if durations is not None:
        d0, d1 = _seconds(durations[0], "durations[0]"), _seconds(durations[1], "durations[1]")
        if not 0 < d0 <= d1:
            raise ValueError(f"durations: expected (shortest, longest) with 0 < shortest <= longest but got {durations!r}")
    if not 0 <= min_faults <= max_faults:
        raise ValueError(f"expected 0 <= min_faults <= max_faults but got min_faults={min_faults}, "
                         f"max_faults={max_faults}")
    if not kinds:
        raise ValueError("kinds: expected at least one fault type, like kinds=[\"gpu_crash\"]")
    parts = [_fault(k, t, t0=t0, t1=t1, d0=d0, d1=d1, step=step_s, horizon=horizon, factor=factor, fraction=fraction)
             for k in kinds]
    fault = parts[0] if len(parts) == 1 else st.one_of(parts)
    return st.lists(fault, min_size=min_faults, max_size=max_faults).map(
        lambda fs: sorted(fs, key=lambda f: parse_duration(f["at"])))


def gpu_crashes(scenario, **kwargs) -> st.SearchStrategy[list[dict]]:
    """GPU crashes (XID-style: the GPU's TP group goes down), one GPU per serving replica to choose from."""
    return fault_schedules(scenario, kinds=("gpu_crash",), **kwargs)


def node_failures(scenario, **kwargs) -> st.SearchStrategy[list[dict]]:
    """Host failures of hosts that hold serving replicas."""
    return fault_schedules(scenario, kinds=("node_failure",), **kwargs)


def rack_failures(scenario, **kwargs) -> st.SearchStrategy[list[dict]]:
    """Rack power losses of racks that hold serving replicas."""
    return fault_schedules(scenario, kinds=("rack_failure",), **kwargs)


def stragglers(scenario, **kwargs) -> st.SearchStrategy[list[dict]]:
    """Slow GPUs (factor from `factor`, default 1.5..4)."""
    return fault_schedules(scenario, kinds=("straggler",), **kwargs)


def scheduler_stalls(scenario, **kwargs) -> st.SearchStrategy[list[dict]]:
    """Scheduler stalls, silent or detected by health checks."""
    return fault_schedules(scenario, kinds=("scheduler_stall",), **kwargs)


def network_partitions(scenario, **kwargs) -> st.SearchStrategy[list[dict]]:
    """Replicas cut off from the router."""
    return fault_schedules(scenario, kinds=("network_partition",), **kwargs)


def kv_capacity_losses(scenario, **kwargs) -> st.SearchStrategy[list[dict]]:
    """Lost KV capacity on a replica (fraction from `fraction`, default 0.1..0.7)."""
    return fault_schedules(scenario, kinds=("kv_capacity_loss",), **kwargs)


def traffic_spikes(scenario, **kwargs) -> st.SearchStrategy[list[dict]]:
    """Arrival spikes of the whole fleet (factor from `factor`, default 1.5..4); at most one by default."""
    kwargs.setdefault("max_faults", 1)
    return fault_schedules(scenario, kinds=("traffic_spike",), **kwargs)


# -- back to scenarios and YAML -------------------------------------------------------------------------

def with_faults(scenario, faults: Sequence[dict], *, keep: bool = False):
    """The scenario (a Scenario or a path) with `faults` (dicts as in YAML) instead of its own, or after
    them with `keep=True`; the source file and base folder stay, so relative paths still resolve."""
    from chaos.faults import load_faults

    sc = _scenario(scenario)
    new = load_faults(list(faults))
    return sc.model_copy(update={"faults": (list(sc.faults) if keep else []) + new})


def _rebase(value: str, base: Path, target: Path | None) -> str:
    p = Path(value).expanduser()
    if p.is_absolute() or target is None:
        return value
    import os
    return os.path.relpath((base / p).resolve(), target.resolve())


def schedule_yaml(scenario, faults: Sequence[dict], *, name: str | None = None, relative_to: str | Path | None = None,
                  comment: str | None = None) -> str:
    """A complete scenario file: `scenario` as resolved (any --set overrides included, the fabric inline)
    with `faults` in place of its own, named `name` (default: "<name>-counterexample"). Paths to traces
    and catalogs are rewritten relative to the folder `relative_to` (where the file will live; default:
    the scenario's own folder). `comment` goes on top, one `#` line per line."""
    import yaml

    sc = _scenario(scenario)
    data = sc.model_dump(mode="json", exclude_unset=True)
    data["name"] = name or f"{sc.name}-counterexample"
    data["faults"] = [dict(f) for f in faults]
    target = Path(relative_to) if relative_to is not None else None
    if data.get("catalog"):
        data["catalog"] = [_rebase(c, sc.base_dir, target) for c in data["catalog"]]

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("path", "trace") and isinstance(v, str):
                    node[k] = _rebase(v, sc.base_dir, target)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(data.get("workload"))
    data = _with_units(data)
    order = ["name", "description", "seed", "duration"]
    ordered = {k: data[k] for k in order if k in data}
    ordered.update({k: v for k, v in data.items() if k not in ordered and k != "faults"})
    ordered["faults"] = data["faults"]
    body = yaml.safe_dump(ordered, sort_keys=False, default_flow_style=None, width=110)
    head = "".join(f"# {line}\n" if line else "#\n" for line in (comment or "").splitlines())
    return head + body


def _with_units(node, parent: str = ""):
    """The dumped scenario with its units back: seconds as "30s"/"3m", rates as "6/s" (the schema
    holds SI floats; a schedule file is for people to read and paste)."""
    from chaos.units import DURATION_KEYS, DURATION_KEYS_IN, duration_yaml
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and (
                    k in DURATION_KEYS or k in DURATION_KEYS_IN.get(parent, ())):
                out[k] = duration_yaml(v)
            elif k == "rate" and isinstance(v, (int, float)) and not isinstance(v, bool):
                out[k] = f"{v:g}/s"
            elif k == "steady_state" and isinstance(v, list):
                out[k] = [_probe_with_units(p) for p in v]
            else:
                out[k] = _with_units(v, k)
        return out
    if isinstance(node, list):
        return [_with_units(v, parent) for v in node]
    return node


def _probe_with_units(probe):
    """A steady_state entry: its window in time units, its bounds in the probe's unit when that is seconds."""
    from chaos.metrics.probes import PROBES
    from chaos.units import duration_yaml
    if not isinstance(probe, dict):
        return probe
    out = dict(probe)
    if isinstance(out.get("window"), (int, float)):
        out["window"] = duration_yaml(out["window"])
    spec = PROBES.get(out.get("probe"))
    if spec is not None and spec.kind == "latency":
        for k in ("max", "min"):
            if isinstance(out.get(k), (int, float)) and not isinstance(out.get(k), bool):
                out[k] = duration_yaml(out[k])
    return out


SCHEDULE_BEGIN = "--- fleetchaos schedule ---"
SCHEDULE_END = "--- end of schedule ---"


def note_schedule(scenario, faults: Sequence[dict], *, name: str | None = None, relative_to: str | Path | None = None,
                  comment: str | None = None) -> str:
    """hypothesis.note() the schedule as a scenario file (schedule_yaml) between the lines SCHEDULE_BEGIN and
    SCHEDULE_END, so the falsifying example's report carries YAML ready to paste into faults/; returns it."""
    text = schedule_yaml(scenario, faults, name=name, relative_to=relative_to,
                         comment=comment or "found by a fleetchaos property test (hypothesis, shrunk)")
    note(f"{SCHEDULE_BEGIN}\n{text}{SCHEDULE_END}")
    return text


def chaos_settings(max_examples: int = 20, **kwargs):
    """hypothesis settings for simulation-backed properties: no deadline (a run takes a tenth of a second
    or more), derandomized (CI sees the same examples every time) and without the `explain` phase, whose
    line tracing slows a simulation tenfold; other keywords go to hypothesis.settings."""
    from hypothesis import HealthCheck, Phase, settings
    kwargs.setdefault("deadline", None)
    kwargs.setdefault("derandomize", True)
    kwargs.setdefault("phases", [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink])
    kwargs.setdefault("suppress_health_check", [HealthCheck.too_slow])
    return settings(max_examples=max_examples, **kwargs)
