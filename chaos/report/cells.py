"""Text cells of the report: numbers with their units (durations, %, bandwidth, scenario values by
field name), and the Table and Section shapes the templates lay out."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from chaos.units import DURATION_KEYS, DURATION_KEYS_IN, format_duration

NOT_EVALUATED = "not evaluated"
DASH = "—"

# Scenario fields that hold seconds (formatted as durations; names in chaos.units) and bytes/s.
_SECONDS = DURATION_KEYS
_SECONDS_IN = DURATION_KEYS_IN
_BANDWIDTH = {"nic_bandwidth", "nvlink_bandwidth", "leaf_uplink_bandwidth", "bandwidth"}


def dur(seconds: Any) -> str:
    if seconds is None or isinstance(seconds, bool):
        return DASH
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return str(seconds)
    if s != s:
        return DASH
    if s == 0:
        return "0s"
    return format_duration(s)


def num(value: Any, digits: int = 1) -> str:
    if value is None or isinstance(value, bool):
        return DASH
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if v != v:
        return DASH
    if v == int(v) and abs(v) < 1e15 and digits <= 1:
        return f"{int(v):,}"
    return f"{v:,.{digits}f}"


def pct(frac: Any, digits: int = 1) -> str:
    if frac is None or isinstance(frac, bool):
        return DASH
    try:
        return f"{100 * float(frac):.{digits}f}%"
    except (TypeError, ValueError):
        return str(frac)


def _bandwidth(bps: float) -> str:
    return f"{bps * 8 / 1e9:g} Gbps"


def value_text(key: str, value: Any, parent: str = "") -> str:
    """One scenario value as text, with its unit by the field's name (and the section it is in)."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and (key in _SECONDS or key in _SECONDS_IN.get(parent, ())):
        return dur(value)
    if isinstance(value, (int, float)) and key in _BANDWIDTH:
        return _bandwidth(float(value))
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "{" + inline(value, parent=key) + "}"
    if isinstance(value, list):
        return ", ".join(value_text(key, v, parent) for v in value) if value else DASH
    return str(value)


def inline(d: dict, skip: Iterable[str] = (), parent: str = "") -> str:
    """A dict's set fields as "k v, k v" (None and empty skipped); nested sections in braces."""
    skip = set(skip)
    parts = []
    for k, v in d.items():
        if k in skip or v is None or v == {} or v == []:
            continue
        parts.append(f"{k} {value_text(k, v, parent)}")
    return ", ".join(parts) if parts else DASH


@dataclass
class Section:
    """A titled list of (label, value) rows."""

    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Table:
    """A table: header and rows of text cells; `bad[i]` marks row i for highlighting."""

    header: list[str]
    rows: list[list[str]]
    bad: list[bool] = field(default_factory=list)
    note: str = ""
    worst: list[tuple[int, ...]] = field(default_factory=list)
    """Per row, the column indexes of cells to highlight (the worst run of a comparison)."""

    def __post_init__(self) -> None:
        if len(self.bad) < len(self.rows):
            self.bad = self.bad + [False] * (len(self.rows) - len(self.bad))
        if len(self.worst) < len(self.rows):
            self.worst = self.worst + [()] * (len(self.rows) - len(self.worst))


_SECONDS_IN_TEXT = re.compile(r"\b(\d+\.\d+|\d+)s\b")


def times_in_text(text: str) -> str:
    """Seconds the simulation wrote into a detail ("serving at 815.000s") as durations ("13m35s")."""
    return _SECONDS_IN_TEXT.sub(lambda m: dur(float(m.group(1))), text)
