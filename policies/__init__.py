"""Policies: which tools an agent or team may call, and the pure function that decides.

Knows nothing of broker/: no I/O, no settings. Load YAML or admin payloads into
`PolicyDocument`, build a `PolicySet`, and ask `decide` (or `PolicySet.visible` for catalogs).
`masking_for` gives the masking an agent's tool results get (`policies.masking`).
"""

from policies.decision import Grants, PolicySet, decide
from policies.masking import (
    FieldRule,
    MaskingPolicy,
    OperatorSpec,
    effective_masking,
    masking_fingerprint,
    masking_for,
)
from policies.model import ArgumentConstraint, Decision, Policy, PolicyDocument, Subject, Violation

__all__ = [
    "ArgumentConstraint",
    "Decision",
    "FieldRule",
    "Grants",
    "MaskingPolicy",
    "OperatorSpec",
    "Policy",
    "PolicyDocument",
    "PolicySet",
    "Subject",
    "Violation",
    "decide",
    "effective_masking",
    "masking_fingerprint",
    "masking_for",
]
