"""Two instances on one PostgreSQL and one Redis behave as one gateway."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import openai

from tests.cluster.conftest import Cluster, llm_document
from tests.conftest import RunningGateway

BODY = {"model": "fast", "messages": [{"role": "user", "content": "x"}], "max_tokens": 5}


def post(gateway_url: str, key: str, body: dict[str, object] = BODY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(f"{gateway_url}/v1/chat/completions", json=body, headers=headers, timeout=30)


def grant_models(through: RunningGateway, models: list[str]) -> None:
    policy = {"name": "bot-models", "agents": ["bot"], "allow": [], "models": {"allow": models}}
    response = through.admin.post("/admin/policies", json={"policies": [policy]})
    assert response.status_code == 200, response.text


def test_a_change_on_one_instance_is_live_on_the_other_within_a_second(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster()
    first, second = cluster.instances
    key = first.create_agent("bot", team="support")
    assert first.admin.post("/admin/llm/apply", json=llm_document(cluster)).status_code == 200
    cluster.wait_in_step(first)
    refused = post(second.url, key)  # the key works on the other instance, the model is not granted
    assert refused.status_code == 403, refused.text

    grant_models(first, ["fast"])
    cluster.wait_in_step(first)
    assert post(second.url, key).status_code == 200

    grant_models(second, ["mock-large"])  # and taken away again, through the other instance
    cluster.wait_in_step(second)
    assert post(first.url, key).status_code == 403
    assert second.admin.delete("/admin/agents/bot").status_code == 204  # its key dies on both
    cluster.wait_in_step(second)
    assert post(first.url, key).status_code == 401


def test_rate_limits_and_budgets_hold_across_instances(make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster()
    first, second = cluster.instances
    key = first.create_agent("bot", team="support")
    document = llm_document(
        cluster,
        rate_limits=[{"name": "bot-rpm", "agent": "bot", "rpm": 4}],
        budgets=[{"name": "team-day", "team": "support", "period": "day", "tokens": 60}],
    )
    assert first.admin.post("/admin/llm/apply", json=document).status_code == 200
    grant_models(first, ["*"])
    cluster.wait_in_step(first)

    codes = [post(gateway.url, key).status_code for gateway in (first, second) * 3]
    assert codes == [200, 200, 200, 200, 429, 429]  # 4 a minute between them, not 4 each

    # A second agent of the same team spends the team's budget concurrently on both instances.
    other = second.create_agent("helper", team="support")
    policy = {"name": "helper-models", "agents": ["helper"], "allow": [], "models": {"allow": ["*"]}}
    assert second.admin.post("/admin/policies", json={"policies": [policy]}).status_code == 200
    cluster.wait_in_step(second)

    async def spend() -> list[bool]:
        clients = [
            openai.AsyncOpenAI(base_url=f"{g.url}/v1", api_key=other, max_retries=0) for g in (first, second)
        ]

        async def call(i: int) -> bool:
            try:
                await clients[i % 2].chat.completions.create(
                    model="fast", messages=[{"role": "user", "content": "x"}], max_tokens=10
                )
                return True
            except openai.RateLimitError:
                return False

        try:
            return await asyncio.gather(*(call(i) for i in range(16)))
        finally:
            for client in clients:
                await client.close()

    admitted = sum(asyncio.run(spend()))  # a burst over both: admission is atomic across them
    # Then one call at a time, alternating, until the team's budget refuses: each call spends 11
    # (1 prompt + 10 completion tokens) and is admitted only while something is left of the 60.
    later = 0
    while post((first, second)[later % 2].url, other, {**BODY, "max_tokens": 10}).status_code == 200:
        later += 1
        assert later < 10, "the budget never refused"
    status = second.admin.get("/admin/llm/budget-status").json()
    (team,) = [row for row in status if row["name"] == "team-day"]
    assert team["reserved"] == 0 and team["spent"] == 24 + 11 * (admitted + later)
    assert 60 <= team["spent"] < 60 + 11  # the last call admitted still had something left
    served = [r for r in cluster.mock.received if r.path == "/v1/chat/completions"]
    assert len(served) == 4 + admitted + later  # the refused calls never reached the provider


def test_a_breaker_opened_on_one_instance_is_open_on_the_other(make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(breaker_failures=2, breaker_open_seconds=60)
    first, second = cluster.instances
    key = first.create_agent("bot", team="support")
    assert first.admin.post("/admin/llm/apply", json=llm_document(cluster)).status_code == 200
    grant_models(first, ["*"])
    cluster.wait_in_step(first)

    cluster.mock.fail(503, times=100)
    assert post(first.url, key).status_code == 502  # tried twice (max_retries 1): the breaker opens
    assert len(cluster.mock.received) == 2
    state = "broker_circuit_breaker_state{upstream=\"provider 'mock'\"} 1.0"
    deadline = time.monotonic() + 1.0
    while state not in httpx.get(f"{second.url}/metrics").text:
        assert time.monotonic() < deadline, "the other instance did not hear of the open breaker in 1 s"
        time.sleep(0.02)
    refused = post(second.url, key)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "upstream_unavailable"
    assert len(cluster.mock.received) == 2  # the other instance did not call it either
