"""Whether one call (or resource read) is cached, for how long, under which scope and key.

The TTL comes from the cache sections of the agent's policies (`policies.cache`), else
from the gateway's default for tools annotated read-only and idempotent and for resource
reads. Prompt gets and completions are never cached. The key is a keyed
digest (HMAC) of the key format, the tool, the canonical arguments, the policy revision,
the connector's configuration, the agent's masking fingerprint and the scope; only the tool
(for a resource, `<connector>:resources`: a URI may carry personal data) and the scope are
kept in clear. The scope is the agent's own unless every rule that applies
marks the tool shared, the masking issues no per-agent tokens, and the connector uses no
per-agent credential: then the entry serves every agent whose masking fingerprint is equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from pydantic import BaseModel

from broker.cache.entry import SHARED_SCOPE, CacheKey, agent_scope
from broker.canonical import CANONICAL, KeyedHash
from broker.memo import Memo
from broker.pii.plan import masking_plan
from broker.pipeline.call import Request, ResourceRead, ResourceWatch, ToolCall
from connectors.auth import SecretRef, per_caller
from connectors.base import Connector
from policies import CacheRules, PolicySet

KEY_FORMAT = 1
"""Bumped when what a key covers changes, so old entries are never read again."""

AROUND_MEMO = 4096
"""Key parts around the arguments remembered, per (target, revision, connector, masking, scope)."""


class Plan(NamedTuple):
    """How one call is cached (a tuple: made on every call)."""

    key: CacheKey
    ttl: float
    bypass_allowed: bool


@dataclass(frozen=True, slots=True)
class _ConnectorFacts:
    generation: str
    """A digest of the connector's configuration: a changed connector starts a new set of keys."""
    per_agent: bool
    """Whether some agent calls it with a credential of its own."""


class Planner:
    def __init__(self, secret: bytes, default_ttl: float) -> None:
        self._hash = KeyedHash(secret)
        self._around: Memo[tuple[str, int, str, str, str], tuple[str, str]] = Memo(AROUND_MEMO)
        self._default_ttl = default_ttl
        self._rules: WeakKeyDictionary[PolicySet, CacheRules] = WeakKeyDictionary()
        self._connectors: WeakKeyDictionary[Connector, _ConnectorFacts] = WeakKeyDictionary()

    def plan(self, call: Request) -> Plan | None:
        """The request's plan, or None when no TTL applies. Authorize must have resolved the target."""
        if isinstance(call, ToolCall):
            if call.resume is not None or call.task is not None:  # an input round, a task step
                return None
            tool = call.tool
            assert tool is not None, "Authorize resolves the tool first"
            target, label, arguments = tool.name, tool.name, call.arguments
            cacheable = read_only(tool.spec.annotations)
        elif isinstance(call, ResourceRead) and not isinstance(call, ResourceWatch):
            target, label, arguments = call.uri, resource_label(call.connector or ""), {"uri": call.uri}
            cacheable = True
        else:
            return None
        snapshot = call.snapshot
        subject = call.agent.subject
        rule = self.rules(snapshot.policy_set).rule_for(subject, target)
        if rule is not None:
            ttl, shared, bypass = rule.ttl_seconds, rule.shared, rule.bypass
        elif self._default_ttl > 0 and cacheable:
            ttl, shared, bypass = self._default_ttl, False, True
        else:
            return None
        if ttl <= 0:
            return None
        masking = masking_plan(snapshot.policy_set, subject)  # memoised; Authorize asked it already
        masking_id = call.masking_fingerprint or masking.fingerprint
        per_agent_masking = call.masking_per_agent or masking.per_agent
        if per_agent_masking:  # tokens in a stored result must still resolve when it is served
            ttl = min(ttl, masking.policy.token_ttl_seconds)
        assert call.connector is not None, "Authorize resolves the connector first"
        connector = self._connector_facts(snapshot.connectors[call.connector])
        scope = (
            SHARED_SCOPE
            if shared and not per_agent_masking and not connector.per_agent
            else agent_scope(call.agent.id, call.agent.end_user)
        )
        canonical = call.canonical_arguments if isinstance(call, ToolCall) else None
        if canonical is None:
            canonical = CANONICAL.encode(arguments)
        head, tail = self._around_arguments(
            (target, snapshot.policy_revision, connector.generation, masking_id, scope)
        )
        digest = self._hash.hexdigest(f"{head}{canonical}{tail}")
        return Plan(CacheKey(label, scope, digest), ttl, bypass)

    def _around_arguments(self, parts: tuple[str, int, str, str, str]) -> tuple[str, str]:
        """What the key's hash covers is the canonical JSON of [KEY_FORMAT, target, arguments,
        policy revision, connector generation, masking fingerprint, scope]. The text around the
        arguments is made once per set of parts, and the arguments' own is ValidateArguments'
        (one JSON pass fewer per call; the same bytes, so the same keys as before)."""
        around = self._around.get(parts)
        if around is None:
            target, *after = parts
            head = CANONICAL.encode([KEY_FORMAT, target])[:-1]  # '[1,"tool"'
            tail = CANONICAL.encode(after)[1:]  # '3,"generation","masking","scope"]'
            around = self._around.keep(parts, (f"{head},", f",{tail}"))
        return around

    def rules(self, policy_set: PolicySet) -> CacheRules:
        rules = self._rules.get(policy_set)
        if rules is None:
            rules = self._rules[policy_set] = CacheRules(policy_set.policies)
        return rules

    def _connector_facts(self, connector: Connector) -> _ConnectorFacts:
        try:
            found = self._connectors.get(connector)
        except TypeError:  # not weakly referenceable: work it out each time
            return connector_facts(connector)
        if found is None:
            found = self._connectors[connector] = connector_facts(connector)
        return found


def resource_label(connector: str) -> str:
    """The clear part of a resource read's key and its metric label: never the URI itself."""
    return f"{connector}:resources"


def cache_label(call: Request) -> str:
    """The metric label of a request at the cache: the tool, or the connector's resources."""
    if isinstance(call, ToolCall):
        return call.tool_name
    return resource_label(call.connector or "") if isinstance(call, ResourceRead) else call.operation


def read_only(annotations: Mapping[str, Any] | None) -> bool:
    """Annotated read-only and idempotent: cached by default."""
    if not annotations:
        return False
    return annotations.get("readOnlyHint") is True and annotations.get("idempotentHint") is True


def connector_facts(connector: Connector) -> _ConnectorFacts:
    config = getattr(connector, "config", None)
    if isinstance(config, BaseModel):
        digest = hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]
        return _ConnectorFacts(digest, _names_per_agent(config))
    # A connector without a readable config: assume any credential may be per agent.
    return _ConnectorFacts(connector.name, bool(connector.secret_refs()))


def _names_per_agent(value: object) -> bool:
    if isinstance(value, SecretRef) and value.per_agent:
        return True
    if per_caller(value):  # the upstream answers per caller
        return True
    if isinstance(value, BaseModel):
        return any(_names_per_agent(getattr(value, name)) for name in type(value).model_fields)
    if isinstance(value, Mapping):
        return any(_names_per_agent(item) for item in value.values())
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return any(_names_per_agent(item) for item in value)
    return False
