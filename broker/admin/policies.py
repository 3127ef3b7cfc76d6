"""/admin/policies: the versioned policy set, its history, and "why was this allowed?"."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.orm import Session
from starlette.requests import Request

from broker.admin.auth import gateway_of
from broker.admin.bodies import Origin, openapi_body, read_model
from broker.admin.runtime import admin_subrouter, read, utc, write
from broker.documents import PolicyFile, relocate
from broker.errors import InvalidInput
from broker.services import agents as agent_service
from broker.services import policies as policy_service
from broker.store.models import PolicyRevision
from connectors.base import OffersResources
from policies import Policy, Subject

router = admin_subrouter("policies")


class PolicySetInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: int = Field(description="The revision in force; 0 before any policy was applied.")
    policies: list[Policy]


class ApplyResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: int = Field(
        description="The revision in force after applying (unchanged when nothing changed)."
    )
    changed: list[str] = Field(description="Policies created or replaced.")
    unchanged: list[str] = Field(description="Policies already exactly as given.")


class RevisionSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: int
    created_at: datetime
    source: str = Field(description="Where the change came from: a file name, or 'delete <policy>'.")
    policies: list[str] = Field(description="Names of the policies in this revision.")


class RevisionDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: int
    created_at: datetime
    source: str
    policies: list[Policy]


class ExplainRequest(BaseModel):
    """Exactly one of `tool`, `resource` and `prompt`."""

    model_config = ConfigDict(extra="forbid")

    agent: str = Field(description="The agent's name.")
    tool: str | None = Field(
        default=None, min_length=1, max_length=300, description="Qualified tool name, e.g. 'crm.get_contact'."
    )
    resource: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="A resource URI as clients see it, e.g. 'broker://crm/tables/customers' (an mcp "
        "connector with `prefix: false`: the upstream's own URI).",
    )
    prompt: str | None = Field(
        default=None, min_length=1, max_length=300, description="Prompt name, e.g. 'files.summarise'."
    )
    arguments: dict[str, Any] | None = Field(
        default=None, description="Call (or prompt) arguments, to check argument constraints too."
    )

    @model_validator(mode="after")
    def _one_target(self) -> ExplainRequest:
        if sum(target is not None for target in (self.tool, self.resource, self.prompt)) != 1:
            raise PydanticCustomError("explain_target", "give exactly one of tool, resource and prompt")
        return self


class ViolationInfo(BaseModel):
    argument: str
    kind: str
    policy: str
    reason: str


class ExplainResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed: bool
    reason: str = Field(description="Why, in words fit for an operator.")
    policy: str | None = Field(description="The deciding policy, if any.")
    revision: int = Field(description="The policy revision the decision was made on.")
    kind: str = Field(default="tool", description="What was explained: tool, resource or prompt.")
    tool_exists: bool = Field(
        description="Whether it exists now: a connector offers the tool or prompt, or a connector that "
        "offers resources owns the URI."
    )
    visible: bool = Field(
        description="Whether it is in the agent's tools/list, resources/list or prompts/list."
    )
    agent_enabled: bool = Field(
        description="A disabled agent's keys do not authenticate, whatever is allowed."
    )
    violations: list[ViolationInfo] = Field(default_factory=list, description="Argument constraints not met.")


def revision_summary(row: PolicyRevision) -> RevisionSummary:
    names = [str(p.get("name", "")) for p in row.policies if isinstance(p, dict)]
    return RevisionSummary(
        revision=row.revision, created_at=utc(row.created_at), source=row.source, policies=names
    )


def revision_detail(row: PolicyRevision) -> RevisionDetail:
    return RevisionDetail(
        revision=row.revision,
        created_at=utc(row.created_at),
        source=row.source,
        policies=[Policy.model_validate(p) for p in row.policies],
    )


def apply_located(
    session: Session, incoming: list[Policy], origin: Origin, *, source: str, tools: Collection[str] = ()
) -> policy_service.ApplyResult:
    """Apply policies; reference problems are located in the posted document."""
    try:
        return policy_service.apply(session, incoming, source=source, tools=tools)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, problems=relocate(exc.problems, origin.located())) from None


@router.get("/policies", summary="The policies in force")
async def current_policies(request: Request) -> PolicySetInfo:
    revision, found = await read(request, policy_service.current_policies)
    return PolicySetInfo(revision=revision, policies=found)


@router.post(
    "/policies",
    summary="Apply policies",
    description="Creates or replaces the named policies; others stay. Agents and connectors they name must "
    "exist. Applying policies that are already in force makes no new revision.",
    openapi_extra=openapi_body(PolicyFile.model_json_schema(), "A `policies:` document, as JSON or YAML."),
)
async def apply_policies(
    request: Request,
    source: str = Query(
        "admin API", max_length=200, description="Where the policies come from, kept in history."
    ),
) -> ApplyResult:
    document, origin = await read_model(request, PolicyFile)
    tools = frozenset(gateway_of(request).state.snapshot.tools)
    result = await write(
        request, lambda s: apply_located(s, document.policies, origin, source=source, tools=tools)
    )
    return ApplyResult(revision=result.revision, changed=result.changed, unchanged=result.unchanged)


@router.delete("/policies/{name}", summary="Delete a policy (makes a new revision)")
async def delete_policy(request: Request, name: str) -> PolicySetInfo:
    await write(request, lambda s: policy_service.delete(s, name))
    return await current_policies(request)


@router.get("/policies/history", summary="Policy revisions, newest first")
async def policy_history(
    request: Request, limit: int = Query(50, ge=1, le=1000, description="How many revisions.")
) -> list[RevisionSummary]:
    return await read(request, lambda s: [revision_summary(r) for r in policy_service.history(s, limit)])


@router.get("/policies/revisions/{revision}", summary="One past or present revision of the policy set")
async def policy_revision(request: Request, revision: int) -> RevisionDetail:
    return await read(request, lambda s: revision_detail(policy_service.get_revision(s, revision)))


@router.post("/policies/explain", summary="Would this agent be allowed this call, and why?")
async def explain(request: Request, body: ExplainRequest) -> ExplainResult:
    agent = await read(request, lambda s: agent_service.get_agent(s, body.agent))
    snapshot = gateway_of(request).state.snapshot
    subject = Subject(name=agent.name, team=agent.team)
    policies = snapshot.policy_set
    if body.resource is not None:
        kind, decision = "resource", policies.decide_resource(subject, body.resource)
        parts = snapshot.resolve_resource(body.resource)
        exists = parts is not None and isinstance(snapshot.connectors.get(parts[0]), OffersResources)
        visible = decision.allowed and body.resource in snapshot.resources
    elif body.prompt is not None:
        kind, decision = "prompt", policies.decide_prompt(subject, body.prompt, body.arguments or {})
        exists = body.prompt in snapshot.prompts
        visible = exists and policies.prompt_visible(subject, body.prompt)
    else:
        assert body.tool is not None
        kind, decision = "tool", policies.decide(subject, body.tool, body.arguments or {})
        exists = body.tool in snapshot.tools
        visible = exists and policies.visible(subject, body.tool)
    return ExplainResult(
        allowed=decision.allowed,
        reason=decision.reason,
        policy=decision.policy,
        revision=snapshot.policy_revision,
        kind=kind,
        tool_exists=exists,
        visible=visible,
        agent_enabled=agent.enabled,
        violations=[
            ViolationInfo(argument=v.argument, kind=v.kind, policy=v.policy, reason=v.reason)
            for v in decision.violations
        ],
    )
