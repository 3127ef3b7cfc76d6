"""Provider keys from the encrypted secret store; a new value is in force without a restart."""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import SecretStr

from broker.secrets.keys import generate_key
from tests.llm.conftest import LlmSetup, raw_post

BODY = {"model": "fast", "messages": [{"role": "user", "content": "x"}]}


def eventually_ok(llm: LlmSetup, timeout: float = 5) -> int:
    deadline = time.monotonic() + timeout
    while (
        code := raw_post(llm, "/v1/chat/completions", BODY).status_code
    ) != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    return code


def test_the_secret_store_serves_provider_keys_and_rotation_needs_no_restart(
    make_llm: Callable[..., LlmSetup],
) -> None:
    llm = make_llm(secret_keys=SecretStr(generate_key()))
    admin = llm.gateway.admin
    llm.mock.api_key = "sk-from-the-store-1"
    assert raw_post(llm, "/v1/chat/completions", BODY).status_code == 502  # the settings key is now wrong
    assert admin.put("/admin/secrets/MOCK_KEY", json={"value": "sk-from-the-store-1"}).status_code == 201
    assert eventually_ok(llm) == 200
    assert llm.mock.received[-1].headers["authorization"] == "Bearer sk-from-the-store-1"

    llm.mock.api_key = "sk-from-the-store-2"
    assert admin.put("/admin/secrets/MOCK_KEY", json={"value": "sk-from-the-store-2"}).status_code == 200
    assert eventually_ok(llm) == 200
    assert llm.mock.received[-1].headers["authorization"] == "Bearer sk-from-the-store-2"
    rows = llm.ledger()
    assert all("sk-from-the-store" not in str(vars(row)) for row in rows)
