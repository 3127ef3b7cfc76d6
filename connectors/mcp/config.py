"""The `kind: mcp` connector config: where the upstream is, how the gateway authenticates to
it, and what was pinned from it.

    transport: http
    url: https://mcp.example.com/mcp
    auth: {type: bearer, secret: example-token, per_agent: {alice: alice-token}}

    transport: stdio
    command: [npx, -y, some-mcp-server]
    secret_env: {GITHUB_TOKEN: {secret: github-token}}

Secrets come from the gateway's secret store with each call (connectors/auth.py).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from connectors.auth import AuthConfig, HeaderAuth, QueryAuth, SecretRef
from connectors.fields import (
    MIB,
    AllowPrivateNetwork,
    ConnectorName,
    Headers,
    HttpUrl,
    MaxResponseBytes,
    TimeoutSeconds,
)
from connectors.mcp.pins import MCP_TOOL_NAME, PIN, OfferingPins, PinnedTool, pin_of

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_env(env: dict[str, str]) -> dict[str, str]:
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid environment variable name")
        if "\0" in value:
            raise ValueError(f"the value of {name!r} contains a NUL byte")
    return env


def _check_secret_env(env: dict[str, SecretRef]) -> dict[str, SecretRef]:
    for name in env:
        if not _ENV_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid environment variable name")
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

SecretEnv = Annotated[
    dict[str, SecretRef],
    AfterValidator(_check_secret_env),
    Field(
        description="stdio: environment variables set from the secret store, e.g. "
        "{GITHUB_TOKEN: {secret: github-token}}. A `per_agent` override runs a server process of its "
        "own for the agents it names (at most 8 processes per connector; the least recently used "
        "one is stopped).",
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
    auth: AuthConfig | None = Field(
        None,
        description="http: how the gateway authenticates to the upstream, with secrets from the store "
        "(bearer, header, basic, oauth2_client_credentials), or each caller's own (user_oauth, "
        "token_exchange, gateway_jwt). Each distinct credential (a per-agent override, a rotated secret, "
        "an end user) gets a session of its own.",
    )
    max_user_sessions: int = Field(
        64,
        ge=1,
        le=10_000,
        description="With per-caller auth: upstream sessions kept open, one per end user (the least "
        "recently used is closed beyond this).",
    )
    user_session_idle_seconds: float = Field(
        300, gt=0, le=86_400, description="With per-caller auth: a user's session idle this long is closed."
    )
    allow_private_network: AllowPrivateNetwork = False
    command: Annotated[list[str] | None, AfterValidator(_check_command)] = Field(
        None, description="stdio: the program and its arguments, e.g. [npx, -y, some-mcp-server]."
    )
    env: Env = {}
    secret_env: SecretEnv = {}
    cwd: str | None = Field(None, description="stdio: working directory of the server process.")
    timeout_seconds: TimeoutSeconds = 30.0
    max_response_bytes: MaxResponseBytes = MIB
    prefix: bool = Field(
        True,
        description="Expose tools and prompts as '<connector>.<name>' and resources as "
        "'broker://<connector>/<uri>'; false: the upstream's own names and URIs, verbatim (registration "
        "refuses a connector whose names or URIs another connector has too).",
    )
    expose_new_tools: bool = Field(
        False, description="Expose upstream tools added after registration without an operator's approval."
    )
    recheck_seconds: float = Field(
        60,
        ge=0,
        le=86_400,
        description="Re-list upstream tools before a call when the last listing is this old (0: before "
        "every call, which costs a round trip per call). A list_changed notification, a new session and "
        "the gateway's background listing (every minute) re-check too.",
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
    offering_pins: OfferingPins | None = Field(
        None,
        description="The upstream's resources, templates and prompts as reviewed, written by registration "
        "and approval: one that changed since is held back until approved (a new prompt or template too, "
        "unless `expose_new_tools`; a new resource only when the scanner flags its description). null: "
        "registered before they were pinned, nothing held.",
    )

    @model_validator(mode="after")
    def _check(self) -> McpConnectorConfig:
        if self.transport == "http":
            if self.url is None:
                raise ValueError("transport 'http' needs `url`")
            if self.command is not None or self.env or self.secret_env or self.cwd is not None:
                raise ValueError("`command`, `env`, `secret_env` and `cwd` are for transport 'stdio'")
            self._check_auth()
        else:
            if self.command is None:
                raise ValueError("transport 'stdio' needs `command`")
            if self.url is not None or self.headers or self.auth is not None:
                raise ValueError("`url`, `headers` and `auth` are for transport 'http'; use `secret_env`")
            if self.allow_private_network:
                raise ValueError(
                    "`allow_private_network` is for transport 'http': the gateway does not guard the "
                    "network access of a stdio server's own process"
                )
            both = sorted(set(self.env) & set(self.secret_env))
            if both:
                raise ValueError(f"{', '.join(both)}: set in both `env` and `secret_env`")
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

    def _check_auth(self) -> None:
        if isinstance(self.auth, QueryAuth):
            raise ValueError(
                "auth type 'query' is not offered for mcp: the secret would be part of every request's "
                "URL; use type 'header' or 'bearer'"
            )
        if self.auth is None:
            return
        sent = self.auth.name if isinstance(self.auth, HeaderAuth) else "Authorization"
        if any(name.lower() == sent.lower() for name in self.headers):
            raise ValueError(f"`headers` sets {sent}, which `auth` sends; leave it to `auth`")

    def secret_refs(self) -> frozenset[str]:
        """Names of every secret this config references (auth, secret_env, per-agent ones too)."""
        refs = self.auth.secret_refs() if self.auth is not None else frozenset()
        return refs.union(*(ref.secret_refs() for ref in self.secret_env.values()))

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
