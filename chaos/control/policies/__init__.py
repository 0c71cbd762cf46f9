"""Controller policies, registered by YAML name in CONTROLLERS (one module per policy)."""
from chaos.control.policies.base import CONTROLLERS, POOLS, ControlState, Policy
from chaos.control.policies import (autoscale as _autoscale, failover_spare as _failover,  # noqa: F401
                                    none as _none, reshard as _reshard, rerole as _rerole, restart as _restart)
from chaos.control.policies.autoscale import Autoscale
from chaos.control.policies.failover_spare import FailoverSpare
from chaos.control.policies.none import NoControl
from chaos.control.policies.planner import replicas_needed
from chaos.control.policies.rerole import Rerole
from chaos.control.policies.reshard import Reshard, reshard_candidates
from chaos.control.policies.restart import Restart

__all__ = ["CONTROLLERS", "POOLS", "Autoscale", "ControlState", "FailoverSpare", "NoControl", "Policy",
           "Rerole", "Reshard", "Restart", "replicas_needed", "reshard_candidates"]
