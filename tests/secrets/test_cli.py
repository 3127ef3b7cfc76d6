"""`broker secrets ...` in-process against the real gateway."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from broker.cli.main import main
from broker.secrets.keys import Cipher
from broker.store.db import make_engine, make_sessionmaker
from broker.store.models import Secret
from tests.cli.conftest import Broker, Result
from tests.conftest import RunningGateway
from tests.secrets.conftest import api_connector

VALUE = "s3cret-from-the-cli"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Broker:
    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


@pytest.fixture
def broker(keyed_gateway: RunningGateway, cli: Broker, monkeypatch: pytest.MonkeyPatch) -> Broker:
    monkeypatch.setenv("BROKER_ADMIN_URL", keyed_gateway.url)
    monkeypatch.setenv("BROKER_ADMIN_TOKEN", keyed_gateway.admin_token)
    return cli


def stored_value(gateway: RunningGateway, key: str, name: str) -> str:
    engine = make_engine(gateway.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            ciphertext = session.scalars(select(Secret.ciphertext).where(Secret.name == name)).one()
    finally:
        engine.dispose()
    return Cipher([key]).decrypt(name, ciphertext)


def test_add_from_a_file_the_environment_and_stdin(
    broker: Broker, keyed_gateway: RunningGateway, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "value"
    path.write_text(f"{VALUE}\n")
    added = broker("secrets", "add", "crm-token", "--kind", "token", "--value-file", str(path))
    assert (added.code, added.out) == (0, "created secret crm-token (token)\n")
    assert stored_value(keyed_gateway, key, "crm-token") == VALUE

    monkeypatch.setenv("WEATHER_KEY", "from-env")
    assert broker("secrets", "add", "crm-token", "--from-env", "WEATHER_KEY").out.startswith("updated secret")
    assert stored_value(keyed_gateway, key, "crm-token") == "from-env"

    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin\r\n"))
    assert broker("secrets", "add", "crm-token", "--value-file", "-").code == 0
    assert stored_value(keyed_gateway, key, "crm-token") == "from-stdin"
    monkeypatch.setattr("sys.stdin", io.StringIO("piped"))
    assert broker("secrets", "add", "other", "--description", "piped in").code == 0
    assert stored_value(keyed_gateway, key, "other") == "piped"
    for result in (added,):
        assert VALUE not in result.out + result.err


def test_a_terminal_gets_a_hidden_prompt_asked_twice(broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers = iter(["typed-value", "typed-value", "one", "another"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert broker("secrets", "add", "typed", "--kind", "password").code == 0
    mismatch = broker("secrets", "add", "typed")
    assert (mismatch.code, mismatch.err) == (1, "error: the two values differ; nothing was stored\n")


def test_a_value_is_never_an_argument_and_bad_sources_are_usage_errors(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = broker("secrets", "add", "k", "--value", VALUE)
    assert plain.code == 2 and "stays in shell history" in plain.err and VALUE not in plain.err
    assert broker("secrets", "add", "k", "--value-f", VALUE).code == 2  # no abbreviations
    missing = broker("secrets", "add", "k", "--from-env", "NO_SUCH_VARIABLE_HERE")
    assert (missing.code, missing.err) == (
        2,
        "error: environment variable NO_SUCH_VARIABLE_HERE is not set\n",
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert broker("secrets", "add", "k").code == 2
    unreadable = broker("secrets", "add", "k", "--value-file", "/nonexistent/file")
    assert unreadable.code == 1 and "cannot read /nonexistent/file" in unreadable.err
    assert broker("secrets", "add", "k", "--kind", "certificate", "--from-env", "HOME").code == 2


def test_list_remove_and_rotate(
    broker: Broker, keyed_gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "no secrets yet" in broker("secrets", "list").out
    monkeypatch.setenv("V", VALUE)
    broker("secrets", "add", "api-token", "--kind", "api_key", "--from-env", "V", "--description", "the API")
    keyed_gateway.admin.post(
        "/admin/connectors", json=api_connector("https://api.example.invalid")
    ).raise_for_status()
    listing = broker("secrets", "list").out.splitlines()
    assert listing[0].split() == ["NAME", "KIND", "USED", "BY", "UPDATED", "LAST", "USED", "DESCRIPTION"]
    assert listing[1].split()[:3] == ["api-token", "api_key", "api"] and listing[1].endswith("the API")
    as_json = json.loads(broker("secrets", "list", "--json").out)
    assert as_json[0]["name"] == "api-token" and VALUE not in json.dumps(as_json)

    rotated = broker("secrets", "rotate-key")
    assert rotated.out == "re-encrypted 1 secret(s) with the first of 1 key(s)\n"
    refused = broker("secrets", "remove", "api-token")
    assert refused.code == 1 and "used by connector(s) api" in refused.err
    assert broker("secrets", "remove", "api-token", "--force").out == "deleted secret api-token\n"


def test_generate_key_works_offline(cli: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_ADMIN_URL", "https://api.example.invalid")
    result = cli("secrets", "generate-key")
    assert result.code == 0
    Fernet(result.out.strip().encode())  # a valid key
    assert "BROKER_SECRET_KEYS" in result.err
    assert cli("secrets", "generate-key").out != result.out


def test_adding_without_a_gateway_key_says_what_to_do(
    keyless_gateway: RunningGateway, cli: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = keyless_gateway
    monkeypatch.setenv("BROKER_ADMIN_URL", gateway.url)
    monkeypatch.setenv("BROKER_ADMIN_TOKEN", gateway.admin_token)
    monkeypatch.setenv("V", VALUE)
    result = cli("secrets", "add", "k", "--from-env", "V")
    assert result.code == 1
    assert (
        "the secret store has no encryption key" in result.err and "broker secrets generate-key" in result.err
    )


def test_serve_refuses_an_invalid_key_in_one_line(
    cli: Broker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BROKER_SECRET_KEYS", "not-a-fernet-key")
    monkeypatch.setenv("BROKER_DATABASE_URL", f"sqlite:///{tmp_path / 'b.db'}")
    result = cli("serve", "--port", "9")
    assert result.code == 1
    assert result.err.startswith(
        "error: cannot start: secret encryption key 1 of 1 is not a valid Fernet key"
    )
    assert "not-a-fernet-key" not in result.err
