"""An upstream that leaks: personal data and secrets in its answers and its error bodies, and a
record of every request it received (to see what the gateway sent it)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

EMAIL = "dana.scully@fbi-field.example.com"
PHONE = "+1 202-555-0143"
CARD = "4111 1111 1111 1111"
STRIPE_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dcXq"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkYW5hIiwicm9sZSI6ImFkbWluIn0.c2lnbmF0dXJlLW5vdC1jaGVja2Vk"
GITHUB_TOKEN = "ghp_" + "R4nd0mL00k1ngT0k3nV4lu3F0rT3st1ngXyZ9"
PRIVATE_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n"
    "aFDrBz9vFqU4yKEr6jKwuBzW2P7jYm4Wqk1L8g0wP3i3Q8m5ZyF0eJ0s1AbCdEfG\n"
    "-----END RSA PRIVATE KEY-----"
)
PLANTED = [EMAIL, PHONE, CARD, STRIPE_KEY, JWT, GITHUB_TOKEN, PRIVATE_KEY, "MIIEowIBAAKCAQEA0Z3VS5JJ"]
"""Every value that must never reach an agent or the audit log in clear."""


def create_leaky_app() -> FastAPI:
    app = FastAPI()
    received: list[dict[str, Any]] = []
    app.state.received = received

    @app.get("/profile")
    async def profile() -> dict[str, Any]:
        return {
            "name": "Dana Scully",
            "email": EMAIL,
            "phone": PHONE,
            "card": CARD,
            "notes": f"Prefers e-mail ({EMAIL}); call {PHONE} only after 5pm.",
            "integration": {"api_key": STRIPE_KEY, "session": f"Bearer {JWT}", "deploy_key": PRIVATE_KEY},
            "ci": f"token={GITHUB_TOKEN}",
        }

    @app.get("/fail")
    async def fail() -> JSONResponse:
        message = f"lookup failed for {EMAIL} with key {STRIPE_KEY}"
        return JSONResponse(status_code=500, content={"error": message})

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        body: dict[str, Any] = await request.json()
        received.append(body)
        return {"received": body}

    return app


LEAKY_CONNECTOR: dict[str, Any] = {
    "kind": "http",
    "name": "leaky",
    "allow_private_network": True,
    "tools": [
        {"name": "profile", "description": "A customer's profile.", "path": "/profile"},
        {"name": "fail", "description": "Always fails upstream.", "path": "/fail"},
        {
            "name": "echo",
            "description": "Sends text upstream and shows what arrived.",
            "method": "POST",
            "path": "/echo",
            "input_schema": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
                "additionalProperties": False,
            },
        },
    ],
}
