"""The connections branch of the error tree (broker/errors.py)."""

from __future__ import annotations

from broker.errors import BrokerError, ToolCallError


class NotConnected(ToolCallError):
    """The user has not completed (or has lost) their grant at this upstream: the answer says
    what to do and carries the connect link (URL elicitation where the client offers it)."""

    outcome = "not_connected"

    def __init__(self, message: str, *, connector: str, url: str) -> None:
        super().__init__(message, audit_message=f"user not connected to '{connector}'")
        self.connector = connector
        self.url = url


class GrantRefused(BrokerError):
    """A step of the browser flow that cannot go on: an unknown, used or expired state or link,
    a refusal by the authorization server, a code it would not redeem."""

    status_code = 400
    code = "grant_refused"
