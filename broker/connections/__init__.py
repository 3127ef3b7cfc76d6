"""Each end user's own OAuth grant at an upstream (`auth: {type: user_oauth}`).

The user completes the grant once through the gateway: a connect link (a sealed, short-lived
ticket naming the user, the agent and the connector) opens a consent screen served by the
gateway; allowing it starts an authorization code request with PKCE (S256) whose `state` is
single use, short-lived and bound to that user and connector; the upstream's authorization
server redirects to the gateway's one callback (`/connect/callback`, the exact redirect URI
to register there), and the gateway redeems the code with authlib's client. Tokens are stored
encrypted per user and connector, refreshed before they expire (a failed refresh marks the
connection disconnected), and revocable by the user (`/connections`) and by operators
(`/admin/connections`, `broker connections`). No API ever returns a token.
"""

from broker.connections.errors import GrantRefused, NotConnected
from broker.connections.grants import Ticket, UserGrants, user_oauth_of

__all__ = ["GrantRefused", "NotConnected", "Ticket", "UserGrants", "user_oauth_of"]
