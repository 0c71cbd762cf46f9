"""One replica as a SimPy process: continuous batching, chunked prefill, KV blocks, prefix cache,
preemption, and fast-forwarded decode stretches (see replica.py for the algorithm and event order)."""
from chaos.engine.config import EngineConfig
from chaos.engine.cost import IterationCost
from chaos.engine.events import UrgentTimeout, call_at
from chaos.engine.kv import KVBlockManager
from chaos.engine.replica import ROLES, Replica
from chaos.engine.request import TERMINAL, Request

__all__ = ["EngineConfig", "IterationCost", "KVBlockManager", "ROLES", "Replica", "Request", "TERMINAL",
           "UrgentTimeout", "call_at"]
