"""Operator roles on /admin, from an OIDC token's role claim.

- admin: everything.
- operator: reads, and changes to connectors, policies, secrets (by reference: no endpoint
  ever returns a secret's value), the cache, and users' connections (revoke only).
- auditor: reads only (usage, audit, explain, catalog).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from broker.identity.principal import Principal

Role = Literal["admin", "operator", "auditor"]
RANK: dict[Role, int] = {"auditor": 1, "operator": 2, "admin": 3}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_ONLY_POSTS = frozenset({"/admin/policies/explain"})
"""POST endpoints that change nothing (they take a body to describe a question)."""
OPERATOR_AREAS = (
    "/admin/connectors",
    "/admin/policies",
    "/admin/secrets",
    "/admin/cache",
    "/admin/connections",
)
ADMIN_ONLY = frozenset({"/admin/secrets/rotate-key"})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is using the admin API: `admin-token`, or an OIDC subject with a role."""

    who: str
    role: Role


def role_of(principal: Principal, claim: str, mapping: Mapping[str, Role]) -> Role | None:
    """The highest role the claim's values map to (a list, or a space-separated string)."""
    raw = principal.claim(claim)
    values = raw.split() if isinstance(raw, str) else raw if isinstance(raw, list) else []
    roles: list[Role] = [mapping[value] for value in values if isinstance(value, str) and value in mapping]
    best: Role | None = None
    for role in roles:
        if best is None or RANK[role] > RANK[best]:
            best = role
    return best


def changes(method: str, path: str) -> bool:
    return method not in READ_METHODS and path.rstrip("/") not in READ_ONLY_POSTS


def permits(role: Role, method: str, path: str) -> bool:
    if role == "admin" or not changes(method, path):
        return True
    path = path.rstrip("/")
    return (
        role == "operator"
        and path not in ADMIN_ONLY
        and any(path == area or path.startswith(area + "/") for area in OPERATOR_AREAS)
    )


def actor_name(principal: Principal) -> str:
    """A readable name for audit trails: email or preferred name when given, and the subject."""
    label = principal.claim("email") or principal.claim("preferred_username") or principal.claim("name")
    subject = principal.subject or principal.client_id or "?"
    return f"{label} ({subject})" if isinstance(label, str) and label != subject else subject
