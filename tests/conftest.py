"""Suite-wide settings: hypothesis examples are judged by their properties, never by wall time (CI
machines are noisy and a simulation-backed example can take a fraction of a second)."""
from hypothesis import settings

settings.register_profile("fleetchaos", deadline=None)
settings.load_profile("fleetchaos")
