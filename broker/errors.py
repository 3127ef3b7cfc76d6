"""The broker's one error tree. Each protocol maps it to replies at one boundary:
the admin API in broker/admin/errors.py, MCP in broker/mcp/server.py.

Messages are written for the caller: they say what was wrong and what to do, and never
carry secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input, located by path (and by line when it came from YAML)."""

    loc: tuple[str | int, ...]
    message: str
    line: int | None = None
    column: int | None = None

    @property
    def where(self) -> str:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.loc).lstrip(".")
        return path or "(document)"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"loc": list(self.loc), "field": self.where, "message": self.message}
        if self.line is not None:
            out["line"] = self.line
            out["column"] = self.column
        return out

    def __str__(self) -> str:
        at = f"line {self.line}, column {self.column}: " if self.line is not None else ""
        return f"{at}{self.where}: {self.message}"


class BrokerError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with every attribute (the error of a job run in a worker process, broker.offload),
        whatever the subclass's constructor takes."""
        return _restore, (type(self), self.args, self.__dict__)


def _restore(cls: type[BrokerError], args: tuple[Any, ...], state: dict[str, Any]) -> BrokerError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class MalformedBody(BrokerError):
    """A request body that cannot be read at all (not JSON, nested too deeply): 400 on every API."""

    status_code = 400
    code = "malformed_body"


class InvalidInput(BrokerError):
    status_code = 422
    code = "invalid_input"


class NotFound(BrokerError):
    status_code = 404
    code = "not_found"


class Conflict(BrokerError):
    status_code = 409
    code = "conflict"


class Unauthorized(BrokerError):
    status_code = 401
    code = "unauthorized"


class InvalidToken(Unauthorized):
    """A bearer token that is malformed, forged, expired or not meant for this gateway."""

    code = "invalid_token"


class Forbidden(BrokerError):
    """A valid caller who may not do this (an auditor changing something, an unknown client)."""

    status_code = 403
    code = "forbidden"


class InsufficientScope(Forbidden):
    """A valid token without the scopes this face requires: the client may step up."""

    code = "insufficient_scope"

    def __init__(self, message: str, scopes: list[str]) -> None:
        super().__init__(message)
        self.scopes = scopes


class NotConfigured(BrokerError):
    status_code = 503
    code = "not_configured"


class ToolCallError(BrokerError):
    """An upstream operation that ends before or at the upstream. A tools/call shows it to the
    agent as an isError result; the other operations answer a JSON-RPC error.

    `audit_message` is what the audit record keeps when the agent-facing message may echo
    argument values.
    """

    outcome = "error"

    def __init__(self, message: str, *, audit_message: str | None = None) -> None:
        super().__init__(message)
        self.audit_message = audit_message or message


class UnknownTool(ToolCallError):
    """The tool does not exist or is hidden from this agent; MCP answers JSON-RPC -32602."""

    outcome = "unknown_tool"


class UnknownResource(ToolCallError):
    """No connector offers this resource URI to this agent (or the policy hides it): -32602."""

    outcome = "unknown_resource"


class UnknownPrompt(ToolCallError):
    """The prompt does not exist or is hidden from this agent: -32602."""

    outcome = "unknown_prompt"


class InvalidParams(ToolCallError):
    """The upstream refused the request's parameters (a missing prompt argument, a URI it has
    no resource for): the caller's mistake, -32602."""

    outcome = "invalid_params"


class ToolDenied(ToolCallError):
    outcome = "denied"


class InvalidArguments(ToolCallError):
    outcome = "invalid_arguments"


class UpstreamFailure(ToolCallError):
    outcome = "upstream_error"


class UpstreamUnavailable(UpstreamFailure):
    """The upstream's circuit breaker is open: answered at once, without calling it."""

    outcome = "upstream_unavailable"


class ToolQuarantined(ToolCallError):
    """An upstream tool's definition changed (or vanished) since it was pinned; it waits for
    an operator's review. Shown to the agent as an isError result that says so."""

    outcome = "quarantined"
