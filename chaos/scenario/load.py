"""Load a scenario file: YAML with positions, the topology file, `--set` overrides, validation.

Every user mistake comes out as one ScenarioError (an InputError) naming file:line:column, the
dotted field path, the bad value and what is allowed; pydantic's ValidationError never escapes.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import yaml
from pydantic import ValidationError

from chaos.errors import InputError, ScenarioError, did_you_mean
from chaos.scenario.modelpath import alias_keys, allowed_keys, child_types, is_open, key_in
from chaos.scenario.schema import Scenario, find_position, parse_field_path
from chaos.scenario.translate import translate
from chaos.scenario.yamlpos import Position, PositionMap, dotted, load_yaml

_MAX_INCLUDE_DEPTH = 8


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, resolve and validate the scenario file at `path`; `overrides` are "key.path=value" texts."""
    p = Path(path)
    text = _read(p, what="scenario file")
    return load_scenario_text(text, str(path), p.parent, overrides)


def load_scenario_text(text: str, source_name: str = "<scenario>", base_dir: str | Path | None = None,
                       overrides: Sequence[str] = ()) -> Scenario:
    """Validate scenario YAML `text`; `source_name` names it in errors, relative paths (topology, catalog,
    traces, and a `--set topology=...` file) resolve in `base_dir` (default: the working directory)."""
    base = (Path(base_dir) if base_dir is not None else Path.cwd()).expanduser().absolute()
    data, positions = load_yaml(text, source_name)
    stack = (_identity(source_name, base),)
    for override in overrides:
        _apply_override(data, positions, override, base, stack)
    if isinstance(data.get("topology"), str):
        _splice_topology(data, positions, base, stack)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise translate(exc, data, positions, main_file=source_name) from None
    scenario._source_file = source_name
    scenario._base_dir = base
    scenario._positions = positions
    return scenario


def resolve_path(scenario: Scenario, p: str | Path) -> Path:
    """`p` relative to the scenario file's folder (absolute paths stay as they are)."""
    return scenario.resolve_path(p)


def scenario_hash(scenario: Scenario) -> str:
    """sha256 hex of the scenario's canonical resolved JSON."""
    return scenario.scenario_hash()


def locate_error(scenario: Scenario, err: InputError) -> InputError:
    """Fill file/line/column of `err` from its `field` (a scenario path like "deployment.model"); returns err.

    Location already on the error wins; an error without a field just gets the scenario file.
    """
    if err.file:
        return err
    found = scenario.locate(err.field) if err.field else None
    if found is not None:
        file, line, column = found
        return err.located(file=file, line=line, column=column)
    if err.field:
        pos = find_position(scenario.positions, parse_field_path(err.field))
        if pos is not None and pos.override:
            return err.located(file=f"--set {pos.override}")
    return err.located(file=scenario.source_file)


# -- files ---------------------------------------------------------------------------------------

def _read(p: Path, *, what: str, at: Position | None = None, field: str | None = None) -> str:
    where = _where(at)
    if not p.exists():
        raise ScenarioError(f"{what} {str(p)!r} not found", field=field, **where)
    if not p.is_file():
        raise ScenarioError(f"{what} {str(p)!r} is not a file", field=field, **where)
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{what} {str(p)!r} is not UTF-8 text ({exc.reason} at byte {exc.start})",
                            field=field, **where) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read {what} {str(p)!r}: {exc.strerror}", field=field, **where) from None


def _where(pos: Position | None) -> dict:
    if pos is None:
        return {}
    if pos.override:
        return {"file": f"--set {pos.override}"}
    line_col = pos.best()
    return {"file": pos.file, "line": line_col[0] if line_col else None,
            "column": line_col[1] if line_col else None}


def _display(p: Path) -> Path:
    """`p` relative to the working directory when it lies below it (shorter error messages)."""
    try:
        return p.relative_to(Path.cwd())
    except ValueError:
        return p


def _identity(source: str, base: Path) -> str:
    try:
        return str((base / source).resolve()) if not source.startswith("<") else source
    except (OSError, ValueError):
        return source


