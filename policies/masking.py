"""The masking section of a policy: how PII in tool results is masked for its agents and teams.

    masking:
      default_operator: replace            # detected entities without an entry below
      entities:
        EMAIL_ADDRESS: token               # shorthand: the operator name
        PHONE_NUMBER: {operator: mask, keep_last: 4, char: "#"}
        IP_ADDRESS: keep                   # not masked
      fields:                              # masked whatever they contain
        - {match: name, entity: PERSON}                      # a key name, anywhere
        - {match: "$.contacts[*].address", entity: LOCATION, operator: redact}
      resolve_tokens_for: ["mail.send", "crm.update_*"]    # tools that get real values back
      token_ttl_seconds: 3600

Operators, weakest to strongest: keep < mask < hash < token < replace < redact. `token`
reveals nothing but lets the agent hand the value back to the tools in `resolve_tokens_for`;
`hash` is stable across agents (linkable), `mask` shows the last characters.

When several policies apply to an agent, `effective_masking` merges their sections:
per entity type the strongest operator wins (a policy without an entry for a type counts
with its default operator), field rules add up (where two match one value the strongest
wins), tools in `resolve_tokens_for` add up, and the shortest token TTL wins. Policies
without a masking section do not take part; with none at all the default applies:
every detected entity is replaced by its type. Pure: no I/O, no broker imports.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from policies.patterns import pattern_problem

if TYPE_CHECKING:
    from policies.model import Policy, Subject

OperatorName = Literal["keep", "mask", "hash", "token", "replace", "redact"]
STRENGTH: dict[str, int] = {"keep": 0, "mask": 1, "hash": 2, "token": 3, "replace": 4, "redact": 5}
"""How much an operator hides, to merge policies: the higher wins."""

ENTITY_PATTERN = r"^[A-Z][A-Z0-9_]{1,39}$"
_OPTIONS = {"mask": {"keep_last", "char"}, "hash": {"length"}, "replace": {"value"}}


def _check_tool_pattern(value: str) -> str:
    problem = pattern_problem(value)
    if problem is not None:
        raise PydanticCustomError("tool_pattern", "{problem}", {"problem": problem})
    return value


def _shorthand(value: object) -> object:
    return {"operator": value} if isinstance(value, str) else value


class OperatorSpec(BaseModel):
    """One masking operator and its options. In YAML an operator name alone is enough: `token`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    operator: OperatorName = Field(
        description="keep (no masking), mask (hide all but the last characters), hash (keyed HMAC, "
        "stable across calls and agents), token (reversible per agent: <EMAIL_ADDRESS_7f3a9c21>), "
        "replace (the type: <EMAIL_ADDRESS>), redact (remove)."
    )
    keep_last: int = Field(default=4, ge=0, le=16, description="mask: characters left visible at the end.")
    char: str = Field(default="*", min_length=1, max_length=1, description="mask: the masking character.")
    length: int = Field(default=16, ge=8, le=64, description="hash: hex characters of the HMAC kept.")
    value: str | None = Field(default=None, description="replace: fixed text instead of <ENTITY_TYPE>.")

    @model_validator(mode="after")
    def _options_fit(self) -> OperatorSpec:
        allowed = _OPTIONS.get(self.operator, set())
        stray = sorted(self.model_fields_set - allowed - {"operator"})
        if stray:
            raise PydanticCustomError(
                "operator_options",
                "option(s) {stray} do not apply to operator '{operator}'",
                {"stray": ", ".join(stray), "operator": self.operator},
            )
        return self

    @property
    def strength(self) -> tuple[int, int, str]:
        """Ordering key for merges: operator rank, then what the options reveal, then a tie-break."""
        reveal = -self.keep_last if self.operator == "mask" else 0
        return (STRENGTH[self.operator], reveal, self.model_dump_json())


Operator = Annotated[OperatorSpec, BeforeValidator(_shorthand)]
EntityName = Annotated[str, Field(pattern=ENTITY_PATTERN)]
ToolPattern = Annotated[str, AfterValidator(_check_tool_pattern)]
REPLACE = OperatorSpec(operator="replace")


class FieldRule(BaseModel):
    """JSON values masked whole, whatever they contain, found by key name or by path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    match: str = Field(
        min_length=1,
        max_length=256,
        description="A key name, matched anywhere and ignoring case, '_', '-' and spaces ('first_name' "
        "also matches 'firstName'), or a JSONPath subset: '$.a.b', '$.list[*].x', '$.list[0]', "
        "'$..email' (any depth), '$.a.*'. Objects and lists matched are masked leaf by leaf.",
        examples=["name", "$.contacts[*].address", "$..email"],
    )
    entity: EntityName = Field(
        default="PII", description="The type the masked value is reported and tokenised as."
    )
    operator: Operator | None = Field(
        default=None,
        description="How to mask; default: the policy's operator for `entity`, else its default.",
    )


class MaskingPolicy(BaseModel):
    """How PII in tool results is masked for a policy's agents and teams."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_operator: Operator = Field(default=REPLACE, description="For entity types without an entry.")
    entities: dict[EntityName, Operator] = Field(
        default_factory=dict,
        description="Operator per entity type: EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN, IBAN_CODE, "
        "IP_ADDRESS, SECRET, or a type named by a field rule.",
    )
    fields: list[FieldRule] = Field(default_factory=list, description="Values masked whole, by key or path.")
    resolve_tokens_for: list[ToolPattern] = Field(
        default_factory=list,
        description="Tools (names or globs) whose arguments get the real values of this agent's tokens.",
    )
    token_ttl_seconds: int = Field(
        default=3600, ge=60, le=30 * 86400, description="How long a token resolves."
    )

    @model_validator(mode="after")
    def _paths_parse(self) -> MaskingPolicy:
        for rule in self.fields:
            problem = path_problem(rule.match)
            if problem is not None:
                raise PydanticCustomError("field_path", "{problem}", {"problem": problem})
        return self

    def operator_for(self, entity: str) -> OperatorSpec:
        return self.entities.get(entity, self.default_operator)

    def rule_operator(self, rule: FieldRule) -> OperatorSpec:
        return rule.operator if rule.operator is not None else self.operator_for(rule.entity)

    @property
    def uses_tokens(self) -> bool:
        """True when masked output depends on the agent (tokens): results must not be shared."""
        operators = [self.default_operator, *self.entities.values(), *map(self.rule_operator, self.fields)]
        return any(op.operator == "token" for op in operators)


