"""fleetchaos: resilience and chaos testing for LLM inference fleets, in simulation."""

__version__ = "0.1.0"
