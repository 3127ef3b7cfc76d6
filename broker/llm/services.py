"""Stored LLM proxy settings: providers, model routes, prices, budgets and rate limits by name.

Every change bumps the shared state revision, so every instance reloads its LLM snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.errors import Conflict, InvalidInput, NotFound, Problem
from broker.llm.config import (
    KINDS,
    AnyConfig,
    BudgetConfig,
    LlmDocument,
    RateLimitConfig,
    RouteConfig,
    name_of,
)
from broker.services.revision import bump, now
from broker.store.models import Agent, LlmConfigRecord

PutResult = Literal["created", "updated", "unchanged"]
SINGULAR = {
    "providers": "provider",
    "models": "model route",
    "prices": "price",
    "budgets": "budget",
    "rate_limits": "rate limit",
}


def list_configs(session: Session, kind: str) -> list[LlmConfigRecord]:
    query = select(LlmConfigRecord).where(LlmConfigRecord.kind == kind).order_by(LlmConfigRecord.name)
    return list(session.scalars(query))


def get_config(session: Session, kind: str, name: str) -> LlmConfigRecord:
    record = session.get(LlmConfigRecord, (kind, name))
    if record is None:
        raise NotFound(
            f"no {SINGULAR[kind]} named '{name}'; `broker llm {kind.replace('_', '-')} list` shows them"
        )
    return record


def load_all(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Every stored setting, by kind, in name order."""
    found: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for record in session.scalars(
        select(LlmConfigRecord).order_by(LlmConfigRecord.kind, LlmConfigRecord.name)
    ):
        if record.kind in found:
            found[record.kind].append(record.config)
    return found


def put_config(session: Session, kind: str, config: AnyConfig, *, replace: bool) -> PutResult:
    name = name_of(config)
    stored = config.model_dump(mode="json", exclude_defaults=True)
    record = session.get(LlmConfigRecord, (kind, name))
    if record is None:
        session.add(LlmConfigRecord(kind=kind, name=name, config=stored, created_at=now(), updated_at=now()))
        bump(session)
        return "created"
    if not replace:
        raise Conflict(f"a {SINGULAR[kind]} named '{name}' already exists; use replace to update it")
    if record.config == stored:
        return "unchanged"
    record.config, record.updated_at = stored, now()
    bump(session)
    return "updated"


def delete_config(session: Session, kind: str, name: str) -> None:
    record = get_config(session, kind, name)
    if kind == "providers":
        users = [r.name for r in list_configs(session, "models") if _uses(r.config, name)]
        if users:
            raise Conflict(
                f"provider '{name}' is a target of model routes {', '.join(users)}; change them first"
            )
    session.delete(record)
    bump(session)


def _uses(route: dict[str, Any], provider: str) -> bool:
    return any(str(t).split("/", 1)[0] == provider for t in route.get("targets", []))


def check_references(
    session: Session,
    document: LlmDocument,
    *,
    extra_agents: Iterable[str] = (),
    loc: Sequence[str | int] = (),
) -> None:
    """Refuse routes to unknown providers or models, and budgets or limits for unknown agents."""
    providers = {p["name"]: p for p in (r.config for r in list_configs(session, "providers"))}
    for provider in document.providers:
        providers[provider.name] = provider.model_dump(mode="json")
    offered = {f"{name}/{m['name']}" for name, p in providers.items() for m in p.get("models", [])}
    agents = set(session.scalars(select(Agent.name))) | set(extra_agents)
    problems: list[Problem] = []
    for i, route in enumerate(document.models):
        problems += _route_problems(route, providers, offered, (*loc, "models", i))
    scoped: list[tuple[str, int, BudgetConfig | RateLimitConfig]] = [
        *(("budgets", i, b) for i, b in enumerate(document.budgets)),
        *(("rate_limits", i, r) for i, r in enumerate(document.rate_limits)),
    ]
    for section, i, item in scoped:
        if item.agent is not None and item.agent not in agents:
            message = f"no agent named '{item.agent}'; create it first or fix the name"
            problems.append(Problem((*loc, section, i, "agent"), message))
    if problems:
        raise InvalidInput("the LLM settings refer to things that do not exist", problems=problems)


def _route_problems(
    route: RouteConfig, providers: dict[str, Any], offered: set[str], loc: tuple[str | int, ...]
) -> list[Problem]:
    problems = []
    for j, target in enumerate(route.targets):
        provider = target.split("/", 1)[0]
        if provider not in providers:
            known = ", ".join(sorted(providers)) or "none yet"
            message = f"'{target}' names provider '{provider}', which is not registered (known: {known})"
            problems.append(Problem((*loc, "targets", j), message))
        elif target not in offered:
            message = f"provider '{provider}' does not list model '{target.split('/', 1)[1]}' in its models"
            problems.append(Problem((*loc, "targets", j), message))
    return problems


def apply_document(
    session: Session,
    document: LlmDocument,
    *,
    extra_agents: Iterable[str] = (),
    loc: Sequence[str | int] = (),
) -> dict[str, dict[str, list[str]]]:
    """Upsert every item of the document; returns created/updated/unchanged names by kind.
    `loc` is where the document sits in a larger one (problems are located from there)."""
    check_references(session, document, extra_agents=extra_agents, loc=loc)
    report: dict[str, dict[str, list[str]]] = {}
    for kind in KINDS:
        buckets: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
        for item in getattr(document, kind):
            buckets[put_config(session, kind, item, replace=True)].append(name_of(item))
        report[kind] = buckets
    return report
