"""Turn a pydantic ValidationError into one ScenarioError with file:line:col, field path, value, allowed.

Each pydantic error is mapped back onto the YAML data (skipping union tags pydantic adds to `loc`),
located through the position map, and phrased as "expected ... but got ...". The first by position
is the error; the others are listed under it as "(and N more)".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import ValidationError

from chaos.errors import InputError, ScenarioError, did_you_mean, expected_one_of
from chaos.scenario.modelpath import (alias_keys, aliases, allowed_keys, child_types, field_info, is_model,
                                      key_in, literal_values, types_at)
from chaos.scenario.schema import Scenario, find_position, parse_field_path
from chaos.scenario.yamlpos import Position, PositionMap, dotted

_PREFIX = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*): (.+)$", re.S)
_MAX_REPR = 80


@dataclass(slots=True)
class _Issue:
    path: tuple
    message: str
    file: str | None
    line: int | None
    column: int | None

    def render(self) -> str:
        return str(ScenarioError(self.message, field=dotted(self.path) or None, file=self.file,
                                 line=self.line, column=self.column))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[:_MAX_REPR - 3] + "..."


def _data_path(loc: tuple, data: Any, root: type = Scenario) -> tuple:
    """The path in the YAML data that pydantic's `loc` points at (union tags dropped, aliases kept)."""
    path: tuple = ()
    cur: Any = data
    types: list = [root]
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cur, dict):
            key = part if part in cur else _present_alias(types, part, cur)
            if key is None and part == cur.get("type"):
                continue  # the tag of a discriminated union member (faults[i] -> gpu_crash)
            if key is None and not (last or key_in(types, part)):
                continue  # a union member's tag, not a key of the data
            key = part if key is None else key
            path += (key,)
            types = child_types(types, key)
            cur = cur.get(key)
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            path += (part,)
            types = child_types(types, part)
            cur = cur[part]
        elif cur is None and (last or key_in(types, part)):
            path += (part,)  # inside a missing section
            types = child_types(types, part)
        else:
            continue  # a scalar's union/function tag
    return path


def _present_alias(types: list, part: Any, cur: dict) -> Any:
    """The key actually written in `cur` for the field named `part` (by name or alias), if any."""
    for tp in types:
        if is_model(tp):
            info = field_info(tp, part)
            if info is not None:
                for name in [n for n, i in tp.model_fields.items() if i is info] + aliases(info):
                    if name in cur:
                        return name
    return None


_MISSING = object()


def _value_at(data: Any, path: tuple) -> Any:
    cur = data
    for part in path:
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return cur


def _is_section(data: Any, path: tuple) -> bool:
    return isinstance(_value_at(data, path), (dict, list))


def _is_written(data: Any, path: tuple) -> bool:
    return _value_at(data, path) is not _MISSING


def _position(positions: PositionMap, path: tuple) -> Position | None:
    return find_position(positions, path) or positions.get(())


def _data_at(data: Any, path: tuple) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _tagged(types: list, value: Any) -> list:
    """Of a discriminated union's members, the one whose `type` tag the data names (all if none does)."""
    if not isinstance(value, dict) or "type" not in value:
        return types
    chosen = [tp for tp in types if is_model(tp) and "type" in tp.model_fields
              and value["type"] in (getattr(tp.model_fields["type"].annotation, "__args__", ()) or ())]
    return chosen or types


