"""Request log (numpy columns), percentiles, goodput, per-window time series and fleet series,
steady-state probes and hypothesis evaluation, resilience against the baseline twin."""
from chaos.metrics.config import HypothesisConfig, ProbeConfig, ResilienceConfig, SloConfig
from chaos.metrics.log import COLUMNS, RequestLog, Status
from chaos.metrics.phases import FaultWindow, Phase, Segment, phases, windows
from chaos.metrics.probes import PROBES, Probe, RunData, probe_values
from chaos.metrics.quantile import ItlSamples, grouped_quantiles, weighted_quantile
from chaos.metrics.series import FleetSeries, TimeSeries, time_series
from chaos.metrics.resilience import (Cliff, Detection, FaultImpact, ResilienceReport, ResilienceScore,
                                      ScoreComponent, analyze_resilience)
from chaos.metrics.steady import HypothesisResult, ProbeCheck, evaluate_hypothesis
from chaos.metrics.summary import LatencyStats, Slo, Summary, run_end_s, summarize

__all__ = ["RequestLog", "Status", "COLUMNS", "ItlSamples", "weighted_quantile", "grouped_quantiles",
           "Slo", "SloConfig", "Summary", "LatencyStats", "summarize", "run_end_s", "time_series",
           "TimeSeries", "FleetSeries",
           "ProbeConfig", "HypothesisConfig", "ResilienceConfig", "PROBES", "Probe", "RunData", "probe_values",
           "FaultWindow", "Phase", "Segment", "phases", "windows",
           "ProbeCheck", "HypothesisResult", "evaluate_hypothesis",
           "Detection", "analyze_resilience", "ResilienceReport", "ResilienceScore", "ScoreComponent", "FaultImpact",
           "Cliff"]
