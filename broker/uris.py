"""Resource URIs as clients see them: every connector's resources in a namespace of their own.

A connector's local URI `<uri>` is shown as `broker://<connector>/<uri>`, verbatim after the
prefix: `file:///srv/a.txt` of connector `files` is `broker://files/file:///srv/a.txt`, table
`customers` of sql connector `crm` (local `tables/customers`) is `broker://crm/tables/customers`.
The mapping is reversible by construction (strip the prefix, up to the first `/` after the
connector name), so two upstreams never collide and a client can always read back what it was
listed. Resource templates are prefixed the same way: a client expanding
`broker://files/file:///{path}` gets a URI that maps back to the upstream's own expansion.
Policies grant resources by these URIs (`broker://files/*`).
"""

from __future__ import annotations

SCHEME = "broker://"


def gateway_uri(connector: str, local: str) -> str:
    """The URI a client sees for a connector's local URI (or URI template)."""
    return f"{SCHEME}{connector}/{local}"


def split_uri(uri: str) -> tuple[str, str] | None:
    """(connector, local URI) for a gateway URI; None when `uri` is not one."""
    if not uri.startswith(SCHEME):
        return None
    connector, slash, local = uri[len(SCHEME) :].partition("/")
    if not connector or not slash or not local:
        return None
    return connector, local
