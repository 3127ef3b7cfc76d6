"""The semantic cache through the real gateway: paraphrases hit, near misses never do, callers
never share, streams replay, and the ledger says what was saved."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import select

from broker.llm.semantic.cache import sealed_name
from broker.pii.keys import pii_salt, token_cipher
from broker.store.db import make_engine, make_sessionmaker
from broker.store.models import SemanticCacheEntry
from tests.llm.conftest import LlmSetup


def cached_route(llm: LlmSetup, **config: Any) -> None:
    route = {
        "name": "cached",
        "targets": ["mock/mock-small"],
        "semantic_cache": {"embedding_model": "mock/mock-embed", "threshold": 0.8, **config},
    }
    llm.apply({"models": [route]})


def ask(llm: LlmSetup, text: str, key: str | None = None, **options: Any) -> str:
    answer = llm.openai(key).chat.completions.create(
        model="cached", messages=[{"role": "user", "content": text}], **options
    )
    return answer.choices[0].message.content or ""


def chats(llm: LlmSetup) -> int:
    return sum(1 for r in llm.mock.received if r.path.endswith("/chat/completions"))


def test_a_paraphrase_is_answered_from_the_cache_and_the_ledger_says_what_was_saved(llm: LlmSetup) -> None:
    cached_route(llm)
    first = ask(llm, "[[words=5]] what is the weather forecast for Paris tomorrow")
    again = ask(llm, "[[words=5]] what is the weather forecast for Paris tomorrow please")
    assert again == first and chats(llm) == 1
    rows = [r for r in llm.ledger(4) if r.endpoint == "chat"]
    assert [r.cache for r in rows] == ["miss", "hit"]
    assert (
        rows[1].cost_usd == 0
        and rows[1].prompt_tokens == 0
        and rows[1].saved_tokens == rows[0].prompt_tokens + 5
    )
    embeddings = [r for r in llm.ledger(4) if r.endpoint == "embeddings"]
    assert len(embeddings) == 2 and all(r.agent == "bot" for r in embeddings)  # metered as the agent's calls


def test_prompts_that_differ_in_an_entity_never_match(llm: LlmSetup) -> None:
    cached_route(llm, threshold=0.5)
    ask(llm, "what is the weather forecast for Paris tomorrow")
    for near_miss in (
        "what is the weather forecast for Rome tomorrow",
        "what is the weather forecast for Paris on 2026-12-08",
        "what is the weather forecast for order 1234 in Paris tomorrow",
        "what is the weather forecast for 'Paris' tomorrow",
    ):
        ask(llm, near_miss)
    assert chats(llm) == 5


def test_parameters_and_the_system_prompt_are_part_of_the_key(llm: LlmSetup) -> None:
    cached_route(llm)
    ask(llm, "summarise the quarterly report")
    ask(llm, "summarise the quarterly report", temperature=1.5)
    llm.openai().chat.completions.create(
        model="cached",
        messages=[
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "summarise the quarterly report"},
        ],
    )
    assert chats(llm) == 3


def test_two_callers_never_share_an_entry(llm: LlmSetup) -> None:
    cached_route(llm)
    other = llm.gateway.create_agent("other-bot", team="support")
    llm.grant("other-models", ["*"], agents=["other-bot"])
    ask(llm, "list the open tickets of the support queue")
    ask(llm, "list the open tickets of the support queue", key=other)
    assert chats(llm) == 2


def test_no_cache_from_the_client_is_honoured_and_a_stream_hit_replays_as_a_stream(llm: LlmSetup) -> None:
    cached_route(llm)
    ask(llm, "[[words=4]] tell me about the gateway architecture")
    fresh = llm.openai().chat.completions.create(
        model="cached",
        messages=[{"role": "user", "content": "[[words=4]] tell me about the gateway architecture"}],
        extra_headers={"Cache-Control": "no-cache"},
    )
    assert fresh.choices[0].message.content and chats(llm) == 2
    stream = llm.openai().chat.completions.create(
        model="cached",
        stream=True,
        messages=[{"role": "user", "content": "[[words=4]] tell me about the gateway architecture"}],
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "alpha bravo charlie delta" and chats(llm) == 2
    metrics = httpx.get(f"{llm.gateway.url}/metrics").text
    assert 'broker_llm_semantic_cache_lookups_total{model="cached",result="hit"} 1.0' in metrics


def entries(llm: LlmSetup, expected: int) -> list[SemanticCacheEntry]:
    """The cache's rows, once there are `expected` (an entry is written after the answer went out)."""
    engine = make_engine(llm.gateway.database_url)
    try:
        for _ in range(100):
            with make_sessionmaker(engine)() as session:
                rows = list(session.scalars(select(SemanticCacheEntry).order_by(SemanticCacheEntry.id)))
            if len(rows) >= expected:
                return rows
            time.sleep(0.05)
        return rows
    finally:
        engine.dispose()


