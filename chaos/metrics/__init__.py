"""Request log (numpy columns), percentiles, goodput, per-window time series and fleet series."""
from chaos.metrics.config import SloConfig
from chaos.metrics.log import COLUMNS, RequestLog, Status
from chaos.metrics.quantile import ItlSamples, grouped_quantiles, weighted_quantile
from chaos.metrics.series import FleetSeries, TimeSeries, time_series
from chaos.metrics.summary import LatencyStats, Slo, Summary, run_end_s, summarize

__all__ = ["RequestLog", "Status", "COLUMNS", "ItlSamples", "weighted_quantile", "grouped_quantiles",
           "Slo", "SloConfig", "Summary", "LatencyStats", "summarize", "run_end_s", "time_series",
           "TimeSeries", "FleetSeries"]
