"""What a secret's value is, as operators label it."""

from __future__ import annotations

from typing import Literal, get_args

SecretKind = Literal["token", "password", "api_key", "oauth_client_secret", "generic"]
KINDS: tuple[str, ...] = get_args(SecretKind)
