"""Configuration documents: the combined YAML file of connectors, agents and policies, and
the policies-only file. Errors come back as `InvalidInput` whose problems name the field
and, for YAML, the line and column, so an operator can jump straight to the mistake.

The same machinery validates admin API bodies (JSON or YAML) through `validate`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from broker import yamlsource
from broker.errors import InvalidInput, Problem
from broker.llm.config import LlmDocument
from broker.suggest import did_you_mean, field_names_at
from broker.yamlsource import Located
from connectors.http import openapi
from connectors.registry import ConnectorConfig
from policies import Policy

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
Slug = Annotated[
    str,
    Field(
        pattern=SLUG_PATTERN,
        description="Lowercase slug of at most 63 characters: letters, digits, '_', '.', '-'; "
        "starting with a letter or digit.",
    ),
]

SPEC_FILE_MAX_BYTES = 16 * 1024 * 1024
_MESSAGE_PREFIXES = ("Value error, ", "Assertion failed, ")
_TAG_ERRORS = frozenset({"union_tag_invalid", "union_tag_not_found"})
_MESSAGES = {  # pydantic's wording where it speaks Python rather than YAML
    "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
    "dict_type": "must be a mapping of keys to values",
    "union_tag_not_found": "Field required",
}

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class AgentSpec(BaseModel):
    """An agent as declared in a document. Keys are never part of a document."""

    model_config = ConfigDict(extra="forbid")

    name: Slug = Field(description="Unique agent name; policies and audit records use it.")
    team: Slug | None = Field(
        default=None, description="Team the agent belongs to; policies may grant by team."
    )
    description: str = Field(default="", max_length=2000, description="Free text for operators.")


class Document(BaseModel):
    """The combined configuration file; every section is optional."""

    model_config = ConfigDict(extra="forbid")

    connectors: list[ConnectorConfig] = Field(
        default_factory=list, description="Connectors, upserted by name (kind: http | openapi)."
    )
    agents: list[AgentSpec] = Field(default_factory=list, description="Agents, upserted by name.")
    policies: list[Policy] = Field(
        default_factory=list,
        description="Policies, upserted by name; they may name agents and connectors above.",
    )
    llm: LlmDocument | None = Field(
        default=None,
        description="The LLM proxy: providers, model routes, prices, budgets and rate limits, upserted "
        "by name; budgets and limits may name agents above.",
    )


class PolicyFile(BaseModel):
    """A policies-only file or admin payload: a top-level `policies:` list."""

    model_config = ConfigDict(extra="forbid")

    policies: list[Policy] = Field(description="The policies, upserted by name; names must be unique.")


def parse_document(text: str, *, source: str, base_dir: Path | None) -> Document:
    """Parse the combined file. With `base_dir`, an openapi connector's `spec: <path>` is
    read from that file (relative to `base_dir`) and inlined."""
    return load_document(text, source=source, base_dir=base_dir)[0]


def load_document(text: str, *, source: str, base_dir: Path | None) -> tuple[Document, Located]:
    """`parse_document`, also returning the source positions (to locate later problems)."""
    located = yamlsource.load(text, source=source)
    if base_dir is not None:
        _inline_spec_files(located, base_dir, source)
    return validate(Document, located, source=source), located


def parse_policies(text: str, *, source: str) -> PolicyFile:
    return load_policies(text, source=source)[0]


def load_policies(text: str, *, source: str) -> tuple[PolicyFile, Located]:
    located = yamlsource.load(text, source=source)
    return validate(PolicyFile, located, source=source), located


def parse_connector(text: str, *, source: str, base_dir: Path | None) -> Located:
    """Load one connector config, spec file inlined; validation is left to the caller's adapter."""
    located = yamlsource.load(text, source=source)
    if base_dir is not None and isinstance(located.value, dict):
        _inline_spec(located, (), base_dir, source)
    return located


def validate(model: type[M], located: Located, *, source: str) -> M:
    """Validate a loaded value as `model`, then refuse repeated names in its sections."""
    if located.value is None:  # an empty file is an empty document
        located.value = {}
    result = check(model.model_validate, located, source=source)
    problems = duplicate_names(located, _sections(result))
    if problems:
        raise InvalidInput(f"{source} repeats names", problems=problems)
    return result


def check(validator: Callable[[Any], T], located: Located, *, source: str) -> T:
    """Run a pydantic validator on a loaded value; errors become located problems (an unknown
    field with a 'did you mean' when the model has a close one)."""
    try:
        return validator(located.value)
    except ValidationError as exc:
        problems = problems_from(exc, located, schema_of(validator))
        raise InvalidInput(f"{source} is not valid", problems=problems) from None


def schema_of(validator: Callable[[Any], Any]) -> dict[str, Any] | None:
    """The JSON schema behind `Model.model_validate` or `TypeAdapter(...).validate_python`."""
    owner = getattr(validator, "__self__", None)
    if isinstance(owner, TypeAdapter):
        return _adapter_schema(owner)
    if isinstance(owner, type) and issubclass(owner, BaseModel):
        return _model_schema(owner)
    return None


