"""Load YAML (safe loader only) into plain data plus the file position of every key and value.

The position map lets a schema error deep in the data be reported as `file:line:col`. Paths are
tuples of mapping keys and sequence indices, `()` being the document root. Lines and columns are
1-based. Duplicate keys, recursive aliases and non-mapping documents are errors, never silently kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable

import yaml

from chaos.errors import ScenarioError

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAX_NODES = 200_000  # alias expansion guard ("billion laughs")


@dataclass(frozen=True, slots=True)
class Position:
    """Where one field lives: `file`, its key's (line, col) if it has a key, its value's (line, col).

    `override` is the `--set` text when the value came from the command line instead of a file.
    """
    file: str | None
    key: tuple[int, int] | None
    value: tuple[int, int] | None
    override: str | None = None

    def best(self, *, prefer_key: bool = False) -> tuple[int, int] | None:
        """The value's (line, col), or the key's when asked for (falls back to the other one)."""
        if prefer_key:
            return self.key or self.value
        return self.value or self.key


PositionMap = dict[tuple, Position]


class _Loader(yaml.SafeLoader):
    """The safe loader; only used to compose nodes and construct plain scalars."""


def _mark(mark: yaml.Mark | None) -> tuple[int, int] | None:
    return (mark.line + 1, mark.column + 1) if mark is not None else None


def _syntax_error(exc: yaml.YAMLError, source: str) -> ScenarioError:
    """A ScenarioError at the parser's problem position with its problem text (no traceback)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem and exc.context not in problem:
            problem = f"{problem} ({exc.context})"
        if (exc.context_mark is not None and mark is not exc.context_mark
                and exc.context_mark.line != mark.line):
            problem += f"; it started on line {exc.context_mark.line + 1}"
        if "'\\t'" in problem or "\t" in problem:
            problem += "; YAML does not allow tabs for indentation, use spaces"
        pos = _mark(mark)
        kind = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
        return ScenarioError(f"{kind}: {problem}", file=source,
                             line=pos[0] if pos else None, column=pos[1] if pos else None)
    if isinstance(exc, yaml.reader.ReaderError):
        return ScenarioError(f"YAML syntax error: unacceptable character #x{exc.character:04x} "
                             f"({exc.reason})", file=source)
    return ScenarioError(f"YAML syntax error: {exc}", file=source)


class _Builder:
    """Walks a composed node tree into plain Python data, recording positions as it goes."""

    def __init__(self, loader: _Loader, source: str) -> None:
        self.loader = loader
        self.source = source
        self.positions: PositionMap = {}
        self.active: set[int] = set()
        self.count = 0
        self.own_keys: dict[int, set[int]] = {}

    def error(self, message: str, node: yaml.Node, field: str | None = None) -> ScenarioError:
        pos = _mark(node.start_mark)
        return ScenarioError(message, file=self.source, field=field, line=pos[0], column=pos[1])

    def build(self, node: yaml.Node, path: tuple, key_pos: tuple[int, int] | None) -> Any:
        self.count += 1
        if self.count > _MAX_NODES:
            raise self.error(f"document expands to more than {_MAX_NODES} nodes (alias bomb?)", node)
        self.positions[path] = Position(self.source, key_pos, _mark(node.start_mark))
        if isinstance(node, yaml.ScalarNode):
            value = self.loader.construct_object(node, deep=True)
            if isinstance(value, (bytes, bytearray)):
                raise self.error("binary values are not supported", node, _dotted(path))
            return value
        if id(node) in self.active:
            raise self.error("recursive alias: a value contains itself", node, _dotted(path))
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _SEQ_TAG:
                    raise self.error(f"unsupported YAML tag {node.tag!r}", node, _dotted(path))
                return [self.build(item, path + (i,), None) for i, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                if node.tag != _MAP_TAG:
                    raise self.error(f"unsupported YAML tag {node.tag!r}", node, _dotted(path))
                return self.build_mapping(node, path)
        finally:
            self.active.discard(id(node))
        raise self.error(f"unsupported YAML node {type(node).__name__}", node)  # pragma: no cover

    def build_mapping(self, node: yaml.MappingNode, path: tuple) -> dict:
        own = self.own_keys.setdefault(  # flatten_mapping edits the node: remember its own keys once
            id(node), {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"})
        self.loader.flatten_mapping(node)  # resolve `<<: *anchor` merge keys like SafeLoader does
        out: dict = {}
        key_lines: dict[Hashable, int] = {}
        for key_node, value_node in node.value:
            merged = id(key_node) not in own
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error("a mapping key must be a plain scalar, not a list or mapping",
                                 key_node, _dotted(path) or None)
            key = self.loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:  # pragma: no cover - scalars are hashable
                raise self.error(f"unhashable mapping key {key!r}", key_node) from None
            key_pos = _mark(key_node.start_mark)
            if merged or key not in key_lines or key_lines[key] < 0:
                pass  # merged keys may be overridden by the mapping's own keys
            else:
                where = _dotted(path + (key,))
                raise ScenarioError(
                    f"duplicate key {key!r}: first on line {key_lines[key]}, again on line {key_pos[0]}",
                    file=self.source, field=where, line=key_pos[0], column=key_pos[1])
            key_lines[key] = -1 if merged else key_pos[0]
            out[key] = self.build(value_node, path + (key,), key_pos)
        return out


def _dotted(path: tuple) -> str:
    """('a', 'b', 0, 'c') -> 'a.b[0].c'."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


dotted = _dotted


def load_yaml(text: str, source: str, *, what: str = "scenario",
              allow_list: bool = False) -> tuple[Any, PositionMap]:
    """Parse one YAML document whose top level must be a mapping (or a list, with `allow_list`);
    returns (data, positions).

    Every failure is a ScenarioError naming `source` and, where known, the line and column.
    """
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise _syntax_error(exc, source) from None
        if node is None:
            expected = "a list or a mapping" if allow_list else "a mapping of keys to values"
            raise ScenarioError(f"the {what} file is empty; expected {expected}",
                                file=source, line=1, column=1)
        if not (isinstance(node, yaml.MappingNode) or (allow_list and isinstance(node, yaml.SequenceNode))):
            kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
            pos = _mark(node.start_mark)
            allowed = "a list or a mapping" if allow_list else "a mapping of keys to values"
            raise ScenarioError(f"the top level of a {what} must be {allowed}, "
                                f"but this document is {kind}", file=source, line=pos[0], column=pos[1])
        builder = _Builder(loader, source)
        try:
            data = builder.build(node, (), None)
        except yaml.YAMLError as exc:
            raise _syntax_error(exc, source) from None
        except RecursionError:
            raise ScenarioError("the document is nested too deeply", file=source) from None
        return data, builder.positions
    finally:
        loader.dispose()
