"""Persistence: SQLAlchemy 2 models and the engine. Nothing on a tool call's path touches it
except the batched audit writer."""
