"""Failure detection (health probes, progress watchdog) and reconfiguration controller policies."""
from chaos.control.config import AutoscaleConfig, ControllerConfig, HealthConfig, PoolBounds, WatchdogConfig
from chaos.control.controller import Controller, build_controller
from chaos.control.health import CombinedDetection, HealthMonitor, ProgressView, ProgressWatchdog
from chaos.control.plane import ControlPlane, LoadSnapshot
from chaos.control.policies import CONTROLLERS, Policy

__all__ = ["CONTROLLERS", "AutoscaleConfig", "CombinedDetection", "ControlPlane", "Controller", "ControllerConfig", "HealthConfig",
           "HealthMonitor", "LoadSnapshot", "Policy", "PoolBounds", "ProgressView", "ProgressWatchdog",
           "WatchdogConfig", "build_controller"]
