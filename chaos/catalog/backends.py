"""Parse the catalog's `backends:` entries (engine profiles) into BackendSpec; see data/backends.yaml.

Kept apart from loader.py so the GPU/model parsing stays small; it uses the loader's field reader, so
errors name the file, line, entry and field like every other catalog error.
"""
from __future__ import annotations

from typing import Any

from chaos.catalog.specs import BackendSpec, SchedulerSpec
from chaos.errors import CatalogError, UnitError, expected_one_of
from chaos.units import parse_duration

# efficiency group -> {YAML key: (Efficiency field, kind)}; kind "fraction" in (0, 1], "duration", "tokens"
EFFICIENCY_KEYS: dict[str, dict[str, tuple[str, str]]] = {
    "gemm": {"mfu": ("mfu", "fraction"), "half_tokens": ("gemm_half_tokens", "tokens")},
    "attention": {"prefill": ("attention_prefill_efficiency", "fraction"),
                  "decode": ("attention_decode_efficiency", "fraction")},
    "hbm": {"efficiency": ("memory_efficiency", "fraction"), "grouped_gemm": ("grouped_gemm_efficiency", "fraction")},
    "allreduce": {"efficiency": ("allreduce_efficiency", "fraction"), "latency": ("allreduce_latency_s", "duration")},
    "overhead": {"decode": ("overhead_s", "duration"), "prefill": ("overhead_prefill_s", "duration"),
                 "per_sequence": ("overhead_per_seq_s", "duration")},
    "moe": {"layer": ("moe_layer_s", "duration")},
}
PREFIX_CACHES = ("hashed_blocks", "radix_lru", "none")
PREEMPTIONS = ("recompute", "swap", "none")
MIXINGS = ("decode_first", "prefill_first")
KV_ADMISSIONS = ("chunk", "prompt")


def parse_backend(name: str, f: Any) -> BackendSpec:
    """One `backends.<name>` entry; `f` is the loader's field reader for it."""
    eff_body = f.mapping("efficiency")
    factors: list[tuple[str, float]] = []
    for group, keys in EFFICIENCY_KEYS.items():
        body = eff_body.get(group)
        if body is None:
            raise f.nested_error(("efficiency", group), f"missing required group {group!r} "
                                 f"(keys: {', '.join(keys)})")
        if not isinstance(body, dict):
            raise f.nested_error(("efficiency", group), f"expected a mapping like {{{', '.join(keys)}}} "
                                 f"but got {body!r}")
        for key in body:
            if key not in keys:
                raise f.nested_error(("efficiency", group, key), f"unknown key: {expected_one_of(key, keys)}")
        for key, (field, kind) in keys.items():
            if key not in body:
                raise f.nested_error(("efficiency", group), f"missing required key {key!r}")
            factors.append((field, _factor(f, ("efficiency", group, key), body[key], kind)))
    for group in eff_body:
        if group not in EFFICIENCY_KEYS and group != "sources":
            raise f.nested_error(("efficiency", group),
                                 f"unknown group: {expected_one_of(group, [*EFFICIENCY_KEYS, 'sources'])}")
    sources = eff_body.get("sources") or {}
    if not isinstance(sources, dict) or any(not isinstance(v, str) for v in sources.values()):
        raise f.nested_error(("efficiency", "sources"), "expected a mapping of group -> source text")
    missing = [g for g in EFFICIENCY_KEYS if g not in sources]
    if missing:
        raise f.nested_error(("efficiency", "sources"), f"every factor needs its source; missing: "
                             f"{', '.join(missing)}")
    values = dict(factors)
    if values["overhead_prefill_s"] < values["overhead_s"]:
        raise f.nested_error(("efficiency", "overhead", "prefill"),
                             "expected overhead.prefill >= overhead.decode: an iteration with a prompt "
                             "chunk never costs less than a pure decode one")
    sched = f.mapping("scheduler")
    scheduler = SchedulerSpec(
        chunked_prefill=_typed(f, sched, "chunked_prefill", bool),
        max_num_batched_tokens=_positive_int(f, sched, "max_num_batched_tokens"),
        max_num_seqs=_positive_int(f, sched, "max_num_seqs"),
        block_size=_positive_int(f, sched, "block_size"),
        prefix_cache=_choice(f, sched, "prefix_cache", PREFIX_CACHES),
        preemption=_choice(f, sched, "preemption", PREEMPTIONS),
        mixing=_choice(f, sched, "mixing", MIXINGS),
        source=_typed(f, sched, "source", str),
        kv_admission=_choice(f, sched, "kv_admission", KV_ADMISSIONS) if "kv_admission" in sched else "prompt",
    )
    for key in sched:
        if key not in SchedulerSpec.__slots__:
            raise f.nested_error(("scheduler", key), f"unknown key: {expected_one_of(key, SchedulerSpec.__slots__)}")
    calibration = f.strings("calibration")
    return BackendSpec(name=name, efficiency=tuple(factors), sources=tuple(sorted(sources.items())),
                       scheduler=scheduler, calibration=tuple(calibration))


def _factor(f: Any, path: tuple, raw: Any, kind: str) -> float:
    if kind == "duration":
        try:
            value = parse_duration(raw)
        except UnitError as exc:
            raise f.nested_error(path, exc.message) from None
        if value < 0:
            raise f.nested_error(path, f"expected a non-negative duration but got {raw!r}")
        return value
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise f.nested_error(path, f"expected a number but got {raw!r}")
    if kind == "fraction" and not 0 < raw <= 1:
        raise f.nested_error(path, f"expected a fraction in (0, 1] but got {raw!r}")
    if kind == "tokens" and raw < 0:
        raise f.nested_error(path, f"expected a non-negative number of tokens but got {raw!r}")
    return float(raw)


def _typed(f: Any, body: dict, key: str, kind: type) -> Any:
    if key not in body:
        raise f.nested_error(("scheduler",), f"missing required key {key!r}")
    value = body[key]
    if not isinstance(value, kind):
        raise f.nested_error(("scheduler", key), f"expected {kind.__name__} but got {value!r}")
    return value


def _positive_int(f: Any, body: dict, key: str) -> int:
    value = _typed(f, body, key, int)
    if isinstance(value, bool) or value < 1:
        raise f.nested_error(("scheduler", key), f"expected a positive integer but got {value!r}")
    return value


def _choice(f: Any, body: dict, key: str, choices: tuple[str, ...]) -> str:
    value = _typed(f, body, key, str)
    if value not in choices:
        raise f.nested_error(("scheduler", key), expected_one_of(value, choices))
    return value


__all__ = ["EFFICIENCY_KEYS", "KV_ADMISSIONS", "MIXINGS", "PREEMPTIONS", "PREFIX_CACHES", "CatalogError", "parse_backend"]
