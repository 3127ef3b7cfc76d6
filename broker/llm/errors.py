"""The LLM proxy's part of the error tree (all are `BrokerError`s). The /v1 boundary renders
them in the caller's dialect: OpenAI's `{"error": {...}}` or Anthropic's `{"type": "error", ...}`."""

from __future__ import annotations

from typing import Any

from broker.errors import BrokerError


class BadRequest(BrokerError):
    status_code = 400
    code = "invalid_request"


class GuardrailBlocked(BadRequest):
    """A guardrail blocks the prompt: 400 naming the rule, before anything goes upstream."""

    code = "guardrail_blocked"

    def __init__(self, message: str, guardrail: dict[str, Any]) -> None:
        super().__init__(f"{message}; the agent's guardrails block it (rule '{guardrail['rule']}')")
        self.guardrail = guardrail


class GuardrailUnavailable(BrokerError):
    """A guardrail that must answer could not (the injection classifier, failing closed): 503."""

    status_code = 503
    code = "guardrail_unavailable"

    def __init__(self, message: str, guardrail: dict[str, Any]) -> None:
        super().__init__(message)
        self.guardrail = guardrail


class InternalError(BrokerError):
    """The gateway failed in a way it did not expect (a bug): logged with its traceback, 500."""

    status_code = 500
    code = "internal_error"


class ModelNotFound(BrokerError):
    status_code = 404
    code = "model_not_found"


class ModelDenied(BrokerError):
    status_code = 403
    code = "model_not_allowed"


class PayloadTooLarge(BrokerError):
    status_code = 413
    code = "payload_too_large"


class GatewayBusy(BrokerError):
    status_code = 503
    code = "gateway_busy"


class LimitExceeded(BrokerError):
    """A budget or rate limit refused the call: 429, with what was hit and when to come back."""

    status_code = 429

    def __init__(self, code: str, message: str, detail: dict[str, Any], retry_after: float) -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after


class MeteringUnavailable(BrokerError):
    """The ledger or the shared limiter cannot be used, and the metered path fails closed."""

    status_code = 503
    code = "metering_unavailable"


class UpstreamError(BrokerError):
    """Every target of the route failed (5xx, timeout, connection error, refused credentials)."""

    status_code = 502
    code = "upstream_error"

    def __init__(self, message: str, *, status_code: int = 502, code: str = "upstream_error") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.attempts = 0
        """Upstream requests made before giving up."""
