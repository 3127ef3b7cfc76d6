"""Input-required rounds (MCP 2026-07-28) between the gateway and its client.

When a call's upstream asks for input that only the client can give (elicitation, sampling it
does not serve, roots), the call ends with an `InputRequiredResult`: the upstream's requests
(masked by MaskPII) and a `requestState` holding what the gateway needs to go on (the
upstream's own state, answers the gateway already made, which request each key was). The
client retries `tools/call` with its `inputResponses` and that state; the retry runs the whole
pipeline again (policy, audit...) and the connector resumes the upstream call with it.

The state is sealed by the SDK's `RequestStateBoundary` (AES-GCM under a key every instance
shares, bound to the caller's token, the request and an expiry), so a client can neither read
nor forge it, nor replay another caller's, and any instance can take the retry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import mcp_types as types
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.shared.exceptions import MCPError
from pydantic import TypeAdapter

from broker.settings import Settings
from connectors.base import InputRequired, Resume

AUDIENCE = "tool-broker"
STATE_SECONDS = 600.0
"""How long a client may take to answer (a person filling in a form)."""
_INPUT_REQUEST: TypeAdapter[types.InputRequest] = TypeAdapter(types.InputRequest)


def request_state_key(settings: Settings) -> bytes:
    """The sealing key: derived from the audit hash key, which every instance shares."""
    secret = settings.audit_hash_key.get_secret_value().encode()
    return hmac.new(secret, b"broker mcp requestState", hashlib.sha256).digest()


def state_boundary(key: bytes) -> RequestStateBoundary:
    return RequestStateBoundary(
        RequestStateSecurity(keys=[key], ttl=STATE_SECONDS), default_audience=AUDIENCE
    )


def input_required_result(asked: InputRequired) -> types.InputRequiredResult:
    requests = {key: _INPUT_REQUEST.validate_python(request) for key, request in asked.requests.items()}
    state = json.dumps(dict(asked.state), separators=(",", ":"))
    return types.InputRequiredResult(input_requests=requests, request_state=state)


def resume_of(params: types.CallToolRequestParams) -> Resume | None:
    """The retry's answers and state (unsealed by the boundary), None for a first call."""
    if params.request_state is None and not params.input_responses:
        return None
    try:
        state: Any = json.loads(params.request_state) if params.request_state is not None else {}
    except ValueError:
        state = None
    if not isinstance(state, dict):
        raise MCPError(
            types.INVALID_PARAMS, "requestState is not one this gateway issued; call the tool afresh"
        )
    asked = state.get("methods") or {}
    responses = {
        key: response.model_dump(by_alias=True, mode="json", exclude_none=True)
        for key, response in (params.input_responses or {}).items()
    }
    unknown = sorted(key for key in responses if key not in asked)
    if unknown:
        raise MCPError(
            types.INVALID_PARAMS,
            f"inputResponses has {', '.join(map(repr, unknown))}, which this call did not ask for",
        )
    return Resume(responses=responses, state=state)
