"""Single sign-on in the console: authorization code with PKCE at a local identity provider,
the code redeemed by the gateway, the access token kept in the tab (never in a URL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import RunningGateway, start_gateway
from tests.identity.auth_server import AuthServer
from tests.identity.conftest import idp  # noqa: F401 - the local identity provider
from tests.ui.test_console import show, table, wait_for, wait_until

CLIENT = "broker-console"


@pytest.fixture(scope="module")
def sso_gateway(idp: AuthServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:  # noqa: F811
    database = tmp_path_factory.mktemp("sso") / "broker.db"
    server, gateway = start_gateway(
        f"sqlite:///{database}", oauth_issuers=[idp.issuer], console_client_id=CLIENT
    )
    idp.register(CLIENT).redirect_uris.append(f"{gateway.url}/ui/")
    gateway.admin.post("/admin/agents", json={"name": "support-bot", "team": "support"}).raise_for_status()
    try:
        yield gateway
    finally:
        gateway.admin.close()
        server.stop()


def test_an_operator_signs_in_with_single_sign_on(
    browser: WebDriver,
    idp: AuthServer,  # noqa: F811
    sso_gateway: RunningGateway,
    shots: Path,
) -> None:
    idp.user = {"sub": "audrey", "email": "audrey@example.com", "roles": ["broker-auditor"]}
    browser.get(f"{sso_gateway.url}/ui/#/agents")
    button = wait_for(browser, "#sso")
    browser.save_screenshot(str(shots / "sign-in-sso.png"))
    button.click()
    wait_for(browser, "#agent-table")  # back from the provider, signed in, on the page it left
    assert "support-bot" in table(browser, "agent-table")
    assert browser.current_url == f"{sso_gateway.url}/ui/#/agents"  # the code is gone from the URL
    token = browser.execute_script("return sessionStorage.getItem('tool-broker.admin-token')")
    assert token and token not in browser.current_url
    history = browser.execute_script("return performance.getEntriesByType('navigation').map(e => e.name)")
    assert not any(token in url for url in history)
    show(browser, "#/agents/support-bot", "#key-table")  # the auditor reads

    browser.find_element(By.ID, "sign-out").click()
    idp.user = {"sub": "mallory", "roles": ["nobody"]}
    wait_for(browser, "#sso").click()
    refused = wait_until(browser, lambda: browser.find_element(By.ID, "sign-in-error").text)
    assert "grants no gateway role" in str(refused)


def test_an_auditor_pastes_an_oidc_access_token(
    browser: WebDriver,
    idp: AuthServer,  # noqa: F811
    sso_gateway: RunningGateway,
) -> None:
    idp.audience = sso_gateway.url
    token = idp.access_token(
        sub="audrey", email="audrey@example.com", client_id="broker-console", roles=["broker-auditor"]
    )
    browser.get(f"{sso_gateway.url}/ui/")
    wait_for(browser, "#token").send_keys(token)
    browser.find_element(By.ID, "sign-in-button").click()
    wait_for(browser, "[data-kpi=cost]")
    show(browser, "#/agents/support-bot", "#key-table")
    browser.find_element(By.ID, "explain-tool").send_keys("weather.current")
    browser.find_element(By.ID, "explain-button").click()
    assert "refused" in wait_for(browser, "#explain-result .verdict").text  # an auditor may ask
    assert token not in browser.current_url
    browser.find_element(By.ID, "sign-out").click()
    wait_for(browser, "#token")


def test_a_forged_or_replayed_code_is_refused(sso_gateway: RunningGateway) -> None:
    answer = httpx.post(
        f"{sso_gateway.url}/ui/oidc/token", json={"code": "made-up", "code_verifier": "v" * 43}, timeout=10
    )
    assert answer.status_code == 422
    assert "identity provider refused the sign-in" in answer.json()["error"]["message"]
    bad = httpx.post(f"{sso_gateway.url}/ui/oidc/token", json={"code": "x"}, timeout=10)
    assert bad.status_code == 422 and "code_verifier" in bad.json()["error"]["message"]
