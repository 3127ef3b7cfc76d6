"""OpenAPI operations -> HttpToolConfig: names, arguments, body mapping, output schema."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from connectors.fields import check_object_schema
from connectors.http.config import BodyEncoding
from connectors.http.connector import HttpToolConfig, Method, placeholders
from connectors.http.openapi_schema import OpenAPIError, Resolver

METHODS: tuple[Method, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_JSON_MEDIA = re.compile(r"^application/(.+\+)?json$")
_FORM_MEDIA: dict[str, BodyEncoding] = {
    "application/x-www-form-urlencoded": "form",
    "multipart/form-data": "multipart",
}
_RESERVED_HEADERS = frozenset({"accept", "content-type", "authorization"})
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
    document: Mapping[str, Any],
    *,
    openapi_30: bool,
    include: list[str],
    exclude: list[str],
    max_operations: int | None = None,
    operations_setting: str = "max_operations",
) -> tuple[list[HttpToolConfig], list[str]]:
    """One tool per selected operation, in document order, and a warning for each operation left
    out (naming it and why). Raises OpenAPIError when more than `max_operations` are selected."""
    resolver = Resolver(document, openapi_30=openapi_30)
    selected: list[tuple[str, str | None, str, Method, Mapping[str, Any], Mapping[str, Any]]] = []
    used: set[str] = set()
    for path, method, item, operation in _operations(document, resolver):
        operation_id = operation.get("operationId")
        operation_id = operation_id if isinstance(operation_id, str) and operation_id else None
        raw_name = operation_id or f"{method.lower()}_{_UNSAFE_NAME.sub('_', path).strip('_')}"
        name = _unique(_UNSAFE_NAME.sub("_", raw_name).strip("_") or method.lower(), used)
        if _selected([name, *filter(None, [operation_id])], include, exclude):
            selected.append((name, operation_id, path, method, item, operation))
    if max_operations is not None and len(selected) > max_operations:
        raise OpenAPIError(
            f"the document has {len(selected)} operations to import, more than {max_operations} "
            f"({operations_setting}); import a part of it with include/exclude, or raise {operations_setting}"
        )
    tools: list[HttpToolConfig] = []
    warnings: list[str] = []
    for name, operation_id, path, method, item, operation in selected:
        where = f"operation '{operation_id or name}' ({method} {path})"
        notes: list[str] = []
        try:
            fields = _tool_fields(resolver, path, method, item, operation, notes)
            tools.append(HttpToolConfig.model_validate({"name": name, **fields}))
        except OpenAPIError as exc:
            warnings.append(f"{where} was not imported: {exc}")
            continue
        except ValidationError as exc:
            warnings.append(f"{where} was not imported: {first_error(exc)}")
            continue
        warnings += [f"{where}: {note}" for note in notes]
    return tools, warnings


def first_error(exc: ValidationError) -> str:
    """The first pydantic error as 'loc: message'."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


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
    resolver: Resolver,
    path: str,
    method: Method,
    item: Mapping[str, Any],
    operation: Mapping[str, Any],
    notes: list[str],
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    parameters: dict[tuple[str, str], Mapping[str, Any]] = {}
    for raw in [*_list(item.get("parameters")), *_list(operation.get("parameters"))]:
        parameter = resolver.deref(raw)
        if isinstance(parameter, Mapping) and isinstance(parameter.get("name"), str):
            # an operation's parameter overrides the path item's
            parameters[(parameter["name"], str(parameter.get("in")))] = parameter
    by_location: dict[str, list[str]] = {"query": [], "header": [], "cookie": []}
    for (name, location), parameter in parameters.items():
        if location == "path" and "{" + name + "}" not in path:
            continue
        if location not in ("path", *by_location):
            notes.append(f"parameter '{name}' in '{location}' is not a known location and was left out")
            continue
        if location == "header" and name.lower() in _RESERVED_HEADERS:
            continue  # OpenAPI says these are ignored: they describe the request itself
        if name in properties:
            raise OpenAPIError(f"two parameters are called '{name}' (in path, query, header or cookie)")
        properties[name] = _parameter_schema(resolver, parameter)
        if location != "path":
            by_location[location].append(name)
        if location == "path" or parameter.get("required"):
            required.append(name)
    for name in placeholders(path):
        if name not in properties:
            raise OpenAPIError(f"the path placeholder '{{{name}}}' has no path parameter")
    fields: dict[str, Any] = {"method": method, "path": path, "query": by_location["query"]}
    if by_location["header"]:
        fields["header_arguments"] = by_location["header"]
    if by_location["cookie"]:
        fields["cookie_arguments"] = by_location["cookie"]
    _add_body(resolver, operation, properties, required, fields, notes)
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
        if _JSON_MEDIA.match(_media(media_type)) and isinstance(media, Mapping):
            return True, resolver.schema(media.get("schema", {}))
    return False, None


def _media(media_type: object) -> str:
    return str(media_type).split(";")[0].strip().lower()


def _request_body(resolver: Resolver, content: Any) -> tuple[BodyEncoding, Any] | None:
    """The encoding and resolved schema of the request body media type to use: JSON first, then
    form-urlencoded, then multipart; None when the body offers none of them."""
    if not isinstance(content, Mapping):
        return None
    offered = {
        _media(media_type): media for media_type, media in content.items() if isinstance(media, Mapping)
    }
    is_json, schema = _json_schema(resolver, content)
    if is_json:
        return "json", schema
    for media_type, encoding in _FORM_MEDIA.items():
        if media_type in offered:
            return encoding, resolver.schema(offered[media_type].get("schema", {}))
    return None


def _add_body(
    resolver: Resolver,
    operation: Mapping[str, Any],
    properties: dict[str, Any],
    required: list[str],
    fields: dict[str, Any],
    notes: list[str],
) -> None:
    """Map the request body to arguments: its members if it is an object, else one `body` argument
    (JSON only: a form is always an object of fields)."""
    request_body = resolver.deref(operation.get("requestBody"))
    if not isinstance(request_body, Mapping):
        return
    body_required = bool(request_body.get("required"))
    content = request_body.get("content")
    found = _request_body(resolver, content)
    if found is None:
        offered = ", ".join(sorted(map(_media, content))) if isinstance(content, Mapping) else "nothing"
        if body_required:
            raise OpenAPIError(
                f"its request body is {offered}; only JSON, form-urlencoded and multipart bodies "
                "are supported"
            )
        notes.append(f"its optional request body ({offered}) is not supported and is never sent")
        return
    encoding, schema = found
    if encoding != "json":
        fields["body_encoding"] = encoding
    members = _object_members(schema)
    if members is not None and not set(members[0]) & set(properties):
        member_properties, member_required = members
        properties.update(member_properties)
        fields["body"] = list(member_properties)
        if body_required:
            required.extend(member_required)
        return
    if encoding != "json":
        raise OpenAPIError(f"its {encoding} request body is not a plain object of fields")
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