def test_cached_answers_are_encrypted_at_rest(llm: LlmSetup) -> None:
    """The row holds a Fernet token sealed with its scope and key: no answer text, and a copy
    moved onto another scope's row does not decrypt there (a miss, never a leak)."""
    cached_route(llm)
    answer = ask(llm, "[[echo]] the customer Dana Whitfield wrote about invoice alpha")
    assert "Dana Whitfield" in answer
    [row] = entries(llm, 1)
    assert "Whitfield" not in row.answer and "invoice" not in row.answer and "choices" not in row.answer
    assert row.answer.startswith("gAAAAA")  # a Fernet token
    stolen = row.answer
    other = llm.gateway.create_agent("other-bot", team="support")
    llm.grant("other-models", ["*"], agents=["other-bot"])
    ask(llm, "[[echo]] the customer Dana Whitfield wrote about invoice alpha", other)  # its own entry
    assert len(entries(llm, 2)) == 2
    engine = make_engine(llm.gateway.database_url)
    try:
        with make_sessionmaker(engine)() as session, session.begin():
            rows = session.scalars(select(SemanticCacheEntry).order_by(SemanticCacheEntry.id)).all()
            assert len(rows) == 2 and rows[0].scope != rows[1].scope
            rows[1].answer = stolen  # the first caller's answer, copied onto the other's row
    finally:
        engine.dispose()
    before = chats(llm)
    ask(llm, "[[echo]] the customer Dana Whitfield wrote about invoice alpha", other)
    assert chats(llm) == before + 1  # did not decrypt there: a miss, answered upstream


def test_without_a_key_the_cache_stores_nothing(make_llm: Any) -> None:
    llm = make_llm(secret_keys=None)
    cached_route(llm)
    ask(llm, "what is the weather forecast for Paris tomorrow")
    ask(llm, "what is the weather forecast for Paris tomorrow")
    assert chats(llm) == 2
    assert [r.cache for r in llm.ledger(2) if r.endpoint == "chat"] == ["off", "off"]
    assert entries(llm, 0) == []


def test_an_answer_is_cached_as_the_provider_gave_it_with_tokens_not_the_values_they_stand_for(
    llm: LlmSetup,
) -> None:
    """The guardrails put the agent's PII back into the answer it gets; the cache keeps the
    provider's answer, with the tokens, so a hit is restored afresh and the row holds no value."""
    cached_route(llm)
    policy = {
        "name": "bot-models",
        "agents": ["bot"],
        "allow": [],
        "models": {"allow": ["*"]},
        "guardrails": {"pii": "mask"},
        "masking": {"entities": {"EMAIL_ADDRESS": "token"}},
    }
    llm.gateway.admin.post("/admin/policies", json={"policies": [policy]}).raise_for_status()
    email = "dana.whitfield@example.org"
    answer = ask(llm, f"[[echo]] please write to {email} about the invoice")
    assert answer == f"please write to {email} about the invoice"
    [row] = entries(llm, 1)
    settings = llm.gateway.settings
    cached = token_cipher(settings, pii_salt(settings)).decrypt(
        sealed_name(row.scope, row.exact_key), row.answer.encode()
    )
    assert email not in cached and "<EMAIL_ADDRESS_" in cached
    assert ask(llm, f"[[echo]] please write to {email} about the invoice") == answer and chats(llm) == 1