DEFAULT_MASKING = MaskingPolicy()


def effective_masking(sections: Iterable[MaskingPolicy | None]) -> MaskingPolicy:
    """Merge the masking sections of the policies that apply to one agent (see the module doc)."""
    present = [s for s in sections if s is not None]
    if not present:
        return DEFAULT_MASKING
    if len(present) == 1:
        return _resolved(present[0])

    def strongest(specs: Iterable[OperatorSpec]) -> OperatorSpec:
        return max(specs, key=lambda spec: spec.strength)

    names = sorted(
        {name for s in present for name in s.entities} | {r.entity for s in present for r in s.fields}
    )
    rules: dict[tuple[str, str], OperatorSpec] = {}
    for section in present:
        for rule in section.fields:
            key = (rule.match, rule.entity)
            operator = section.rule_operator(rule)
            rules[key] = strongest([rules[key], operator]) if key in rules else operator
    return MaskingPolicy(
        default_operator=strongest(s.default_operator for s in present),
        entities={name: strongest(s.operator_for(name) for s in present) for name in names},
        fields=[FieldRule(match=m, entity=e, operator=op) for (m, e), op in sorted(rules.items())],
        resolve_tokens_for=sorted({tool for s in present for tool in s.resolve_tokens_for}),
        token_ttl_seconds=min(s.token_ttl_seconds for s in present),
    )


def _resolved(section: MaskingPolicy) -> MaskingPolicy:
    """The same policy with every field rule's operator spelled out (so merges compare like with like)."""
    fields = [rule.model_copy(update={"operator": section.rule_operator(rule)}) for rule in section.fields]
    return section.model_copy(update={"fields": fields})


def masking_for(policies: Iterable[Policy], subject: Subject) -> MaskingPolicy:
    """The effective masking of the policies that name `subject` (its agent id or its team)."""
    return effective_masking(
        p.masking
        for p in policies
        if subject.name in p.agents or (subject.team is not None and subject.team in p.teams)
    )


def masking_fingerprint(policy: MaskingPolicy) -> str:
    """A stable digest of what masking does: equal for two agents exactly when they mask alike."""
    canonical = json.dumps(_canonical(policy), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _canonical(policy: MaskingPolicy) -> dict[str, Any]:
    resolved = _resolved(policy)
    data = resolved.model_dump(mode="json")
    data["fields"] = sorted(data["fields"], key=lambda rule: json.dumps(rule, sort_keys=True))
    data["resolve_tokens_for"] = sorted(set(data["resolve_tokens_for"]))
    # An entry equal to the default changes nothing.
    data["entities"] = {
        name: spec for name, spec in data["entities"].items() if spec != data["default_operator"]
    }
    return data


PathStep = tuple[str, str | int | None]
"""('child', key) | ('index', n) | ('any', None) | ('deep', key or None for any)."""

_STEP = re.compile(
    r"""\.\.(?P<deep>\*|[^.\[\]]+)|\.(?P<child>\*|[^.\[\]]+)"""
    r"""|\[(?:(?P<star>\*)|(?P<index>-?\d+)|'(?P<sq>[^']*)'|"(?P<dq>[^"]*)")\]"""
)


def parse_path(path: str) -> tuple[PathStep, ...]:
    """Parse the JSONPath subset of field rules; raise ValueError saying what is wrong."""
    if not path.startswith("$"):
        raise ValueError(f"a path starts with '$': {path!r}")
    steps: list[PathStep] = []
    position = 1
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            raise ValueError(
                f"cannot read path {path!r} at character {position + 1}:"
                " use .key, ['key'], [*], [n], .* or ..key"
            )
        if match.group("deep") is not None:
            deep = match.group("deep")
            steps.append(("deep", None if deep == "*" else deep))
        elif match.group("child") is not None:
            child = match.group("child")
            steps.append(("any", None) if child == "*" else ("child", child))
        elif match.group("star") is not None:
            steps.append(("any", None))
        elif match.group("index") is not None:
            steps.append(("index", int(match.group("index"))))
        else:
            key = match.group("sq") if match.group("sq") is not None else match.group("dq")
            steps.append(("child", key))
        position = match.end()
    if not steps:
        raise ValueError("the path '$' alone would mask the whole result: name a key or a path below it")
    return tuple(steps)


def path_problem(match: str) -> str | None:
    """Say what is wrong with a field rule's `match`, or None. Plain key names are always fine."""
    if not match.startswith("$"):
        return None
    try:
        parse_path(match)
    except ValueError as exc:
        return str(exc)
    return None
