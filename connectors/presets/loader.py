"""Reading, listing and expanding the preset files of this package (see its __init__)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors import yaml12
from connectors.auth import SECRET_NAME
from connectors.base import CONNECTOR_NAME
from connectors.registry import ConnectorConfigAdapter

_PACKAGE = "connectors.presets"
PRESET_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


class PresetError(ValueError):
    """A preset that does not exist, or options that do not fit it; the message says which."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PresetFile(BaseModel):
    """The YAML file of one preset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preset: str = Field(pattern=PRESET_NAME.pattern, description="The preset's name (its file name).")
    summary: str = Field(min_length=1, max_length=200, description="One line for the preset list.")
    documentation: str = Field(description="Where the upstream API is documented.")
    notes: str = Field("", description="What an operator needs to know: keys, scopes, variants.")
    connectors: list[dict[str, Any]] = Field(min_length=1, description="Connector configs, as for `add -f`.")

    @field_validator("connectors")
    @classmethod
    def _check_connectors(cls, connectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
        names = [config.get("name") for config in connectors]
        first = names[0]
        for name in names[1:]:
            if not isinstance(name, str) or not name.startswith(f"{first}-"):
                raise ValueError(f"connector '{name}' must be named '{first}-<suffix>' after the first one")
        for config in connectors:
            ConnectorConfigAdapter.validate_python(config)
        return connectors


@dataclass(frozen=True, slots=True)
class PresetInfo:
    """A preset as listed: what it adds and what it needs."""

    name: str
    summary: str
    documentation: str
    notes: str
    connectors: tuple[str, ...]
    tools: tuple[str, ...]
    """Qualified tool names under the default connector names."""
    secrets: tuple[str, ...]
    """Default names of the secrets it needs (empty: no credential)."""


def preset_names() -> list[str]:
    """Names of the presets shipped in this package, sorted."""
    files = resources.files(_PACKAGE).iterdir()
    return sorted(f.name.removesuffix(".yaml") for f in files if f.name.endswith(".yaml"))


def read_preset(name: str) -> PresetFile:
    """The preset called `name`, validated; PresetError if there is none."""
    if name not in preset_names():
        raise PresetError(f"unknown preset '{name}'; available: {', '.join(preset_names())}")
    text = resources.files(_PACKAGE).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    preset = PresetFile.model_validate(yaml12.load(text))
    if preset.preset != name:
        raise PresetError(f"preset file '{name}.yaml' names itself '{preset.preset}'")
    return preset


def list_presets() -> list[PresetInfo]:
    """Every shipped preset, described."""
    return [describe(read_preset(name)) for name in preset_names()]


def describe(preset: PresetFile) -> PresetInfo:
    """What a preset adds (tools under its default names) and the secrets it needs."""
    configs = preset.connectors
    return PresetInfo(
        name=preset.preset,
        summary=preset.summary,
        documentation=preset.documentation,
        notes=preset.notes,
        connectors=tuple(config["name"] for config in configs),
        tools=tuple(
            f"{config['name']}.{tool['name']}" for config in configs for tool in config.get("tools", [])
        ),
        secrets=tuple(config["auth"]["secret"] for config in configs if config.get("auth")),
    )


def load_preset(
    name: str,
    *,
    name_override: str | None = None,
    base_url: str | None = None,
    base_urls: Mapping[str, str] | None = None,
    secret: str | None = None,
    allow_private_network: bool = False,
) -> list[dict[str, Any]]:
    """The preset's connector configs with the operator's choices applied, validated.

    - `name_override` renames the first connector, and `<default>-<suffix>` ones to `<name>-<suffix>`;
    - `base_url` replaces every connector's base URL, `base_urls` one connector's (keyed by its
      default or new name);
    - `secret` names the secret every authenticated connector of the preset uses;
    - `allow_private_network` lets them reach loopback and private addresses (local test servers).

    Raises PresetError with a message for the operator.
    """
    preset = read_preset(name)
    default = preset.connectors[0]["name"]
    if name_override is not None and not CONNECTOR_NAME.match(name_override):
        raise PresetError(
            f"'{name_override}' is not a valid connector name: lower case letters, digits, '_' and '-', "
            "starting with a letter"
        )
    renamed = {
        config["name"]: (name_override or default) + config["name"].removeprefix(default)
        for config in preset.connectors
    }
    urls = _keyed_urls(base_urls or {}, renamed, name)
    if secret is not None and not any(config.get("auth") for config in preset.connectors):
        raise PresetError(f"preset '{name}' needs no secret: its upstream takes no credential")
    if secret is not None and not SECRET_NAME.match(secret):
        raise PresetError(
            f"'{secret}' is not a valid secret name: letters, digits, '_', '.' and '-', "
            "starting with a letter or digit (at most 100)"
        )
    configs = []
    for template in preset.connectors:
        config = {**template, "name": renamed[template["name"]]}
        if base_url is not None or template["name"] in urls:
            config["base_url"] = urls.get(template["name"], base_url)
        if secret is not None and config.get("auth"):
            config["auth"] = {**config["auth"], "secret": secret}
        if allow_private_network:
            config["allow_private_network"] = True
        configs.append(_validated(config, name))
    return configs


def _keyed_urls(base_urls: Mapping[str, str], renamed: Mapping[str, str], preset: str) -> dict[str, str]:
    """`base_urls` keyed by the preset's default connector names."""
    by_either = {**{new: old for old, new in renamed.items()}, **{old: old for old in renamed}}
    urls = {}
    for key, url in base_urls.items():
        if key not in by_either:
            raise PresetError(
                f"preset '{preset}' has no connector '{key}' to set a base URL for; "
                f"its connectors: {', '.join(renamed.values())}"
            )
        urls[by_either[key]] = url
    return urls


def _validated(config: dict[str, Any], preset: str) -> dict[str, Any]:
    try:
        checked = ConnectorConfigAdapter.validate_python(config)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"][1:]) or "config"
        value = f" {error['input']!r}" if isinstance(error.get("input"), str) else ""
        message = error["msg"].removeprefix("Value error, ")
        where = f"preset '{preset}', connector '{config['name']}'"
        raise PresetError(f"{where}: {field}{value}: {message}") from None
    dumped: dict[str, Any] = checked.model_dump(mode="json", exclude_unset=True)
    return dumped
