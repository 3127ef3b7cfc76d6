"""YAML 1.2 for the documents connectors read (OpenAPI specs, presets).

ruamel.yaml (with its C parser) instead of PyYAML: YAML 1.1 turns `NO`, `on` and `yes` into
booleans, so `enum: [NO, SE, DK]` would load as `[False, "SE", "DK"]`.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

__all__ = ["YAMLError", "load"]


def load(text: str | bytes) -> Any:
    """One YAML 1.2 document as plain Python values (mappings, lists, scalars, dates)."""
    return YAML(typ="safe").load(text)
