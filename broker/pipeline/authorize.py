from __future__ import annotations

from broker.errors import ToolDenied, ToolQuarantined, UnknownTool
from broker.pii.plan import masking_plan
from broker.pipeline.call import Next, ToolCall
from connectors.base import ToolOutput


class Authorize:
    """Resolve the tool and ask the policy. A tool the agent may not see is an unknown tool,
    so the catalog's shape does not leak; a visible tool whose arguments break a constraint
    is denied with the policy's reason. A quarantined upstream tool the agent would see is
    refused with the reason, so the model learns why it vanished."""

    async def __call__(self, call: ToolCall, call_next: Next) -> ToolOutput:
        snapshot = call.snapshot
        tool = snapshot.tools.get(call.tool_name)
        subject = call.agent.subject
        if (
            tool is None
            or (call.only_connectors is not None and tool.connector not in call.only_connectors)
            or not snapshot.policy_set.visible(subject, call.tool_name)
        ):
            decision = snapshot.policy_set.decide(subject, call.tool_name, None)
            call.decision = decision
            held = snapshot.quarantined.get(call.tool_name) if tool is None else None
            if (
                held is not None
                and decision.allowed
                and (call.only_connectors is None or held.connector in call.only_connectors)
            ):
                raise ToolQuarantined(
                    f"Tool {call.tool_name} is quarantined: {held.reason}. It cannot be called "
                    "until an operator reviews and approves the change."
                )
            raise UnknownTool(f"Unknown tool: {call.tool_name}")
        call.tool = tool
        decision = snapshot.policy_set.decide(subject, call.tool_name, call.arguments)
        call.decision = decision
        if not decision.allowed:
            raise ToolDenied(f"Denied: {decision.reason}")
        masking = masking_plan(snapshot.policy_set, subject)  # memoised: cheap, for Cache and MaskPII
        call.masking_fingerprint, call.masking_per_agent = masking.fingerprint, masking.per_agent
        return await call_next(call)
