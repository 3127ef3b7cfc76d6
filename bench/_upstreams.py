"""Upstreams of the tool-path benchmark besides the demo weather app: an MCP server and a SQLite file.

The MCP server answers `forecast` (arguments `city`, and an optional `nonce` it ignores, so a
caller can defeat a cache) with a ~2 KB JSON text block, and `sized` with a JSON result of about
`kb` kilobytes of CRM-like records (names, e-mails, phones, notes), for the PII bench. It serves
stateless Streamable HTTP with JSON responses at /mcp, as a lean 2026-07-28 server would.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "minLength": 1}, "nonce": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
SIZED_SCHEMA = {
    "type": "object",
    "properties": {"kb": {"type": "integer", "minimum": 1, "maximum": 10_000}, "seed": {"type": "integer"}},
    "required": ["kb"],
    "additionalProperties": False,
}


def forecast(city: str) -> dict[str, Any]:
    """About 2 KB of forecast-shaped JSON for a city."""
    days = [
        {
            "date": f"2026-12-{day:02d}",
            "temperature_2m_max": 10.0 + day % 7,
            "temperature_2m_min": 2.0 + day % 5,
            "precipitation_sum": round(0.3 * (day % 4), 1),
            "wind_speed_10m_max": 12.5 + day,
            "weather_code": (3, 61, 2, 45)[day % 4],
            "summary": "Cloudy spells with occasional light rain, clearing later in the day.",
        }
        for day in range(1, 11)
    ]
    return {"city": city, "country": "FR", "latitude": 48.85, "longitude": 2.35, "daily": days}


def crm_records(kb: int, seed: int = 0) -> dict[str, Any]:
    """About `kb` KB of contact records, each with a name, an e-mail, a phone and a note."""
    results: list[dict[str, Any]] = []
    size, n = 40, 0
    while size < kb * 1000:
        n += 1
        ident = seed * 1_000_000 + n
        record = {
            "id": str(100_000 + ident),
            "firstname": f"Ann{ident % 97}",
            "lastname": f"Example{ident % 89}",
            "email": f"ann.example{ident}@mail{ident % 13}.example.com",
            "phone": f"+1 415 555 {ident % 10_000:04d}",
            "company": f"Acme {ident % 31} Ltd",
            "lifecyclestage": ("lead", "customer", "opportunity")[ident % 3],
            "annualrevenue": f"{(ident * 7919) % 90_000_000}.00",
            "createdate": "2025-03-14T09:26:53Z",
            "notes": f"Met at the fair; call back about order ORD-{200_000 + ident} before Friday. "
            f"Prefers e-mail. Login from 10.{ident % 250}.{ident % 200}.{ident % 7 + 1} last week.",
        }
        results.append(record)
        size += len(json.dumps(record, separators=(",", ":"))) + 1
    return {"results": results, "total": len(results)}


def _text(value: Any) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(value, separators=(",", ":")))]
    )


def create_mcp_app() -> ASGIApp:
    tools = [
        types.Tool(name="forecast", description="Ten-day forecast for a city.", input_schema=CITY_SCHEMA),
        types.Tool(name="sized", description="CRM-like records of about `kb` KB.", input_schema=SIZED_SCHEMA),
    ]
    cache: dict[tuple[int, int], types.CallToolResult] = {}

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        arguments = params.arguments or {}
        if params.name == "sized":
            key = (int(arguments["kb"]), int(arguments.get("seed", 0)))
            if key not in cache:
                cache[key] = _text(crm_records(*key))
            return cache[key]
        return _text(forecast(str(arguments.get("city", ""))))

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    server: Server[Any] = Server("bench-upstream", on_list_tools=list_tools, on_call_tool=call_tool)
    return server.streamable_http_app(
        json_response=True,
        stateless_http=True,
        max_request_body_size=1 << 20,
        custom_starlette_routes=[Route("/healthz", healthz)],
    )


def make_sqlite(path: Path) -> None:
    """A small customers table for the `sql` connector's named query."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT, revenue REAL)")
        cities = ("Paris", "London", "Tokyo", "Berlin", "Madrid", "Rome", "Sydney", "Toronto")
        db.executemany(
            "INSERT INTO customers (id, name, city, revenue) VALUES (?, ?, ?, ?)",
            [(n, f"Customer {n}", cities[n % len(cities)], n * 137.5) for n in range(1, 2001)],
        )
