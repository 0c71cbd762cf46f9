"""Request streams: synthetic arrival/length processes and trace readers (Mooncake JSONL, Azure CSV)."""
from chaos.workload.build import build_workload
from chaos.workload.config import LengthDist, PrefixConfig, SyntheticConfig, TraceConfig, WorkloadConfig
from chaos.workload.traces import RawTrace, read_azure, read_mooncake, read_trace
from chaos.workload.workload import ClosedLoop, Workload

__all__ = ["build_workload", "WorkloadConfig", "TraceConfig", "SyntheticConfig", "LengthDist",
           "PrefixConfig", "Workload", "ClosedLoop", "RawTrace", "read_mooncake", "read_azure",
           "read_trace"]
