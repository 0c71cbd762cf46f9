"""The scenario room: the YAML schema (pydantic), loading with file:line errors, includes, overrides."""
from chaos.scenario.faultlist import is_fault_list, load_fault_list
from chaos.scenario.load import (load_scenario, load_scenario_data, load_scenario_text, locate_error, resolve_path,
                                 scenario_hash)
from chaos.scenario.schema import DeploymentConfig, MetricsConfig, PoolConfig, Scenario

__all__ = ["Scenario", "DeploymentConfig", "PoolConfig", "MetricsConfig", "load_scenario", "is_fault_list", "load_fault_list",
           "load_scenario_data", "load_scenario_text", "locate_error", "resolve_path", "scenario_hash"]
