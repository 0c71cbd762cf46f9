"""GPU, model and backend-profile specs as YAML data with typed loaders; users add or override entries."""
from chaos.catalog.loader import Catalog, load_catalog
from chaos.catalog.specs import BackendSpec, GPUSpec, ModelSpec, SchedulerSpec

__all__ = ["BackendSpec", "Catalog", "GPUSpec", "ModelSpec", "SchedulerSpec", "load_catalog"]
