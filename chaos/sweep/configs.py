"""Rows (one per point and seed) folded into configurations (one per point): the mean, spread and worst
seed of every outcome column, the verdicts and errors of its seeds — what fronts, curves and the
recommendation judge.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from chaos.sweep.metrics import METRICS


@dataclass
class Config:
    """One point of the sweep over its seeds. `mean`/`std`/`worst` map a metric to a number, or None when
    some seed has no value for it (nothing completed: no latency)."""

    index: int
    values: dict[str, Any]
    gpus: int | None
    seeds: list[int]
    ok_seeds: list[int]
    errors: list[str]
    verdicts: dict[int, str]
    deviations: dict[int, list[str]]
    mean: dict[str, float | None] = field(default_factory=dict)
    std: dict[str, float | None] = field(default_factory=dict)
    worst: dict[str, float | None] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """Every seed ran (an invalid combination is invalid for all of them, barring random targets)."""
        return bool(self.ok_seeds) and not self.errors

    @property
    def label(self) -> str:
        """"deployment.tp=4, faults[0].target.value=2" (fields a zip group leaves unset are left out)."""
        return ", ".join(f"{k}={short(v)}" for k, v in self.values.items() if v is not None) or "base scenario"

    def differs(self, axes: Sequence[str]) -> str:
        """The values of `axes` only ("tp=4, replicas=8"), short field names, for figure labels."""
        return ", ".join(f"{k.split('.')[-1]}={short(self.values[k])}" for k in axes
                         if self.values.get(k) is not None)


def short(v: Any) -> str:
    """An axis value for people: numbers as written, mappings and lists in YAML flow style."""
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):
        text = "{" + ", ".join(f"{k}: {short(x)}" for k, x in v.items()) + "}"
    elif isinstance(v, list):
        text = "[" + ", ".join(short(x) for x in v) + "]"
    else:
        return str(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _fold(values: list[Any], better: str) -> tuple[float | None, float | None, float | None]:
    if not values or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
        return None, None, None
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / n)
    worst = max(values) if better == "lower" else min(values)
    return mean, std, worst


def configs_of(rows: Sequence[dict]) -> list[Config]:
    """One Config per point, in point order."""
    by_point: dict[int, list[dict]] = {}
    for r in rows:
        by_point.setdefault(r["point"], []).append(r)
    out = []
    for index in sorted(by_point):
        rs = by_point[index]
        ok = [r for r in rs if r["status"] == "ok"]
        c = Config(index=index, values=dict(rs[0]["values"]), gpus=next((r["gpus"] for r in ok), None),
                   seeds=[r["seed"] for r in rs], ok_seeds=[r["seed"] for r in ok],
                   errors=list(dict.fromkeys(r["error"] for r in rs if r["status"] != "ok" and r.get("error"))),
                   verdicts={r["seed"]: r.get("verdict") or "none" for r in ok},
                   deviations={r["seed"]: list(r.get("deviations") or []) for r in ok})
        for name, m in METRICS.items():
            if ok and all(name in r for r in ok):
                c.mean[name], c.std[name], c.worst[name] = _fold([r[name] for r in ok], m.better)
        out.append(c)
    return out