def _splice_topology(data: dict, positions: PositionMap, base: Path, stack: tuple[str, ...]) -> None:
    """Replace `topology: <path>` by the fabric file's mapping; its positions point into that file."""
    ref = data["topology"]
    at = positions.get(("topology",))
    if not ref.strip():
        raise ScenarioError("expected a path to a fabric YAML file or an inline mapping but got ''",
                            field="topology", **_where(at))
    p = Path(ref).expanduser()
    if not p.is_absolute():
        p = base / p
    ident = _identity(str(p), Path("."))
    if ident in stack:
        chain = " -> ".join(stack + (ident,))
        raise ScenarioError(f"include cycle: {chain}", field="topology", **_where(at))
    if len(stack) >= _MAX_INCLUDE_DEPTH:
        raise ScenarioError(f"includes nested deeper than {_MAX_INCLUDE_DEPTH} files", field="topology",
                            **_where(at))
    text = _read(_display(p), what="topology file", at=at, field="topology")
    fabric, fabric_positions = load_yaml(text, str(_display(p)), what="fabric file")
    _drop_subtree(positions, ("topology",))
    for sub, pos in fabric_positions.items():
        positions[("topology",) + sub] = pos
    root = fabric_positions[()]
    positions[("topology",)] = Position(root.file, None, root.value)  # errors of the whole fabric: its file
    data["topology"] = fabric


def _drop_subtree(positions: PositionMap, path: tuple) -> None:
    for k in [k for k in positions if k[:len(path)] == path]:
        del positions[k]


# -- overrides -----------------------------------------------------------------------------------

_OVERRIDE_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _parse_override(text: str) -> tuple[list[str | int], Any]:
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError("expected key.path=value, like engine.max_num_seqs=128", file=f"--set {text}")
    parts: list[str | int] = []
    pos = 0
    for m in _OVERRIDE_SEGMENT.finditer(key):
        gap = key[pos:m.start()]
        if gap not in ("", ".") or (gap == "" and pos and m.group(1)):
            raise ScenarioError(f"malformed key path {key!r}; expected key.path=value", file=f"--set {text}")
        parts.append(int(m.group(2)) if m.group(2) else m.group(1).strip())
        pos = m.end()
    if pos != len(key) or not parts:
        raise ScenarioError(f"malformed key path {key!r}; expected key.path=value", file=f"--set {text}")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"the value {raw!r} does not parse as YAML: {problem}",
                            field=key, file=f"--set {text}") from None
    return parts, value


def _apply_override(data: dict, positions: PositionMap, text: str, base: Path, stack: tuple[str, ...]) -> None:
    """Set one `key.path=value`, checking every key against the schema (did-you-mean on a typo)."""
    parts, value = _parse_override(text)
    if parts[0] == "topology" and len(parts) > 1 and isinstance(data.get("topology"), str):
        _splice_topology(data, positions, base, stack)
    where = Position(None, None, None, override=text.strip())
    types: list = [Scenario]
    node: Any = data
    path: tuple = ()
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if isinstance(part, str) and part.isdigit():
                part = int(part)
            if not isinstance(part, int) or part >= len(node):
                raise ScenarioError(f"{dotted(path)} is a list of {len(node)} items; {part!r} is not an "
                                    f"index in it", field=dotted(path), file=f"--set {text}")
        else:
            if isinstance(part, int):
                part = str(part)
            if not is_open(types) and not key_in(types, part):
                allowed = allowed_keys(types)
                inside = f" in {dotted(path)}" if path else ""
                listing = (f"; allowed keys: {', '.join(allowed)}" if allowed
                           else f"; {dotted(path)} takes a single value, not keys")
                raise ScenarioError(
                    f"unknown key {part!r}{inside}{did_you_mean(part, alias_keys(types))}{listing}",
                    field=dotted(path + (part,)), file=f"--set {text}")
        types = child_types(types, part)
        path = path + (part,)
        if last:
            node[part] = value
            _drop_subtree(positions, path)
            positions[path] = where
            return
        child = node[part] if (isinstance(node, list) or part in node) else None
        if child is None:
            child = {}
            node[part] = child
            positions[path] = where
        if not isinstance(child, (dict, list)):
            raise ScenarioError(f"{dotted(path)} is {child!r}, not a mapping, so it has no key "
                                f"{parts[i + 1]!r}", field=dotted(path), file=f"--set {text}")
        node = child
