"""The RFC 6750 / RFC 9728 `WWW-Authenticate` challenge every face sends with a refusal."""

from __future__ import annotations


def challenge(metadata: str, scopes: list[str], error: str | None, description: str | None) -> str:
    """A `Bearer` challenge naming the metadata document and the scopes to ask for."""
    parts = []
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{_quoted(description)}"')
    parts.append(f'resource_metadata="{metadata}"')
    if scopes:
        parts.append(f'scope="{" ".join(scopes)}"')
    return "Bearer " + ", ".join(parts)


def _quoted(text: str) -> str:
    ascii_only = text.encode("ascii", "replace").decode()  # header values are Latin-1 at most
    return ascii_only.replace("\\", "").replace('"', "'")[:300]
