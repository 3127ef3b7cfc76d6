"""Errors a connector raises. Messages are written for the agent that made the call:
they say what went wrong upstream and never include credentials."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every connector failure."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectorConfigError(ConnectorError):
    """A connector definition is invalid (raised at registration, not at call time)."""


class UnknownTool(ConnectorError):
    """The connector has no tool of that name."""


class UnknownResource(ConnectorError):
    """The connector has no resource at that URI (nor a template that matches it)."""


class UnknownPrompt(ConnectorError):
    """The connector has no prompt of that name."""


class InvalidRequest(ConnectorError):
    """The upstream refused the request's parameters (a missing prompt argument, a bad URI):
    the caller's mistake, reported as invalid params."""


class UpstreamError(ConnectorError):
    """The upstream could not give a usable answer."""


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer within the connector's timeout."""


class UpstreamUnreachable(UpstreamError):
    """Connection refused, DNS failure, TLS failure, connection reset."""


class UpstreamHTTPError(UpstreamError):
    """The upstream answered with a 4xx or 5xx status."""

    def __init__(self, message: str, status_code: int, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after
        """The upstream's Retry-After header as sent (seconds or an HTTP-date), if any."""


class UpstreamBadResponse(UpstreamError):
    """The answer was not what the tool promises: not JSON, too large, malformed."""
