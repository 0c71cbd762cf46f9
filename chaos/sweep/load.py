"""Load a sweep file: YAML with positions (the scenario room's loader), the schema, the base scenario, axis
paths checked against the Scenario schema, constraints parsed — every mistake one SweepError with
file:line:column (exit 2), like a bad scenario.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chaos.errors import InputError, SweepError, did_you_mean
from chaos.scenario.modelpath import alias_keys, allowed_keys, child_types, is_open, key_in
from chaos.scenario.schema import Scenario, parse_field_path
from chaos.scenario.translate import translate
from chaos.scenario.yamlpos import Position, PositionMap, dotted, load_yaml
from chaos.sweep import expr
from chaos.sweep.schema import SweepFile


def _sweep_error(err: InputError) -> SweepError:
    return SweepError(err.message, field=err.field, file=err.file, line=err.line, column=err.column)


def at(positions: PositionMap, path: tuple, source: str, *, key: bool = False) -> dict:
    """file/line/column keywords for the sweep file position of `path` (or its nearest ancestor)."""
    for n in range(len(path), -1, -1):
        pos = positions.get(path[:n])
        if pos is not None:
            lc = pos.best(prefer_key=key or n < len(path))
            return {"file": pos.file or source, "line": lc[0] if lc else None, "column": lc[1] if lc else None}
    return {"file": source}


def read_sweep_file(path: str | Path) -> tuple[SweepFile, PositionMap, str]:
    """(validated SweepFile, positions in the file, source name); SweepError on any mistake."""
    p = Path(path)
    source = str(path)
    if not p.is_file():
        raise SweepError(f"sweep file {source!r} not found" if not p.exists() else f"{source!r} is not a file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"cannot read sweep file {source!r}: {exc}") from None
    return parse_sweep_text(text, source)


def parse_sweep_text(text: str, source: str = "<sweep>") -> tuple[SweepFile, PositionMap, str]:
    """Validate sweep YAML `text` (named `source` in errors)."""
    try:
        data, positions = load_yaml(text, source, what="sweep file")
    except InputError as err:
        raise _sweep_error(err) from None
    try:
        spec = SweepFile.model_validate(data)
    except ValidationError as exc:
        raise _sweep_error(translate(exc, data, positions, main_file=source, model=SweepFile)) from None
    for i, c in enumerate(spec.constraints):
        try:
            expr.parse(c)
        except expr.ExprError as exc:
            loc = at(positions, ("constraints", i), source)
            if exc.column and loc.get("column"):
                quoted = text.splitlines()[loc["line"] - 1][loc["column"] - 1:loc["column"]] in "'\""
                loc["column"] += exc.column - 1 + int(quoted)
            raise SweepError(f"{c!r}: {exc.message}", field=f"constraints[{i}]", **loc) from None
    return spec, positions, source


def field_path_error(path: str) -> str | None:
    """Why `path` ("faults[0].target.value") names no field of the Scenario schema, or None when it does."""
    parts = parse_field_path(path)
    if not parts or dotted(parts) != path.replace(".[", "["):
        return f"malformed field path {path!r}; expected a path like deployment.tp or faults[0].target.value"
    types: list = [Scenario]
    walked: tuple = ()
    for part in parts:
        if isinstance(part, int):
            nxt = child_types(types, part)
            if not nxt and not is_open(types):
                return f"{dotted(walked)} is not a list, so [{part}] indexes nothing"
        elif not is_open(types) and not key_in(types, part):
            allowed = allowed_keys(types)
            inside = f" in {dotted(walked)}" if walked else ""
            listing = (f"; allowed keys: {', '.join(allowed)}" if allowed
                       else f"; {dotted(walked)} takes a single value, not keys")
            return f"unknown key {part!r}{inside}{did_you_mean(part, alias_keys(types))}{listing}"
        else:
            nxt = child_types(types, part)
        types = nxt
        walked += (part,)
    return None


def check_axis_paths(spec: SweepFile, positions: PositionMap, source: str) -> None:
    """Every axis, zip field and `set:` key must name a Scenario field; a typo is a located SweepError."""
    named = [(("set", k), k) for k in spec.set] + [(("axes", k), k) for k in spec.axes]
    named += [(("zip", i, k), k) for i, g in enumerate(spec.zip) for k in g]
    seen: dict[str, tuple] = {}
    for where, path in named:
        problem = field_path_error(path)
        if problem is not None:
            raise SweepError(problem, field=dotted(where), **at(positions, where, source, key=True))
        if where[0] != "set":
            if path in seen:
                raise SweepError(f"{path} is swept twice (also at {dotted(seen[path])}); sweep a field once",
                                 field=dotted(where), **at(positions, where, source, key=True))
            seen[path] = where


def load_base(spec: SweepFile, positions: PositionMap, source: str) -> tuple[dict, PositionMap, str, Path]:
    """(scenario data, its positions, its source name, the folder its relative paths resolve in)."""
    sweep_dir = Path(source).parent if not source.startswith("<") else Path.cwd()
    if isinstance(spec.base, dict):
        sub = {k[1:]: v for k, v in positions.items() if k[:1] == ("base",)}
        root = positions.get(("base",))
        if root is not None:
            sub[()] = Position(root.file, None, root.value)
        return copy.deepcopy(spec.base), sub, source, sweep_dir
    ref = Path(spec.base).expanduser()
    p = ref if ref.is_absolute() else sweep_dir / ref
    if not p.is_file():
        raise SweepError(f"base scenario {spec.base!r} not found (looked for {p})", field="base",
                         **at(positions, ("base",), source))
    shown = _display(p)
    try:
        data, base_positions = load_yaml(p.read_text(encoding="utf-8"), shown)
    except InputError as err:
        raise _sweep_error(err) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"cannot read base scenario {shown!r}: {exc}", field="base",
                         **at(positions, ("base",), source)) from None
    return data, base_positions, shown, p.parent


def _display(p: Path) -> str:
    """`p` without `..` steps, relative to the working directory when it lies below it (errors stay short)."""
    norm = Path(os.path.normpath(p.absolute()))
    try:
        return str(norm.relative_to(Path.cwd()))
    except ValueError:
        return str(norm)


def constraint_names_error(spec: SweepFile, known: Any) -> tuple[int, str] | None:
    """(index, message) of the first constraint reading a name that neither the sweep nor the base sets."""
    for i, c in enumerate(spec.constraints):
        for name in expr.parse(c).names:
            if not known(name):
                return i, (f"{c!r}: unknown name {name!r}: use a swept field path "
                           f"({', '.join(spec.axis_names()) or 'none'}), a field the base scenario sets, "
                           f"or total_gpus")
    return None
