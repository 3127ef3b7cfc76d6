from __future__ import annotations

from broker.errors import ToolDenied, ToolQuarantined, UnknownPrompt, UnknownResource, UnknownTool
from broker.pii.plan import masking_plan
from broker.pipeline.call import Completion, Next, PromptGet, Request, ResourceRead, ToolCall
from connectors.base import CompletionRef, OffersCompletion, OffersResources, Output
from policies import Decision, Subject


class Authorize:
    """Resolve the target and ask the policy. A target the agent may not see is unknown, so
    the catalog's shape does not leak; a visible tool or prompt whose arguments break a
    constraint is denied with the policy's reason. A quarantined upstream tool the agent would
    see is refused with the reason, so the model learns why it vanished.

    Per kind: a tool by name; a resource by its gateway URI (listed or not: a template may
    produce it), granted by the `resources:` sections; a prompt by name, by `prompts:`; a
    completion as the prompt or the resource template it completes."""

    async def __call__(self, request: Request, call_next: Next) -> Output:
        subject = request.agent.subject  # made per access: once here
        if isinstance(request, ToolCall):
            self._tool(request, subject)
        elif isinstance(request, ResourceRead):
            self.resolve_resource(request)
        elif isinstance(request, PromptGet):
            self._prompt(request)
        elif isinstance(request, Completion):
            self._completion(request)
        masking = masking_plan(request.snapshot.policy_set, subject)  # memoised
        request.masking_fingerprint, request.masking_per_agent = masking.fingerprint, masking.per_agent
        return await call_next(request)

    def _tool(self, call: ToolCall, subject: Subject) -> None:
        snapshot = call.snapshot
        tool = snapshot.tools.get(call.tool_name)
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
        call.connector = tool.connector
        decision = snapshot.policy_set.decide(subject, call.tool_name, call.arguments)
        call.decision = decision
        if not decision.allowed:
            raise ToolDenied(f"Denied: {decision.reason}")

    @staticmethod
    def resolve_resource(read: ResourceRead) -> None:
        """Resolve a URI as clients see it to its connector and local URI, or raise UnknownResource when the
        caller may not read it (also used to check resources/subscribe)."""
        snapshot = read.snapshot
        read.decision = decision = snapshot.policy_set.decide_resource(read.agent.subject, read.uri)
        parts = snapshot.resolve_resource(read.uri)
        connector = snapshot.connectors.get(parts[0]) if parts is not None else None
        if (
            parts is None
            or not isinstance(connector, OffersResources)
            or not _within(read, parts[0])
            or not decision.allowed
        ):
            raise UnknownResource(
                f"Unknown resource: {read.uri}. resources/list and resources/templates/list show "
                "the resources you may read.",
                audit_message="unknown resource",
            )
        read.connector, read.local_uri = parts

    def _prompt(self, get: PromptGet) -> None:
        snapshot = get.snapshot
        prompt = snapshot.prompts.get(get.name)
        subject = get.agent.subject
        if prompt is None or not _within(get, prompt.connector):
            get.decision = snapshot.policy_set.decide_prompt(subject, get.name, None)
            raise UnknownPrompt(f"Unknown prompt: {get.name}")
        get.decision = decision = snapshot.policy_set.decide_prompt(subject, get.name, get.arguments)
        if not decision.allowed:
            if not snapshot.policy_set.prompt_visible(subject, get.name):
                raise UnknownPrompt(f"Unknown prompt: {get.name}")
            raise ToolDenied(f"Denied: {decision.reason}")
        get.prompt = prompt
        get.connector = prompt.connector

    def _completion(self, completion: Completion) -> None:
        snapshot = completion.snapshot
        subject = completion.agent.subject
        decision: Decision
        if completion.ref_kind == "prompt":
            prompt = snapshot.prompts.get(completion.ref_name)
            decision = snapshot.policy_set.decide_prompt(subject, completion.ref_name, None)
            completion.decision = decision
            if prompt is None or not _within(completion, prompt.connector) or not decision.allowed:
                raise UnknownPrompt(f"Unknown prompt: {completion.ref_name}")
            connector_name, local = prompt.connector, CompletionRef("prompt", prompt.spec.name)
        else:
            decision = snapshot.policy_set.decide_resource(subject, completion.ref_name)
            completion.decision = decision
            parts = snapshot.resolve_template(completion.ref_name)
            if parts is None or not _within(completion, parts[0]) or not decision.allowed:
                raise UnknownResource(
                    f"Unknown resource template: {completion.ref_name}",
                    audit_message="unknown resource template",
                )
            connector_name, local = parts[0], CompletionRef("resource", parts[1])
        completion.connector = connector_name
        completion.local_ref = local
        if not isinstance(snapshot.connectors.get(connector_name), OffersCompletion):
            completion.notes["completion"] = "unsupported"


def _within(request: Request, connector: str) -> bool:
    return request.only_connectors is None or connector in request.only_connectors
