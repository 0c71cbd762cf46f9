"""Load a scenario file: YAML with positions, the topology file, fault-list includes, `--set`
overrides, validation.

Fault-list includes: an item `{include: path/to/file.yaml}` of `faults:` is replaced by the faults
of that file, whose top level is either a list of faults or a mapping `{faults: [...]}` (plus an
optional `description:`). Paths are relative to the including file; included files may include
others; a cycle, a missing file or a malformed item is an error at the include line. The included
faults keep the positions of their own file, so a mistake inside one points at that file's line.

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
    data, positions = load_yaml(text, source_name)
    return load_scenario_data(data, positions, source_name, base_dir, overrides)


def load_scenario_data(data: dict, positions: PositionMap, source_name: str = "<scenario>",
                       base_dir: str | Path | None = None, overrides: Sequence[str] = ()) -> Scenario:
    """Validate scenario `data` already read from YAML with its `positions` (a scenario written inline
    in another file, such as a sweep file's `base:`); `data` is changed in place (includes, overrides)."""
    base = (Path(base_dir) if base_dir is not None else Path.cwd()).expanduser().absolute()
    stack = (_identity(source_name, base),)
    notes: dict[int, str] = {}
    if not any(_sets_whole_faults(o) for o in overrides):  # `--set faults=[]` drops them unread
        _expand_fault_includes(data, positions, base, stack, notes)
    for override in overrides:
        _apply_override(data, positions, override, base, stack)
    if overrides:  # an include written in a `--set faults=[...]` resolves against the scenario's folder
        _expand_fault_includes(data, positions, base, stack, notes)
    if isinstance(data.get("topology"), str):
        _splice_topology(data, positions, base, stack)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise translate(exc, data, positions, main_file=source_name, notes=_note_for(notes)) from None
    scenario._source_file = source_name
    scenario._base_dir = base
    scenario._positions = positions
    scenario._fault_notes = notes
    return scenario


def _name_overrides(scenario: Scenario, err: InputError) -> None:
    """A mistake that shows only with `--set` overrides (`--set duration=5m` and a fault at 10m) names
    them: the line it points at was fine without them."""
    sets = list(dict.fromkeys(p.override for p in scenario.positions.values()
                              if p.override and not p.override.startswith("seed=")))
    if not sets or (err.file or "").startswith("--set") or "--set " in err.message:
        return
    err.message += f" (with {', '.join('--set ' + s for s in sets)})"


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
    note = _note_for(scenario._fault_notes)(parse_field_path(err.field)) if err.field else ""
    if note and note not in err.message:
        err.message += note
    _name_overrides(scenario, err)
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
    """The resolved path of file `source` (as given, or as a name in `base`), for cycle checks."""
    if source.startswith("<"):
        return source
    try:
        p = Path(source).expanduser()
        cand = p if p.is_absolute() else Path.cwd() / p
        if cand.parent.resolve() != base.resolve():
            cand = base / p.name
        return str(cand.resolve())
    except (OSError, ValueError):
        return source


def _file_identity(p: Path) -> str:
    try:
        return str(p.resolve())
    except (OSError, ValueError):
        return str(p)


def _chain(stack: tuple[str, ...]) -> str:
    """'a.yaml -> b.yaml -> a.yaml', each file relative to the working directory where it can be."""
    return " -> ".join(s if s.startswith("<") else str(_display(Path(s))) for s in stack)


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
    ident = _file_identity(p)
    if ident in stack:
        raise ScenarioError(f"include cycle: {_chain(stack + (ident,))}", field="topology", **_where(at))
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


# -- fault-list includes ---------------------------------------------------------------------------

_FAULT_FILE_KEYS = ("description", "faults")


def _sets_whole_faults(override: str) -> bool:
    return override.partition("=")[0].strip() == "faults"


def _note_for(notes: dict[int, str]):
    """path -> " (faults[3] comes from spike.faults.yaml, included at scn.yaml:12)" or ""."""
    def note(path: tuple) -> str:
        if len(path) >= 2 and path[0] == "faults" and isinstance(path[1], int) and path[1] in notes:
            return f" (faults[{path[1]}] {notes[path[1]]})"
        return ""
    return note


def _is_include(item: Any) -> bool:
    return isinstance(item, dict) and "include" in item


def _expand_fault_includes(data: dict, positions: PositionMap, base: Path, stack: tuple[str, ...],
                           notes: dict[int, str]) -> None:
    """Replace every `{include: file}` item of `faults:` by that file's faults (recursively), in place.

    Positions of the flattened list are re-keyed: `faults[i]...` points into the file the fault was
    written in. `notes` gets, per flattened index of an included fault, where it was included from.
    """
    faults = data.get("faults")
    if not isinstance(faults, list) or not any(_is_include(item) for item in faults):
        return
    items: list = []
    item_positions: list[PositionMap] = []
    old_notes = dict(notes)
    notes.clear()
    _flatten(faults, positions, ("faults",), base, stack, items, item_positions, notes, None, old_notes)
    for k in [k for k in positions if len(k) >= 2 and k[0] == "faults"]:
        del positions[k]
    for i, sub_positions in enumerate(item_positions):
        for sub, pos in sub_positions.items():
            positions[("faults", i) + sub] = pos
    data["faults"] = items


def _flatten(faults: list, positions: PositionMap, prefix: tuple, base: Path, stack: tuple[str, ...],
             items: list, item_positions: list[PositionMap], notes: dict[int, str], via: str | None,
             old_notes: dict[int, str]) -> None:
    """Append the faults of `faults` (positions under `prefix`) to `items`, following includes."""
    for i, item in enumerate(faults):
        path = prefix + (i,)
        own = {k[len(path):]: v for k, v in positions.items() if k[:len(path)] == path}
        if not _is_include(item):
            if via is not None:
                notes[len(items)] = via
            elif prefix == ("faults",) and i in old_notes:
                notes[len(items)] = old_notes[i]  # included by an earlier pass
            items.append(item)
            item_positions.append(own)
            continue
        field = f"faults[{len(items)}]"
        at = own.get(("include",)) or own.get(()) or positions.get(prefix)
        extra = [k for k in item if k != "include"]
        if extra:
            bad = own.get((extra[0],)) or at
            raise ScenarioError(f"an include item takes only the key include: (the path of a fault list "
                                f"file), but it also has {extra[0]!r}; set that on the faults in the file, "
                                f"or override it with --set {field}.{extra[0]}=...",
                                field=field, **_where(_as_key(bad)))
        ref = item["include"]
        if not isinstance(ref, str) or not ref.strip():
            raise ScenarioError(f"include: expected the path of a fault list YAML file, relative to this "
                                f"file, but got {ref!r}", field=f"{field}.include", **_where(at))
        p = Path(ref).expanduser()
        if not p.is_absolute():
            p = base / p
        ident = _file_identity(p)
        if ident in stack:
            raise ScenarioError(f"include cycle: {_chain(stack + (ident,))}", field=f"{field}.include",
                                **_where(at))
        if len(stack) >= _MAX_INCLUDE_DEPTH:
            raise ScenarioError(f"includes nested deeper than {_MAX_INCLUDE_DEPTH} files: {_chain(stack + (ident,))}",
                                field=f"{field}.include", **_where(at))
        shown = _display(p)
        text = _read(shown, what="included fault list", at=at, field=f"{field}.include")
        inc, inc_positions = load_yaml(text, str(shown), what="fault list", allow_list=True)
        inc_prefix: tuple = ()
        if isinstance(inc, dict):
            for key in inc:
                if key not in _FAULT_FILE_KEYS:
                    where = inc_positions.get((key,))
                    raise ScenarioError(
                        f"unknown key {key!r} in a fault list file{did_you_mean(key, _FAULT_FILE_KEYS)}; "
                        f"allowed keys: {', '.join(_FAULT_FILE_KEYS)} (or make the whole file a list of faults)",
                        field=str(key), **_where(_as_key(where)))
            if "faults" not in inc:
                raise ScenarioError("a fault list file is a list of faults or a mapping with a faults: list, "
                                    "but faults: is missing", **_where(inc_positions.get(())))
            inc_prefix = ("faults",)
            inc = inc["faults"]
            if inc is None:
                inc = []
        if not isinstance(inc, list):
            raise ScenarioError(f"expected a list of faults but got {inc!r}"[:200], field="faults",
                                **_where(inc_positions.get(inc_prefix)))
        line = at.best() if at is not None and at.file else None
        here = f"{at.file}:{line[0]}" if line else (f"--set {at.override}" if at and at.override else
                                                     str(_display(Path(stack[-1]))))
        _flatten(inc, inc_positions, inc_prefix, p.parent, stack + (ident,), items, item_positions, notes,
                 f"comes from {shown}, included at {here}", old_notes)


def _as_key(pos: Position | None) -> Position | None:
    """A position that reports its key's line and column (an unknown key points at the key)."""
    if pos is None or pos.key is None:
        return pos
    return Position(pos.file, pos.key, pos.key, pos.override)


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
