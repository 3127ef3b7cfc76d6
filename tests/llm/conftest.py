"""The LLM proxy under test: the real gateway on loopback, a local mock provider, real clients."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from broker.demo.upstreams.llm import MockLLM, create_llm_app
from broker.demo.upstreams.serve import BackgroundServer
from broker.store.db import make_engine, make_sessionmaker
from broker.store.models import LlmUsageRecord
from tests.conftest import RunningGateway, start_gateway
from tests.llm.mailbox import Mailbox

PROVIDER_KEY = "sk-mock-provider-4f9a2c71e0"
BACKUP_KEY = "sk-mock-backup-77d1b0aa93"


@dataclass
class LlmSetup:
    gateway: RunningGateway
    mock: MockLLM
    mock_url: str
    key: str
    """The key of agent `bot` (team `support`)."""
    backup: MockLLM | None = None
    _servers: list[BackgroundServer] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"{self.gateway.url}/v1"

    def openai(self, key: str | None = None, **options: Any) -> openai.OpenAI:
        options.setdefault("max_retries", 0)
        return openai.OpenAI(base_url=self.base_url, api_key=key or self.key, **options)

    def async_openai(self, key: str | None = None, **options: Any) -> openai.AsyncOpenAI:
        options.setdefault("max_retries", 0)
        return openai.AsyncOpenAI(base_url=self.base_url, api_key=key or self.key, **options)

    def anthropic(self, key: str | None = None) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.gateway.url, api_key=key or self.key, max_retries=0)

    def apply(self, document: dict[str, Any]) -> dict[str, Any]:
        response = self.gateway.admin.post("/admin/llm/apply", json=document)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def grant(
        self, name: str, models: list[str], *, agents: list[str] | None = None, teams: list[str] | None = None
    ) -> None:
        policy = {
            "name": name,
            "agents": agents or [],
            "teams": teams or [],
            "allow": [],
            "models": {"allow": models},
        }
        response = self.gateway.admin.post("/admin/policies", json={"policies": [policy]})
        assert response.status_code == 200, response.text

    def ledger(self, expected: int | None = None, timeout: float = 5.0) -> list[LlmUsageRecord]:
        """The ledger rows, oldest first; waits until there are `expected` of them."""
        engine = make_engine(self.gateway.database_url)
        sessions = make_sessionmaker(engine)
        deadline = time.monotonic() + timeout
        try:
            while True:
                with sessions() as session:
                    rows = list(session.scalars(select(LlmUsageRecord).order_by(LlmUsageRecord.id)))
                if expected is None or len(rows) >= expected or time.monotonic() > deadline:
                    return rows
                time.sleep(0.05)
        finally:
            engine.dispose()


def mock_document(url: str, **extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "providers": [
            {"name": "mock", "kind": "openai", "base_url": f"{url}/v1", "api_key_secret": "MOCK_KEY",
             "models": ["mock-small", "mock-large", "mock-embed"]},
            {"name": "anthropic-mock", "kind": "anthropic", "base_url": url, "api_key_secret": "MOCK_KEY",
             "models": ["claude-mock"]},
        ],
        "models": [{"name": "fast", "targets": ["mock/mock-small"]}],
        "prices": [
            {"model": "mock-small", "input": 0.5, "output": 1.5},
            {"model": "mock/mock-large", "input": 3, "output": 15, "cached_input": 1},
            {"model": "claude-mock", "input": 3, "output": 15},
        ],
    }  # fmt: skip
    for key, value in extra.items():
        document[key] = document.get(key, []) + value
    return document


@pytest.fixture
def make_llm(tmp_path: Path) -> Iterator[Callable[..., LlmSetup]]:
    """Start a mock provider and a gateway configured for it: `make_llm(**settings)`."""
    started: list[LlmSetup] = []

    def make(mock: MockLLM | None = None, *, database_url: str | None = None, **settings: Any) -> LlmSetup:
        mock = mock or MockLLM(api_key=PROVIDER_KEY)
        upstream = BackgroundServer(create_llm_app(mock)).start()
        keys = {"MOCK_KEY": SecretStr(PROVIDER_KEY), "BACKUP_KEY": SecretStr(BACKUP_KEY)}
        url = database_url or f"sqlite:///{tmp_path / f'llm{len(started)}.db'}"
        server, gateway = start_gateway(url, llm_provider_keys=keys, **settings)
        setup = LlmSetup(gateway, mock, upstream.url, key="", _servers=[server, upstream])
        started.append(setup)
        setup.key = gateway.create_agent("bot", team="support")
        setup.apply(mock_document(upstream.url))
        setup.grant("bot-models", ["*"], agents=["bot"])
        return setup

    yield make
    for setup in started:
        setup.gateway.admin.close()
        for server in setup._servers:
            server.stop()


@pytest.fixture
def llm(make_llm: Callable[..., LlmSetup]) -> LlmSetup:
    return make_llm()


def raw_post(setup: LlmSetup, path: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or setup.key}"}
    return httpx.post(f"{setup.gateway.url}{path}", json=body, headers=headers, timeout=30)


@pytest.fixture
def mail(llm: LlmSetup) -> Iterator[Mailbox]:
    """The mail upstream as connector `mail`; agent bot may use top_contact, send and notice."""
    box = Mailbox()
    with BackgroundServer(box.app()) as server:
        connector = {
            "kind": "http", "name": "mail", "base_url": server.url, "allow_private_network": True,
            "tools": [
                {"name": "top_contact", "description": "Our top contact.", "path": "/contact",
                 "input_schema": {"type": "object", "properties": {}}},
                {"name": "send", "description": "Send an e-mail.", "method": "POST", "path": "/send",
                 "body": ["to", "text"],
                 "input_schema": {"type": "object", "properties": {"to": {"type": "string"},
                                  "text": {"type": "string"}}, "required": ["to", "text"]}},
                {"name": "notice", "description": "Today's notice.", "path": "/notice",
                 "input_schema": {"type": "object", "properties": {}}},
                {"name": "purge", "description": "Delete every message.", "method": "POST", "path": "/send",
                 "input_schema": {"type": "object", "properties": {}}},
            ],
        }  # fmt: skip
        response = llm.gateway.admin.post("/admin/connectors", json=connector)
        assert response.status_code in (200, 201), response.text
        policy = {
            "name": "bot-models", "agents": ["bot"],
            "allow": ["mail.top_contact", "mail.send", "mail.notice"],
            "models": {"allow": ["*"]},
            "masking": {"entities": {"EMAIL_ADDRESS": "token"}, "resolve_tokens_for": ["mail.send"]},
        }  # fmt: skip
        response = llm.gateway.admin.post("/admin/policies", json={"policies": [policy]})
        assert response.status_code == 200, response.text
        yield box
