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

from broker import offload
from broker.admin import preparing
from broker.admin.auth import gateway_of
from broker.admin.bodies import Origin, openapi_body, raw_body
from broker.admin.connectors import fetched, openapi_limits, prepare_checked
from broker.admin.llm import apply_llm_section, runtime_of
from broker.admin.preparing import Ready
from broker.admin.registration import refuse_conflicts
from broker.admin.runtime import admin_subrouter, read, write
from broker.admin.storing import ToStore, check_ready, dumped
from broker.documents import AgentSpec, Document, relocate
from broker.errors import Conflict, InvalidInput, Problem
from broker.secrets import service as secret_service
from broker.secrets.vault import Vault
from broker.services import agents as agent_service
from broker.services import connectors as connector_service
from broker.services import policies as policy_service
from connectors.http.openapi import OpenAPIConnectorConfig, OpenAPILimits
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
    connectors: list[Ready | ConnectorConfig],
    origin: Origin,
    *,
    secrets: Collection[str],
    stored: Mapping[str, dict[str, Any]],
    vault: Vault,
    limits: OpenAPILimits,
) -> list[ToStore]:
    """Check every connector prepared in the worker, prepare the others (pinning an mcp
    upstream unless its `stored` config pins it for the same settings), concurrently, and
    check the secrets each references exist; report all failures together."""
    results = await asyncio.gather(
        *(
            _prepared(connector, ("connectors", i), secrets, stored, vault, limits)
            for i, connector in enumerate(connectors)
        ),
        return_exceptions=True,
    )
    problems: list[Problem] = []
    prepared: list[ToStore] = []
    for result in results:
        if isinstance(result, InvalidInput):
            problems += result.problems
        elif isinstance(result, BaseException):
            raise result
        else:
            prepared.append(result)
    if problems:
        located = await asyncio.to_thread(origin.located)
        raise InvalidInput("some connectors could not be prepared", problems=relocate(problems, located))
    return prepared


async def _prepared(
    connector: Ready | ConnectorConfig,
    loc: tuple[str | int, ...],
    secrets: Collection[str],
    stored: Mapping[str, dict[str, Any]],
    vault: Vault,
    limits: OpenAPILimits,
) -> ToStore:
    if isinstance(connector, OpenAPIConnectorConfig):  # spec_url: fetched here, imported as above
        try:
            connector = await fetched(connector, limits)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, problems=exc.problems or [Problem(loc, exc.message)]) from None
    if isinstance(connector, Ready):
        return await check_ready(connector, secrets, loc)
    checked = await prepare_checked(
        connector, loc, secrets=secrets, stored=stored.get(connector.name), vault=vault, limits=limits
    )
    return await dumped(checked.config, checked.claims, checked.warnings)


def upsert_connectors(session: Session, connectors: list[ToStore]) -> KindReport:
    report = KindReport()
    for connector in connectors:
        result = connector_service.put_connector(
            session, connector.name, connector.kind, connector.stored, replace=True
        )
        getattr(report, result).append(connector.name)
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
    connectors: list[ToStore],
    origin: Origin,
    source: str,
    tools: Collection[str] = (),
) -> ApplyReport:
    """Write the document (its connectors as prepared), all in `session`'s transaction."""
    try:  # references first, so a typo fails before anything is written
        policy_service.check_references(
            session,
            document.policies,
            extra_agents=[a.name for a in document.agents],
            extra_connectors=[c.name for c in connectors],
            tools=tools,
        )
    except InvalidInput as exc:
        raise InvalidInput(exc.message, problems=relocate(exc.problems, origin.located())) from None
    upserted = upsert_connectors(session, connectors)
    agents = upsert_agents(session, document.agents)
    if document.policies:
        result = policy_service.apply(session, document.policies, source=source, check=False)
        policies = PolicyReport(revision=result.revision, changed=result.changed, unchanged=result.unchanged)
    else:
        policies = PolicyReport(revision=policy_service.current_policies(session)[0])
    llm = {
        kind: KindReport(**names)
        for kind, names in apply_llm_section(session, document, origin.located).items()
    }
    changed = bool(
        upserted.created or upserted.updated or agents.created or agents.updated or policies.changed
    ) or any(report.created or report.updated for report in llm.values())
    return ApplyReport(changed=changed, connectors=upserted, agents=agents, policies=policies, llm=llm)


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
    body, is_yaml = await raw_body(request)
    gateway = gateway_of(request)
    limits = openapi_limits(gateway.settings)
    small = len(body) < offload.MIN_BYTES  # a big document's positions are parsed again if needed
    read_in = await offload.by_size(len(body), preparing.read_document, body, is_yaml, limits, small)
    origin = Origin(body, is_yaml, read_in.located)
    document = read_in.document
    known = await read(request, secret_service.secret_names)
    pending = [c.name for c in read_in.connectors if not isinstance(c, Ready)]  # only mcp pins are kept
    stored = await read(request, lambda s: connector_service.stored_configs(s, pending)) if pending else {}
    results = await prepare_all(
        read_in.connectors, origin, secrets=known, stored=stored, vault=gateway.vault, limits=limits
    )
    try:
        refuse_conflicts(
            gateway.state.snapshot,
            {checked.name: checked.claims for checked in results},
            {checked.name: ("connectors", i) for i, checked in enumerate(results)},
        )
    except Conflict as exc:
        located = await asyncio.to_thread(origin.located)
        raise Conflict(exc.message, problems=relocate(exc.problems, located)) from None
    applied = {checked.name for checked in results}
    tools = {t for t, tool in gateway.state.snapshot.tools.items() if tool.connector not in applied}
    tools.update(name for checked in results for name in checked.tools)
    report = await write(request, lambda s: apply_document(s, document, results, origin, source, tools))
    if document.llm is not None:
        await runtime_of(request).state.refresh()
    report.warnings = [
        f"connector {checked.name}: {line}" for checked in results for line in checked.warnings
    ]
    return report
