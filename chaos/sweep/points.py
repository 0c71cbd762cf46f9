"""A sweep's points: the grid of its axes (products of plain axes and zip groups), filtered by the
constraints, optionally sampled; each point resolved per seed into a Scenario through the scenario
room's own loader (`--set`-style overrides), so a point is validated exactly as `fleetchaos run --set`
would validate it, and an invalid combination becomes a recorded error instead of stopping the sweep.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from chaos.errors import InputError, SweepError
from chaos.scenario import Scenario, load_scenario_data
from chaos.scenario.schema import parse_field_path
from chaos.scenario.yamlpos import PositionMap
from chaos.sweep import expr
from chaos.sweep.load import (at, check_axis_paths, constraint_names_error, load_base, read_sweep_file)
from chaos.sweep.schema import MAX_POINTS, RangeSpec, SweepFile


@dataclass(frozen=True)
class Point:
    """One configuration of the sweep: its index in the kept grid and the value of every axis."""

    index: int
    values: dict[str, Any]

    @property
    def label(self) -> str:
        """"deployment.tp=4, faults[0].target.value=2"."""
        from chaos.sweep.configs import short
        return ", ".join(f"{k}={short(v)}" for k, v in self.values.items() if v is not None)

    def overrides(self) -> list[str]:
        return [override(k, v) for k, v in self.values.items()]


@dataclass
class PointRun:
    """One point with one seed: its resolved Scenario and key, or the validation error it got."""

    point: Point
    seed: int
    scenario: Scenario | None
    key: str
    error: str | None = None


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


def override(path: str, value: Any) -> str:
    """`path=value` in the scenario loader's `--set` syntax (JSON is YAML, so any value round-trips)."""
    return f"{path}={json.dumps(value)}"


