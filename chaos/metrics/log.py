"""The request log: one row per request, numpy columns, every request in exactly one final state."""
from __future__ import annotations

import array
import csv
import enum
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from chaos.errors import SimulationError
from chaos.metrics import spill as spill_mod
from chaos.metrics.spill import ColumnFile, check_mode, mapped_array, spilling


class Status(enum.IntEnum):
    """Final state of a request (stored as uint8). IN_FLIGHT = still queued or running at the horizon."""
    COMPLETED = 1
    FAILED = 2
    REJECTED = 3
    IN_FLIGHT = 4


# engine states that are not final count as in flight at the horizon
_STATUS_NAMES = {s.name.lower(): s for s in Status} | {
    name: Status.IN_FLIGHT for name in ("pending", "queued", "running", "transferring")}

# column name -> dtype; the order is the CSV column order
COLUMNS: dict[str, Any] = {
    "id": np.int64, "arrival_s": np.float64, "first_token_s": np.float64, "finish_s": np.float64,
    "input_tokens": np.int64, "output_tokens": np.int64, "generated_tokens": np.int64,
    "status": np.uint8, "reason": object, "replica": object, "retries": np.int64,
    "preemptions": np.int64, "prefix_hit_tokens": np.int64, "tenant": np.int64,
}
_FLOATS = ("arrival_s", "first_token_s", "finish_s")


def _status_code(value: object) -> int:
    if isinstance(value, str):
        try:
            return int(_STATUS_NAMES[value.lower()])
        except KeyError:
            raise SimulationError(f"unknown request status {value!r}; expected one of "
                                  f"{', '.join(sorted(_STATUS_NAMES))}") from None
    return int(Status(int(value)))


