"""The encrypted secret store on SQLite and PostgreSQL: round trip, rotation, wrong keys."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from broker.errors import InvalidInput, NotFound
from broker.secrets import service
from broker.secrets.errors import SecretKeyError, SecretsNotConfigured, UndecryptableSecrets
from broker.secrets.keys import Cipher, Undecryptable, configured_keys, generate_key, load_cipher
from broker.secrets.vault import Vault
from broker.services.revision import current
from broker.settings import Settings
from broker.store.models import Secret

VALUE = "pat-na1-0123456789abcdef"


def stored(sessions: sessionmaker[Session], name: str) -> Secret:
    with sessions() as session:
        return session.scalars(select(Secret).where(Secret.name == name)).one()


async def test_round_trip_and_the_database_holds_no_clear_value(
    sessions: sessionmaker[Session], cipher: Cipher
) -> None:
    with sessions.begin() as session:
        before = current(session)
        record, created = service.put_secret(session, cipher, "crm-token", VALUE, kind="token")
        assert created and record.kind == "token" and current(session) == before + 1
    row = stored(sessions, "crm-token")
    for form in (VALUE.encode(), base64.b64encode(VALUE.encode()), base64.urlsafe_b64encode(VALUE.encode())):
        assert form not in row.ciphertext
    assert row.last_used_at is None and row.description == ""
    values = await Vault(sessions, cipher).resolve(["crm-token"])
    assert dict(values) == {"crm-token": VALUE}


def test_replacing_keeps_kind_and_description_unless_given(
    sessions: sessionmaker[Session], cipher: Cipher
) -> None:
    with sessions.begin() as session:
        service.put_secret(session, cipher, "k", "v1", kind="api_key", description="weather")
    first = stored(sessions, "k")
    with sessions.begin() as session:
        _, created = service.put_secret(session, cipher, "k", "v2")
        assert not created
    second = stored(sessions, "k")
    assert (second.kind, second.description) == ("api_key", "weather")
    assert second.ciphertext != first.ciphertext and second.updated_at > first.updated_at
    assert cipher.decrypt("k", second.ciphertext) == "v2"
    with sessions.begin() as session:
        service.put_secret(session, cipher, "new", "v", description=None)
        assert service.get_secret(session, "new").kind == "generic"
        service.delete_secret(session, "new")
    with sessions() as session, pytest.raises(NotFound, match="no secret named 'new'"):
        service.delete_secret(session, "new")


def test_key_rotation(sessions: sessionmaker[Session]) -> None:
    old, new = generate_key(), generate_key()
    with sessions.begin() as session:
        service.put_secret(session, Cipher([old]), "a", "value-a")
        service.put_secret(session, Cipher([old]), "b", "value-b")
    both = Cipher([new, old])
    assert both.decrypt("a", stored(sessions, "a").ciphertext) == "value-a"  # old key still decrypts
    with pytest.raises(Undecryptable):
        Cipher([new]).decrypt("a", stored(sessions, "a").ciphertext)
    with sessions.begin() as session:
        assert service.rotate_all(session, both) == 2
    for name in ("a", "b"):  # only the new key is needed now
        assert Cipher([new]).decrypt(name, stored(sessions, name).ciphertext) == f"value-{name}"
        with pytest.raises(Undecryptable, match="does not decrypt with any configured key"):
            Cipher([old]).decrypt(name, stored(sessions, name).ciphertext)


def test_rotating_with_a_wrong_key_changes_nothing_and_names_the_secrets(
    sessions: sessionmaker[Session],
) -> None:
    old, other = generate_key(), generate_key()
    with sessions.begin() as session:
        service.put_secret(session, Cipher([old]), "a", "value-a")
    before = stored(sessions, "a").ciphertext
    with sessions.begin() as session, pytest.raises(UndecryptableSecrets) as caught:
        service.rotate_all(session, Cipher([other]))
    assert caught.value.status_code == 409 and caught.value.names == ["a"]
    assert "add the key they were encrypted with to BROKER_SECRET_KEYS" in caught.value.message
    assert stored(sessions, "a").ciphertext == before


async def test_a_wrong_key_leaves_the_secret_out_and_logs_why(
    sessions: sessionmaker[Session], cipher: Cipher, caplog: pytest.LogCaptureFixture
) -> None:
    with sessions.begin() as session:
        service.put_secret(session, cipher, "a", VALUE)
    values = await Vault(sessions, Cipher([generate_key()])).resolve(["a"])
    assert dict(values) == {}
    assert "secret 'a' does not decrypt with any configured key" in caplog.text
    assert dict(await Vault(sessions, None).resolve(["a"])) == {}
    assert "the gateway has no key to decrypt it" in caplog.text
    assert VALUE not in caplog.text


async def test_a_ciphertext_moved_to_another_name_does_not_decrypt(
    sessions: sessionmaker[Session], cipher: Cipher
) -> None:
    with sessions.begin() as session:
        service.put_secret(session, cipher, "admin-token", "very-powerful")
        service.put_secret(session, cipher, "harmless", "harmless-value")
        stolen = service.get_secret(session, "admin-token").ciphertext
        session.execute(update(Secret).where(Secret.name == "harmless").values(ciphertext=stolen))
    with pytest.raises(Undecryptable, match="made for another secret"):
        cipher.decrypt("harmless", stored(sessions, "harmless").ciphertext)
    assert dict(await Vault(sessions, cipher).resolve(["harmless"])) == {}


@pytest.mark.parametrize(
    ("name", "kind", "value", "field", "message"),
    [
        ("bad name", "token", "s3cret-value", "name", "not a valid secret name"),
        ("k", "password-ish", "s3cret-value", "kind", "unknown secret kind"),
        ("k", "token", "", "value", "must not be empty"),
        ("k", "token", "line1\nline2", "value", "line break"),
        ("k", "generic", "x" * 70_000, "value", "longer than"),
    ],
)
def test_values_are_checked_without_being_echoed(
    sessions: sessionmaker[Session],
    cipher: Cipher,
    name: str,
    kind: str,
    value: str,
    field: str,
    message: str,
) -> None:
    with sessions.begin() as session, pytest.raises(InvalidInput, match=message) as caught:
        service.put_secret(session, cipher, name, value, kind=kind)
    assert [p.loc for p in caught.value.problems] == [(field,)]
    if value:
        assert value not in caught.value.message and value not in str(caught.value.problems)


def test_a_multi_line_generic_secret_is_fine(sessions: sessionmaker[Session], cipher: Cipher) -> None:
    pem = "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"
    with sessions.begin() as session:
        service.put_secret(session, cipher, "pem", pem, kind="generic")
    assert cipher.decrypt("pem", stored(sessions, "pem").ciphertext) == pem


def test_keys_from_settings(tmp_path: Path) -> None:
    one, two = generate_key(), generate_key()
    assert configured_keys(Settings(secret_keys=SecretStr(f" {one} , {two} ,"))) == [one, two]
    path = tmp_path / "keys"
    path.write_text(f"# newest first\n{two}\n\n{one}\n")
    assert configured_keys(Settings(secret_key_file=path)) == [two, one]
    assert configured_keys(Settings()) == [] and load_cipher(Settings()) is None
    with pytest.raises(SecretKeyError, match="not both"):
        configured_keys(Settings(secret_keys=SecretStr(one), secret_key_file=path))
    with pytest.raises(SecretKeyError, match="cannot read BROKER_SECRET_KEY_FILE"):
        configured_keys(Settings(secret_key_file=tmp_path / "missing"))
    with pytest.raises(SecretKeyError, match="holds no key"):
        configured_keys(Settings(secret_keys=SecretStr(" , ")))


def test_an_invalid_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(SecretKeyError) as caught:
        load_cipher(Settings(secret_keys=SecretStr(f"{generate_key()},not-a-real-key-at-all")))
    assert str(caught.value).startswith("secret encryption key 2 of 2 is not a valid Fernet key")
    assert "broker secrets generate-key" in str(caught.value)
    assert "not-a-real-key" not in str(caught.value)


def test_without_a_key_storing_is_refused_with_a_hint(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(SecretsNotConfigured) as caught:
        _ = Vault(sessions, None).cipher
    assert caught.value.status_code == 503
    assert (
        "BROKER_SECRET_KEYS" in caught.value.message and "broker secrets generate-key" in caught.value.message
    )