@functools.cache
def _model_schema(model: type[BaseModel]) -> dict[str, Any] | None:
    try:
        return model.model_json_schema()
    except Exception:  # a model with a field JSON Schema cannot describe: no suggestions
        return None


_ADAPTER_SCHEMAS: dict[int, dict[str, Any] | None] = {}


def _adapter_schema(adapter: TypeAdapter[Any]) -> dict[str, Any] | None:
    if id(adapter) not in _ADAPTER_SCHEMAS:
        try:
            _ADAPTER_SCHEMAS[id(adapter)] = adapter.json_schema()
        except Exception:  # as above
            _ADAPTER_SCHEMAS[id(adapter)] = None
    return _ADAPTER_SCHEMAS[id(adapter)]


def _sections(result: BaseModel) -> dict[str, list[Any]]:
    return {k: v for k, v in vars(result).items() if isinstance(v, list)}


def duplicate_names(located: Located, sections: Mapping[str, Sequence[Any]]) -> list[Problem]:
    """Problems for every item whose `name` an earlier item of the same section already used."""
    problems: list[Problem] = []
    for section, items in sections.items():
        first: dict[str, int] = {}
        for index, item in enumerate(items):
            name = getattr(item, "name", None)
            if not isinstance(name, str):
                continue
            if name in first:
                message = f"'{name}' is already used by {section}[{first[name]}]; names must be unique"
                problems.append(locate((section, index, "name"), message, located))
            else:
                first[name] = index
    return problems


def problems_from(
    exc: ValidationError, located: Located, schema: Mapping[str, Any] | None = None
) -> list[Problem]:
    """Turn pydantic errors into problems located in the source; with the model's JSON `schema`,
    an unknown field gets a 'did you mean' naming the closest allowed one."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        message = _MESSAGES.get(error["type"], error["msg"])
        for prefix in _MESSAGE_PREFIXES:
            message = message.removeprefix(prefix)
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden" and schema is not None and loc:
            message = f"unknown field '{loc[-1]}'" + did_you_mean(
                str(loc[-1]), field_names_at(schema, loc[:-1])
            )
        if error["type"] in _TAG_ERRORS:  # point at the discriminator field itself
            loc = (*loc, str(error.get("ctx", {}).get("discriminator", "kind")).strip("'"))
        problems.append(locate(loc, message, located))
    return problems


def relocate(problems: Iterable[Problem], located: Located) -> list[Problem]:
    """Add line and column to problems found later (reference checks) from the same source."""
    return [p if p.line is not None else locate(p.loc, p.message, located) for p in problems]


def locate(loc: tuple[str | int, ...], message: str, located: Located) -> Problem:
    """A problem at `loc`, minus pydantic's union tags, at the deepest node found in the source."""
    path = clean_loc(loc, located.value)
    mark = located.mark(path)
    return Problem(path, message, mark.line if mark else None, mark.column if mark else None)


def clean_loc(loc: tuple[str | int, ...], value: Any) -> tuple[str | int, ...]:
    """Keep the parts of `loc` that exist in `value`, plus a final missing one (a missing
    field); drop the intermediate parts pydantic adds for unions ('http', 'function-after[...]')."""
    path: list[str | int] = []
    pending: list[str | int] = []
    current = value
    for part in loc:
        found, child = yamlsource.step(current, part)
        if found:
            path.append(part)
            current, pending = child, []
        else:
            pending.append(part)
    return (*path, *pending[-1:])


def _inline_spec_files(located: Located, base_dir: Path, source: str) -> None:
    value = located.value
    connectors = value.get("connectors") if isinstance(value, dict) else None
    if not isinstance(connectors, list):
        return
    for index, connector in enumerate(connectors):
        if isinstance(connector, dict):
            _inline_spec(located, ("connectors", index), base_dir, source)


def _inline_spec(located: Located, at: tuple[str | int, ...], base_dir: Path, source: str) -> None:
    """Replace `spec: <path>` in the openapi connector at `at` by the file's parsed content."""
    connector = yamlsource.get(located.value, at)
    if not isinstance(connector, dict) or connector.get("kind") != "openapi":
        return
    if isinstance(connector.get("spec"), str):
        connector["spec"] = read_spec_file(base_dir / connector["spec"], located, (*at, "spec"), source)


def read_spec_file(path: Path, located: Located, loc: tuple[str | int, ...], source: str) -> Any:
    """Read an OpenAPI document (JSON or YAML) from a file; problems are reported at `loc`."""

    def fail(message: str) -> InvalidInput:
        return InvalidInput(f"{source}: {message}", problems=[locate(loc, message, located)])

    try:
        if path.stat().st_size > SPEC_FILE_MAX_BYTES:
            raise fail(f"spec file {path} is larger than {SPEC_FILE_MAX_BYTES // (1024 * 1024)} MiB")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read spec file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise fail(f"spec file {path} is not UTF-8 text") from None
    try:
        return openapi.parse_document(text)
    except ValueError as exc:
        raise fail(f"spec file {path}: {exc}") from None
