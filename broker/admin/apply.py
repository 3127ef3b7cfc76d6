"""/admin/apply: the combined document (connectors, agents, policies) in one transaction.

Idempotent: everything is upserted by name, and what is already as given is left alone,
so applying the same file twice changes nothing and makes no new policy revision.
Nothing is ever deleted by an apply, and agents' keys are never touched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.requests import Request

from broker.admin.auth import gateway_of
from broker.admin.bodies import openapi_body, read_model
from broker.admin.connectors import Checked, openapi_limits, prepare_checked
from broker.admin.llm import apply_llm_section, runtime_of
from broker.admin.registration import flag_warnings, refuse_conflicts
from broker.admin.runtime import admin_subrouter, read, write
from broker.documents import AgentSpec, Document, relocate
from broker.errors import Conflict, InvalidInput, Problem
from broker.secrets import service as secret_service
from broker.secrets.vault import Vault
from broker.services import agents as agent_service
from broker.services import connectors as connector_service
from broker.services import policies as policy_service
from broker.yamlsource import Located
from connectors.http.openapi import DEFAULT_LIMITS, OpenAPILimits
from connectors.registry import ConnectorConfig

router = admin_subrouter("apply")


class KindReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    created: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)


class PolicyReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: int = Field(description="The policy revision in force after the apply.")
    changed: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)


class ApplyReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    changed: bool = Field(description="False when everything was already as the document says.")
    connectors: KindReport
    agents: KindReport
    policies: PolicyReport
    llm: dict[str, KindReport] = Field(
        default_factory=dict, description="LLM proxy settings by kind (providers, models, prices, ...)."
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="Findings to review before granting tools (e.g. an upstream MCP tool whose "
        "description carries instructions aimed at the model), and the operations an OpenAPI import "
        "left out, each with the reason.",
    )


async def prepare_all(
    configs: list[ConnectorConfig],
    located: Located,
    *,
    secrets: Collection[str] | None = None,
    stored: Mapping[str, dict[str, Any]] | None = None,
    vault: Vault | None = None,
    limits: OpenAPILimits = DEFAULT_LIMITS,
) -> list[Checked]:
    """Prepare every connector concurrently (checking its secrets exist, given the stored
    names; keeping the pins of `stored` mcp configs with the same settings); report all
    failures together. Returns each config to store with its qualified tool names."""
    stored = stored or {}
    results = await asyncio.gather(
        *(
            prepare_checked(
                config,
                ("connectors", i),
                secrets=secrets,
                stored=stored.get(config.name),
                vault=vault,
                limits=limits,
            )
            for i, config in enumerate(configs)
        ),
        return_exceptions=True,
    )
    problems: list[Problem] = []
    prepared: list[Checked] = []
    for result in results:
        if isinstance(result, InvalidInput):
            problems += result.problems
        elif isinstance(result, BaseException):
            raise result
        else:
            prepared.append(result)
    if problems:
        raise InvalidInput("some connectors could not be prepared", problems=relocate(problems, located))
    return prepared


def upsert_connectors(session: Session, configs: list[ConnectorConfig]) -> KindReport:
    report = KindReport()
    for config in configs:
        result = connector_service.put_connector(
            session, config.name, config.kind, config.model_dump(mode="json"), replace=True
        )
        getattr(report, result).append(config.name)
    return report


def upsert_agents(session: Session, specs: list[AgentSpec]) -> KindReport:
    report = KindReport()
    existing = {agent.name: agent for agent in agent_service.list_agents(session)}
    for spec in specs:
        agent = existing.get(spec.name)
        if agent is None:
            agent_service.create_agent(session, spec.name, team=spec.team, description=spec.description)
            report.created.append(spec.name)
        elif (agent.team, agent.description) != (spec.team, spec.description):
            agent_service.update_agent(
                session, spec.name, team=spec.team, clear_team=spec.team is None, description=spec.description
            )
            report.updated.append(spec.name)
        else:
            report.unchanged.append(spec.name)
    return report


def apply_document(
    session: Session,
    document: Document,
    prepared: list[ConnectorConfig],
    located: Located,
    source: str,
    tools: Collection[str] = (),
) -> ApplyReport:
    try:  # references first, so a typo fails before anything is written
        policy_service.check_references(
            session,
            document.policies,
            extra_agents=[a.name for a in document.agents],
            extra_connectors=[c.name for c in document.connectors],
            tools=tools,
        )
    except InvalidInput as exc:
        raise InvalidInput(exc.message, problems=relocate(exc.problems, located)) from None
    connectors = upsert_connectors(session, prepared)
    agents = upsert_agents(session, document.agents)
    if document.policies:
        result = policy_service.apply(session, document.policies, source=source, check=False)
        policies = PolicyReport(revision=result.revision, changed=result.changed, unchanged=result.unchanged)
    else:
        policies = PolicyReport(revision=policy_service.current_policies(session)[0])
    llm = {kind: KindReport(**names) for kind, names in apply_llm_section(session, document, located).items()}
    changed = bool(
        connectors.created or connectors.updated or agents.created or agents.updated or policies.changed
    ) or any(report.created or report.updated for report in llm.values())
    return ApplyReport(changed=changed, connectors=connectors, agents=agents, policies=policies, llm=llm)


@router.post(
    "/apply",
    summary="Apply a combined document",
    description="Upserts connectors, agents and policies by name, all or nothing. Policies may name agents "
    "and connectors defined in the same document. openapi connectors are fetched and imported first.",
    openapi_extra=openapi_body(Document.model_json_schema(), "The combined document, as JSON or YAML."),
)
async def apply(
    request: Request,
    source: str = Query(
        "admin API", max_length=200, description="Where the document comes from, kept in history."
    ),
) -> ApplyReport:
    document, located = await read_model(request, Document)
    known = await read(request, secret_service.secret_names)
    names = [config.name for config in document.connectors]
    stored = await read(request, lambda s: connector_service.stored_configs(s, names))
    gateway = gateway_of(request)
    results = await prepare_all(
        document.connectors,
        located,
        secrets=known,
        stored=stored,
        vault=gateway.vault,
        limits=openapi_limits(gateway.settings),
    )
    try:
        refuse_conflicts(
            gateway.state.snapshot,
            {checked.config.name: checked.claims for checked in results},
            {config.name: ("connectors", i) for i, config in enumerate(document.connectors)},
        )
    except Conflict as exc:
        raise Conflict(exc.message, problems=relocate(exc.problems, located)) from None
    prepared = [checked.config for checked in results]
    applied = {config.name for config in prepared}
    tools = {t for t, tool in gateway.state.snapshot.tools.items() if tool.connector not in applied}
    tools.update(name for checked in results for name in checked.tools)
    report = await write(request, lambda s: apply_document(s, document, prepared, located, source, tools))
    if document.llm is not None:
        await runtime_of(request).state.refresh()
    report.warnings = [
        f"connector {checked.config.name}: {line}"
        for checked in results
        for line in [*checked.warnings, *flag_warnings(checked.config)]
    ]
    return report
