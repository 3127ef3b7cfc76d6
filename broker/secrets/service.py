"""Stored secrets: add or replace, list, delete, re-encrypt. Values go in encrypted and
never come back out of these functions; only the vault decrypts, for calls."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.errors import InvalidInput, NotFound, Problem
from broker.secrets.errors import UndecryptableSecrets
from broker.secrets.keys import Cipher, Undecryptable
from broker.secrets.kinds import KINDS
from broker.services.revision import bump, now
from broker.store.models import Secret
from connectors.auth import SECRET_NAME

MAX_VALUE_CHARS = 64 * 1024
_CONTROL = {chr(c) for c in range(32)} | {"\x7f"}


def list_secrets(session: Session) -> list[Secret]:
    return list(session.scalars(select(Secret).order_by(Secret.name)))


def secret_names(session: Session) -> set[str]:
    return set(session.scalars(select(Secret.name)))


def get_secret(session: Session, name: str) -> Secret:
    record = session.get(Secret, name)
    if record is None:
        raise NotFound(f"no secret named '{name}'; `broker secrets list` shows them")
    return record


def check_value(name: str, kind: str, value: str) -> None:
    """Refuse values that cannot be what their kind says (the value is never echoed)."""
    if not SECRET_NAME.match(name):
        raise InvalidInput(
            f"'{name[:100]}' is not a valid secret name",
            problems=[Problem(("name",), "letters, digits, '_', '.', '-', starting with a letter or digit")],
        )
    if kind not in KINDS:
        raise InvalidInput(
            f"unknown secret kind '{kind}'",
            problems=[Problem(("kind",), f"must be one of {', '.join(KINDS)}")],
        )
    problem = None
    if not value:
        problem = "must not be empty"
    elif len(value) > MAX_VALUE_CHARS:
        problem = f"is longer than {MAX_VALUE_CHARS} characters"
    elif kind != "generic" and _CONTROL.intersection(value):
        problem = (
            f"contains a line break or control character, which a {kind} cannot hold "
            "(store multi-line values with kind generic)"
        )
    if problem is not None:
        raise InvalidInput(f"the value of secret '{name}' {problem}", problems=[Problem(("value",), problem)])


def put_secret(
    session: Session,
    cipher: Cipher,
    name: str,
    value: str,
    *,
    kind: str | None = None,
    description: str | None = None,
) -> tuple[Secret, bool]:
    """Create the secret or replace its value; returns it and whether it was created.
    Kind and description stay as they are when not given (a new secret's kind is generic)."""
    record = session.get(Secret, name)
    kind = kind or (record.kind if record is not None else "generic")
    check_value(name, kind, value)
    ciphertext = cipher.encrypt(name, value)
    stamp = now()
    if record is None:
        record = Secret(
            name=name,
            kind=kind,
            ciphertext=ciphertext,
            description=description or "",
            created_at=stamp,
            updated_at=stamp,
            last_used_at=None,
        )
        session.add(record)
        created = True
    else:
        record.kind, record.ciphertext, record.updated_at = kind, ciphertext, stamp
        if description is not None:
            record.description = description
        created = False
    session.flush()
    bump(session)  # every instance reloads, and drops its cached values
    return record, created


def delete_secret(session: Session, name: str) -> None:
    session.delete(get_secret(session, name))
    bump(session)


def rotate_all(session: Session, cipher: Cipher) -> int:
    """Re-encrypt every secret with the primary key, all or nothing; returns how many."""
    records = list_secrets(session)
    failed: list[str] = []
    for record in records:
        try:
            record.ciphertext = cipher.rotate(record.name, record.ciphertext)
        except Undecryptable:
            failed.append(record.name)
    if failed:
        raise UndecryptableSecrets(failed)
    return len(records)


def check_references(
    config: Mapping[str, Any], refs: Iterable[str], known: Collection[str], loc: tuple[str | int, ...] = ()
) -> None:
    """Refuse a connector config that references secrets not in the store; each problem is
    located where the config names the secret (under `loc`)."""
    missing = sorted(set(refs) - set(known))
    if not missing:
        return
    problems = [
        Problem(
            (*loc, *min(_paths_to(config, name), key=len, default=())),
            f"secret '{name}' is not in the secret store; add it first: "
            f"`broker secrets add {name} --kind KIND` (or PUT /admin/secrets/{name})",
        )
        for name in missing
    ]
    raise InvalidInput(
        f"connector '{config.get('name')}' references secrets that do not exist", problems=problems
    )


def _paths_to(value: Any, wanted: str, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every path at which `value` holds the string `wanted`."""
    if value == wanted:
        yield path
    elif isinstance(value, Mapping):
        for key, child in value.items():
            yield from _paths_to(child, wanted, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths_to(child, wanted, (*path, index))
