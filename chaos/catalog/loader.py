"""Load the GPU and model catalog: bundled YAML first, then user YAML files that add or override entries.

A catalog file is a YAML mapping with `gpus:` and/or `models:`, each a mapping name -> fields (see
data/gpus.yaml and data/models.yaml for the fields). Names are case-insensitive and stored lower-case.
A file is checked as a whole, like a scenario: every problem of every entry (unknown fields with a
did-you-mean, missing fields, bad values) comes out in one CatalogError, the first one with its
file:line and field, then "(and N more)" with the others; a missing field explained by a misspelt
one is left out. In a catalog folder, a YAML file whose top level has none of the catalog sections
(a scenario, a topology) is not a catalog and is skipped.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import yaml

from chaos.catalog.backends import parse_backend
from chaos.catalog.specs import BackendSpec, GPUSpec, ModelSpec
from chaos.errors import CatalogError, UnitError, did_you_mean, expected_one_of
from chaos.units import parse_bandwidth, parse_bytes


@dataclass(frozen=True)
class Catalog:
    """GPU, model and backend-profile specs by lower-case name; lookups are case-insensitive."""

    gpus: Mapping[str, GPUSpec] = field(default_factory=dict)
    models: Mapping[str, ModelSpec] = field(default_factory=dict)
    backends: Mapping[str, BackendSpec] = field(default_factory=dict)

    def gpu(self, name: str, *, field: str | None = None) -> GPUSpec:
        """The GPU called `name`; CatalogError listing the known GPUs (with did-you-mean) otherwise."""
        return _lookup(self.gpus, name, "GPU", field)

    def model(self, name: str, *, field: str | None = None) -> ModelSpec:
        """The model called `name`; CatalogError listing the known models (with did-you-mean) otherwise."""
        return _lookup(self.models, name, "model", field)

    def backend(self, name: str, *, field: str | None = None) -> BackendSpec:
        """The backend profile called `name`; CatalogError listing the known ones otherwise."""
        return _lookup(self.backends, name, "backend", field)


def _lookup(table: Mapping[str, Any], name: str, kind: str, field: str | None) -> Any:
    key = name.strip().lower() if isinstance(name, str) else name
    try:
        return table[key]
    except (KeyError, TypeError):
        pass
    message = expected_one_of(name, table)
    prefixed = [k for k in table if isinstance(key, str) and key and k.startswith(key)]
    if len(prefixed) == 1:   # "h200" -> h200-sxm beats difflib's b200
        message = f"{message.split(' (did you mean')[0]} (did you mean {prefixed[0]}?)"
    raise CatalogError(f"unknown {kind}: {message}", field=field)


def load_catalog(extra_dirs: Sequence[str | Path] = ()) -> Catalog:
    """The bundled catalog plus every `*.yaml` in `extra_dirs` (read in order, files sorted by name).

    A later entry with the same name replaces an earlier one, so users can override bundled specs.
    An item of `extra_dirs` may also be a single YAML file.
    """
    if isinstance(extra_dirs, (str, Path)):   # one directory passed bare, not in a list
        extra_dirs = [extra_dirs]
    bundled_gpus, bundled_models, bundled_backends = _bundled()
    # (the folder loop below skips files that are not catalogs: see is_catalog_file)
    gpus, models, backends = dict(bundled_gpus), dict(bundled_models), dict(bundled_backends)
    for d in extra_dirs:
        path = Path(d)
        if path.is_dir():
            files = [f for f in sorted(path.glob("*.yaml")) if is_catalog_file(f)]
        elif path.is_file():
            files = [path]
        else:
            raise CatalogError(f"catalog directory {str(path)!r} does not exist", file=str(path))
        for f in files:
            g, m, b = _load_file(f.read_text(encoding="utf-8"), str(f))
            gpus.update(g)
            models.update(m)
            backends.update(b)
    return Catalog(MappingProxyType(gpus), MappingProxyType(models), MappingProxyType(backends))


SECTIONS = ("gpus", "models", "backends")
"""Top-level keys of a catalog file (a catalog section of another kind registers here too)."""


def is_catalog_file(path: Path) -> bool:
    """True unless `path` is YAML whose top level is a mapping with none of SECTIONS (a scenario or a
    topology in the same folder); unreadable or malformed files count as catalogs, so their error shows."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return True
    return not (isinstance(doc, dict) and doc and not any(k in doc for k in SECTIONS))


