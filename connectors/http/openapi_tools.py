"""OpenAPI operations -> HttpToolConfig: names, arguments, body mapping, output schema."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from connectors.fields import check_object_schema
from connectors.http.connector import HttpToolConfig, Method, placeholders
from connectors.http.openapi_schema import OpenAPIError, Resolver

METHODS: tuple[Method, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_JSON_MEDIA = re.compile(r"^application/(.+\+)?json$")
_OBJECT_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "allOf",
        "additionalProperties",
        "title",
        "description",
        "example",
        "examples",
    }
)


def tool_configs(
    document: Mapping[str, Any], *, openapi_30: bool, include: list[str], exclude: list[str]
) -> list[HttpToolConfig]:
    """One tool per selected operation, in document order. Raises OpenAPIError naming the operation."""
    resolver = Resolver(document, openapi_30=openapi_30)
    tools: list[HttpToolConfig] = []
    used: set[str] = set()
    for path, method, item, operation in _operations(document, resolver):
        operation_id = operation.get("operationId")
        operation_id = operation_id if isinstance(operation_id, str) and operation_id else None
        raw_name = operation_id or f"{method.lower()}_{_UNSAFE_NAME.sub('_', path).strip('_')}"
        name = _unique(_UNSAFE_NAME.sub("_", raw_name).strip("_") or method.lower(), used)
        if not _selected([name, *filter(None, [operation_id])], include, exclude):
            continue
        where = f"operation '{operation_id or name}' ({method} {path})"
        try:
            tools.append(
                HttpToolConfig.model_validate(
                    {"name": name, **_tool_fields(resolver, path, method, item, operation)}
                )
            )
        except OpenAPIError as exc:
            raise OpenAPIError(f"{where}: {exc}; leave it out with exclude") from None
        except ValidationError as exc:
            raise OpenAPIError(f"{where}: {first_error(exc)}; leave it out with exclude") from None
    return tools


def first_error(exc: ValidationError) -> str:
    """The first pydantic error as 'loc: message'."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


def _operations(
    document: Mapping[str, Any], resolver: Resolver
) -> Iterator[tuple[str, Method, Mapping[str, Any], Mapping[str, Any]]]:
    for path, raw_item in document["paths"].items():
        item = resolver.deref(raw_item)
        if not isinstance(item, Mapping):
            continue
        for method in METHODS:
            operation = item.get(method.lower())
            if isinstance(operation, Mapping):
                yield str(path), method, item, operation


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name[:64], 1
    while candidate in used:
        n += 1
        candidate = f"{name[: 63 - len(str(n))]}_{n}"
    used.add(candidate)
    return candidate


def _selected(candidates: list[str], include: list[str], exclude: list[str]) -> bool:
    def matches(patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(c, p) for c in candidates for p in patterns)

    return (not include or matches(include)) and not matches(exclude)


