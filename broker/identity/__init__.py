"""Identity: who is calling the gateway.

Agent keys and OAuth 2.1 access tokens (JWTs checked against the issuer's JWKS, opaque
tokens by introspection) on /mcp and /v1, mapped to an agent acting for an end user;
OIDC roles for operators on /admin.
"""

from broker.identity.authenticator import Authenticator
from broker.identity.callers import CallerMap
from broker.identity.principal import Principal
from broker.identity.verifier import OAuthVerifier

__all__ = ["Authenticator", "CallerMap", "OAuthVerifier", "Principal"]
