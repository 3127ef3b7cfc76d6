"""The semantic cache: lookup before a chat completion goes upstream, store after it succeeded.

A lookup embeds the wording of the last user message (entities replaced by placeholders, see
keys.py) through the route's `embedding_model`, served by the gateway's own proxy and metered
as an embeddings call of the agent; then it reads the entries of the caller's scope with the
same exact key (one indexed query, so only prompts that agree on everything but wording are
compared) and takes the closest one at or over the route's threshold.

Answers are encrypted at rest (they are model answers and may hold personal data) with the
cipher of the PII token vault: the secret store's keys (`BROKER_SECRET_KEYS`), then a key
derived from the PII salt. Each is sealed with its scope and exact key, so a ciphertext copied
onto another scope's row does not decrypt there (it is then a miss). Without any key the cache
stores nothing and serves nothing (never plaintext at rest).

Scope: the agent and its end user. With `shared: true` on the route, agents share entries
only when their masking and model policy are equal (both go into the scope), so a hit never
crosses what either would be allowed to see.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import struct
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from broker.llm.config import SemanticCacheConfig
from broker.llm.errors import UpstreamError
from broker.llm.metering import ModelCall
from broker.llm.semantic.keys import PromptKey, prompt_key
from broker.llm.usage import Usage, openai_usage
from broker.pii.plan import masking_plan
from broker.secrets.keys import Cipher, Undecryptable
from broker.store.models import SemanticCacheEntry
from policies import PolicySet

if TYPE_CHECKING:
    from broker.llm.proxy import LlmProxy

log = logging.getLogger("broker.llm.semantic")

CANDIDATES = 200
"""Entries compared per lookup at most (the newest of the scope and exact key)."""


def pack(vector: list[float]) -> bytes:
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return struct.pack(f"<{len(vector)}f", *(v / norm for v in vector))


def unpack(blob: bytes) -> tuple[float, ...]:
    return struct.unpack(f"<{len(blob) // 4}f", blob)


def cosine(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    if len(a) != len(b):
        return -1.0
    return sum(x * y for x, y in zip(a, b, strict=True))


def scope_of(call: ModelCall, config: SemanticCacheConfig, policy_set: PolicySet) -> str:
    agent = call.agent
    if not config.shared:
        return f"a:{agent.id}:{agent.end_user or ''}"[:128]
    models = [
        p.models.model_dump(mode="json")
        for p in policy_set.policies
        if p.models is not None and (agent.name in p.agents or (agent.team and agent.team in p.teams))
    ]
    material = json.dumps([masking_plan(policy_set, agent.subject).fingerprint, models], sort_keys=True)
    return "s:" + hashlib.sha256(material.encode()).hexdigest()


class Lookup:
    """One request's place in the cache: its key and embedding, found on lookup, used to store."""

    def __init__(self, scope: str, key: PromptKey, vector: bytes, config: SemanticCacheConfig) -> None:
        self.scope, self.key, self.vector, self.config = scope, key, vector, config


def sealed_name(scope: str, exact_key: str) -> str:
    """What an answer is encrypted with: the scope and exact key of its row."""
    return f"semantic-cache:{scope}:{exact_key}"


