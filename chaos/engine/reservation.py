"""Decode-side KV reservation before a transfer: SGLang's pre-allocation queue, NIXL's wait for remote KV.

A mixin of Replica (decode role). A prefill replica that finished a prompt keeps its KV held; the
decode replica chosen for it must first reserve the blocks the transferred context will occupy
(`reserve`). The transfer starts only once they are reserved, so a full decode pool shows up where
real systems show it: reservations queue FIFO, the prefill side keeps holding KV, its free blocks
run out, and the prefill queue grows (back-pressure, not a backlog hidden in the decode queue).
Sources: vLLM's NixlConnector allocates the prompt's blocks in `update_state_after_alloc` before the
pull runs (requests wait in WAITING_FOR_REMOTE_KVS); SGLang's DecodePreallocQueue allocates KV before
it sends the transfer info to the prefill server, which holds its KV meanwhile (sgl-project/sglang
issue 6351: "the corresponding prefill instance will hang").

Reserved blocks are allocated at once (they count as used, as in both systems); the request brings
them with it when `submit_decode` admits it, and `cancel` or a crash gives them back. Grants happen
when a reservation is asked and the queue is empty, and whenever blocks are freed (iteration ends,
cancel, KV capacity changes); during a pure-decode stretch no block is freed, so the fast and the
reference stepper grant at the same instants.
"""
from __future__ import annotations

from chaos.engine.request import Request

GRANTED, QUEUED, NEVER = 1, 0, -1


class Reservations:
    """Pre-allocation of decode KV for transfers (the state lives on the Replica: `_prealloc`, `_reserved`)."""

    def reserve(self, request: Request) -> int:
        """Reserve the blocks `request`'s transferred context needs (input + generated tokens, plus the
        block its next token takes). Returns GRANTED (1), QUEUED (0: "kv_reserved" fires on grant) or
        NEVER (-1: more blocks than the replica has)."""
        need = self._decode_blocks(request)
        if need > self.kv.total_blocks:
            return NEVER
        if request.id in self._reserved or request in self._prealloc:
            return QUEUED
        self._sync()
        if not self._prealloc and need <= self.kv.available:
            self._grant(request, need)
            self._poke(maybe_admissible=False, force=True)      # fewer free blocks: re-plan a stretch
            return GRANTED
        self._prealloc.append(request)
        return QUEUED

    @property
    def num_reserving(self) -> int:
        """Transfers waiting for decode KV (the pre-allocation queue)."""
        return len(self._prealloc)

    @property
    def num_reserved(self) -> int:
        """Reservations granted whose request has not been admitted yet (KV in flight)."""
        return len(self._reserved)

    def _decode_blocks(self, r: Request) -> int:
        """Blocks a decode admission of r takes: its context's blocks, plus one when they are full."""
        ctx = r.input_tokens + max(r.generated, 1) - 1
        own = -(-ctx // self.block_size)
        return own + (1 if own * self.block_size == ctx else 0)

    def _grant(self, r: Request, need: int) -> None:
        self.kv.alloc(need)
        self._reserved[r.id] = (r, need)

    def _serve_prealloc(self) -> None:
        """Grant queued reservations in order while blocks allow (called where blocks were freed).
        Sequences preempted here come first: they sit at the front of the waiting queue and take blocks
        before any new request (vLLM allocates remote-KV blocks in the same FCFS scheduling pass)."""
        if self._waiting and not self._waiting[0]._kv_ready:
            return
        queue = self._prealloc
        if queue and self._stretch is not None:
            self._sync()                      # blocks a running stretch has used so far
        granted = False
        while queue:
            r = queue[0]
            need = self._decode_blocks(r)
            if need > self.kv.available:
                break
            queue.popleft()
            self._grant(r, need)
            granted = True
            self.on_event("kv_reserved", r, self.env.now)
        if granted and self._stretch is not None:
            self._poke(maybe_admissible=False, force=True)   # fewer free blocks: re-plan the stretch

    def _unreserve(self, r: Request) -> bool:
        """Drop r's reservation or its place in the queue; True when it had one."""
        held = self._reserved.pop(r.id, None)
        if held is not None:
            self.kv.give_back(held[1])
            return True
        try:
            self._prealloc.remove(r)
        except ValueError:
            return False
        return True

    def _reservation_requests(self) -> list[Request]:
        """Requests that rely on a reservation here but still sit on their prefill replica."""
        return [r for r in self._prealloc if r._engine is not self] + \
            [r for r, _ in self._reserved.values() if r._engine is not self]