def _message(err: dict, path: tuple, data: Any, root: type = Scenario) -> tuple[str, tuple]:
    """(message, path) for one pydantic error; the path may grow when a validator names a sub-field."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    got = f" but got {_short(value)}"
    if kind == "missing":
        return f"missing required key {path[-1]!r}" if path else "missing required key", path
    if kind == "extra_forbidden":
        key = path[-1] if path else value
        parent = _tagged(types_at(root, path[:-1]), _data_at(data, path[:-1]))
        allowed = allowed_keys(parent)
        hint = did_you_mean(key, alias_keys(parent))
        listing = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {_short(key)}{hint}{listing}", path
    if kind in ("literal_error", "enum"):
        allowed = literal_values(types_at(root, path))
        if allowed:
            return expected_one_of(value, allowed), path
        return f"expected {ctx.get('expected', 'an allowed value')}{got}", path
    if kind in ("value_error", "assertion_error"):
        exc = ctx.get("error")
        named = False                   # the validator named the field itself: no leaf search under it
        if isinstance(exc, InputError):
            text = exc.message
            if exc.field:
                path = path + parse_field_path(exc.field)
                named = True
        else:
            text = str(exc) if exc is not None else err["msg"]
        section_path = path
        m = _PREFIX.match(text)
        if m:  # "scale_out.spines: ..." names a sub-field, relative to the section or to its parent
            sub = parse_field_path(m.group(1))
            if _prefix_is_path(path, m.group(1), root) or _is_written(data, path + sub):
                path, text = path + sub, m.group(2)
            elif path and sub[0] == path[-1] and _is_written(data, path[:-1] + sub):
                path, text = path[:-1] + sub, m.group(2)
        if isinstance(value, dict):
            if path == section_path and not named:
                path = path + _leaf_named(value, text)
        elif not isinstance(value, list) and _short(value) not in text:
            text += f" (got {_short(value)})"
        return text, path
    simple = {
        "int_type": "expected an integer", "int_parsing": "expected an integer",
        "int_from_float": "expected a whole number", "float_type": "expected a number",
        "float_parsing": "expected a number", "finite_number": "expected a finite number",
        "bool_type": "expected true or false", "bool_parsing": "expected true or false",
        "string_type": "expected a string", "model_type": "expected a mapping of keys to values",
        "model_attributes_type": "expected a mapping of keys to values",
        "dict_type": "expected a mapping of keys to values", "list_type": "expected a list",
        "tuple_type": "expected a list", "set_type": "expected a list",
        "none_required": "expected nothing (null)",
    }
    if kind in simple:
        return simple[kind] + got, path
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        bound = next(iter(ctx.values()), "?")
        noun = "an integer" if int in types_at(root, path) else "a value"
        return f"expected {noun} {bounds[kind]} {bound}{got}", path
    if kind == "string_too_short":
        return f"expected a non-empty string{got}" if ctx.get("min_length") == 1 else \
            f"expected at least {ctx.get('min_length')} characters{got}", path
    if kind == "string_pattern_mismatch":
        return f"expected text matching {ctx.get('pattern')}{got}", path
    if kind in ("too_short", "too_long"):
        return f"{err['msg'][0].lower()}{err['msg'][1:]}{got}", path
    return f"{err['msg']}{got}", path


def _leaf_named(section: dict, text: str) -> tuple:
    """The sub-path of the one scalar in `section` a section-level message quotes ("... got 'fast'"), or ()."""
    found: list[tuple] = []

    def walk(node: Any, sub: tuple) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, sub + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, sub + (i,))
        elif node is not None and not isinstance(node, bool) and sub:
            if re.search(rf"got {re.escape(repr(node))}(?![\w.])", text):
                found.append(sub)

    walk(section, ())
    return found[0] if len(found) == 1 else ()


def _prefix_is_path(path: tuple, prefix: str, root: type = Scenario) -> bool:
    """True when 'scale_out.spines' in a validator message names a field under `path` in the schema."""
    types: list = types_at(root, path)
    for part in parse_field_path(prefix):
        types = child_types(types, part)
        if not types:
            return False
    return True


def _drop_missing_explained_by_typo(issues: list[_Issue]) -> list[_Issue]:
    """Leave out "missing required key 'arrival'" when the same mapping has an unknown key that is a
    near miss of it ('arival'): the typo is the one mistake, and its message suggests the fix."""
    unknown = [(i.path[:-1], i.path[-1]) for i in issues if i.path and i.message.startswith("unknown key ")]
    if not unknown:
        return issues

    def explained(issue: _Issue) -> bool:
        if not (issue.path and issue.message.startswith("missing required key ")):
            return False
        parent, key = issue.path[:-1], issue.path[-1]
        return any(p == parent and isinstance(k, str) and isinstance(key, str)
                   and did_you_mean(k, [key]) for p, k in unknown)

    kept = [i for i in issues if not explained(i)]
    return kept or issues


def translate(exc: ValidationError, data: Any, positions: PositionMap, *, main_file: str,
              notes: Callable[[tuple], str] | None = None, model: type = Scenario) -> ScenarioError:
    """One ScenarioError for all of `exc`'s errors: the first by position, then "(and N more)".

    `notes(path)` may add a remark to an issue's message (where an included fault came from); `model`
    is the pydantic model that was validated (the Scenario, or another file's schema such as a sweep's).
    """
    issues: list[_Issue] = []
    seen: set[tuple[tuple, str]] = set()
    for err in exc.errors(include_url=False):
        path = _data_path(tuple(err["loc"]), data, model)
        message, path = _message(err, path, data, model)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        if notes is not None:
            message += notes(path)
        if err["type"] == "missing":
            pos = _position(positions, path[:-1]) if path else positions.get(())
            line_col = pos.best(prefer_key=True) if pos else None
        else:
            pos = _position(positions, path)
            exact = positions.get(path) is pos
            # unknown keys, sub-fields not written, and whole sections point at the key line
            prefer_key = err["type"] == "extra_forbidden" or not exact or _is_section(data, path)
            line_col = pos.best(prefer_key=prefer_key) if pos else None
        file = (f"--set {pos.override}" if pos and pos.override else pos.file if pos else main_file)
        issues.append(_Issue(path, message, file, line_col[0] if line_col else None,
                             line_col[1] if line_col else None))
    issues = _drop_missing_explained_by_typo(issues)
    issues.sort(key=lambda i: (i.file != main_file, str(i.file), i.line or 0, i.column or 0))
    first, rest = issues[0], issues[1:]
    message = first.message
    if rest:
        message += f" (and {len(rest)} more)" + "".join(f"\n  {i.render()}" for i in rest)
    return ScenarioError(message, field=dotted(first.path) or None, file=first.file,
                         line=first.line, column=first.column)
