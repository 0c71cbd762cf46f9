"""`latency: {source: aiconfigurator}`: NVIDIA aiconfigurator's measured per-op databases as the
iteration latency source (optional extra: `pip install 'fleetchaos[aic]'`).

Once per replica shape (model, GPU, backend, TP) the adapter asks aiconfigurator for grids of
per-iteration latencies, caches them on disk, and from then on only interpolates them through the
measured-table machinery (chaos.perf.sources.TableCost): the hot loop never calls aiconfigurator.

Names: the catalog maps a model to aiconfigurator's Hugging Face id and a GPU to its system name
(`aiconfigurator:` keys in models.yaml / gpus.yaml); the backend name is the profile's (vllm, sglang,
trtllm); the database version is aiconfigurator's newest for that system and backend. KV cache in
BF16 and weights as aiconfigurator infers them from the model's config (FP8 for DeepSeek-V3), as
fleetchaos's roofline assumes.

Grids (aiconfigurator's op lists of the model; s = the context a decode token attends, itself included):
  decode  (n, c)   one decode step of n sequences holding c KV tokens each (c = the engine's
                   decode_ctx_sum / n): aiconfigurator's generation ops at batch n, s = c + 1, every
                   op (GEMMs, attention, norms, all-reduce, LM head for n positions). Per-sequence
                   context, not the total, is the axis: at a fixed total, fewer longer sequences run
                   up to 8% slower in aiconfigurator's attention data, so a grid over the total would
                   need its monotone envelope to raise real points; over (n, c) it is monotone
                   already up to noise (the journal counts the values raised).
  decode_attention (n, c)  the attention op(s) of that step alone
  body    (T)      the context ops other than attention and LM head for T tokens (GEMMs, norms,
                   all-reduce: the part of an iteration that scales with all tokens computed)
  logits  (S)      the LM head GEMM for S sampled positions
  prefill (p, a)   the context attention of p prompt tokens whose attention spans a (token, context)
                   pairs in total (the engine's prefill_attn_ctx): m = p/L whole prompts of
                   L = 2a/p - 1 tokens each (a batch of prompts, as `fleetchaos estimate` prefills);
                   a chunk after a prefix (L > p) is one prompt of L tokens scaled by p/L (_prompts)
An iteration is priced as
  pure decode      decode(n, decode_ctx_sum / n)     (the stretch path interpolates the same table)
  with a prompt    body(n + p) + decode_attention(n, decode_ctx_sum / n) + logits(n + prompts)
                   + prefill(p, prefill_attn_ctx)
                   (aiconfigurator's own mixed-step composition: shared non-attention ops over all
                   tokens, context attention, decode attention)
Each grid is made monotone (running maxima; the prefill grid takes its lower envelope along the pairs
axis first) and interpolated bilinearly exactly like a measured table; outside a two-axis grid the
backend profile's roofline growth is scaled to meet its edge (chaos.perf.sources); the one-axis body and
LM-head grids continue along their last segment (GEMMs, linear in tokens). Slowdown
multiplies the whole iteration; KV replication adds the roofline's replication term.

Cache: one .npz per shape under $FLEETCHAOS_CACHE_DIR/aiconfigurator (default
$XDG_CACHE_HOME/fleetchaos/aiconfigurator, else ~/.cache/fleetchaos/aiconfigurator), named by model,
system, backend and TP plus a hash of the aiconfigurator version (which fixes its databases and the
database version it picks), its two path variables, the shape and the grid version; the database
version is stored inside. A hit reads the file without importing aiconfigurator; a stale or unreadable
file is rebuilt. Delete the folder to force a rebuild.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from chaos.catalog import GPUSpec, ModelSpec
from chaos.errors import InputError
from chaos.perf.latency import PerfModel
from chaos.perf.sources import LatencyTable, TableCost

GRID_VERSION = 3
_GRIDS = ("decode", "decode_attention", "body", "logits", "prefill")
# Tokens per iteration (rows of every grid): 1 .. 131,072 in steps of ~1.5x.
TOKENS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072,
          4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152, 65536, 98304, 131072)
# Decode rows stop at 8,192 sequences (no engine default schedules more).
DECODE_SEQS = tuple(t for t in TOKENS if t <= 8192)
# KV tokens held per decoding sequence: 0, then 16 .. 131,072 in steps of ~1.5x.
CONTEXT = (0,) + tuple(sorted({int(v * 2 ** k) for k in range(4, 18) for v in (1, 1.5) if v * 2 ** k <= 131072}))
# Attention pairs of a prefill: 1 .. 2^37 in steps of ~1.5x.
ATTENTION = tuple(sorted({int(v * 2 ** k) for k in range(0, 38) for v in (1, 1.5)}))
S_MAX = 131_073          # longest decode context queried (128k tokens + the new one)
INSTALL = "pip install 'fleetchaos[aic]'"


class AiconfiguratorUnavailable(InputError):
    """aiconfigurator cannot price this replica shape: not installed, or the model, GPU, backend or
    an op is missing from its databases. The message names what is missing."""


@dataclass(frozen=True)
class AicShape:
    """One replica shape as aiconfigurator knows it."""

    model: str          # Hugging Face id
    system: str
    backend: str
    tp: int


@dataclass(frozen=True)
class AicTables:
    """The grids of one shape (seconds) and where they came from."""

    decode: LatencyTable
    decode_attention: LatencyTable
    body: LatencyTable
    logits: LatencyTable
    prefill: LatencyTable
    meta: dict = field(default_factory=dict)


def shape_of(model: ModelSpec, gpu: GPUSpec, backend: str, tp: int) -> AicShape:
    """The aiconfigurator names of a catalog model/GPU; a clear error when the catalog has none."""
    if not model.aiconfigurator:
        raise AiconfiguratorUnavailable(
            f"model {model.name!r} has no aiconfigurator name: add `aiconfigurator: <Hugging Face id>` to its "
            f"catalog entry (one of aiconfigurator's bundled model configs)", field="latency.source")
    if not gpu.aiconfigurator:
        raise AiconfiguratorUnavailable(
            f"GPU {gpu.name!r} has no aiconfigurator system name: add `aiconfigurator: <system>` (e.g. h100_sxm) "
            f"to its catalog entry", field="latency.source")
    return AicShape(model.aiconfigurator, gpu.aiconfigurator, backend, int(tp))


def cache_dir() -> Path:
    """Where the grids are cached (see the module docstring)."""
    if os.environ.get("FLEETCHAOS_CACHE_DIR"):
        return Path(os.environ["FLEETCHAOS_CACHE_DIR"]) / "aiconfigurator"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fleetchaos" / "aiconfigurator"


def _installed_version() -> str:
    """aiconfigurator's version without importing it (a cache hit needs no import), or the install hint."""
    import importlib.util
    from importlib.metadata import PackageNotFoundError, version
    try:
        spec = importlib.util.find_spec("aiconfigurator")
    except (ImportError, ValueError):
        spec = None
    try:
        if spec is not None:
            return version("aiconfigurator")
    except PackageNotFoundError:
        pass
    raise AiconfiguratorUnavailable(f"latency.source aiconfigurator needs the aiconfigurator package, which is not "
                                    f"installed: {INSTALL}", field="latency.source")


