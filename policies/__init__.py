"""Policies: which tools (and models) an agent or team may call, and the pure functions that decide.

Knows nothing of broker/: no I/O, no settings. Load YAML or admin payloads into
`PolicyDocument`, build a `PolicySet`, and ask `decide` (or `PolicySet.visible` for catalogs);
for the LLM proxy, build `ModelGrants` from the same set and ask `decide_model`.
`decide_resource` and `decide_prompt` answer the same for resources and prompts.
`masking_for` gives the masking an agent's tool results get (`policies.masking`); `CacheRules`
how their results may be cached (`policies.cache`).
"""

from policies.access import PromptAccess, ResourceAccess
from policies.arguments import ArgumentConstraint
from policies.cache import CacheRule, CacheRules, CacheSetting
from policies.decision import Grants, PolicySet, decide
from policies.masking import (
    FieldRule,
    MaskingPolicy,
    OperatorSpec,
    effective_masking,
    masking_fingerprint,
    masking_for,
)
from policies.model import Decision, Policy, PolicyDocument, Subject, Violation
from policies.model_grants import ModelGrants, decide_model
from policies.models_access import ModelAccess
from policies.sampling import SamplingPolicy, SamplingRule, sampling_for

__all__ = [
    "ArgumentConstraint",
    "CacheRule",
    "CacheRules",
    "CacheSetting",
    "Decision",
    "FieldRule",
    "Grants",
    "MaskingPolicy",
    "ModelAccess",
    "ModelGrants",
    "OperatorSpec",
    "Policy",
    "PolicyDocument",
    "PolicySet",
    "PromptAccess",
    "ResourceAccess",
    "SamplingPolicy",
    "SamplingRule",
    "Subject",
    "Violation",
    "decide",
    "decide_model",
    "effective_masking",
    "masking_fingerprint",
    "masking_for",
    "sampling_for",
]
