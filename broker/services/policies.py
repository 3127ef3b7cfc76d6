"""The versioned policy set. Every change stores the whole set as a new revision."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broker.errors import InvalidInput, NotFound, Problem
from broker.services.revision import bump, now
from broker.store.models import Agent, ConnectorRecord, PolicyRevision
from broker.suggest import did_you_mean
from policies import Policy


@dataclass(frozen=True, slots=True)
class ApplyResult:
    revision: int
    changed: list[str]
    unchanged: list[str]


def current_revision(session: Session) -> PolicyRevision | None:
    return session.scalar(select(PolicyRevision).order_by(PolicyRevision.revision.desc()).limit(1))


def current_policies(session: Session) -> tuple[int, list[Policy]]:
    row = current_revision(session)
    if row is None:
        return 0, []
    return row.revision, [Policy.model_validate(p) for p in row.policies]


def get_revision(session: Session, revision: int) -> PolicyRevision:
    row = session.get(PolicyRevision, revision)
    if row is None:
        raise NotFound(f"no policy revision {revision}; `broker policy history` lists them")
    return row


def history(session: Session, limit: int = 50) -> list[PolicyRevision]:
    return list(session.scalars(select(PolicyRevision).order_by(PolicyRevision.revision.desc()).limit(limit)))


def check_references(
    session: Session,
    policies: Sequence[Policy],
    *,
    extra_agents: Iterable[str] = (),
    extra_connectors: Iterable[str] = (),
    tools: Collection[str] = (),
) -> None:
    """Refuse policies that name agents or connectors that do not exist, or (given the known
    qualified `tools`) a tool name that is a likely typo of one (typos grant nothing silently)."""
    agents = set(session.scalars(select(Agent.name))) | set(extra_agents)
    connectors = set(session.scalars(select(ConnectorRecord.name))) | set(extra_connectors)
    problems: list[Problem] = []
    for i, policy in enumerate(policies):
        for j, agent in enumerate(policy.agents):
            if agent not in agents:
                problems.append(
                    Problem(
                        ("policies", i, "agents", j),
                        f"no agent named '{agent}'; create it first or fix the name",
                    )
                )
        patterns: list[tuple[tuple[str | int, ...], str]] = [
            (("policies", i, "allow", j), p) for j, p in enumerate(policy.allow)
        ]
        patterns += [(("policies", i, "deny", j), p) for j, p in enumerate(policy.deny)]
        patterns += [(("policies", i, "constraints", p), p) for p in policy.constraints]
        patterns += [(("policies", i, "cache", p), p) for p in policy.cache]
        for loc, pattern in patterns:
            prefix = pattern.split(".", 1)[0]
            if "." in pattern and not any(ch in prefix for ch in "*?[") and prefix not in connectors:
                known = ", ".join(sorted(connectors)) or "none yet"
                problems.append(
                    Problem(
                        loc,
                        f"'{pattern}' names connector '{prefix}', which is not registered (known: {known})"
                        + did_you_mean(prefix, connectors),
                    )
                )
            elif not any(ch in pattern for ch in "*?[") and tools and pattern not in tools:
                hint = did_you_mean(pattern, (t for t in tools if t.startswith(f"{prefix}.")))
                if hint:  # only a likely typo; a tool an upstream may offer later is allowed
                    problems.append(Problem(loc, f"'{pattern}' names no known tool{hint}"))
    if problems:
        raise InvalidInput("the policies refer to things that do not exist", problems=problems)


def apply(
    session: Session,
    incoming: Sequence[Policy],
    *,
    source: str = "",
    check: bool = True,
    tools: Collection[str] = (),
) -> ApplyResult:
    """Insert or replace the named policies; other policies stay. No change, no new revision."""
    names = [p.name for p in incoming]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput(f"policy names must be unique; repeated: {', '.join(duplicates)}")
    if check:
        check_references(session, incoming, tools=tools)
    revision, existing = current_policies(session)
    by_name: dict[str, dict[str, Any]] = {p.name: _dump(p) for p in existing}
    changed = [p.name for p in incoming if by_name.get(p.name) != _dump(p)]
    unchanged = [p.name for p in incoming if p.name not in changed]
    if not changed:
        return ApplyResult(revision=revision, changed=[], unchanged=unchanged)
    for policy in incoming:
        by_name[policy.name] = _dump(policy)
    return ApplyResult(revision=_store(session, by_name, source), changed=changed, unchanged=unchanged)


def delete(session: Session, name: str) -> int:
    _, existing = current_policies(session)
    by_name = {p.name: _dump(p) for p in existing}
    if name not in by_name:
        raise NotFound(f"no policy named '{name}'; `broker policy show` lists them")
    del by_name[name]
    return _store(session, by_name, f"delete {name}")


def _store(session: Session, by_name: dict[str, dict[str, Any]], source: str) -> int:
    latest = session.scalar(select(func.max(PolicyRevision.revision))) or 0
    row = PolicyRevision(
        revision=latest + 1,
        policies=[by_name[n] for n in sorted(by_name)],
        created_at=now(),
        source=source[:200],
    )
    session.add(row)
    bump(session)
    return row.revision


def _dump(policy: Policy) -> dict[str, Any]:
    return policy.model_dump(mode="json", exclude_defaults=True)
