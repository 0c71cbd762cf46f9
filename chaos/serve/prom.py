"""/metrics in the Prometheus text exposition format (version 0.0.4), with vLLM's metric names so
dashboards and autoscalers written for vLLM read it unchanged.

Names and histogram buckets follow vLLM's PrometheusStatLogger (vllm/v1/metrics/loggers.py):
vllm:num_requests_running, vllm:num_requests_waiting, vllm:kv_cache_usage_perc,
vllm:time_to_first_token_seconds, vllm:inter_token_latency_seconds, vllm:e2e_request_latency_seconds,
vllm:prompt_tokens_total, vllm:generation_tokens_total, vllm:request_success_total. Latencies here are
what clients experienced, in simulated seconds. fleetchaos:* carry what only a simulation knows.
"""
from __future__ import annotations

import bisect

TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
               40.0, 80.0)
E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
               480.0, 960.0, 1920.0, 7680.0)


class Histogram:
    """Cumulative-bucket histogram fed incrementally."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.n = 0

    def observe_many(self, values) -> None:
        for v in values:
            self.counts[bisect.bisect_left(self.buckets, v)] += 1
            self.total += v
            self.n += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out, cum = [], 0
        for b, c in zip(self.buckets, self.counts):
            cum += c
            out.append(f'{name}_bucket{{{labels},le="{b}"}} {cum}')
        out.append(f'{name}_bucket{{{labels},le="+Inf"}} {self.n}')
        out.append(f"{name}_sum{{{labels}}} {self.total!r}")
        out.append(f"{name}_count{{{labels}}} {self.n}")
        return out


class Metrics:
    """Keeps the histograms in step with the live fleet's samples and renders the page."""

    def __init__(self, live, model_name: str) -> None:
        self.live = live
        self.labels = f'model_name="{model_name}"'
        self.ttft = Histogram(TTFT_BUCKETS)
        self.itl = Histogram(ITL_BUCKETS)
        self.e2e = Histogram(E2E_BUCKETS)
        self._seen = {"ttft": 0, "itl": 0, "e2e": 0}

    def _sync(self) -> None:
        for key, hist, samples in (("ttft", self.ttft, self.live.ttft_samples), ("itl", self.itl, self.live.itl_samples),
                                   ("e2e", self.e2e, self.live.e2e_samples)):
            k = self._seen[key]
            hist.observe_many(samples[k:])
            self._seen[key] = len(samples)

    def render(self) -> str:
        live = self.live
        live.clock.catch_up()
        self._sync()
        replicas = live.replicas()
        lab = self.labels
        lines: list[str] = []

        def gauge(name: str, help_: str, value, labels: str = lab) -> None:
            lines.extend([f"# HELP {name} {help_}", f"# TYPE {name} gauge", f"{name}{{{labels}}} {value}"])

        def counter(name: str, help_: str, value, labels: str = lab) -> None:
            lines.extend([f"# HELP {name} {help_}", f"# TYPE {name} counter", f"{name}{{{labels}}} {value}"])

        gauge("vllm:num_requests_running", "Requests in model execution batches.", sum(r.num_running for r in replicas))
        gauge("vllm:num_requests_waiting", "Requests waiting to be processed.", sum(r.num_waiting for r in replicas))
        kv = sum(r.kv_use_frac for r in replicas) / len(replicas) if replicas else 0.0
        gauge("vllm:kv_cache_usage_perc", "KV-cache usage, 1 means 100 percent (mean over replicas).", repr(float(kv)))
        c = live.counters
        counter("vllm:prompt_tokens_total", "Prefill tokens processed.", c["prompt_tokens"])
        counter("vllm:generation_tokens_total", "Generation tokens sent to clients.", c["generation_tokens"])
        lines += ["# HELP vllm:request_success_total Requests that finished.",
                  "# TYPE vllm:request_success_total counter",
                  f'vllm:request_success_total{{{lab},finished_reason="length"}} {c["success"]}']
        for name, help_, hist in (("vllm:time_to_first_token_seconds", "Time to first token as clients saw it.", self.ttft),
                                  ("vllm:inter_token_latency_seconds", "Gap between tokens as clients saw it.", self.itl),
                                  ("vllm:e2e_request_latency_seconds", "End-to-end request latency.", self.e2e)):
            lines += [f"# HELP {name} {help_}", f"# TYPE {name} histogram", *hist.lines(name, lab)]
        counter("fleetchaos:requests_failed_total", "Requests that failed as clients saw them.", c["failed"])
        counter("fleetchaos:requests_rejected_total", "Requests rejected (HTTP 503) before any token.", c["rejected"])
        lines += ["# HELP fleetchaos:replicas_up Replicas up per pool.", "# TYPE fleetchaos:replicas_up gauge"]
        for role, rs in live.fleet.pools.items():
            lines.append(f'fleetchaos:replicas_up{{{lab},pool="{role}"}} {sum(1 for r in rs if r.alive)}')
        gauge("fleetchaos:simulated_time_seconds", "Simulated time since the start.", repr(float(live.env.now)))
        gauge("fleetchaos:faults_active", "Faults active now.", sum(1 for f in live.fault_list() if f["active"]))
        gauge("fleetchaos:event_loop_lag_max_seconds", "Largest event-loop lag of the clock task.",
              repr(float(live.clock.max_lag_s)))
        return "\n".join(lines) + "\n"