def _sdk():
    """aiconfigurator's SDK modules, or a clear error naming the extra to install."""
    try:
        import aiconfigurator  # noqa: F401
        from aiconfigurator.sdk import rust_engine_step
        from aiconfigurator.sdk.config_builders import build_model_config
        from aiconfigurator.sdk.models import get_model
        from aiconfigurator.sdk.perf_database import (get_database_view, get_latest_database_version,
                                                      get_supported_databases)
    except ImportError as exc:
        raise AiconfiguratorUnavailable(f"latency.source aiconfigurator needs the aiconfigurator package, which "
                                        f"is not installed ({exc}): {INSTALL}", field="latency.source") from None
    from importlib.metadata import version
    return dict(version=version("aiconfigurator"), steps=rust_engine_step, build_model_config=build_model_config,
                get_model=get_model, get_database_view=get_database_view,
                latest=get_latest_database_version, supported=get_supported_databases)


def _missing(message: str) -> AiconfiguratorUnavailable:
    return AiconfiguratorUnavailable(message, field="latency.source")


def _database(sdk, shape: AicShape):
    """(database view, its version) or a clear error listing what aiconfigurator has."""
    try:
        version = sdk["latest"](system=shape.system, backend=shape.backend)
    except Exception:     # an unknown system raises inside aiconfigurator; report it as missing
        version = None
    if version is None:
        try:
            have = sdk["supported"]()
            listing = "; ".join(f"{s}: {', '.join(sorted(b))}" for s, b in sorted(have.items()) if b)
        except Exception:
            listing = "(could not list them)"
        raise _missing(f"aiconfigurator {sdk['version']} has no {shape.backend} database for system "
                       f"{shape.system!r}; it has: {listing}")
    db = sdk["get_database_view"](shape.system, shape.backend, version, database_mode="SILICON")
    if db is None:
        raise _missing(f"aiconfigurator could not load its {shape.backend} {version} database for {shape.system}")
    return db, str(version)