def _tool_fields(
    resolver: Resolver, path: str, method: Method, item: Mapping[str, Any], operation: Mapping[str, Any]
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    query: list[str] = []
    parameters: dict[tuple[str, str], Mapping[str, Any]] = {}
    for raw in [*_list(item.get("parameters")), *_list(operation.get("parameters"))]:
        parameter = resolver.deref(raw)
        if isinstance(parameter, Mapping) and isinstance(parameter.get("name"), str):
            # an operation's parameter overrides the path item's
            parameters[(parameter["name"], str(parameter.get("in")))] = parameter
    for (name, location), parameter in parameters.items():
        if location not in ("path", "query") or (location == "path" and "{" + name + "}" not in path):
            continue  # header and cookie parameters are not imported
        if name in properties:
            raise OpenAPIError(f"parameter '{name}' is both a path and a query parameter")
        properties[name] = _parameter_schema(resolver, parameter)
        if location == "query":
            query.append(name)
        if location == "path" or parameter.get("required"):
            required.append(name)
    for name in placeholders(path):
        if name not in properties:
            raise OpenAPIError(f"the path placeholder '{{{name}}}' has no path parameter")
    fields: dict[str, Any] = {"method": method, "path": path, "query": query}
    _add_body(resolver, operation, properties, required, fields)
    fields["input_schema"] = {
        "type": "object",
        "properties": properties,
        **({"required": required} if required else {}),
        "additionalProperties": False,
    }
    summary = str(operation.get("summary") or "").strip()
    details = str(operation.get("description") or "").strip()
    text = "\n\n".join(dict.fromkeys(part for part in (summary, details) if part)) or f"{method} {path}"
    fields["description"] = (("Deprecated. " if operation.get("deprecated") else "") + text)[:10_000]
    annotations: dict[str, Any] = {"title": summary[:200]} if summary else {}
    if method in ("PUT", "DELETE"):
        annotations["idempotentHint"] = True
    fields["annotations"] = annotations or None
    fields["output_schema"] = _output_schema(resolver, operation)
    return fields


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _parameter_schema(resolver: Resolver, parameter: Mapping[str, Any]) -> Any:
    raw = parameter.get("schema")
    content = parameter.get("content")
    if raw is None and isinstance(content, Mapping):
        media = next(iter(content.values()), None)
        raw = media.get("schema") if isinstance(media, Mapping) else None
    schema = resolver.schema(raw if raw is not None else {})
    if isinstance(schema, dict) and parameter.get("description") and "description" not in schema:
        schema = {**schema, "description": parameter["description"]}
    return schema


def _json_schema(resolver: Resolver, content: Any) -> tuple[bool, Any]:
    """(whether a JSON media type is offered, its resolved schema) for a `content` map."""
    if not isinstance(content, Mapping):
        return False, None
    for media_type, media in content.items():
        if _JSON_MEDIA.match(str(media_type).split(";")[0].strip().lower()) and isinstance(media, Mapping):
            return True, resolver.schema(media.get("schema", {}))
    return False, None


def _add_body(
    resolver: Resolver,
    operation: Mapping[str, Any],
    properties: dict[str, Any],
    required: list[str],
    fields: dict[str, Any],
) -> None:
    """Map the JSON request body to arguments: its members if it is an object, else one `body` argument."""
    request_body = resolver.deref(operation.get("requestBody"))
    if not isinstance(request_body, Mapping):
        return
    body_required = bool(request_body.get("required"))
    is_json, schema = _json_schema(resolver, request_body.get("content"))
    if not is_json:
        if body_required:
            raise OpenAPIError("its request body is not JSON")
        return
    members = _object_members(schema)
    if members is not None and not set(members[0]) & set(properties):
        member_properties, member_required = members
        properties.update(member_properties)
        fields["body"] = list(member_properties)
        if body_required:
            required.extend(member_required)
        return
    name = "body" if "body" not in properties else "request_body"
    properties[name] = schema
    fields["body_argument"] = name
    if body_required:
        required.append(name)


def _object_members(schema: Any) -> tuple[dict[str, Any], list[str]] | None:
    """Properties and required names of a plain, closed object schema (allOf parts merged), else None.

    Read-only properties are left out: a client does not send them.
    """
    if not isinstance(schema, Mapping) or schema.get("additionalProperties") not in (None, False):
        return None
    parts = [schema, *_list(schema.get("allOf"))]
    if any(not isinstance(part, Mapping) or set(part) - _OBJECT_KEYWORDS for part in parts):
        return None
    if not any(part.get("type") == "object" or "properties" in part for part in parts):
        return None
    properties: dict[str, Any] = {}
    required: list[str] = []
    for part in parts:
        if part is not schema and ("allOf" in part or part.get("additionalProperties") not in (None, False)):
            return None
        for name, value in (part.get("properties") or {}).items():
            if not (isinstance(value, Mapping) and value.get("readOnly") is True):
                properties[name] = value
        required.extend(name for name in _list(part.get("required")) if name not in required)
    return properties, [name for name in required if name in properties]


def _output_schema(resolver: Resolver, operation: Mapping[str, Any]) -> dict[str, Any] | None:
    """The first 2xx response's JSON schema when it describes an object (as MCP requires), else None."""
    responses = operation.get("responses")
    if not isinstance(responses, Mapping):
        return None
    success = sorted(
        (code for code in responses if str(code).startswith("2")), key=lambda c: str(c).replace("X", "9")
    )
    response = resolver.deref(responses[success[0]]) if success else None
    if not isinstance(response, Mapping):
        return None
    _, schema = _json_schema(resolver, response.get("content"))
    try:
        return check_object_schema(schema) if isinstance(schema, dict) else None
    except ValueError:
        return None
