"""The `kind: mcp` connector config: where the upstream is, and what was pinned from it."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from connectors._mcp_pins import MCP_TOOL_NAME, PIN, PinnedTool, pin_of
from connectors.fields import (
    MIB,
    ConnectorName,
    Headers,
    HttpUrl,
    MaxResponseBytes,
    TimeoutSeconds,
)

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_env(env: dict[str, str]) -> dict[str, str]:
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid environment variable name")
        if "\0" in value:
            raise ValueError(f"the value of {name!r} contains a NUL byte")
    return env


def _check_command(command: list[str] | None) -> list[str] | None:
    if command is not None and (not command or not command[0] or any("\0" in part for part in command)):
        raise ValueError("must be a non-empty list whose first item is the program, without NUL bytes")
    return command


Env = Annotated[
    dict[str, str],
    AfterValidator(_check_env),
    Field(
        description="Environment variables for a stdio server (non-secret; PATH, HOME, ... are inherited)."
    ),
]


class McpConnectorConfig(BaseModel):
    """An upstream MCP server, over Streamable HTTP or as a stdio command, and its pinned tools.

    `tools` and `pins` are written by registration (`prepare`): the tool definitions as
    reviewed, each with the SHA-256 of its canonical JSON. `tools: null` means not yet
    registered. `pins` given without `tools` are hashes to hold the upstream to: prepare
    refuses the upstream if its definitions differ.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["mcp"] = Field(description="Connector kind.")
    name: ConnectorName
    description: str = Field("", description="What this upstream is, for operators.")
    transport: Literal["http", "stdio"] = Field(description="Streamable HTTP (`url`) or stdio (`command`).")
    url: HttpUrl | None = Field(None, description="http: the MCP endpoint, e.g. https://mcp.example.com/mcp.")
    headers: Headers = {}
    command: Annotated[list[str] | None, AfterValidator(_check_command)] = Field(
        None, description="stdio: the program and its arguments, e.g. [npx, -y, some-mcp-server]."
    )
    env: Env = {}
    cwd: str | None = Field(None, description="stdio: working directory of the server process.")
    timeout_seconds: TimeoutSeconds = 30.0
    max_response_bytes: MaxResponseBytes = MIB
    prefix: bool = Field(
        True, description="Expose tools as '<connector>.<tool>'; false: the bare upstream names."
    )
    expose_new_tools: bool = Field(
        False, description="Expose upstream tools added after registration without an operator's approval."
    )
    recheck_seconds: float = Field(
        0,
        ge=0,
        le=86_400,
        description="Re-list upstream tools before a call when the last listing is this old (0: before "
        "every call). A list_changed notification always triggers a re-check.",
    )
    pins: dict[str, str] = Field(
        {}, description="Tool name -> SHA-256 (hex) of its canonical definition; written by registration."
    )
    tools: list[PinnedTool] | None = Field(
        None, description="The pinned tool definitions, as captured at registration."
    )
    flags: dict[str, list[str]] = Field(
        {}, description="Registration findings per tool (hidden instructions, invisible Unicode, ...)."
    )

    @model_validator(mode="after")
    def _check(self) -> McpConnectorConfig:
        if self.transport == "http":
            if self.url is None:
                raise ValueError("transport 'http' needs `url`")
            if self.command is not None or self.env or self.cwd is not None:
                raise ValueError("`command`, `env` and `cwd` are for transport 'stdio'")
        else:
            if self.command is None:
                raise ValueError("transport 'stdio' needs `command`")
            if self.url is not None or self.headers:
                raise ValueError("`url` and `headers` are for transport 'http'")
        for name, pin in self.pins.items():
            if not PIN.match(pin):
                raise ValueError(f"the pin of '{name}' is not a lower-case hex SHA-256")
            if not exposable(self, name):
                raise ValueError(
                    f"'{name}' cannot be exposed as an MCP tool name ({exposed_name(self, name)!r})"
                )
        if self.tools is not None:
            names = [tool.name for tool in self.tools]
            if len(set(names)) != len(names):
                raise ValueError("a tool is pinned twice")
            if set(names) != set(self.pins):
                raise ValueError("`tools` and `pins` must name the same tools")
            for tool in self.tools:
                if pin_of(tool.definition()) != self.pins[tool.name]:
                    raise ValueError(f"the pinned definition of '{tool.name}' does not match its pin")
        return self

    @property
    def target(self) -> str:
        """What the upstream is, for operators: the URL or the program."""
        return self.url if self.url is not None else " ".join(self.command or ())

    def secret_values(self) -> tuple[str, ...]:
        """Values to blank out of any text shown (stderr): env and header values, longest first."""
        values = {*self.env.values(), *self.headers.values()}
        return tuple(sorted((v for v in values if len(v) >= 4), key=len, reverse=True))


def exposed_name(config: McpConnectorConfig, tool: str) -> str:
    """The name agents see: '<connector>.<tool>', or the bare upstream name without `prefix`."""
    return f"{config.name}.{tool}" if config.prefix else tool


def exposable(config: McpConnectorConfig, tool: str) -> bool:
    """Whether the exposed name is a valid MCP tool name (1-128 of letters, digits, '_', '-', '.')."""
    return bool(MCP_TOOL_NAME.match(tool)) and bool(MCP_TOOL_NAME.match(exposed_name(config, tool)))