def _user_path(variable: str) -> str:
    """A path variable of aiconfigurator's as the user set it: "" when unset or pointing into the installed
    package (aiconfigurator sets both to its own folders when it is imported)."""
    import importlib.util
    value = os.environ.get(variable, "")
    spec = importlib.util.find_spec("aiconfigurator_core")
    roots = list(spec.submodule_search_locations or []) if spec else []
    inside = any(os.path.realpath(value).startswith(os.path.realpath(root)) for root in roots)
    return "" if not value or inside else value


def _key(shape: AicShape, aic_version: str) -> tuple[dict, str]:
    """The cache key and file name. The package version fixes its databases and the database version it
    picks for a system and backend (query_versions.yaml ships in the package); the two path variables
    aiconfigurator reads can point it elsewhere, so they are part of the key."""
    key = {"grid": GRID_VERSION, "aiconfigurator": aic_version, "system": shape.system, "backend": shape.backend,
           "model": shape.model, "tp": shape.tp, "kv_cache": "bfloat16",
           "systems_path": _user_path("AICONFIGURATOR_SYSTEMS_PATH"),
           "model_configs_path": _user_path("AICONFIGURATOR_MODEL_CONFIGS_PATH")}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", shape.model)
    return key, f"{slug}_{shape.system}_{shape.backend}_tp{shape.tp}_{digest}.npz"


def _monotone(raw: np.ndarray) -> np.ndarray:
    return np.maximum.accumulate(np.maximum.accumulate(raw, axis=0), axis=1)


def _table(tokens, context, raw_ms: np.ndarray, where: str, lower: bool = False) -> LatencyTable:
    """A monotone LatencyTable from a raw grid. lower=True takes the lower envelope along context first
    (the running minimum from the right: a prefill's many-tiny-prompts corner, slower per pair than
    fewer longer prompts, must not raise the realistic points), then the running maximum along tokens."""
    raw = np.asarray(raw_ms, dtype=np.float64) / 1e3
    if lower:
        mono = np.maximum.accumulate(np.minimum.accumulate(raw[:, ::-1], axis=1)[:, ::-1], axis=0)
    else:
        mono = _monotone(raw)
    return LatencyTable(np.asarray(tokens, np.float64), np.asarray(context, np.float64), mono, where,
                        int(np.count_nonzero(mono > raw)))


