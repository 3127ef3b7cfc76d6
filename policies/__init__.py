"""Policies: which tools an agent or team may call, and the pure function that decides.

Knows nothing of broker/: no I/O, no settings. Load YAML or admin payloads into
`PolicyDocument`, build a `PolicySet`, and ask `decide` (or `PolicySet.visible` for catalogs).
"""

from policies.decision import Grants, PolicySet, decide
from policies.model import ArgumentConstraint, Decision, Policy, PolicyDocument, Subject, Violation

__all__ = [
    "ArgumentConstraint",
    "Decision",
    "Grants",
    "Policy",
    "PolicyDocument",
    "PolicySet",
    "Subject",
    "Violation",
    "decide",
]