def _set_in(data: Any, path: str, value: Any) -> None:
    """Set `path` in plain nested data, creating mappings on the way (mirrors a `--set` override)."""
    parts = parse_field_path(path)
    node = data
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[part] if isinstance(part, int) and part < len(node) else {}
            continue
        if not isinstance(node.get(part), (dict, list)):
            node[part] = {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        if isinstance(last, int) and last < len(node):
            node[last] = value
    elif isinstance(node, dict):
        node[last] = value


def _int(v: Any, default: int) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else default


def total_gpus(data: dict) -> int | None:
    """GPUs the deployment of raw scenario `data` holds: every pool's replicas x tp plus the spares,
    each a copy of the largest TP group (chaos.topology.placement); None when it cannot tell."""
    dep = data.get("deployment") if isinstance(data, dict) else None
    if not isinstance(dep, dict):
        return None
    if dep.get("mode", "aggregated") == "disaggregated":
        pools = [dep.get("prefill"), dep.get("decode")]
        if not all(isinstance(p, dict) for p in pools):
            return None
        shapes = [(_int(p.get("replicas"), 1), _int(p.get("tp"), 1)) for p in pools]
    else:
        shapes = [(_int(dep.get("replicas"), 1), _int(dep.get("tp"), 1))]
    return sum(r * t for r, t in shapes) + _int(dep.get("spares"), 0) * max(t for _, t in shapes)


class Sweep:
    """A loaded sweep file: the spec, the base scenario's data, and the kept points."""

    def __init__(self, spec: SweepFile, positions: PositionMap, source: str) -> None:
        self.spec = spec
        self.positions = positions
        self.source = source
        check_axis_paths(spec, positions, source)
        self.base_data, self.base_positions, self.base_source, self.base_dir = load_base(spec, positions, source)
        if not isinstance(self.base_data, dict):  # pragma: no cover - load_yaml guarantees a mapping
            raise SweepError("the base scenario must be a mapping", field="base")
        for k, v in spec.set.items():
            _set_in(self.base_data, k, v)
        self.axes = self._axes()
        self.grid_size = 1
        for _, values in self.axes:
            self.grid_size *= len(values)
        if self.grid_size > MAX_POINTS:
            raise SweepError(f"the grid has {self.grid_size} points, more than {MAX_POINTS}; use fewer values, "
                             f"zip groups, or sample:", field="axes", **at(positions, ("axes",), source))
        self._check_analysis_axes()
        self.constraints = [expr.parse(c) for c in spec.constraints]
        self._check_constraint_names()
        self.points, self.filtered_out = self._points()
        self.seeds = self._seeds()

    @classmethod
    def load(cls, path: str | Path) -> "Sweep":
        """Read and check the sweep file at `path`; SweepError (exit 2) for any mistake in it."""
        return cls(*read_sweep_file(path))

    @property
    def name(self) -> str:
        return self.spec.name

    def _axes(self) -> list[tuple[tuple[str, ...], list[tuple]]]:
        """[(field paths, [value tuple per step])]: a plain axis is one path, a zip group several."""
        out: list[tuple[tuple[str, ...], list[tuple]]] = []
        for path, values in self.spec.axes.items():
            vals = values.values() if isinstance(values, RangeSpec) else list(values)
            out.append(((path,), [(v,) for v in vals]))
        for group in self.spec.zip:
            paths = tuple(group)
            out.append((paths, list(zip(*(group[p] for p in paths)))))
        return out

    def _check_analysis_axes(self) -> None:
        """Curves and conditions must name swept fields."""
        names = self.spec.axis_names()
        refs = [(("analysis", "curves", i, "axis"), c.axis) for i, c in enumerate(self.spec.analysis.curves or [])]
        refs += [(("analysis", "conditions", i), a) for i, a in enumerate(self.spec.analysis.conditions or [])]
        for where, axis in refs:
            if axis not in names:
                raise SweepError(f"{axis!r} is not an axis of this sweep; the axes are {', '.join(names) or 'none'}",
                                 field=".".join(str(p) for p in where), **at(self.positions, where, self.source))

    def _merged(self, values: dict[str, Any]) -> dict:
        data = copy.deepcopy(self.base_data)
        for k, v in values.items():
            _set_in(data, k, v)
        return data

    def _check_constraint_names(self) -> None:
        if not self.constraints:
            return
        first = {p: vals[0][i] for paths, vals in self.axes for i, p in enumerate(paths)}
        data = self._merged(first)

        def known(name: str) -> bool:
            if name == "total_gpus" or name in first:
                return True
            try:
                expr.lookup_in(data, name)
                return True
            except KeyError:
                return False

        bad = constraint_names_error(self.spec, known)
        if bad is not None:
            i, message = bad
            raise SweepError(message, field=f"constraints[{i}]",
                             **at(self.positions, ("constraints", i), self.source))

    def _keep(self, values: dict[str, Any]) -> bool:
        if not self.constraints:
            return True
        data = self._merged(values)
        derived = {**values, "total_gpus": total_gpus(data)}
        for i, c in enumerate(self.constraints):
            try:
                ok = c.evaluate(lambda name: expr.lookup_in(data, name, derived))
            except expr.ExprError as exc:
                where = ", ".join(f"{k}={_text(v)}" for k, v in values.items())
                raise SweepError(f"{c.text!r} fails on the point {where}: {exc.message}", field=f"constraints[{i}]",
                                 **at(self.positions, ("constraints", i), self.source)) from None
            if not ok:
                return False
        return True

    def _points(self) -> tuple[list[Point], int]:
        kept: list[dict[str, Any]] = []
        total = 0
        for combo in itertools.product(*(vals for _, vals in self.axes)):
            total += 1
            values = {p: v for (paths, _), tup in zip(self.axes, combo) for p, v in zip(paths, tup)}
            if self._keep(values):
                kept.append(values)
        if self.spec.sample is not None and self.spec.sample < len(kept):
            chosen = sorted(random.Random(self.spec.sample_seed).sample(range(len(kept)), self.spec.sample))
            kept = [kept[i] for i in chosen]
        return [Point(i, v) for i, v in enumerate(kept)], total - len(kept)

    def _seeds(self) -> list[int]:
        if isinstance(self.spec.seeds, list):
            return list(self.spec.seeds)
        base = _int(self.base_data.get("seed"), 0)
        return [base + i for i in range(self.spec.seeds)]

    def resolve(self, point: Point, seed: int) -> PointRun:
        """The Scenario of `point` with `seed`, validated by the scenario loader; an invalid combination
        comes back with the error text `fleetchaos run --set ...` would print (and no scenario)."""
        data = copy.deepcopy(self.base_data)
        positions = dict(self.base_positions)
        try:
            sc = load_scenario_data(data, positions, self.base_source, self.base_dir,
                                    [*point.overrides(), f"seed={seed}"])
        except InputError as err:
            text = json.dumps({"point": point.values, "seed": seed}, sort_keys=True)
            return PointRun(point, seed, None, "invalid-" + hashlib.sha256(text.encode()).hexdigest()[:16],
                            str(err))
        return PointRun(point, seed, sc, sc.scenario_hash()[:16])

    def runs(self) -> Iterator[PointRun]:
        """Every point with every seed, in (point, seed) order."""
        for point in self.points:
            for seed in self.seeds:
                yield self.resolve(point, seed)

    @property
    def faulted(self) -> bool:
        """The base scenario (after `set:`) has faults, so every point is paired with its fault-free twin."""
        return bool(self.base_data.get("faults"))
