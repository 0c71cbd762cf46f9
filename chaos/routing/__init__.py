"""Routing policies: which replica serves a request (`Router.route`), registered by YAML name in ROUTERS."""
from chaos.routing.base import ROUTERS, ReplicaView, Router
from chaos.routing import policies as _policies  # noqa: F401  (registers the built-in policies)
from chaos.routing.config import RouterConfig
from chaos.routing.policies import KVAware, LeastOutstanding, PowerOfTwo, Random, RoundRobin


def build_router(config: RouterConfig, rng) -> Router:
    """The router named by `config.policy`; rng should be chaos.rng.stream(seed, "routing")."""
    return ROUTERS.get(config.policy)(config, rng)


__all__ = ["ROUTERS", "KVAware", "LeastOutstanding", "PowerOfTwo", "Random", "ReplicaView", "RoundRobin",
           "Router", "RouterConfig", "build_router"]