@functools.lru_cache(maxsize=1)
def _bundled() -> tuple[dict[str, GPUSpec], dict[str, ModelSpec], dict[str, BackendSpec]]:
    gpus: dict[str, GPUSpec] = {}
    models: dict[str, ModelSpec] = {}
    backends: dict[str, BackendSpec] = {}
    data = resources.files("chaos.catalog") / "data"
    for name in ("gpus.yaml", "models.yaml", "backends.yaml"):
        g, m, b = _load_file((data / name).read_text(encoding="utf-8"), f"chaos/catalog/data/{name}")
        gpus.update(g)
        models.update(m)
        backends.update(b)
    return gpus, models, backends


# ---------------------------------------------------------------------------------------- parsing

def _load_file(text: str, file: str) -> tuple[dict[str, GPUSpec], dict[str, ModelSpec], dict[str, BackendSpec]]:
    """Parse one catalog file's text; `file` is only used in messages."""
    try:
        doc = yaml.safe_load(text)
        lines = _Lines(yaml.compose(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise CatalogError(f"malformed YAML: {problem}", file=file,
                           line=mark.line + 1 if mark else None,
                           column=mark.column + 1 if mark else None) from None
    if doc is None:
        return {}, {}, {}
    if not isinstance(doc, dict):
        raise CatalogError(f"expected a mapping with gpus:, models: and/or backends: but got "
                           f"{type(doc).__name__}", file=file, line=1)
    errors: list[CatalogError] = []
    for key in doc:
        if key not in SECTIONS:
            errors.append(CatalogError(f"unknown top-level key: {expected_one_of(key, SECTIONS)}",
                                       file=file, line=lines.of(key)))
    gpus = {k: v for k, v in _entries(doc, "gpus", file, lines, _gpu, errors)}
    models = {k: v for k, v in _entries(doc, "models", file, lines, _model, errors)}
    backends = {k: v for k, v in _entries(doc, "backends", file, lines, parse_backend, errors)}
    if errors:
        raise combined(errors)
    return gpus, models, backends


def combined(errors: list[CatalogError]) -> CatalogError:
    """One CatalogError for all of `errors` in file order: the first, then "(and N more)" and the
    others one per line; a missing field explained by a misspelt unknown one is dropped."""
    unknown = [(e.field.rpartition(".")[0], e.field.rpartition(".")[2]) for e in errors
               if e.field and e.message.startswith("unknown field")]

    def explained(e: CatalogError) -> bool:
        if not (e.field and e.message.startswith("missing required field")):
            return False
        parent, key = e.field.rpartition(".")[0], e.field.rpartition(".")[2]
        return any(p == parent and did_you_mean(k, [key]) for p, k in unknown)

    kept = [e for e in errors if not explained(e)] or errors
    kept.sort(key=lambda e: (str(e.file), e.line or 0))
    first, rest = kept[0], kept[1:]
    if not rest:
        return first
    message = first.message + f" (and {len(rest)} more)" + "".join(f"\n  {e}" for e in rest)
    return CatalogError(message, field=first.field, file=first.file, line=first.line, column=first.column)


def _entries(doc: dict, section: str, file: str, lines: "_Lines", build: Callable,
             errors: list[CatalogError]) -> list[tuple[str, Any]]:
    """The section's entries that are valid; every problem found is appended to `errors`."""
    table = doc.get(section)
    if table is None:
        return []
    if not isinstance(table, dict):
        errors.append(CatalogError(f"expected a mapping of name -> fields but got {type(table).__name__}",
                                   field=section, file=file, line=lines.of(section)))
        return []
    out = []
    for name, body in table.items():
        where = f"{section}.{name}"
        if not isinstance(name, str) or not name.strip():
            errors.append(CatalogError(f"expected a name but got {name!r}", field=where, file=file,
                                       line=lines.of(section, name)))
            continue
        if not isinstance(body, dict):
            errors.append(CatalogError(f"expected a mapping of fields but got {body!r}", field=where, file=file,
                                       line=lines.of(section, name)))
            continue
        reader = _Fields(body, where, file, lines, (section, name))
        key = name.strip().lower()
        try:
            spec = build(key, reader)
        except CatalogError as err:      # a check across fields, after every field was read
            reader.errors.append(err)
        reader.done()
        if reader.errors:
            errors.extend(reader.errors)
            continue
        out.append((key, spec))
    return out


class _Lines:
    """Line numbers (1-based) of mapping keys in a composed YAML tree, by key path."""

    def __init__(self, node: yaml.Node | None) -> None:
        self.node = node

    def of(self, *path: Any) -> int | None:
        node, line = self.node, None
        for key in path:
            if not isinstance(node, yaml.MappingNode):
                return line
            for k, v in node.value:
                if k.value == str(key):
                    node, line = v, k.start_mark.line + 1
                    break
            else:
                return line
        return line


_REQUIRED: Any = object()   # sentinel default: the field must be present


class _Bad(Exception):
    """A field's problem, already recorded in _Fields.errors; the read returns a placeholder."""


class _Fields:
    """Typed reads of one entry's fields. A bad or missing field is recorded in `errors` and read as
    a placeholder, so every field of the entry is checked; `done()` adds the unknown keys, with a
    did-you-mean among the fields the entry reads."""

    def __init__(self, body: dict, where: str, file: str, lines: _Lines, path: tuple) -> None:
        self.body, self.where, self.file, self.lines, self.path = body, where, file, lines, path
        self.used: set[str] = set()
        self.errors: list[CatalogError] = []

    def _record(self, err: CatalogError, placeholder: Any) -> Any:
        self.errors.append(err)
        return placeholder

    def error(self, key: str, message: str) -> CatalogError:
        return CatalogError(message, field=f"{self.where}.{key}", file=self.file,
                            line=self.lines.of(*self.path, key) or self.lines.of(*self.path))

    def _raw(self, key: str, default: Any) -> Any:
        self.used.add(key)
        if key not in self.body or self.body[key] is None:
            if default is _REQUIRED:
                self.errors.append(CatalogError(f"missing required field {key!r}", field=f"{self.where}.{key}",
                                                file=self.file, line=self.lines.of(*self.path)))
                raise _Bad(key)
            return default
        return self.body[key]

    def quantity(self, key: str, parse: Callable[[Any], float], default: Any = _REQUIRED,
                 *, positive: bool = True) -> float:
        try:
            raw = self._raw(key, default)
        except _Bad:
            return 1.0
        try:
            value = parse(raw)
        except UnitError as exc:
            return self._record(self.error(key, exc.message), 1.0)
        if positive and not value > 0:
            return self._record(self.error(key, f"expected a positive value but got {raw!r}"), 1.0)
        return value

    def number(self, key: str, default: Any = _REQUIRED) -> float:
        return self.quantity(key, _plain_number, default)

    def integer(self, key: str, default: Any = _REQUIRED, *, minimum: int = 1) -> int:
        try:
            raw = self._raw(key, default)
        except _Bad:
            return max(minimum, 1)
        if isinstance(raw, bool) or not isinstance(raw, int):
            return self._record(self.error(key, f"expected an integer but got {raw!r}"), max(minimum, 1))
        if raw < minimum:
            return self._record(self.error(key, f"expected an integer >= {minimum} but got {raw!r}"),
                                max(minimum, 1))
        return raw

    def text(self, key: str, default: Any = _REQUIRED, *, choices: Sequence[str] = ()) -> str:
        try:
            raw = self._raw(key, default)
        except _Bad:
            return choices[0] if choices else ""
        if not isinstance(raw, str):
            return self._record(self.error(key, f"expected a string but got {raw!r}"), choices[0] if choices else "")
        if choices and raw not in choices:
            return self._record(self.error(key, expected_one_of(raw, choices)), choices[0])
        return raw

    def boolean(self, key: str, default: Any = _REQUIRED) -> bool:
        try:
            raw = self._raw(key, default)
        except _Bad:
            return False
        if not isinstance(raw, bool):
            return self._record(self.error(key, f"expected true or false but got {raw!r}"), False)
        return raw

    def mapping(self, key: str) -> dict:
        """A required nested mapping; its absence or wrong type stops the entry's build (raised)."""
        try:
            raw = self._raw(key, _REQUIRED)
        except _Bad:
            raise self.errors.pop() from None
        if not isinstance(raw, dict):
            raise self.error(key, f"expected a mapping but got {raw!r}")
        return raw

    def strings(self, key: str) -> list[str]:
        raw = self._raw(key, [])
        if not isinstance(raw, list) or any(not isinstance(v, str) for v in raw):
            return self._record(self.error(key, f"expected a list of strings but got {raw!r}"), [])
        return raw

    def nested_error(self, path: tuple, message: str) -> CatalogError:
        """An error at a key below this entry (path of keys), with the deepest line found."""
        return CatalogError(message, field=".".join([self.where, *map(str, path)]), file=self.file,
                            line=self.lines.of(*self.path, *path) or self.lines.of(*self.path))

    def done(self) -> None:
        """Record every key the entry has that no read asked for (a misspelt or unknown field)."""
        for key in self.body:
            if key not in self.used:
                self.errors.append(CatalogError(
                    f"unknown field: {expected_one_of(key, self.used)}", field=f"{self.where}.{key}",
                    file=self.file, line=self.lines.of(*self.path, key)))


def _plain_number(value: Any) -> float:
    """A finite number; strings like "989.4e12" are accepted because YAML 1.1 reads them as text."""
    if isinstance(value, bool):
        raise UnitError(f"expected a number but got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UnitError(f"expected a number like 989.4e12 but got {value!r}") from None
    if not math.isfinite(number):
        raise UnitError(f"expected a finite number but got {value!r}")
    return number


def _gpu(name: str, f: _Fields) -> GPUSpec:
    return GPUSpec(
        name=name,
        bf16_flops=f.number("bf16_flops"),
        fp8_flops=f.number("fp8_flops"),
        hbm_bytes=f.quantity("hbm", parse_bytes),
        hbm_Bps=f.quantity("hbm_bandwidth", parse_bandwidth),
        nvlink_Bps=f.quantity("nvlink_bandwidth", parse_bandwidth),
        nic_Bps=f.quantity("nic_bandwidth", parse_bandwidth),
        source=f.text("source"),
        aiconfigurator=f.text("aiconfigurator", ""),
    )


def _model(name: str, f: _Fields) -> ModelSpec:
    n_params = f.number("n_params")
    dtype_bytes = f.integer("weight_dtype_bytes", 2)
    attention = f.text("attention", "gqa", choices=("gqa", "mla"))
    mla: dict[str, Any] = {"minimum": 1} if attention == "mla" else {"default": 0, "minimum": 0}
    spec = ModelSpec(
        name=name,
        n_layers=f.integer("n_layers"),
        hidden_size=f.integer("hidden_size"),
        n_heads=f.integer("n_heads"),
        n_kv_heads=f.integer("n_kv_heads"),
        head_dim=f.integer("head_dim"),
        ffn_size=f.integer("ffn_size"),
        vocab_size=f.integer("vocab_size"),
        n_params=n_params,
        n_active_params=f.number("n_active_params"),
        weight_bytes=f.quantity("weight_bytes", parse_bytes, n_params * dtype_bytes),
        weight_dtype_bytes=dtype_bytes,
        n_experts=f.integer("n_experts", 0, minimum=0),
        n_active_experts=f.integer("n_active_experts", 0, minimum=0),
        n_shared_experts=f.integer("n_shared_experts", 0, minimum=0),
        moe_ffn_size=f.integer("moe_ffn_size", 0, minimum=0),
        n_dense_layers=f.integer("n_dense_layers", 0, minimum=0),
        attention=attention,
        kv_lora_rank=f.integer("kv_lora_rank", **mla),
        qk_rope_head_dim=f.integer("qk_rope_head_dim", **mla),
        tie_word_embeddings=f.boolean("tie_word_embeddings", False),
        source=f.text("source"),
        aiconfigurator=f.text("aiconfigurator", ""),
    )
    if spec.n_active_params > spec.n_params:
        raise f.error("n_active_params", f"expected at most n_params ({spec.n_params:g}) "
                                         f"but got {spec.n_active_params:g}")
    if spec.n_dense_layers > spec.n_layers:
        raise f.error("n_dense_layers", f"expected at most n_layers ({spec.n_layers}) "
                                        f"but got {spec.n_dense_layers}")
    if spec.n_kv_heads > spec.n_heads:
        raise f.error("n_kv_heads", f"expected at most n_heads ({spec.n_heads}) but got {spec.n_kv_heads}")
    if spec.n_experts:
        if not 1 <= spec.n_active_experts <= spec.n_experts:
            raise f.error("n_active_experts", f"expected 1..n_experts ({spec.n_experts}) for a MoE model "
                                              f"but got {spec.n_active_experts}")
        if spec.moe_ffn_size < 1:
            raise f.error("moe_ffn_size", "expected a positive expert FFN size for a MoE model (n_experts > 0)")
        if spec.routed_expert_bytes > spec.weight_bytes:
            raise f.error("weight_bytes", f"the routed experts alone take {spec.routed_expert_bytes / 1e9:.1f} GB "
                                          f"but weight_bytes is {spec.weight_bytes / 1e9:.1f} GB")
    elif spec.n_active_experts or spec.n_shared_experts:
        raise f.error("n_experts", "expected n_experts > 0 when n_active_experts or n_shared_experts is set")
    return spec