def _query(sdk, shape: AicShape) -> tuple[dict[str, np.ndarray], dict, str]:
    """Ask aiconfigurator for the four grids (milliseconds). Returns (arrays, op sources, db version)."""
    db, db_version = _database(sdk, shape)
    tp = shape.tp
    try:
        config = sdk["build_model_config"](tp, 1, 1, tp, 1, kvcache_quant_mode="bfloat16")
        model = sdk["get_model"](shape.model, config, shape.backend)
    except Exception as exc:
        raise _missing(f"aiconfigurator cannot build model {shape.model!r} at tp={tp} for {shape.backend} "
                       f"({type(exc).__name__}: {exc})") from None
    steps = sdk["steps"]

    def is_attention(name: str) -> bool:
        return "attention" in name or "mla" in name

    attn = [i for i, op in enumerate(model.context_ops) if is_attention(op._name)]
    rest = [i for i, op in enumerate(model.context_ops) if not is_attention(op._name) and "logits" not in op._name]
    if not attn:
        raise _missing(f"aiconfigurator's {shape.model} has no context attention op to price prefills with")
    decode = np.zeros((len(DECODE_SEQS), len(CONTEXT)))
    decode_attn = np.zeros_like(decode)
    body = np.zeros((len(TOKENS), 1))
    logits = np.zeros((len(TOKENS), 1))
    prefill = np.zeros((len(TOKENS), len(ATTENTION)))
    sources: dict[str, set] = {}
    try:
        for i, n in enumerate(DECODE_SEQS):
            for j, c in enumerate(CONTEXT):
                s = min(S_MAX, c + 1)
                total, _, ops, src, _ = steps.estimate_decode_step_breakdown_with_rust(
                    model, db, gen_tokens=n, isl=s - 1, osl=1)
                decode[i, j] = total
                decode_attn[i, j] = sum(v for k, v in ops.items() if is_attention(k))
                for op, where in src.items():
                    sources.setdefault(where, set()).add(op)
        for i, t in enumerate(TOKENS):
            _, _, ops, _, _ = steps.estimate_decode_step_breakdown_with_rust(model, db, gen_tokens=t, isl=0, osl=1)
            logits[i, 0] = sum(v for k, v in ops.items() if "logits" in k)
            body[i, 0] = sum(op[1] for op in steps.evaluate_context_ops_with_rust(model, db, indices=rest, batch_size=1,
                                                                                 s=t, prefix=0))
        attention = lru_cache(maxsize=None)(lambda batch, length: sum(op[1] for op in steps.evaluate_context_ops_with_rust(
            model, db, indices=attn, batch_size=batch, s=length, prefix=0)))
        for i, p in enumerate(TOKENS):
            for j, a in enumerate(ATTENTION):
                batch, length, scale = _prompts(p, a)
                prefill[i, j] = scale * attention(batch, length)
    except AiconfiguratorUnavailable:
        raise
    except Exception as exc:
        raise _missing(f"aiconfigurator could not price {shape.model} on {shape.system} {shape.backend} {db_version} "
                       f"tp={tp} ({type(exc).__name__}: {exc})") from None
    arrays = {"decode": decode, "decode_attention": decode_attn, "body": body, "logits": logits, "prefill": prefill}
    if not all(np.isfinite(v).all() and (v >= 0).all() for v in arrays.values()):
        raise _missing(f"aiconfigurator returned non-finite or negative latencies for {shape.model} on "
                       f"{shape.system} {shape.backend} tp={tp}")
    return arrays, {k: sorted(v) for k, v in sources.items()}, db_version


def _prompts(p: int, a: int) -> tuple[int, int, float]:
    """(prompts, tokens each, scale): whole prompts without prefix whose context attention over `p`
    tokens spans about `a` (token, context) pairs. L = 2a/p - 1 tokens each (a < p reads as L = 1);
    when L > p (a chunk with a prefix) one prompt of L tokens scaled by p/L, the same pairs at that
    length's per-pair cost (aiconfigurator's own prefix path is not used: it prices a 512-token chunk
    after an 8k prefix at 26 TFLOP/s, 20x below its whole-prompt rate)."""
    length = max(1.0, 2.0 * a / p - 1.0)
    if length <= p:
        batch = max(1, int(round(p / length)))
        return batch, max(1, int(round(p / batch))), 1.0
    capped = min(length, float(S_MAX))
    return 1, int(round(capped)), (p / length) * (length / capped) ** 2


