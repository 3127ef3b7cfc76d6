"""Generated OpenAPI documents shaped like real big APIs, for tests and bench/openapi_import.py.

`github_like`: JSON bodies, path/query/header parameters, shared component schemas behind
`$ref`s, long descriptions (GitHub's published spec: ~1,000 operations, ~10 MB).
`stripe_like`: every request body form-encoded with nested objects and arrays, expandable
fields, a required tenant header on some operations (Stripe's spec: ~600 operations, ~6 MB).
`flat`: many small inline operations (the size attack: 20,000 operations, no $refs).
"""

from __future__ import annotations

from typing import Any

_LOREM = (
    "Lists the resources the authenticated user can see, newest first. Results are paginated; "
    "follow the Link header or pass page and per_page. Fine-grained tokens need read access. "
)


def _object_schema(index: int, width: int, ref_every: int) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for j in range(width):
        kind = ("string", "integer", "boolean", "array", "object")[j % 5]
        name = f"field_{j}"
        if kind == "array":
            properties[name] = {"type": "array", "items": {"type": "string"}, "description": _LOREM[:80]}
        elif kind == "object":
            properties[name] = (
                {"$ref": f"#/components/schemas/thing_{(index + j) % ref_every}"}
                if ref_every
                else {"type": "object", "properties": {"id": {"type": "integer"}}}
            )
        else:
            properties[name] = {"type": kind, "description": _LOREM[: 40 + j % 60]}
    return {"type": "object", "properties": properties, "required": ["field_0"]}


def github_like(
    operations: int = 1000, *, schemas: int = 300, width: int = 40, prose: int = 6
) -> dict[str, Any]:
    components = {
        f"thing_{i}": {
            "type": "object",
            "description": _LOREM,
            "properties": {
                "id": {"type": "integer"},
                "node_id": {"type": "string"},
                "url": {"type": "string", "format": "uri"},
                "name": {"type": "string", "description": _LOREM},
                "created_at": {"type": "string", "format": "date-time"},
                "private": {"type": "boolean", "nullable": True},
            },
        }
        for i in range(schemas)
    }
    components["repository"] = _object_schema(0, width * 2, schemas)
    paths: dict[str, Any] = {}
    for i in range(operations):
        kind = i % 4
        path = f"/repos/{{owner}}/{{repo}}/area{i // 4}/items" + ("/{item_id}" if kind in (1, 3) else "")
        item = paths.setdefault(
            path,
            {
                "parameters": [
                    {"$ref": "#/components/parameters/owner"},
                    {"$ref": "#/components/parameters/repo"},
                    *(
                        [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
                        if kind in (1, 3)
                        else []
                    ),
                ]
            },
        )
        method = ("get", "get", "post", "patch")[kind]
        operation: dict[str, Any] = {
            "operationId": f"area{i // 4}/{method}-{'item' if kind in (1, 3) else 'items'}",
            "summary": f"Operation {i}",
            "description": _LOREM * prose,
            "tags": [f"area{i // 4}"],
            "parameters": [
                {"name": "X-GitHub-Api-Version", "in": "header", "schema": {"type": "string"}},
                *(
                    [
                        {"$ref": "#/components/parameters/per_page"},
                        {"name": "page", "in": "query", "schema": {"type": "integer", "default": 1}},
                        {"name": "sort", "in": "query", "schema": {"enum": ["created", "updated"]}},
                    ]
                    if kind == 0
                    else []
                ),
            ],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/thing_{i % schemas}"}
                            if kind
                            else {"type": "array", "items": {"$ref": "#/components/schemas/repository"}}
                        }
                    },
                },
                "404": {"description": "Resource not found"},
            },
        }
        if method in ("post", "patch"):
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _object_schema(i, width, schemas)}},
            }
        item[method] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "GitHub-like REST API", "version": "1.1.4", "description": _LOREM * 20},
        "servers": [{"url": "https://api.github.example"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "parameters": {
                "owner": {"name": "owner", "in": "path", "required": True, "schema": {"type": "string"}},
                "repo": {"name": "repo", "in": "path", "required": True, "schema": {"type": "string"}},
                "per_page": {
                    "name": "per_page",
                    "in": "query",
                    "schema": {"type": "integer", "default": 30, "maximum": 100},
                },
            },
        },
    }


def stripe_like(operations: int = 600, *, width: int = 60) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for i in range(operations):
        resource = f"/v1/resource{i // 3}"
        kind = i % 3
        path = resource + ("/{id}" if kind else "")
        item = paths.setdefault(path, {})
        method = ("post", "get", "post")[kind]
        parameters: list[dict[str, Any]] = [
            {
                "name": "Stripe-Account",
                "in": "header",
                "required": i % 10 == 0,
                "schema": {"type": "string", "maxLength": 5000},
            },
        ]
        if kind:
            parameters.append({"name": "id", "in": "path", "required": True, "schema": {"type": "string"}})
        if method == "get":
            parameters.append(
                {
                    "name": "expand",
                    "in": "query",
                    "style": "deepObject",
                    "explode": True,
                    "schema": {"type": "array", "items": {"type": "string", "maxLength": 5000}},
                }
            )
        properties: dict[str, Any] = {
            "metadata": {
                "anyOf": [
                    {"type": "object", "additionalProperties": {"type": "string"}},
                    {"enum": [""], "type": "string"},
                ],
                "description": _LOREM,
            },
            "expand": {"type": "array", "items": {"type": "string", "maxLength": 5000}},
            "address": {
                "type": "object",
                "title": "optional_fields_address",
                "properties": {
                    name: {"type": "string", "maxLength": 5000}
                    for name in ("city", "country", "line1", "line2", "postal_code", "state")
                },
            },
        }
        for j in range(width):
            properties[f"param_{j}"] = (
                {"type": "integer", "description": _LOREM[:90]}
                if j % 3 == 0
                else {"type": "string", "maxLength": 5000, "description": _LOREM}
            )
        operation: dict[str, Any] = {
            "operationId": f"{method.capitalize()}Resource{i // 3}{'Id' if kind else ''}{kind}",
            "summary": f"Operation {i}",
            "description": f"<p>{_LOREM * 3}</p>",
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "Successful response.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/charge"}}},
                },
                "default": {
                    "description": "Error response.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/error"}}},
                },
            },
        }
        if method == "post":
            operation["requestBody"] = {
                "required": False,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "encoding": {"metadata": {"explode": True, "style": "deepObject"}},
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": properties,
                        },
                    }
                },
            }
        item[method] = operation
    return {
        "openapi": "3.0.0",
        "info": {"title": "Stripe-like API", "version": "2024-06-20"},
        "servers": [{"url": "https://api.stripe.example/"}],
        "paths": paths,
        "components": {
            "schemas": {
                "charge": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "amount": {"type": "integer"},
                        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                        "object": {"enum": ["charge"], "type": "string"},
                    },
                },
                "error": {"type": "object", "properties": {"error": {"type": "object"}}},
            }
        },
    }


def flat(operations: int) -> dict[str, Any]:
    """Many small inline operations, one path each."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Flat", "version": "1"},
        "servers": [{"url": "https://flat.example"}],
        "paths": {
            f"/items{i}/{{id}}": {
                "get": {
                    "operationId": f"get_item_{i}",
                    "summary": f"Get item {i}",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "verbose", "in": "query", "schema": {"type": "boolean"}},
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
            for i in range(operations)
        },
    }