@dataclass(slots=True, init=False)
class RequestLog:
    """Per-request columns. Times in seconds from the start of the run, NaN when not reached;
    for FAILED/REJECTED requests finish_s is when the request left the system, if recorded.
    output_tokens is what was requested, generated_tokens what was produced; replica is the replica
    id(s) that served it, joined with "+" (prefill+decode when disaggregated)."""
    id: np.ndarray
    arrival_s: np.ndarray
    first_token_s: np.ndarray
    finish_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    generated_tokens: np.ndarray
    status: np.ndarray
    reason: np.ndarray
    replica: np.ndarray
    retries: np.ndarray
    preemptions: np.ndarray
    prefix_hit_tokens: np.ndarray
    tenant: np.ndarray              # tenant id (chaos.workload.tenants); 0 without tenants

    def __init__(self, **columns: Any) -> None:
        unknown = set(columns) - set(COLUMNS)
        if unknown:
            raise TypeError(f"unknown RequestLog columns {sorted(unknown)}; expected {list(COLUMNS)}")
        n = len(columns["id"]) if "id" in columns else 0
        for name, dtype in COLUMNS.items():
            if name in columns:
                value = columns[name]
                if name == "status":
                    arr = np.asarray([_status_code(v) for v in value] if _needs_mapping(value)
                                     else value, dtype=np.uint8)
                else:
                    arr = np.asarray(value, dtype=dtype)
            elif name in _FLOATS:
                arr = np.full(n, np.nan)
            elif dtype is object:
                arr = np.full(n, "", dtype=object)
            elif name == "generated_tokens":
                raise TypeError("RequestLog needs generated_tokens")
            else:
                arr = np.zeros(n, dtype=dtype)
            if arr.ndim != 1 or len(arr) != n:
                raise ValueError(f"RequestLog column {name} has length {len(arr)}, expected {n} (len(id))")
            setattr(self, name, arr)

    def __len__(self) -> int:
        return len(self.id)

    @classmethod
    def from_records(cls, records: Iterable[Any]) -> "RequestLog":
        """Build from objects with the column attributes (an engine Request works: `replicas` lists are
        joined with "+", string statuses are mapped, missing retries/preemptions/hits default to 0,
        a missing generated_tokens means output_tokens when completed else 0)."""
        rows = [_row(r) for r in records]
        if not rows:
            return cls(**{name: [] for name in COLUMNS})
        return cls(**dict(zip(COLUMNS, zip(*rows))))

    def counts(self) -> dict[str, int]:
        """arrived/completed/failed/rejected/in_flight; raises SimulationError if they do not add up."""
        c = np.bincount(self.status, minlength=len(Status) + 1)
        out = {"arrived": len(self), "completed": int(c[Status.COMPLETED]), "failed": int(c[Status.FAILED]),
               "rejected": int(c[Status.REJECTED]), "in_flight": int(c[Status.IN_FLIGHT])}
        if out["completed"] + out["failed"] + out["rejected"] + out["in_flight"] != out["arrived"]:
            raise SimulationError(f"request counts do not add up: {out} (status codes present: "
                                  f"{sorted(set(self.status.tolist()))})")
        return out

    def select(self, mask: np.ndarray) -> "RequestLog":
        """The rows where `mask` is True (one tenant's requests, say), as a RequestLog."""
        return RequestLog(**{name: getattr(self, name)[mask] for name in COLUMNS})

    # derived per-request metrics -------------------------------------------------------------
    def ttft_s(self) -> np.ndarray:
        """Time to first token per request (NaN when no token came)."""
        return self.first_token_s - self.arrival_s

    def tpot_s(self) -> np.ndarray:
        """(finish - first_token) / (generated - 1) for generated > 1, else NaN."""
        with np.errstate(invalid="ignore", divide="ignore"):
            t = (self.finish_s - self.first_token_s) / (self.generated_tokens - 1)
        return np.where(self.generated_tokens > 1, t, np.nan)

    def e2e_s(self) -> np.ndarray:
        """Arrival to finish per request (NaN when not finished)."""
        return self.finish_s - self.arrival_s

    # export ---------------------------------------------------------------------------------
    def to_csv(self, path: str | Path) -> None:
        """Write all columns in a fixed order; floats as repr (round-trips exactly), NaN as empty,
        status as its name, so rewriting a re-read log gives identical bytes."""
        names = {int(s): s.name for s in Status}
        cols = []
        for name in COLUMNS:
            arr = getattr(self, name)
            if name in _FLOATS:
                cols.append(["" if x != x else repr(x) for x in arr.tolist()])
            elif name == "status":
                cols.append([names.get(x, str(x)) for x in arr.tolist()])
            else:
                cols.append([str(x) for x in arr.tolist()])
        with Path(path).open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(list(COLUMNS))
            w.writerows(zip(*cols))

    @classmethod
    def from_csv(cls, path: str | Path) -> "RequestLog":
        """Read a file written by to_csv."""
        with Path(path).open("r", encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        header, body = rows[0], rows[1:]
        cols = {name: [r[i] for r in body] for i, name in enumerate(header)}
        out: dict[str, Any] = {}
        for name, values in cols.items():
            if name in _FLOATS:
                out[name] = [float(v) if v else math.nan for v in values]
            elif name == "status":
                out[name] = values
            elif COLUMNS[name] is object:
                out[name] = np.array(values, dtype=object)
            else:
                out[name] = [int(v) for v in values]
        return cls(**out)

    def to_pandas(self) -> Any:
        """A pandas DataFrame with one column per field and status as its name (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("RequestLog.to_pandas needs pandas: pip install pandas") from None
        data = {name: getattr(self, name) for name in COLUMNS}
        data["status"] = [Status(int(s)).name for s in self.status]
        return pd.DataFrame(data)


def _row(r: Any) -> tuple:
    """One record's values in COLUMNS order (see RequestLog.from_records for the defaults)."""
    status = _status_code(getattr(r, "status"))
    gen = getattr(r, "generated_tokens", None)
    if gen is None:
        gen = r.output_tokens if status == Status.COMPLETED else 0
    rep = getattr(r, "replica", None)
    if rep is None:
        rep = getattr(r, "replicas", "")
    return (r.id, r.arrival_s, getattr(r, "first_token_s", math.nan), getattr(r, "finish_s", math.nan),
            r.input_tokens, r.output_tokens, gen, status, getattr(r, "reason", "") or "",
            rep if isinstance(rep, str) else "+".join(map(str, rep)),
            getattr(r, "retries", 0) or 0, getattr(r, "preemptions", 0) or 0,
            getattr(r, "prefix_hit_tokens", 0) or 0, getattr(r, "tenant", 0) or 0)


def request_row(r: Any) -> tuple:
    """`_row` of an engine Request (chaos.engine.request), which has every column's attribute: the same
    values, read without the defaults' getattr calls (the simulation writes one row per request)."""
    status = _STATUS_CODES.get(r.status)
    if status is None:
        status = _status_code(r.status)
    return (r.id, r.arrival_s, r.first_token_s, r.finish_s, r.input_tokens, r.output_tokens,
            r.generated_tokens, status, r.reason or "", "+".join(r.replicas), r.retries or 0,
            r.preemptions or 0, r.prefix_hit_tokens or 0, r.tenant or 0)


_STATUS_CODES = {name: int(s) for name, s in _STATUS_NAMES.items()}
_TYPECODES = {np.int64: "q", np.float64: "d", np.uint8: "B"}


class RequestLogBuilder:
    """A RequestLog filled one finished request at a time: numeric columns in compact typed arrays
    (8 bytes a value, not a Python object), reason and replica strings shared between rows, so a run
    can drop each Request object as soon as it reaches its final state (DESIGN principle 10).

    `spill` ("auto", "on", "off"; see chaos.metrics.spill) lets a long run write each full chunk of
    rows to temporary column files instead of keeping it in memory: strings then go to disk as codes
    into a small table, and build() returns memory-mapped columns. The log's values do not depend on it."""

    __slots__ = ("_cols", "_strings", "_spill", "_files", "_codes", "_table", "_chunk")

    def __init__(self, spill: str = "off", *, chunk_rows: int | None = None) -> None:
        self._cols: list = []
        self._new_chunk()
        self._strings: dict[str, str] = {}
        self._spill = check_mode(spill)
        self._chunk = chunk_rows or spill_mod.CHUNK_ROWS
        self._files: list[ColumnFile] | None = None      # one per column once spilling has begun
        self._codes: dict[str, int] = {}                 # string -> code in the spilled string columns
        self._table: list[str] = []

    def _new_chunk(self) -> None:
        self._cols = [array.array(_TYPECODES[d]) if d is not object else [] for d in COLUMNS.values()]

    def __len__(self) -> int:
        return len(self._cols[0]) + (self._files[0].rows if self._files is not None else 0)

    @property
    def spilled_rows(self) -> int:
        """Rows written to disk so far (0 when not spilling)."""
        return self._files[0].rows if self._files is not None else 0

    def append(self, record: Any) -> None:
        """Add a record as RequestLog.from_records reads it (its values are copied now)."""
        self.append_row(_row(record))

    def append_row(self, row: tuple) -> None:
        """Add one row of values in COLUMNS order, as `_row` (or `request_row`) gives it."""
        c, strings = self._cols, self._strings
        for i in _NUMERIC:
            c[i].append(row[i])
        for i in _STRINGS:
            c[i].append(strings.setdefault(row[i], row[i]))
        if len(c[0]) >= self._chunk and self._spill != "off" and spilling(self._spill, len(self)):
            self._flush()

    def _flush(self) -> None:
        """Write the in-memory chunk to the column files and start an empty one."""
        if self._files is None:
            self._files = [ColumnFile(np.uint32 if d is object else d) for d in COLUMNS.values()]
        codes, table = self._codes, self._table
        for i, (col, f) in enumerate(zip(self._cols, self._files)):
            if i in _STRINGS:
                out = array.array("I")
                for s in col:
                    k = codes.get(s)
                    if k is None:
                        k = codes[s] = len(table)
                        table.append(s)
                    out.append(k)
                f.append(np.frombuffer(out, dtype=np.uint32) if len(out) else [])
            else:
                f.append(np.frombuffer(col, dtype=f.dtype) if len(col) else [])
        self._new_chunk()

    def build(self, more: Iterable[Any] = (), *, sort_by_id: bool = False) -> RequestLog:
        """The log of the appended records plus `more` (read now, not kept); rows in order of
        appending, or by id (stable) with `sort_by_id`. When rows were spilled, the columns are
        memory-mapped temporary files (numeric) and object arrays rebuilt from the codes (strings)."""
        rows = [_row(r) for r in more]
        extra = list(zip(*rows)) if rows else [()] * len(COLUMNS)
        if self._files is not None:
            return self._build_spilled(extra, sort_by_id)
        columns = {}
        for (name, dtype), col, tail in zip(COLUMNS.items(), self._cols, extra):
            if dtype is object:
                columns[name] = np.array(col + list(tail), dtype=object)
            else:
                head = np.frombuffer(col, dtype=dtype) if len(col) else np.empty(0, dtype=dtype)
                columns[name] = np.concatenate([head, np.asarray(tail, dtype=dtype)]) if tail else head.copy()
        if sort_by_id:
            order = np.argsort(columns["id"], kind="stable")
            columns = {name: arr[order] for name, arr in columns.items()}
        return RequestLog(**columns)

    def _build_spilled(self, extra: list, sort_by_id: bool) -> RequestLog:
        """build() once chunks are on disk: one column at a time, so at most a column or two is in RSS."""
        disk = [f.map() for f in self._files]
        table = self._table + [s for s in dict.fromkeys(
            s for i in _STRINGS for s in list(self._cols[i]) + list(extra[i])) if s not in self._codes]
        index = {s: k for k, s in enumerate(table)}

        def parts(i: int, dtype) -> list:
            if i in _STRINGS:
                codes = [index[s] for s in list(self._cols[i]) + list(extra[i])]
                return [disk[i], np.asarray(codes, dtype=np.uint32)]
            col = self._cols[i]
            return [disk[i], np.frombuffer(col, dtype=dtype) if len(col) else np.empty(0, dtype=dtype),
                    np.asarray(extra[i], dtype=dtype)]
        order = None
        if sort_by_id:
            order = np.argsort(np.concatenate(parts(0, np.int64)), kind="stable")
        names = np.array(table, dtype=object)
        columns = {}
        for i, (name, dtype) in enumerate(COLUMNS.items()):
            if dtype is object:
                codes = np.concatenate(parts(i, np.uint32))
                columns[name] = names[codes if order is None else codes[order]]
            else:
                columns[name] = mapped_array(parts(i, dtype), dtype, order)
        return RequestLog(**columns)


_STRINGS = tuple(i for i, d in enumerate(COLUMNS.values()) if d is object)
_NUMERIC = tuple(i for i, d in enumerate(COLUMNS.values()) if d is not object)


def _needs_mapping(value: Any) -> bool:
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
        return False
    return any(isinstance(v, (str, Status)) for v in value)