def load_tables(shape: AicShape) -> AicTables:
    """The grids of `shape`, from the disk cache or aiconfigurator (then cached)."""
    return _load_cached(shape, _installed_version(), str(cache_dir()))


@lru_cache(maxsize=32)
def _load_cached(shape: AicShape, aic_version: str, folder: str) -> AicTables:
    key, name = _key(shape, aic_version)
    path = Path(folder) / name
    arrays = sources = None
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                if json.loads(str(z["key"])) == key:
                    arrays = {k: z[k] for k in _GRIDS}
                    sources = json.loads(str(z["sources"]))
                    db_version = str(z["database"])
        except (OSError, ValueError, KeyError):
            arrays = None
    cached = arrays is not None
    if not cached:
        logging.getLogger("aiconfigurator").setLevel(logging.ERROR)
        arrays, sources, db_version = _query(_sdk(), shape)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, key=json.dumps(key, sort_keys=True), sources=json.dumps(sources), database=db_version,
                 **arrays)
        os.replace(tmp, path)
    key = {**key, "database": db_version}
    where = str(path)
    raised = {name: float(np.max(_monotone(arrays[name]) / np.maximum(arrays[name], 1e-300)) - 1.0)
              for name in ("decode", "decode_attention", "body", "logits")}
    meta = {**key, "cache": where, "cache_hit": cached, "op_sources": sources, "monotone_raise_max": raised,
            "grid": {"tokens": [TOKENS[0], TOKENS[-1]], "decode_sequences": [DECODE_SEQS[0], DECODE_SEQS[-1]],
                     "decode_context_per_sequence": [CONTEXT[0], CONTEXT[-1]], "prefill_attention": [ATTENTION[0], ATTENTION[-1]]}}
    return AicTables(decode=_table(DECODE_SEQS, CONTEXT, arrays["decode"], where + ":decode"),
                     decode_attention=_table(DECODE_SEQS, CONTEXT, arrays["decode_attention"],
                                             where + ":decode_attention"),
                     body=_table(TOKENS, (0,), arrays["body"], where + ":body"),
                     logits=_table(TOKENS, (0,), arrays["logits"], where + ":logits"),
                     prefill=_table(TOKENS, ATTENTION, arrays["prefill"], where + ":prefill", lower=True),
                     meta=meta)


class _Line:
    """A nondecreasing piecewise-linear function of tokens from a one-column grid (body, LM head), continued
    past its last point along its last segment (both are GEMMs, linear in tokens at that size)."""

    __slots__ = ("x", "y", "slope")

    def __init__(self, table: LatencyTable) -> None:
        self.x = table.tokens.tolist()
        self.y = table.latency_s[:, 0].tolist()
        self.slope = (self.y[-1] - self.y[-2]) / (self.x[-1] - self.x[-2])

    def __call__(self, t: float) -> float:
        x, y = self.x, self.y
        if t >= x[-1]:
            return y[-1] + (t - x[-1]) * self.slope
        if t <= x[0]:
            return y[0]
        i = bisect_right(x, t) - 1
        return y[i] + (t - x[i]) * (y[i + 1] - y[i]) / (x[i + 1] - x[i])


