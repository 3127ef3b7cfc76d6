"""Document bodies (connectors, policies, the combined file): posted as JSON or YAML,
validated with problems located by field and, for YAML, by line and column.

These endpoints read the body themselves instead of declaring a pydantic body parameter,
so `openapi_body` documents the schema for both media types by hand.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request

from broker import jsonbody, offload, yamlsource
from broker.admin.runtime import JSON_MEDIA_TYPE, UnsupportedMediaType, is_json, media_type
from broker.documents import check, validate
from broker.errors import InvalidInput, MalformedBody, Problem
from broker.yamlsource import Located

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

YAML_MEDIA_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


async def raw_body(request: Request) -> tuple[bytes, bool]:
    """The body's bytes, and whether it is YAML (else JSON); 415 for any other media type."""
    media = media_type(request)
    is_yaml = media in YAML_MEDIA_TYPES
    if not is_yaml and not is_json(media):
        raise UnsupportedMediaType(
            f"send the document as {JSON_MEDIA_TYPE} or application/yaml, not {media or 'no content type'}"
        )
    return await request.body(), is_yaml


def parse_body(body: bytes, is_yaml: bool) -> Located:
    """A JSON or YAML body as a loaded value; YAML keeps the position of every node."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the request body is not UTF-8 text") from None
    return yamlsource.load(text, source="the YAML body") if is_yaml else load_json(text)


async def read_body(request: Request) -> Located:
    """The body as a loaded value, parsed in a worker thread (a document may be megabytes)."""
    body, is_yaml = await raw_body(request)
    return await asyncio.to_thread(parse_body, body, is_yaml)


class Origin:
    """A document's body, kept to locate problems found after it was read: parsed again only
    then, unless its positions came back with it (a big document's, read in a worker process,
    would cost more to carry back than to parse again)."""

    def __init__(self, body: bytes, is_yaml: bool, located: Located | None = None) -> None:
        self._body = body
        self._is_yaml = is_yaml
        self._located = located

    def located(self) -> Located:
        """The positions (blocking: in a worker thread for a big body)."""
        if self._located is None:
            self._located = parse_body(self._body, self._is_yaml)
        return self._located


def load_json(text: str) -> Located:
    """Parse JSON, refusing repeated keys as the YAML loader does."""
    try:  # the standard parser with a Python hook: the GIL is released between objects
        return Located(json.loads(text, object_pairs_hook=_unique_keys))
    except json.JSONDecodeError as exc:
        problem = Problem((), exc.msg, exc.lineno, exc.colno)
        raise InvalidInput(f"the JSON body is not valid: {exc.msg}", problems=[problem]) from None
    except _DuplicateKey as exc:
        message = f"duplicate key '{exc.key}'; each key may appear once"
        raise InvalidInput(
            f"the JSON body repeats a key: {message}", problems=[Problem((), message)]
        ) from None
    except RecursionError:
        raise MalformedBody(
            f"the JSON body nests arrays and objects too deeply (keep it under {jsonbody.MAX_DEPTH} levels)"
        ) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


async def read_model(request: Request, model: type[M]) -> tuple[M, Origin]:
    """Read and validate a document body off the loop (in a worker process when it is big:
    pydantic validates a whole document holding the GIL, ~0.3 s for a megabyte of policies);
    also returns the source to locate later problems."""
    body, is_yaml = await raw_body(request)
    small = len(body) < offload.MIN_BYTES  # a big document's positions are parsed again if needed
    document, located = await offload.by_size(len(body), read_as, model, body, is_yaml, small)
    return document, Origin(body, is_yaml, located)


def read_as(model: type[M], body: bytes, is_yaml: bool, keep_located: bool) -> tuple[M, Located | None]:
    """Parse and validate a document body as `model`; its positions too when `keep_located`."""
    located = parse_body(body, is_yaml)
    return validate(model, located, source="the document"), located if keep_located else None


async def read_with(request: Request, validator: Callable[[Any], T]) -> tuple[T, Located]:
    located = await read_body(request)
    return await asyncio.to_thread(check, validator, located, source="the document"), located


def openapi_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """`openapi_extra` declaring a JSON or YAML request body of this JSON schema."""
    inlined = inline_refs(schema)
    content = {media: {"schema": inlined} for media in (JSON_MEDIA_TYPE, "application/yaml")}
    return {"requestBody": {"required": True, "description": description, "content": content}}


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace `#/$defs/...` references by their definitions: pydantic's local `$defs` have
    no meaning inside an OpenAPI document. Recursive definitions are cut off."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def resolve(node: Any, seen: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [resolve(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            target = {"type": "object"} if name in seen else resolve(defs.get(name, {}), seen | {name})
            return {**target, **{k: resolve(v, seen) for k, v in node.items() if k != "$ref"}}
        out = {k: resolve(v, seen) for k, v in node.items() if k != "$defs"}
        if "oneOf" in out and isinstance(out.get("discriminator"), dict):  # its mapping points into $defs
            out["discriminator"] = {"propertyName": out["discriminator"].get("propertyName")}
        return out

    result: dict[str, Any] = resolve(schema, frozenset())
    return result
