"""An operator signs in to the console with an OIDC access token: its role decides what the
pages may do (an auditor reads everything and is refused changes, with the API's reason)."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.identity.conftest import OAuthSetup, idp, oauth  # noqa: F401 - the local IdP and its gateway
from tests.ui.test_console import show, table, wait_for, wait_until


def test_an_auditor_signs_in_with_an_oidc_token_and_reads(browser: WebDriver, oauth: OAuthSetup) -> None:  # noqa: F811
    token = oauth.idp.access_token(
        sub="audrey", email="audrey@example.com", client_id="broker-console", roles=["broker-auditor"]
    )
    browser.get(f"{oauth.gateway.url}/ui/")
    wait_for(browser, "#token").send_keys(token)
    browser.find_element(By.ID, "sign-in-button").click()
    wait_for(browser, "[data-kpi=cost]")
    show(browser, "#/agents/support-bot", "#key-table")
    browser.find_element(By.ID, "explain-tool").send_keys("weather.current")
    browser.find_element(By.ID, "explain-button").click()
    assert "allowed" in wait_for(browser, "#explain-result .verdict").text
    show(browser, "#/connectors", "#connector-table")
    assert "weather" in table(browser, "connector-table")
    assert token not in browser.current_url

    unknown = oauth.idp.access_token(sub="mallory", client_id="broker-console", roles=["nobody"])
    browser.find_element(By.ID, "sign-out").click()
    wait_for(browser, "#token").send_keys(unknown)
    browser.find_element(By.ID, "sign-in-button").click()
    refused = wait_until(browser, lambda: browser.find_element(By.ID, "sign-in-error").text)
    assert "grants no gateway role" in str(refused)
    assert browser.execute_script("return sessionStorage.length") == 0