@dataclass(frozen=True)
class AicCost:
    """IterationCost from aiconfigurator's grids (see the module docstring). Pure-decode iterations and
    decode stretches go through one TableCost (so stretch == per-iteration holds by construction);
    iterations with a prompt sum the body, LM-head and prefill-attention grids."""

    tables: AicTables
    roofline: PerfModel
    slowdown: float = 1.0
    _decode: TableCost = field(init=False, repr=False, compare=False)
    _parts: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bare = replace(self.roofline, kv_replication_s_per_token=0.0, kv_replication_Bps=None)
        object.__setattr__(self, "_decode", TableCost(self.tables.decode, bare))
        object.__setattr__(self, "_parts", (_Line(self.tables.body), TableCost(self.tables.decode_attention, bare),
                                            _Line(self.tables.logits), TableCost(self.tables.prefill, bare)))

    def _mixed(self, n: float, dctx: float, p: float, attn: float, seqs: float) -> float:
        body, dattn, head, pre = self._parts
        lat = body(n + p) + head(n + seqs) + pre.latency(p, attn)
        if n > 0:
            lat += dattn.latency(n, dctx / n)
        return self.slowdown * lat + (n + p) * self.roofline.kv_replication_s_per_token

    def iteration_time(self, n_decode, decode_ctx_sum, prefill_tokens, prefill_attn_ctx=0.0, prefill_kv_read=0.0,
                       prefill_seqs=None):
        args = (n_decode, decode_ctx_sum, prefill_tokens, prefill_attn_ctx, prefill_kv_read)
        if any(isinstance(a, (np.ndarray, list, tuple)) for a in (*args, prefill_seqs)):
            arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in args),
                                         np.asarray(-1.0 if prefill_seqs is None else prefill_seqs, np.float64))
            out = np.array([self.iteration_time(float(n), float(c), float(p), float(a), float(k),
                                                None if s < 0 else float(s))
                            for n, c, p, a, k, s in zip(*(x.ravel() for x in arrays))]).reshape(arrays[0].shape)
            return float(out) if out.ndim == 0 else out
        if prefill_tokens <= 0:
            n = float(n_decode)
            if n <= 0:
                return 0.0
            return (self.slowdown * self._decode.latency(n, float(decode_ctx_sum) / n)
                    + n * self.roofline.kv_replication_s_per_token)
        seqs = 1.0 if prefill_seqs is None else float(prefill_seqs)
        return self._mixed(float(n_decode), float(decode_ctx_sum), float(prefill_tokens), float(prefill_attn_ctx),
                           seqs)

    def decode_stretch(self, n_decode: int, ctx_sum0: float, k: int) -> np.ndarray:
        """k decode steps: one row of the decode grid at n sequences, per-sequence contexts ctx_sum0/n + i."""
        if n_decode <= 0:
            return np.zeros(k)
        n = float(n_decode)
        per_seq = (ctx_sum0 + np.arange(k, dtype=np.float64) * n) / n
        return self.slowdown * self._decode.row(n, per_seq) + n * self.roofline.kv_replication_s_per_token

    def with_slowdown(self, slowdown: float) -> "AicCost":
        return AicCost(self.tables, self.roofline.with_slowdown(slowdown), float(slowdown))


def aiconfigurator_cost(perf: PerfModel, backend: str) -> AicCost:
    """The aiconfigurator source for the replica `perf` describes (its roofline prices outside the grids)."""
    tables = load_tables(shape_of(perf.model, perf.gpu, backend, perf.tp))
    return AicCost(tables, perf, perf.slowdown)


def record(tables: AicTables) -> dict:
    """The journal's description of the source (versions, cache file, grids, op data provenance)."""
    meta = tables.meta
    approx = [op for where, ops in meta.get("op_sources", {}).items() if where != "silicon" for op in ops]
    out = {"source": "aiconfigurator", "aiconfigurator": meta["aiconfigurator"], "database": meta["database"],
           "system": meta["system"], "model_id": meta["model"], "tp": meta["tp"], "kv_cache": meta["kv_cache"],
           "cache": meta["cache"], "grid": meta["grid"], "op_sources": meta.get("op_sources", {}),
           "composition": "pure decode: aiconfigurator's decode step; with a prompt: non-attention ops over all "
                          "tokens + LM head per sampled position + context attention (aiconfigurator's mixed step)",
           "extrapolation": "outside the grids: the backend profile's roofline growth along each axis, scaled to "
                            "meet the grid at its edge"}
    out["approximations"] = [
        f"grid values raised to make latency monotone in tokens and context (aiconfigurator's data is not "
        f"everywhere: e.g. a decode step of 6 sequences can cost more than one of 8): largest raise per grid "
        + ", ".join(f"{k} {100 * v:.1f}%" for k, v in meta["monotone_raise_max"].items())]
    if approx:
        out["approximations"].append(f"ops priced from aiconfigurator's non-measured (empirical/SOL) data: "
                                     f"{', '.join(sorted(set(approx)))}")
    return out
