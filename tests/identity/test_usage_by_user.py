"""Model calls made with OAuth tokens are metered per end user, apart from the agent."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from broker.cli.main import main
from tests.identity.auth_server import AuthServer
from tests.llm.conftest import LlmSetup, make_llm  # noqa: F401 - the fixture


def test_usage_and_cost_are_reported_per_end_user(
    idp: AuthServer,
    make_llm: Callable[..., LlmSetup],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    llm = make_llm(oauth_issuers=[idp.issuer])
    calls = {"alice": 2, "bob": 1}
    for user, count in calls.items():
        token = idp.access_token(sub=user, client_id="bot", aud=llm.gateway.url)
        client = llm.openai(key=token)
        for _ in range(count):
            client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}])
    client = llm.openai()  # the agent's own key: no end user
    client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}])

    rows = llm.ledger(expected=4)
    assert sorted((row.agent, row.end_user or "-") for row in rows) == [
        ("bot", "-"),
        ("bot", "alice"),
        ("bot", "alice"),
        ("bot", "bob"),
    ]
    report = llm.gateway.admin.get("/admin/llm/usage", params={"by": "user"}).json()
    lines = {line["group"]["user"]: line for line in report["lines"]}
    assert {user: line["requests"] for user, line in lines.items()} == {"alice": 2, "bob": 1, None: 1}
    assert lines["alice"]["cost_usd"] > lines["bob"]["cost_usd"] > 0

    monkeypatch.setenv("BROKER_ADMIN_URL", llm.gateway.url)
    monkeypatch.setenv("BROKER_ADMIN_TOKEN", llm.gateway.admin_token)
    capsys.readouterr()
    assert main(["usage", "--by", "user"]) == 0
    printed = capsys.readouterr().out
    assert "alice" in printed and "bob" in printed
