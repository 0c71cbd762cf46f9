"""Fault windows as plain data, the hypothesis phases they define, and windows inside a phase.

Phases (Chaos Toolkit's hypothesis strategies, on the simulated clock; all spans half-open):
  before  [warmup, first fault start)
  during  every fault's span [start, end), clipped to [0, horizon); a permanent fault runs to the
          horizon; an instant fault (end == start, e.g. a software crash) spans [start, start + settle).
          Overlapping or touching spans merge into one segment, so no window is checked twice; each
          segment names every fault in it. Gaps between segments belong to no phase.
  after   [last fault end + settle, horizon), where an instant fault's end is its start.
With no faults, `before` is the whole run and `during`/`after` do not exist (skipped, not failed).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import numpy as np

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """One fault occurrence: its name (the journal's `cause`, e.g. "faults[0] gpu_crash"), start and
    end in seconds (end None or inf = permanent, end == start = instant) and the replicas it affects
    (for time to detect)."""
    name: str
    start_s: float
    end_s: Optional[float] = None
    replicas: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (self.start_s >= 0 and math.isfinite(self.start_s)):
            raise ValueError(f"FaultWindow {self.name}: start_s must be finite and >= 0 but got {self.start_s!r}")
        if self.end_s is not None and not self.end_s >= self.start_s:
            raise ValueError(f"FaultWindow {self.name}: end_s must be >= start_s but got {self.end_s!r}")
        object.__setattr__(self, "replicas", tuple(self.replicas))

    @property
    def permanent(self) -> bool:
        return self.end_s is None or math.isinf(self.end_s)

    @property
    def instant(self) -> bool:
        return not self.permanent and self.end_s == self.start_s

    def ended_s(self, horizon_s: float) -> float:
        """When the fault itself ends: end_s, the horizon if permanent, the start if instant."""
        return horizon_s if self.permanent else min(float(self.end_s), horizon_s)

    def span(self, horizon_s: float, settle_s: float) -> tuple[float, float]:
        """The `during` span [start, end) clipped to the horizon (see the module docstring)."""
        end = self.start_s + settle_s if self.instant else self.ended_s(horizon_s)
        return min(self.start_s, horizon_s), min(end, horizon_s)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FaultWindow":
        """From a journal `faults` record (PlannedFault.to_dict()): cause (+ " #k" for occurrence
        k > 0 of a repeating fault), start_s, end_s (None = permanent), permanent,
        replicas_affected (or replicas_lost + replicas_degraded)."""
        end = None if d.get("permanent") else d.get("end_s")
        reps = d.get("replicas_affected")
        if reps is None:
            reps = sorted(set(d.get("replicas_lost", ())) | set(d.get("replicas_degraded", ())))
        name = d.get("cause") or f"faults[{d.get('index', '?')}] {d.get('type', 'fault')}"
        if d.get("occurrence"):
            name = f"{name} #{d['occurrence']}"
        return cls(str(name), float(d["start_s"]), None if end is None else float(end), tuple(reps))


def unique_names(faults: Sequence[FaultWindow]) -> list[FaultWindow]:
    """The faults with names made unique: a repeated name gets " (2)", " (3)", ... in list order."""
    seen: dict[str, int] = {}
    out = []
    for f in faults:
        k = seen.get(f.name, 0) + 1
        seen[f.name] = k
        out.append(f if k == 1 else FaultWindow(f"{f.name} ({k})", f.start_s, f.end_s, f.replicas))
    return out


@dataclass(frozen=True, slots=True)
class Segment:
    """A contiguous span of one phase and the faults active in it."""
    t0: float
    t1: float
    faults: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Phase:
    """A phase's segments (empty = the phase does not exist; `reason` says why)."""
    name: str
    segments: tuple[Segment, ...]
    reason: str = ""

    @property
    def exists(self) -> bool:
        return bool(self.segments)


def phases(faults: Sequence[FaultWindow], horizon_s: float, *, settle_s: float = 60.0,
           warmup_s: float = 0.0) -> dict[str, Phase]:
    """before / during / after from the fault windows (see the module docstring)."""
    live = [f for f in unique_names(faults) if f.start_s < horizon_s]
    if not live:
        before = (Segment(warmup_s, horizon_s),) if horizon_s > warmup_s else ()
        why = "no faults" if not faults else "every fault starts at or after the horizon"
        return {"before": Phase("before", before, "" if before else "warmup covers the run"),
                "during": Phase("during", (), why), "after": Phase("after", (), why)}
    first = min(f.start_s for f in live)
    before = (Segment(warmup_s, first),) if first > warmup_s else ()
    spans = sorted((f.span(horizon_s, settle_s), f.name) for f in live)
    merged: list[list] = []
    for (a, b), name in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
            merged[-1][2].append(name)
        else:
            merged.append([a, b, [name]])
    during = tuple(Segment(a, b, tuple(names)) for a, b, names in merged if b > a)
    last_end = max(f.ended_s(horizon_s) for f in live) + settle_s
    if any(f.permanent for f in live):
        after, why = (), "a permanent fault lasts to the horizon"
    elif last_end >= horizon_s:
        after, why = (), f"the last fault ends + settle ({last_end:g}s) at or after the horizon ({horizon_s:g}s)"
    else:
        after, why = (Segment(last_end, horizon_s),), ""
    return {"before": Phase("before", before, "" if before else "the first fault starts before the warmup ends"),
            "during": Phase("during", during), "after": Phase("after", after, why)}


@dataclass(frozen=True, slots=True)
class Windows:
    """Check windows of one phase: parallel arrays plus the fault names active in each, and notes
    (dropped partial windows)."""
    t0: np.ndarray
    t1: np.ndarray
    faults: list[tuple[str, ...]]
    notes: list[str] = field(default_factory=list)


def windows(phase: Phase, window_s: Optional[float], active: Sequence[tuple[str, float, float]] = ()) -> Windows:
    """Split each segment of `phase` into back-to-back windows of `window_s` from the segment start
    (None = the segment whole). A trailing partial window shorter than half a window is dropped (and
    noted); a longer one is kept at its own length. `active` lists (fault name, start, end) spans:
    a window's faults are those whose span overlaps it."""
    t0s: list[np.ndarray] = []
    t1s: list[np.ndarray] = []
    notes: list[str] = []
    for seg in phase.segments:
        length = seg.t1 - seg.t0
        if window_s is None:
            t0s.append(np.array([seg.t0]))
            t1s.append(np.array([seg.t1]))
            continue
        n = int(math.floor(length / window_s + _EPS))
        starts = seg.t0 + np.arange(n) * window_s
        ends = starts + window_s
        rest = seg.t1 - (seg.t0 + n * window_s)
        if rest >= window_s / 2 - _EPS and rest > _EPS:
            starts = np.append(starts, seg.t0 + n * window_s)
            ends = np.append(ends, seg.t1)
        elif rest > _EPS:
            notes.append(f"{phase.name}: dropped the partial window [{seg.t1 - rest:g}s, {seg.t1:g}s) "
                         f"({rest:g}s < half of {window_s:g}s)")
        if len(ends):
            ends[-1] = seg.t1 if abs(ends[-1] - seg.t1) < _EPS * max(1.0, seg.t1) else ends[-1]
        t0s.append(starts)
        t1s.append(ends)
    t0 = np.concatenate(t0s) if t0s else np.empty(0)
    t1 = np.concatenate(t1s) if t1s else np.empty(0)
    names = [tuple(name for name, a, b in active if a < hi and b > lo) for lo, hi in zip(t0.tolist(), t1.tolist())]
    return Windows(t0, t1, names, notes)
