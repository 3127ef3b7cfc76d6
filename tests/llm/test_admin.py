"""/admin/llm: providers, routes, prices, budgets and limits; usage reports; metrics."""

from __future__ import annotations

import httpx
import pytest

from tests.llm.conftest import PROVIDER_KEY, LlmSetup

HELLO = [{"role": "user", "content": "hello"}]


def provider(name: str, url: str, **extra: object) -> dict[str, object]:
    return {"name": name, "kind": "openai", "base_url": f"{url}/v1", "api_key_secret": "MOCK_KEY",
            "models": ["mock-small"], **extra}  # fmt: skip


def test_providers_are_added_listed_replaced_and_removed(llm: LlmSetup) -> None:
    admin = llm.gateway.admin
    created = admin.post("/admin/llm/providers", json=provider("extra", llm.mock_url))
    assert (created.status_code, created.json()["result"]) == (201, "created")
    assert admin.post("/admin/llm/providers", json=provider("extra", llm.mock_url)).status_code == 409
    replaced = admin.post("/admin/llm/providers?replace=true", json=provider("extra", llm.mock_url))
    assert replaced.json()["result"] == "unchanged"
    shown = admin.get("/admin/llm/providers/extra").json()
    assert (
        shown["status"] == {"loaded": True, "key": "ok"} and shown["config"]["api_key_secret"] == "MOCK_KEY"
    )
    missing_key = provider("nokey", llm.mock_url, api_key_secret="NOT_SET")
    assert admin.post("/admin/llm/providers", json=missing_key).status_code == 201
    assert admin.get("/admin/llm/providers/nokey").json()["status"]["key"] == "missing"
    assert PROVIDER_KEY not in admin.get("/admin/llm/providers").text
    assert llm.openai().chat.completions.create(model="extra/mock-small", messages=HELLO).choices
    assert admin.delete("/admin/llm/providers/extra").status_code == 204
    assert admin.get("/admin/llm/providers/extra").status_code == 404


def test_yaml_bodies_and_located_errors(llm: LlmSetup) -> None:
    admin = llm.gateway.admin
    text = "name: cheap\ntargets:\n  - mock/mock-small\n  - nowhere/model\n"
    refused = admin.post("/admin/llm/models", content=text, headers={"content-type": "application/yaml"})
    assert refused.status_code == 422
    [problem] = refused.json()["error"]["problems"]
    assert problem["field"] == "targets[1]" and problem["line"] == 4
    assert "provider 'nowhere', which is not registered" in problem["message"]
    bad = admin.post("/admin/llm/budgets", json={"name": "b", "agent": "bot", "period": "week", "usd": 1})
    assert bad.status_code == 422 and bad.json()["error"]["problems"][0]["field"] == "period"
    both = admin.post(
        "/admin/llm/budgets", json={"name": "b", "agent": "bot", "period": "day", "usd": 1, "tokens": 5}
    )
    assert "exactly one of 'tokens' or 'usd'" in both.text
    nobody = admin.post("/admin/llm/rate-limits", json={"name": "r", "agent": "ghost", "rpm": 5})
    assert nobody.status_code == 422 and "no agent named 'ghost'" in nobody.text
    leak = admin.post(
        "/admin/llm/providers", json=provider("x", llm.mock_url, headers={"Authorization": "k"})
    )
    assert leak.status_code == 422 and "keys come from api_key_secret" in leak.text


def test_a_provider_in_use_by_a_route_cannot_be_removed(llm: LlmSetup) -> None:
    conflict = llm.gateway.admin.delete("/admin/llm/providers/mock")
    assert conflict.status_code == 409 and "fast" in conflict.json()["error"]["message"]


def test_prices_are_editable_and_the_qualified_price_wins(llm: LlmSetup) -> None:
    admin = llm.gateway.admin
    assert admin.get("/admin/llm/prices/mock-small").json()["config"]["input"] == 0.5
    body = {"model": "mock/mock-small", "input": 10, "output": 20}
    assert admin.post("/admin/llm/prices", json=body).status_code == 201
    llm.openai().chat.completions.create(model="fast", messages=HELLO)
    assert llm.ledger(1)[0].cost_usd == pytest.approx((1 * 10 + 12 * 20) / 1e6)


