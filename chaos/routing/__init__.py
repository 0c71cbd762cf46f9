"""Routing policies: which replica serves a request (`Router.route`), registered by YAML name in ROUTERS,
and the resilience layer in front of them (`ResilientRouter`: health marks, outlier ejection, retries,
hedging, admission)."""
from chaos.rng import stream
from chaos.routing.base import ROUTERS, ReplicaView, Router
from chaos.routing import policies as _policies  # noqa: F401  (registers the built-in policies)
from chaos.routing.config import AdmissionConfig, BackoffConfig, HedgingConfig, OutlierConfig, RouterConfig
from chaos.routing.policies import KVAware, LeastOutstanding, PowerOfTwo, Random, RoundRobin
from chaos.routing.resilience import ResilientRouter


def build_router(config: RouterConfig, rng) -> Router:
    """The router named by `config.policy`; rng should be chaos.rng.stream(seed, "routing")."""
    return ROUTERS.get(config.policy)(config, rng)


def build_resilient_router(config: RouterConfig, seed: int, now) -> ResilientRouter:
    """The configured policy (stream "routing") behind the resilience layer (stream "retry-jitter");
    `now` returns the simulated time (`lambda: env.now`)."""
    return ResilientRouter(build_router(config, stream(seed, "routing")), config, stream(seed, "retry-jitter"), now)


__all__ = ["ROUTERS", "AdmissionConfig", "BackoffConfig", "HedgingConfig", "KVAware", "LeastOutstanding",
           "OutlierConfig", "PowerOfTwo", "Random", "ReplicaView", "ResilientRouter", "RoundRobin", "Router",
           "RouterConfig", "build_resilient_router", "build_router"]
