"""Parse quantities with units into SI floats: seconds, bytes, bytes/s, events/s.

Accepted forms (case-sensitive where SI is: `Gb` is bits, `GB` bytes):
  durations   "250ms", "30s", "5m", "2h", "1.5d", "10us", bare numbers are seconds
  sizes       "80GB" (1e9), "80GiB" (2**30), "512KiB", "1TB", bare numbers are bytes
  bandwidths  "400Gbps"/"400Gb/s" (bits), "50GB/s"/"50GBps" (bytes), "900GB/s"; result in bytes/s
  rates       "20/s", "1200/m", "3/h", bare numbers are per second
Every parser also accepts an int/float (already SI) and raises UnitError with the bad value and the
accepted forms otherwise.
"""
from __future__ import annotations

import math
import re

from chaos.errors import UnitError

_NUM = r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
_RE = re.compile(rf"^\s*{_NUM}\s*([A-Za-z/µ]*)\s*$")

_DURATION = {"": 1.0, "s": 1.0, "sec": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9,
             "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DEC = {"": 1.0, "K": 1e3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_BIN = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}
_SIZE = {**{p + "B": v for p, v in _DEC.items()}, **{p + "B": v for p, v in _BIN.items()}, "": 1.0}
_BW = {}
for _p, _v in {**_DEC, **_BIN}.items():
    for _suffix in ("bps", "b/s", "bit/s"):
        _BW[_p + _suffix] = _v / 8.0
    for _suffix in ("Bps", "B/s"):
        _BW[_p + _suffix] = _v
_BW[""] = 1.0
_RATE = {"": 1.0, "/s": 1.0, "/sec": 1.0, "/m": 1 / 60.0, "/min": 1 / 60.0, "/h": 1 / 3600.0}


def _parse(value: object, table: dict[str, float], kind: str, examples: str, *, allow_negative: bool) -> float:
    if isinstance(value, bool):
        raise UnitError(f"expected a {kind} like {examples} but got {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        m = _RE.match(value)
        if not m or m.group(2) not in table:
            raise UnitError(f"expected a {kind} like {examples} but got {value!r}")
        number = float(m.group(1)) * table[m.group(2)]
    else:
        raise UnitError(f"expected a {kind} like {examples} but got {value!r}")
    if not math.isfinite(number):
        raise UnitError(f"expected a finite {kind} but got {value!r}")
    if number < 0 and not allow_negative:
        raise UnitError(f"expected a non-negative {kind} but got {value!r}")
    return number


_COMPOUND = re.compile(r"^\s*(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d*)?)s)?\s*$")


def parse_duration(value: object) -> float:
    """Seconds from "250ms", "30s", "5m", "2h", a number of seconds, or the compound forms reports
    print ("13m35s", "1h02m", "1m30.5s")."""
    if isinstance(value, str):
        m = _COMPOUND.match(value)
        if m and sum(g is not None for g in m.groups()) >= 2:
            h, mi, sec = m.groups()
            return int(h or 0) * 3600.0 + int(mi or 0) * 60.0 + float(sec or 0)
    return _parse(value, _DURATION, "duration", '"250ms", "30s", "5m", "2h"', allow_negative=False)


def duration_yaml(seconds: float) -> str:
    """Seconds as a duration YAML reads back exactly: 180 -> "3m", 30 -> "30s", 0.25 -> "250ms",
    95 -> "95s"."""
    s = float(seconds)
    if s == 0:
        return "0s"
    if s >= 3600 and s % 3600 == 0:
        return f"{s / 3600:g}h"
    if s >= 60 and s % 60 == 0:
        return f"{s / 60:g}m"
    if s < 1:
        return f"{s * 1e3:g}ms"
    return f"{s:g}s"


DURATION_KEYS = frozenset({
    "at", "duration", "interval", "timeout", "ejection_time", "max_ejection_time", "restart_time",
    "model_load_time", "rerole_time", "window", "scale_down_delay", "think_time", "repair", "every", "mtbf",
    "deadline", "base", "ttft", "tpot", "ramp", "delay", "nvlink_latency", "network_latency", "stall_after",
    "ramp_up", "ramp_down", "max_predicted_ttft", "overhead", "settle", "warmup", "cliff_within", "ttft_p99",
    "tpot_p99", "ttft_p50", "tpot_p50", "e2e_p99", "itl_p99", "connect_timeout", "stream_idle_timeout",
    "grace_period", "eviction_timeout", "monitor_period", "status_update_interval"})
"""Scenario field names that hold seconds wherever they appear (the report and schedule files use it)."""
DURATION_KEYS_IN = {"backoff": frozenset({"max"}), "repair": frozenset({"value", "mean", "median", "min", "max"}),
                    "mtbf": frozenset({"value", "mean", "median", "min", "max"})}
"""Field names that hold seconds only inside these sections."""


def parse_bytes(value: object) -> float:
    """Bytes from "80GB", "80GiB", "512KiB" or a number of bytes."""
    return _parse(value, _SIZE, "size", '"80GB", "80GiB", "512KiB"', allow_negative=False)


def parse_bandwidth(value: object) -> float:
    """Bytes per second from "400Gbps" (bits), "900GB/s" (bytes) or a number of bytes/s."""
    return _parse(value, _BW, "bandwidth", '"400Gbps", "50GB/s", "900GBps"', allow_negative=False)


def parse_rate(value: object) -> float:
    """Events per second from "20/s", "1200/m", "3/h" or a number per second."""
    return _parse(value, _RATE, "rate", '"20/s", "1200/m", "3/h"', allow_negative=False)


def format_duration(seconds: float) -> str:
    """Short human form: 0.0123 -> "12.3ms", 95 -> "1m35s"."""
    if seconds != seconds:  # NaN
        return "n/a"
    if abs(seconds) < 1e-3:
        return f"{seconds * 1e6:.0f}us"
    if abs(seconds) < 1:
        return f"{seconds * 1e3:.1f}ms"
    if abs(seconds) < 60:
        return f"{seconds:.2f}s"
    minutes, sec = divmod(round(seconds), 60)     # round first: 119.6 s is 2m00s, not 1m60s
    if minutes < 60:
        return f"{int(minutes)}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)}h{int(minutes):02d}m"
