"""The result store of a sweep folder: one JSON file per finished point-and-seed under `points/`, keyed by
the hash of its resolved scenario (seed included), written the moment it finishes — so an interrupted
sweep resumes where it stopped and a finished one re-renders without simulating. Wall times and hosts
go to `timings/` and `timings.csv`, never next to the simulated outcomes.

`results.csv` / `results.json` hold one row per point and seed: the axes, the GPU count and every
outcome column (chaos.sweep.metrics), formatted deterministically (floats by `repr`), so the same sweep
gives the same bytes on any executor and on every rerun.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

from chaos.sweep.metrics import RESILIENCE_METRICS, RUN_METRICS
from chaos.sweep.outcome import OUTCOME_VERSION


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class ResultStore:
    """`out_dir/points/<key>.json` (outcomes) and `out_dir/timings/<key>.json` (wall time, host)."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out = Path(out_dir)
        self.points = self.out / "points"
        self.timings = self.out / "timings"

    def open(self) -> "ResultStore":
        self.points.mkdir(parents=True, exist_ok=True)
        self.timings.mkdir(parents=True, exist_ok=True)
        return self

    def get(self, key: str) -> dict | None:
        """The stored outcome of `key`, or None (missing, unreadable or from another outcome version)."""
        p = self.points / f"{key}.json"
        try:
            outcome = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return outcome if outcome.get("version") == OUTCOME_VERSION and outcome.get("key") == key else None

    def put(self, outcome: dict, timing: dict) -> None:
        key = outcome["key"]
        _write_atomic(self.points / f"{key}.json", json.dumps(outcome, sort_keys=True, indent=1) + "\n")
        _write_atomic(self.timings / f"{key}.json", json.dumps(timing, sort_keys=True) + "\n")

    def timing(self, key: str) -> dict | None:
        try:
            return json.loads((self.timings / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


def outcome_columns(with_baseline: bool) -> list[str]:
    """The outcome columns of results.csv after the axes and `gpus`."""
    cols = list(RUN_METRICS)
    if with_baseline:
        cols += [f"baseline_{k}" for k in RUN_METRICS] + list(RESILIENCE_METRICS)
    return cols + ["verdict"]


def flat_row(point_index: int, seed: int, key: str, values: dict[str, Any], outcome: dict | None,
             error: str | None) -> dict[str, Any]:
    """One results row: point, seed, key, status, the axis values, gpus and the outcome columns."""
    row: dict[str, Any] = {"point": point_index, "seed": seed, "key": key}
    if outcome is None:
        row.update(status="invalid", error=error, gpus=None)
    else:
        row.update(status=outcome["status"], error=outcome.get("error"), gpus=outcome.get("gpus"))
    row["values"] = dict(values)
    if outcome is not None and outcome["status"] == "ok":
        row.update(outcome["metrics"])
        if outcome.get("baseline") is not None:
            row.update({f"baseline_{k}": v for k, v in outcome["baseline"].items()})
        if outcome.get("resilience") is not None:
            row.update(outcome["resilience"])
        row["verdict"] = outcome.get("verdict")
        row["deviations"] = list(outcome.get("deviations") or [])
    return row


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (int, str)):
        return str(v)
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def results_csv(rows: Sequence[dict], axes: Sequence[str], with_baseline: bool) -> str:
    """results.csv text: point, seed, key, status, every axis, gpus, the outcome columns, error."""
    header = ["point", "seed", "key", "status", *axes, "gpus", *outcome_columns(with_baseline), "error"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([_cell(r["values"].get(h)) if h in axes else _cell(r.get(h)) for h in header])
    return buf.getvalue()


def results_json(name: str, rows: Sequence[dict], axes: Sequence[str], seeds: Sequence[int]) -> str:
    """results.json text: the sweep's name, axes, seeds and every row (sorted keys, stable floats)."""
    return json.dumps({"sweep": name, "axes": list(axes), "seeds": list(seeds), "rows": list(rows)},
                      sort_keys=True, indent=1) + "\n"


def timings_csv(entries: Iterable[tuple[int, int, str, dict | None]]) -> str:
    """timings.csv text: point, seed, key, wall_s, host, pid (empty for points not simulated)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["point", "seed", "key", "wall_s", "host", "pid"])
    for point, seed, key, t in entries:
        t = t or {}
        w.writerow([point, seed, key, f"{t['wall_s']:.3f}" if "wall_s" in t else "", t.get("host", ""),
                    t.get("pid", "")])
    return buf.getvalue()
