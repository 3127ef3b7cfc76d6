"""OpenAPI import: a FastAPI app's own 3.1 document end to end, and hand-written 3.0 documents."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from connectors.errors import ConnectorConfigError, UpstreamHTTPError
from connectors.http.connector import HttpConnector, HttpConnectorConfig
from connectors.http.openapi import OpenAPIConnectorConfig, import_inline, openapi_to_http, resolve_openapi

TREE_30: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Tree", "version": "1"},
    "servers": [{"url": "https://{region}.tree.example/v1/", "variables": {"region": {"default": "eu"}}}],
    "paths": {
        "/nodes/{node_id}": {
            "parameters": [{"$ref": "#/components/parameters/NodeId"}],
            "get": {
                "operationId": "getNode",
                "summary": "Get a node",
                "description": "With its children.",
                "parameters": [
                    {
                        "name": "depth",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 0,
                            "exclusiveMinimum": True,
                            "nullable": True,
                        },
                    },
                    {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {"200": {"$ref": "#/components/responses/NodeResponse"}},
            },
            "put": {
                "operationId": "replaceNode",
                "requestBody": {"$ref": "#/components/requestBodies/NodeBody"},
                "responses": {"204": {"description": "replaced"}},
            },
            "delete": {"deprecated": True, "responses": {"204": {"description": "gone"}}},
        },
        "/nodes": {
            "post": {
                "operationId": "create.node",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "allOf": [
                                    {"$ref": "#/components/schemas/NodeFields"},
                                    {"type": "object", "properties": {"parent": {"type": "string"}}},
                                ]
                            }
                        }
                    },
                },
                "responses": {"201": {"description": "created"}},
            }
        },
        "/upload": {
            "post": {
                "operationId": "upload",
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": {"type": "object"}}},
                },
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
    "components": {
        "parameters": {
            "NodeId": {
                "name": "node_id",
                "in": "path",
                "required": True,
                "description": "Node id",
                "schema": {"type": "string"},
            }
        },
        "schemas": {
            "Node": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "string"},
                    "label": {"type": "string", "nullable": True, "example": "root"},
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                    "created": {"type": "string", "readOnly": True},
                },
            },
            "NodeFields": {
                "type": "object",
                "required": ["label"],
                "properties": {"label": {"type": "string"}, "id": {"type": "string", "readOnly": True}},
            },
        },
        "requestBodies": {
            "NodeBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}},
            }
        },
        "responses": {
            "NodeResponse": {
                "description": "a node",
                "content": {
                    "application/json; charset=utf-8": {"schema": {"$ref": "#/components/schemas/Node"}}
                },
            }
        },
    },
}


def openapi(spec: dict[str, Any] | None = None, **overrides: Any) -> OpenAPIConnectorConfig:
    data: dict[str, Any] = {"kind": "openapi", "name": "tree", "allow_private_network": True, **overrides}
    if spec is not None:
        data["spec"] = spec
    return OpenAPIConnectorConfig.model_validate(data)


def tree(**overrides: Any) -> OpenAPIConnectorConfig:
    return openapi(TREE_30, exclude=["upload"], **overrides)


def convert(**overrides: Any) -> HttpConnectorConfig:
    return openapi_to_http(tree(**overrides))


def test_imports_one_tool_per_operation_with_sanitised_names() -> None:
    config = convert()
    assert config.base_url == "https://eu.tree.example/v1/"
    assert config.description == "Tree 1"
    assert [(t.name, t.method, t.path) for t in config.tools] == [
        ("getNode", "GET", "/nodes/{node_id}"),
        ("replaceNode", "PUT", "/nodes/{node_id}"),
        ("delete_nodes_node_id", "DELETE", "/nodes/{node_id}"),
        ("create_node", "POST", "/nodes"),
    ]


def test_parameters_become_arguments_and_the_30_dialect_is_rewritten() -> None:
    get_node = convert().tools[0]
    assert get_node.description == "Get a node\n\nWith its children."
    assert get_node.annotations is not None and get_node.annotations.title == "Get a node"
    assert get_node.query == ["depth"]
    assert get_node.input_schema == {
        "type": "object",
        "properties": {
            "node_id": {"type": "string", "description": "Node id"},
            "depth": {"type": ["integer", "null"], "exclusiveMinimum": 0},
            "X-Trace": {"type": "string"},
        },
        "required": ["node_id"],
        "additionalProperties": False,
    }
    assert get_node.header_arguments == ["X-Trace"], "header parameters are arguments sent as headers"


def test_output_schema_resolves_refs_and_cuts_the_cycle() -> None:
    output = convert().tools[0].output_schema
    assert output is not None
    assert output["properties"]["label"] == {"type": ["string", "null"], "examples": ["root"]}
    assert output["properties"]["children"]["items"] == {
        "description": "Recursive reference to #/components/schemas/Node; not expanded here."
    }


def test_an_object_body_contributes_its_members_without_read_only_ones() -> None:
    replace = convert().tools[1]
    assert replace.body == ["id", "label", "children"]
    assert replace.input_schema["required"] == ["node_id", "id"]
    assert "created" not in replace.input_schema["properties"]
    assert replace.annotations is not None and replace.annotations.idempotentHint is True
    create = convert().tools[3]
    assert create.body == ["label", "parent"], "allOf parts are merged"
    assert create.input_schema["required"] == ["label"]


def test_deprecated_operations_say_so() -> None:
    assert convert().tools[2].description == "Deprecated. DELETE /nodes/{node_id}"


async def test_imported_tools_send_what_the_document_describes(upstream: str) -> None:
    config = convert(base_url=f"{upstream}/echo/v1")
    async with HttpConnector(config) as connector:
        result = await connector.call("create_node", {"label": "leaf", "parent": "n/1"})
        assert result.structured is not None
        assert result.structured["raw_path"] == "/echo/v1/nodes"
        assert result.structured["json"] == {"label": "leaf", "parent": "n/1"}
        result = await connector.call("getNode", {"node_id": "n/1", "depth": 2})
        assert result.structured is not None
        assert (result.structured["raw_path"], result.structured["query"]) == (
            "/echo/v1/nodes/n%2F1",
            [["depth", "2"]],
        )


def test_a_multipart_body_is_imported_as_fields() -> None:
    upload = openapi_to_http(openapi(TREE_30)).tools[-1]
    assert (upload.name, upload.body_encoding) == ("upload", "multipart")


def test_an_unsupported_operation_is_left_out_with_a_warning_naming_it() -> None:
    spec = copy.deepcopy(TREE_30)
    spec["paths"]["/upload"]["post"]["requestBody"]["content"] = {"application/octet-stream": {}}
    imported = import_inline(openapi(spec))
    assert "upload" not in [tool.name for tool in imported.config.tools]
    assert imported.warnings == [
        "operation 'upload' (POST /upload) was not imported: its request body is application/octet-stream; "
        "only JSON, form-urlencoded and multipart bodies are supported"
    ]


@pytest.mark.parametrize(
    ("include", "exclude", "names"),
    [
        (["get*", "create.*"], [], ["getNode", "create_node"]),
        ([], ["upload", "*Node"], ["delete_nodes_node_id", "create_node"]),
        (["delete_*", "upload"], ["upload"], ["delete_nodes_node_id"]),
    ],
)
def test_include_and_exclude_match_operation_ids_or_tool_names(
    include: list[str], exclude: list[str], names: list[str]
) -> None:
    config = openapi_to_http(openapi(TREE_30, include=include, exclude=exclude))
    assert [tool.name for tool in config.tools] == names


def test_nothing_left_to_import() -> None:
    with pytest.raises(ConnectorConfigError, match="no operations left to import"):
        convert(include=["nothing*"])


def broken(change: Any) -> dict[str, Any]:
    spec = copy.deepcopy(TREE_30)
    change(spec)
    return spec


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: s["components"]["parameters"].update(NodeId={"$ref": "#/components/parameters/NodeId"}),
            "$ref '#/components/parameters/NodeId' refers to itself",
        ),
        (
            lambda s: s["components"]["schemas"]["Node"]["properties"].update(
                x={"$ref": "other.yaml#/Thing"}
            ),
            "$ref 'other.yaml#/Thing' is not a local reference",
        ),
        (
            lambda s: s["components"]["schemas"]["Node"]["properties"].update(
                x={"$ref": "#/components/schemas/Nope"}
            ),
            "$ref '#/components/schemas/Nope' points to nothing",
        ),
        (lambda s: s.pop("servers"), "server URL '/' is relative and there is no spec_url; set base_url"),
        (
            lambda s: s["paths"].update({"/orphans/{orphan}": {"get": {"operationId": "orphan"}}}),
            "operation 'orphan' (GET /orphans/{orphan}) was not imported: "
            "the path placeholder '{orphan}' has no path parameter",
        ),
        (
            lambda s: s["paths"]["/nodes"]["post"].update(
                parameters=[{"name": "dry", "in": "query", "schema": {"type": "maybe"}}]
            ),
            "operation 'create.node' (POST /nodes) was not imported: "
            "input_schema: is not a valid JSON Schema",
        ),
    ],
)
def test_broken_documents_fail_clearly_or_leave_the_operation_out(change: Any, message: str) -> None:
    try:
        imported = import_inline(openapi(broken(change), exclude=["upload"]))
    except ConnectorConfigError as exc:
        assert message in exc.message
    else:
        assert any(message in warning for warning in imported.warnings), imported.warnings


def test_references_that_fan_out_explosively_are_refused() -> None:
    schemas = {
        f"S{i}": {
            "type": "object",
            "properties": {f"p{j}": {"$ref": f"#/components/schemas/S{i + 1}"} for j in range(4)},
        }
        for i in range(12)
    }
    schemas["S12"] = {"type": "string"}
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "x", "version": "1"},
        "servers": [{"url": "https://x.example"}],
        "paths": {
            "/x": {
                "get": {
                    "operationId": "x",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/S0"}}},
                        }
                    },
                }
            }
        },
        "components": {"schemas": schemas},
    }
    with pytest.raises(ConnectorConfigError, match="expands to more than 20000 nodes"):
        openapi_to_http(openapi(spec))


def test_colliding_names_get_a_suffix_and_non_object_bodies_a_body_argument() -> None:
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "x", "version": "1"},
        "servers": [{"url": "https://x.example"}],
        "paths": {
            "/a": {
                "post": {
                    "operationId": "do it",
                    "parameters": [{"name": "label", "in": "query", "schema": {"type": "string"}}],
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "properties": {"label": {"type": "string"}}}
                            }
                        }
                    },
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": {"type": "array"}}},
                        }
                    },
                }
            },
            "/b": {
                "put": {
                    "operationId": "do/it",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"type": "array", "items": {"type": "integer"}}}
                        },
                    },
                }
            },
        },
    }
    first, second = openapi_to_http(openapi(spec)).tools
    assert (first.name, second.name) == ("do_it", "do_it_2")
    assert first.body_argument == "body", "body members clashing with a parameter stay under `body`"
    assert first.output_schema is None, "only object answers get an output schema"
    assert second.body_argument == "body"
    assert second.input_schema["required"] == ["body"]


def test_swagger_2_is_rejected_on_the_spec_field() -> None:
    with pytest.raises(ValidationError) as caught:
        openapi({"swagger": "2.0", "info": {}, "paths": {}})
    assert [error["loc"] for error in caught.value.errors()] == [("spec",)]
    assert "Swagger 2.0 documents are not supported; convert the document to OpenAPI 3" in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "loc", "message"),
    [
        ({"spec": {"openapi": "4.0.0", "paths": {}}}, ("spec",), "must be a 3.0.x or 3.1.x version"),
        ({"spec": {"openapi": "3.1.0"}}, ("spec",), "has no 'paths' object"),
        ({}, (), "give exactly one of `spec`"),
        ({"spec": TREE_30, "spec_url": "https://x.example/openapi.json"}, (), "give exactly one of `spec`"),
        ({"spec_url": "file:///etc/passwd"}, ("spec_url",), "must be an http"),
        ({"spec_url": "https://x.example/o.json", "base_url": "ftp://x"}, ("base_url",), "must be an http"),
        ({"spec_url": "https://x.example/o.json", "include": "get*"}, ("include",), "valid list"),
    ],
)
def test_config_errors_point_at_the_field(
    overrides: dict[str, Any], loc: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        openapi(**overrides)
    assert [error["loc"] for error in caught.value.errors()] == [loc]
    assert message in str(caught.value)


def test_a_spec_url_config_must_be_resolved_first() -> None:
    with pytest.raises(ConnectorConfigError, match="spec_url must be fetched first"):
        openapi_to_http(openapi(spec_url="https://x.example/openapi.json"))


# Fetched documents.


async def test_imports_a_fastapi_apps_own_openapi_31_document(upstream: str) -> None:
    config = (await resolve_openapi(openapi(spec_url=f"{upstream}/openapi.json", name="items"))).config
    assert config.base_url == f"{upstream}/"
    assert config.description == "Items 1.0"
    tools = {tool.name: tool for tool in config.tools}
    assert list(tools) == ["list_items", "create_item", "get_item", "delete_item", "set_tags"]
    assert tools["get_item"].input_schema["properties"]["item_id"]["type"] == "integer"
    item_schema = tools["get_item"].output_schema
    assert item_schema is not None and set(item_schema["properties"]) == {"id", "name", "price", "tags"}
    assert tools["create_item"].body == ["name", "price", "tags"]
    assert tools["set_tags"].body_argument == "body"
    assert tools["list_items"].query == ["tag", "limit"]

    async with HttpConnector(config) as connector:
        created = await connector.call("create_item", {"name": "lamp", "price": 9.5, "tags": ["home"]})
        assert created.structured is not None and created.meta == {"http_status": 201}
        item_id = created.structured["id"]
        tagged = await connector.call("set_tags", {"item_id": item_id, "body": ["home", "sale"]})
        assert tagged.structured is not None and tagged.structured["tags"] == ["home", "sale"]
        listed = await connector.call("list_items", {"tag": ["sale", "home"]})
        assert listed.structured is not None and [i["id"] for i in listed.structured["items"]] == [item_id]
        deleted = await connector.call("delete_item", {"item_id": item_id})
        assert deleted.meta == {"http_status": 204}
        with pytest.raises(UpstreamHTTPError) as caught:
            await connector.call("get_item", {"item_id": item_id})
        assert caught.value.message == f"upstream 'items' answered 404 Not Found: item {item_id} not found"


async def test_fetches_yaml_and_resolves_a_relative_server_against_spec_url(upstream: str) -> None:
    config = (await resolve_openapi(openapi(spec_url=f"{upstream}/specs/echo.yaml"))).config
    assert config.base_url == f"{upstream}/echo/v2"
    assert [tool.name for tool in config.tools] == ["getThing"]
    assert config.tools[0].output_schema == {"type": "object"}, "integer status keys in YAML work"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/specs/swagger.json", "Swagger 2.0 documents are not supported"),
        ("/status/404", "answered 404 Not Found"),
        ("/redirect", "redirected to /echo/elsewhere; set spec_url to the final address"),
        ("/text", "the document is not a JSON/YAML object"),
    ],
)
async def test_unusable_spec_urls(upstream: str, path: str, message: str) -> None:
    with pytest.raises(ConnectorConfigError, match=r"^openapi connector 'tree': ") as caught:
        await resolve_openapi(openapi(spec_url=f"{upstream}{path}"))
    assert message in caught.value.message


async def test_unreachable_spec_url(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/openapi.json"
    with pytest.raises(
        ConnectorConfigError, match=f"cannot fetch {url}: cannot connect to 127.0.0.1:{closed_port}"
    ):
        await resolve_openapi(openapi(spec_url=url))


async def test_slow_spec_url(upstream: str) -> None:
    with pytest.raises(ConnectorConfigError, match=r"no answer within 0\.2 s"):
        await resolve_openapi(openapi(spec_url=f"{upstream}/slow?seconds=1", timeout_seconds=0.2))


async def test_oversized_spec_is_refused() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, headers={"Content-Length": str(10**9)})
    )
    with pytest.raises(ConnectorConfigError, match=r"larger than the 24 MiB allowed \(max_bytes\)"):
        await resolve_openapi(openapi(spec_url="https://x.example/openapi.json"), transport=transport)


async def test_yaml_alias_bombs_are_refused() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(8)]
    bomb = "openapi: 3.1.0\npaths: {}\n" + "\n".join(levels) + "\n"
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text=bomb))
    with pytest.raises(ConnectorConfigError, match="expands to more than 5000000 values"):
        await resolve_openapi(openapi(spec_url="https://x.example/openapi.yaml"), transport=transport)
