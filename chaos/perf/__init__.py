"""Performance: iteration latency sources (backend-profile roofline, measured table), KV bytes and capacity,
KV transfer time, the static `estimate` and `calibrate`."""
from chaos.perf.efficiency import Efficiency
from chaos.perf.latency import PerfModel, attention_flops_per_ctx, build_perf_model
from chaos.perf.memory import (activation_peak_bytes, kv_bytes_per_token, kv_bytes_per_token_per_gpu,
                               kv_capacity_tokens, kv_transfer_time, non_kv_reserve_bytes)

__all__ = ["Efficiency", "PerfModel", "activation_peak_bytes", "attention_flops_per_ctx", "build_perf_model",
           "kv_bytes_per_token", "kv_bytes_per_token_per_gpu", "kv_capacity_tokens", "kv_transfer_time",
           "non_kv_reserve_bytes"]