class SemanticCache:
    def __init__(self, sessions: Callable[[], Session], cipher: Cipher | None) -> None:
        self.sessions = sessions
        self.cipher = cipher
        if cipher is None:
            log.warning(
                "the semantic cache is off: it encrypts answers at rest and the gateway has no key "
                "(set BROKER_SECRET_KEYS or BROKER_PII_SALT)"
            )

    async def lookup(
        self, proxy: LlmProxy, call: ModelCall, payload: dict[str, Any], headers: dict[str, str]
    ) -> tuple[Lookup | None, dict[str, Any] | None]:
        """(where the answer would be stored, a cached answer or None)."""
        route = call.route
        assert route is not None and route.semantic_cache is not None
        config = route.semantic_cache
        control = headers.get("cache-control", "").lower()
        key = prompt_key(route.name, payload)
        if self.cipher is None:
            call.cache = "off"
            return None, None
        if key is None or payload.get("n", 1) != 1 or "no-store" in control:
            return None, None
        try:
            vector = await self._embed(proxy, call, config, key.wording, headers)
        except UpstreamError:
            call.cache = "error"  # the call goes on uncached; the embedding's own row says why
            return None, None
        scope = scope_of(call, config, proxy.tool_snapshot().policy_set)
        where = Lookup(scope, key, vector, config)
        if "no-cache" in control:
            call.cache = "bypass"
            return where, None
        found = await asyncio.to_thread(self._closest, where)
        if found is None:
            call.cache = "miss"
            return where, None
        answer, entry_usage, cost = found
        call.cache, call.saved, call.saved_usd = "hit", entry_usage, cost
        call.usage = Usage()
        return where, answer

    def _closest(self, where: Lookup) -> tuple[dict[str, Any], Usage, float] | None:
        now = datetime.now(UTC)
        with self.sessions() as session:
            rows = session.execute(
                select(SemanticCacheEntry)
                .where(
                    SemanticCacheEntry.scope == where.scope,
                    SemanticCacheEntry.exact_key == where.key.exact,
                    SemanticCacheEntry.expires_at > now,
                )
                .order_by(SemanticCacheEntry.id.desc())
                .limit(CANDIDATES)
            ).scalars()
            probe = unpack(where.vector)
            best, best_score = None, where.config.threshold
            for row in rows:
                score = cosine(probe, unpack(row.embedding))
                if score >= best_score:
                    best, best_score = row, score
            if best is None:
                return None
            assert self.cipher is not None
            try:
                answer = self.cipher.decrypt(sealed_name(best.scope, best.exact_key), best.answer.encode())
            except Undecryptable:
                return None  # sealed for another row, or with a key no longer configured: a miss
            usage = Usage(best.prompt_tokens, best.completion_tokens)
            return json.loads(answer), usage, best.cost_usd

    async def store(self, where: Lookup, answer: dict[str, Any], usage: Usage, cost: float) -> None:
        if self.cipher is None:
            return
        now = datetime.now(UTC)
        plain = json.dumps(answer, separators=(",", ":"))
        sealed = self.cipher.encrypt(sealed_name(where.scope, where.key.exact), plain).decode()
        row = {
            "scope": where.scope,
            "exact_key": where.key.exact,
            "embedding": where.vector,
            "answer": sealed,
            "prompt_tokens": usage.prompt,
            "completion_tokens": usage.completion,
            "cost_usd": cost,
            "created_at": now,
            "expires_at": now + timedelta(seconds=where.config.ttl_seconds),
        }

        def write() -> None:
            with self.sessions() as session, session.begin():
                session.execute(insert(SemanticCacheEntry), [row])
                session.execute(delete(SemanticCacheEntry).where(SemanticCacheEntry.expires_at < now))

        await asyncio.to_thread(write)

    async def _embed(
        self,
        proxy: LlmProxy,
        call: ModelCall,
        config: SemanticCacheConfig,
        text: str,
        headers: dict[str, str],
    ) -> bytes:
        """The wording's embedding, through the gateway's own proxy: metered as the agent's call."""
        route = proxy.state.snapshot.resolve(config.embedding_model)
        if route is None:
            raise UpstreamError(
                f"the semantic cache's embedding model '{config.embedding_model}' is not served here",
                status_code=500,
                code="semantic_cache_misconfigured",
            )
        step = ModelCall(call.request_id, call.agent, "embeddings", time.perf_counter(), datetime.now(UTC))
        step.model, step.route = config.embedding_model, route
        try:
            opened = await proxy.open(
                step,
                route,
                lambda target: json.dumps({"model": target.model, "input": text}).encode(),
                headers,
            )
            step.target, step.attempts = opened.target, opened.attempts
            try:
                raw = await opened.response.aread()
            finally:
                await opened.response.aclose()
            body = json.loads(raw)
            vector = body["data"][0]["embedding"]
            if not isinstance(vector, list) or not vector:
                raise ValueError("no vector")
            step.usage = openai_usage(body) or Usage(len(text.split()), estimated=True)
            return pack([float(v) for v in vector])
        except UpstreamError as exc:
            step.failed(exc)
            raise
        except (ValueError, KeyError, IndexError, TypeError):
            error = UpstreamError(
                "the embedding model answered without a vector; the semantic cache is skipped"
            )
            step.failed(error)
            raise error from None
        finally:
            await proxy.metering.finish(step)