def test_apply_is_idempotent(llm: LlmSetup) -> None:
    document = {"budgets": [{"name": "d", "team": "support", "period": "day", "tokens": 1000}],
                "rate_limits": [{"name": "r", "agent": "bot", "rpm": 100, "tpm": 100000}]}  # fmt: skip
    first = llm.apply(document)
    assert first["changed"] and first["report"]["budgets"]["created"] == ["d"]
    assert llm.apply(document)["changed"] is False


def test_usage_report_and_metrics(llm: LlmSetup) -> None:
    client = llm.openai()
    for model in ("fast", "fast", "mock-large"):
        client.chat.completions.create(model=model, messages=HELLO)
    with pytest.raises(Exception):  # noqa: B017
        client.chat.completions.create(model="nope", messages=HELLO)
    report = llm.gateway.admin.get("/admin/llm/usage", params={"by": "model", "period": "today"}).json()
    lines = {line["group"]["model"]: line for line in report["lines"]}
    assert lines["fast"]["requests"] == 2 and lines["fast"]["completion_tokens"] == 24
    assert lines["mock-large"]["cost_usd"] == pytest.approx((1 * 3 + 12 * 15) / 1e6)
    assert lines["nope"]["errors"] == 1
    assert report["total"]["requests"] == 4 and report["total"]["prompt_tokens"] == 3
    by_team = llm.gateway.admin.get("/admin/llm/usage", params={"by": "team,day"}).json()
    assert by_team["lines"][0]["group"]["team"] == "support" and by_team["lines"][0]["requests"] == 4
    assert llm.gateway.admin.get("/admin/llm/usage", params={"by": "colour"}).status_code == 422

    metrics = httpx.get(f"{llm.gateway.url}/metrics").text
    assert 'broker_llm_tokens_total{agent="bot",kind="completion",model="fast"} 24.0' in metrics
    assert 'broker_llm_requests_total{agent="bot",model="(unknown)",status="model_not_found"} 1.0' in metrics
    assert 'broker_llm_cost_usd_total{agent="bot",model="mock/mock-large"}' in metrics  # by canonical name
    assert "broker_llm_time_to_first_token_seconds" in metrics


def test_the_llm_admin_api_needs_the_admin_token(llm: LlmSetup) -> None:
    assert httpx.get(f"{llm.gateway.url}/admin/llm/providers").status_code == 401
    with_agent_key = httpx.get(
        f"{llm.gateway.url}/admin/llm/usage", headers={"Authorization": f"Bearer {llm.key}"}
    )
    assert with_agent_key.status_code == 401


def test_the_combined_document_carries_an_llm_section(llm: LlmSetup) -> None:
    text = f"""
agents:
  - {{name: writer, team: content}}
policies:
  - name: writer-models
    agents: [writer]
    allow: []
    models: {{allow: [quick]}}
llm:
  providers:
    - {{name: second, kind: openai, base_url: "{llm.mock_url}/v1", api_key_secret: MOCK_KEY,
       models: [mock-small]}}
  models:
    - {{name: quick, targets: [second/mock-small, mock/mock-small]}}
  budgets:
    - {{name: writer-day, agent: writer, period: day, tokens: 100000}}
"""
    admin = llm.gateway.admin
    response = admin.post("/admin/apply", content=text, headers={"content-type": "application/yaml"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["changed"] and report["llm"]["models"]["created"] == ["quick"]
    assert report["llm"]["budgets"]["created"] == ["writer-day"]
    key = admin.post("/admin/agents/writer/keys", json={}).json()["key"]
    assert llm.openai(key).chat.completions.create(model="quick", messages=HELLO).choices  # live at once
    again = admin.post("/admin/apply", content=text, headers={"content-type": "application/yaml"})
    assert again.json()["changed"] is False

    bad = text.replace("second/mock-small, mock", "second/mock-small, nowhere")
    refused = admin.post("/admin/apply", content=bad, headers={"content-type": "application/yaml"})
    assert refused.status_code == 422
    [problem] = refused.json()["error"]["problems"]
    assert (problem["field"], problem["line"]) == ("llm.models[0].targets[1]", 14)
