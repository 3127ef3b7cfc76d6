"""The MaskPII stage on its own: real maskers and vaults, a terminal in place of the upstream."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from prometheus_client import generate_latest

from broker.catalog import AgentIdentity, Snapshot
from broker.errors import UpstreamFailure
from broker.metrics import Metrics
from broker.pii import MemoryVault, UnknownToken
from broker.pii.keys import MaskingFailed, MaskingUnavailable
from broker.pii.maskers import Maskers
from broker.pii.plan import masking_plan
from broker.pipeline.call import ToolCall
from broker.pipeline.mask import MaskPII
from connectors.base import ToolOutput
from policies import Policy, PolicySet
from policies.masking import MaskingPolicy

SALT = b"stage-test-salt-0123456789"
EMAIL = "grace.hopper@navy.example.org"
TOKENS = MaskingPolicy.model_validate(
    {"entities": {"EMAIL_ADDRESS": "token"}, "resolve_tokens_for": ["mail.send"]}
)
POLICIES = PolicySet(
    [
        Policy(name="tokens", agents=["bot", "other"], allow=["*"], masking=TOKENS),
        Policy(name="plain", agents=["plain"], allow=["*"]),
    ],
    version=1,
)
SNAPSHOT = Snapshot(revision=1, policy_revision=1, policy_set=POLICIES, keys={}, tools={}, connectors={})


class BrokenVault(MemoryVault):
    async def put_many(self, agent: str, items: Mapping[str, str], ttl: float) -> None:
        raise ConnectionError("the vault is down")


def call(agent: str, tool: str = "crm.get", arguments: dict[str, Any] | None = None) -> ToolCall:
    identity = AgentIdentity(f"id-{agent}", agent, None)
    return ToolCall(
        request_id="r-1", agent=identity, tool_name=tool, arguments=arguments or {}, snapshot=SNAPSHOT
    )


def stage(vault: MemoryVault | None = None, *, salt: bytes | None = SALT) -> tuple[MaskPII, Metrics]:
    metrics = Metrics()
    maskers = Maskers(salt, vault if vault is not None else MemoryVault())
    return MaskPII(maskers, metrics), metrics


def answering(output: ToolOutput, seen: list[ToolCall] | None = None) -> Any:
    async def terminal(c: ToolCall) -> ToolOutput:
        if seen is not None:
            seen.append(
                ToolCall(
                    request_id=c.request_id,
                    agent=c.agent,
                    tool_name=c.tool_name,
                    arguments=dict(c.arguments),
                    snapshot=c.snapshot,
                )
            )
        return output

    return terminal


async def test_a_json_result_is_masked_once_and_both_forms_agree() -> None:
    mask, metrics = stage()
    output = ToolOutput.from_json({"owner": {"email": EMAIL}, "note": f"cc {EMAIL}"})
    made = call("bot")
    masked = await mask(made, answering(output))
    assert masked.structured is not None and EMAIL not in json.dumps(masked.structured)
    token = masked.structured["owner"]["email"]
    assert masked.structured["note"] == f"cc {token}"
    assert json.loads(masked.content[0]["text"]) == masked.structured
    assert made.masked == {"EMAIL_ADDRESS": 2}
    assert 'broker_pii_masked_total{entity="EMAIL_ADDRESS"} 2.0' in generate_latest(metrics.registry).decode()

    listed = await mask(call("bot"), answering(ToolOutput.from_json([EMAIL, "x"])))
    assert listed.structured == {"result": [token, "x"]} and json.loads(listed.content[0]["text"]) == [
        token,
        "x",
    ]


async def test_other_results_are_masked_block_by_block() -> None:
    mask, _ = stage()
    output = ToolOutput(
        content=[
            {"type": "text", "text": f"Owner:\n  {EMAIL}"},
            {"type": "image", "data": "AAAA", "mimeType": "image/png"},
        ],
        structured={"email": EMAIL},
        is_error=True,
    )
    masked = await mask(call("plain"), answering(output))
    assert masked.content[0]["text"] == "Owner:\n  <EMAIL_ADDRESS>" and masked.content[1] == output.content[1]
    assert masked.structured == {"email": "<EMAIL_ADDRESS>"} and masked.is_error


async def test_tokens_are_resolved_for_the_upstream_only() -> None:
    vault = MemoryVault()
    mask, _ = stage(vault)
    shown = await mask(call("bot"), answering(ToolOutput.from_json({"email": EMAIL})))
    token = (shown.structured or {})["email"]
    seen: list[ToolCall] = []
    made = call("bot", "mail.send", {"to": token})
    await mask(made, answering(ToolOutput.from_json({"sent": True}), seen))
    assert seen[0].arguments == {"to": EMAIL}
    assert made.arguments == {"to": token}  # Audit and Cache, outside, keep what the agent sent

    with pytest.raises(UnknownToken):
        await mask(call("other", "mail.send", {"to": token}), answering(ToolOutput.from_json({}), seen))
    assert len(seen) == 1


async def test_upstream_error_text_is_masked_for_the_agent() -> None:
    mask, _ = stage()

    async def failing(_: ToolCall) -> ToolOutput:
        raise UpstreamFailure(f"upstream 'crm' answered 404: no contact {EMAIL}")

    made = call("plain")
    with pytest.raises(UpstreamFailure) as caught:
        await mask(made, failing)
    assert caught.value.message == "upstream 'crm' answered 404: no contact <EMAIL_ADDRESS>"
    assert caught.value.audit_message.endswith(EMAIL)  # the Audit stage scrubs what it keeps
    assert made.masked == {"EMAIL_ADDRESS": 1}


async def test_a_result_that_cannot_be_masked_is_withheld() -> None:
    mask, _ = stage(BrokenVault())
    with pytest.raises(MaskingFailed, match="withheld"):
        await mask(call("bot"), answering(ToolOutput.from_json({"email": EMAIL})))


async def test_without_a_salt_only_policies_that_need_none_are_served() -> None:
    mask, _ = stage(salt=None)
    seen: list[ToolCall] = []
    with pytest.raises(MaskingUnavailable, match="BROKER_PII_SALT"):
        await mask(call("bot"), answering(ToolOutput.from_json({"email": EMAIL}), seen))
    assert seen == []  # refused before the upstream
    plain = await mask(call("plain"), answering(ToolOutput.from_json({"email": EMAIL})))
    assert plain.structured == {"email": "<EMAIL_ADDRESS>"}
    assert not masking_plan(POLICIES, call("plain").agent.subject).needs_salt
