"""A small real upstream for connector tests: an item API (with its own OpenAPI document)
plus endpoints that misbehave on purpose."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from pydantic import BaseModel

app = FastAPI(title="Items", version="1.0")


class ItemIn(BaseModel):
    name: str
    price: float
    tags: list[str] = []


class Item(ItemIn):
    id: int


_items: dict[int, Item] = {}


@app.get("/items", operation_id="list_items", summary="List items")
async def list_items(
    tag: Annotated[list[str] | None, Query()] = None, limit: int = 10
) -> dict[str, list[Item]]:
    found = [item for item in _items.values() if set(tag or []) <= set(item.tags)]
    return {"items": found[:limit]}


@app.post("/items", operation_id="create_item", summary="Create an item", status_code=201)
async def create_item(item: ItemIn) -> Item:
    created = Item(id=max(_items, default=0) + 1, **item.model_dump())
    _items[created.id] = created
    return created


@app.get("/items/{item_id}", operation_id="get_item", summary="Get one item")
async def get_item(item_id: int) -> Item:
    if item_id not in _items:
        raise HTTPException(404, f"item {item_id} not found")
    return _items[item_id]


@app.put("/items/{item_id}/tags", operation_id="set_tags", summary="Replace an item's tags")
async def set_tags(item_id: int, tags: list[str]) -> Item:
    item = await get_item(item_id)
    _items[item_id] = item.model_copy(update={"tags": tags})
    return _items[item_id]


@app.delete("/items/{item_id}", operation_id="delete_item", status_code=204)
async def delete_item(item_id: int) -> Response:
    _items.pop(item_id, None)
    return Response(status_code=204)


@app.api_route(
    "/echo/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def echo(request: Request) -> dict[str, object]:
    body = await request.body()
    return {
        "method": request.method,
        "raw_path": request.scope["raw_path"].decode(),
        "query": [list(pair) for pair in request.query_params.multi_items()],
        "json": json.loads(body) if body else None,
        "headers": {k: v for k, v in request.headers.items() if k.startswith("x-") or k == "content-type"},
    }


@app.get("/status/{code}", include_in_schema=False)
async def status(code: int, message: str = "") -> Response:
    if code == 204:
        return Response(status_code=204)
    return JSONResponse({"detail": message or f"custom {code} failure"}, status_code=code)


@app.get("/nested-error", include_in_schema=False)
async def nested_error() -> JSONResponse:
    return JSONResponse({"error": {"code": "E42", "message": "backend exploded"}}, status_code=502)


@app.get("/echo-auth-error", include_in_schema=False)
async def echo_auth_error(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"bad credentials: {request.headers.get('authorization')}", status_code=401)


@app.get("/slow", include_in_schema=False)
async def slow(seconds: float) -> dict[str, bool]:
    await asyncio.sleep(seconds)
    return {"done": True}


@app.get("/text", include_in_schema=False)
async def text() -> PlainTextResponse:
    return PlainTextResponse("hello, this is not JSON")


@app.get("/list", include_in_schema=False)
async def a_list() -> list[int]:
    return [1, 2, 3]


@app.get("/big", include_in_schema=False)
async def big(n: int) -> dict[str, str]:
    return {"data": "x" * n}


@app.get("/gzip-bomb", include_in_schema=False)
async def gzip_bomb() -> Response:
    payload = gzip.compress(json.dumps({"data": "x" * 2_000_000}).encode())
    headers = {"content-encoding": "gzip"}
    return Response(payload, media_type="application/json", headers=headers)


@app.get("/redirect", include_in_schema=False)
async def redirect() -> RedirectResponse:
    return RedirectResponse("/echo/elsewhere", status_code=302)


@app.get("/specs/swagger.json", include_in_schema=False)
async def swagger() -> dict[str, object]:
    return {"swagger": "2.0", "info": {"title": "old", "version": "1"}, "paths": {}}


@app.get("/specs/echo.yaml", include_in_schema=False)
async def echo_yaml() -> PlainTextResponse:
    return PlainTextResponse(ECHO_YAML, media_type="application/yaml")


ECHO_YAML = """
openapi: 3.0.3
info: {title: Echo, version: "2"}
servers:
  - url: /echo/v2
paths:
  /things/{id}:
    get:
      operationId: getThing
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses:
        200:
          description: the thing
          content:
            application/json:
              schema: {type: object}
"""
