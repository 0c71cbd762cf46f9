"""Walk the Scenario schema by field path: which keys a section allows, and what a field may hold.

Used to check `--set` override paths before applying them and to list allowed keys and values in
error messages. Works on pydantic models, Optional/Union, Annotated, list/tuple and dict types.
"""
from __future__ import annotations

import enum
import types as _types
from inspect import isclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel
from pydantic.fields import FieldInfo

_SEQUENCES = (list, tuple, set, frozenset)


def unwrap(tp: Any) -> list:
    """The concrete alternatives of an annotation: Annotated and Optional/Union removed."""
    origin = get_origin(tp)
    if origin is Annotated:
        return unwrap(get_args(tp)[0])
    if origin is Union or origin is _types.UnionType:
        out: list = []
        for arg in get_args(tp):
            if arg is not type(None):
                out.extend(unwrap(arg))
        return out
    return [tp]


def is_model(tp: Any) -> bool:
    """True for a pydantic model class."""
    return isclass(tp) and issubclass(tp, BaseModel)


def field_names(model: type[BaseModel], *, with_aliases: bool = True) -> list[str]:
    """The keys `model` accepts: field names and (optionally) their validation aliases."""
    out: list[str] = []
    for name, info in model.model_fields.items():
        out.append(name)
        if with_aliases:
            out.extend(a for a in aliases(info) if a != name)
    return out


def aliases(info: FieldInfo) -> list[str]:
    """The string aliases a field may be written as."""
    out = [info.alias] if isinstance(info.alias, str) else []
    va = info.validation_alias
    if isinstance(va, str):
        out.append(va)
    elif isinstance(va, AliasChoices):
        out.extend(c for c in va.choices if isinstance(c, str))
    return out


def field_info(model: type[BaseModel], key: Any) -> FieldInfo | None:
    """The field of `model` that `key` names (by field name or validation alias)."""
    for name, info in model.model_fields.items():
        if key == name or key in aliases(info):
            return info
    return None


def child_types(types: list, part: Any) -> list:
    """Alternatives for the value at `part` inside a value of one of `types`."""
    out: list = []
    for tp in types:
        if is_model(tp):
            info = field_info(tp, part)
            if info is not None:
                out.extend(unwrap(info.annotation))
            continue
        origin = get_origin(tp)
        if origin in _SEQUENCES and isinstance(part, int):
            args = [a for a in get_args(tp) if a is not Ellipsis]
            if origin is tuple and args and len(args) > part and Ellipsis not in get_args(tp):
                out.extend(unwrap(args[part]))
            elif args:
                out.extend(unwrap(args[0]))
        elif origin is dict:
            args = get_args(tp)
            out.extend(unwrap(args[1]) if len(args) == 2 else [Any])
    return out


def _renames_keys(tp: Any) -> bool:
    """A model with a mode="before" model validator may accept keys that are not its field names."""
    decorators = getattr(tp, "__pydantic_decorators__", None)
    if decorators is None:
        return False
    return any(d.info.mode in ("before", "wrap") for d in decorators.model_validators.values())


def is_open(types: list) -> bool:
    """True when any key may be acceptable here (unknown type, Any, a dict, a model that renames keys)."""
    return not types or any(tp is Any or tp is dict or get_origin(tp) is dict
                            or (is_model(tp) and _renames_keys(tp)) for tp in types)


def key_in(types: list, key: Any) -> bool:
    return any(is_model(tp) and field_info(tp, key) is not None for tp in types)


def allowed_keys(types: list) -> list[str]:
    """Sorted field names of every model among `types` (aliases left out)."""
    names: set[str] = set()
    for tp in types:
        if is_model(tp):
            names.update(field_names(tp, with_aliases=False))
    return sorted(names)


def alias_keys(types: list) -> list[str]:
    """Field names and aliases of every model among `types`, for did-you-mean."""
    names: set[str] = set()
    for tp in types:
        if is_model(tp):
            names.update(field_names(tp))
    return sorted(names)


def literal_values(types: list) -> list[str] | None:
    """The allowed values when the field is a Literal or an Enum, else None."""
    values: list = []
    for tp in types:
        if get_origin(tp) is Literal:
            values.extend(get_args(tp))
        elif isclass(tp) and issubclass(tp, enum.Enum):
            values.extend(m.value for m in tp)
    return [str(v) for v in values] if values else None


def types_at(root: type[BaseModel], path: tuple) -> list:
    """Alternatives for the value at `path` from the `root` model ([] when the schema does not say)."""
    types: list = [root]
    for part in path:
        types = child_types(types, part)
        if not types:
            return []
    return types
