"""Turn OpenAPI schema objects into self-contained JSON Schema (Draft 2020-12).

Local `$ref`s are inlined, so every tool schema stands alone for agents and validators.
A reference that would recurse into itself is cut to an unconstrained schema with a note,
and a per-schema node budget stops documents whose references fan out explosively.
OpenAPI 3.0's dialect (`nullable`, boolean `exclusiveMinimum`, `example`) is rewritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

_SUBSCHEMA = frozenset(
    {
        "additionalItems",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
_SUBSCHEMA_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMA_MAP = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})


class OpenAPIError(ValueError):
    """The document cannot be turned into tools; the message says where."""


class Resolver:
    """Follows local references in one OpenAPI document."""

    def __init__(self, document: Mapping[str, Any], *, openapi_30: bool, budget: int = 20_000) -> None:
        self._document = document
        self._openapi_30 = openapi_30
        self._budget = budget
        self._left = budget

    def target(self, ref: object) -> Any:
        """The value a `#/...` JSON pointer names."""
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise OpenAPIError(
                f"$ref {ref!r} is not a local reference ('#/...'); external references are not supported"
            )
        value: Any = self._document
        for token in ref[2:].split("/"):
            key = unquote(token).replace("~1", "/").replace("~0", "~")
            if isinstance(value, Mapping) and key in value:
                value = value[key]
            elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            else:
                raise OpenAPIError(f"$ref {ref!r} points to nothing")
        return value

    def deref(self, value: Any) -> Any:
        """Follow `$ref` chains of non-schema objects (parameters, request bodies, responses)."""
        seen: set[str] = set()
        while isinstance(value, Mapping) and "$ref" in value:
            ref = value["$ref"]
            if ref in seen:
                raise OpenAPIError(f"$ref {ref!r} refers to itself")
            seen.add(ref)
            value = self.target(ref)
        return value

    def schema(self, schema: Any) -> Any:
        """A self-contained copy of `schema` (a JSON Schema object or boolean)."""
        self._left = self._budget
        return self._schema(schema, ())

    def _schema(self, schema: Any, stack: tuple[str, ...]) -> Any:
        self._left -= 1
        if self._left < 0:
            raise OpenAPIError(
                f"a schema expands to more than {self._budget} nodes once its $refs are inlined"
            )
        if isinstance(schema, bool):
            return schema
        if not isinstance(schema, Mapping):
            raise OpenAPIError(f"a schema must be an object or a boolean, not {type(schema).__name__}")
        if "$ref" in schema:
            return self._reference(schema, stack)
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in _SUBSCHEMA or (key == "items" and not isinstance(value, list)):
                out[key] = self._schema(value, stack)
            elif key in _SUBSCHEMA_LIST or key == "items":  # a list of items is a pre-2020 tuple
                out[key] = [self._schema(item, stack) for item in _as_list(value, key)]
            elif key in _SUBSCHEMA_MAP and isinstance(value, Mapping):
                out[key] = {name: self._schema(item, stack) for name, item in value.items()}
            else:
                out[key] = value
        return _from_openapi_30(out) if self._openapi_30 else out

    def _reference(self, schema: Mapping[str, Any], stack: tuple[str, ...]) -> Any:
        ref = schema["$ref"]
        if ref in stack:
            return {"description": f"Recursive reference to {ref}; not expanded here."}
        resolved = self._schema(self.target(ref), (*stack, ref))
        # OpenAPI 3.0 ignores keywords beside $ref; 3.1 (JSON Schema) applies them too.
        siblings = {} if self._openapi_30 else {k: v for k, v in schema.items() if k != "$ref"}
        if not siblings:
            return resolved
        extra = self._schema(siblings, stack)
        if isinstance(resolved, bool):
            return {"allOf": [resolved], **extra}
        return {**resolved, **extra}


def _as_list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise OpenAPIError(f"'{key}' must be a list of schemas")
    return value


def _from_openapi_30(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite OpenAPI 3.0 schema keywords that mean something else in JSON Schema 2020-12."""
    for keyword, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(schema.get(keyword), bool) and schema.pop(keyword) and bound in schema:
            schema[keyword] = schema.pop(bound)
    if "example" in schema:
        example = schema.pop("example")
        schema.setdefault("examples", [example])
    if schema.pop("nullable", False) is True:
        kind = schema.get("type")
        if isinstance(kind, str):
            schema["type"] = [kind, "null"]
            if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
                schema["enum"] = [*schema["enum"], None]
        elif kind is None:
            return {"anyOf": [schema, {"type": "null"}]}
    return schema
