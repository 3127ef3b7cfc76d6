"""Resource URIs as clients see them: every connector's resources in a namespace of their own.

A connector's local URI `<uri>` is shown as `broker://<connector>/<uri>`, verbatim after the
prefix: `file:///srv/a.txt` of connector `files` is `broker://files/file:///srv/a.txt`, table
`customers` of sql connector `crm` (local `tables/customers`) is `broker://crm/tables/customers`.
The mapping is reversible by construction (strip the prefix, up to the first `/` after the
connector name), so two upstreams never collide and a client can always read back what it was
listed. Resource templates are prefixed the same way: a client expanding
`broker://files/file:///{path}` gets a URI that maps back to the upstream's own expansion.
Policies grant resources by these URIs (`broker://files/*`).

An mcp connector with `prefix: false` shows its upstream's URIs verbatim instead
(broker/offerings.py); a read is routed to it by the URI it listed or a template of it that
produces the URI (`template_matches`).
"""

from __future__ import annotations

import functools

from mcp.shared.uri_template import InvalidUriTemplate, UriTemplate

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


def literal_prefix(template: str) -> str:
    """The text of a URI template before its first variable."""
    return template.partition("{")[0]


@functools.lru_cache(maxsize=4096)
def _parsed(template: str) -> UriTemplate | None:
    try:
        return UriTemplate.parse(template)
    except InvalidUriTemplate:
        return None


def template_matches(template: str, uri: str) -> bool:
    """Whether `uri` is one the URI template produces (RFC 6570, by the SDK's matcher); a template
    the matcher cannot parse claims every URI that starts with its literal text."""
    parsed = _parsed(template)
    if parsed is None:
        return uri.startswith(literal_prefix(template))
    return parsed.match(uri) is not None
