"""The console, driven in headless Chromium, shows the numbers the ledger and the audit log hold."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.ui.traffic import HOSTILE, HOSTILE_TOOL, Traffic, running_traffic


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traffic]:
    with running_traffic(tmp_path_factory.mktemp("console")) as running:
        yield running


@pytest.fixture(scope="module")
def console(browser: WebDriver, traffic: Traffic) -> WebDriver:
    """Signed in (after a wrong token is refused)."""
    browser.get(f"{traffic.gateway.url}/ui")
    field = wait_for(browser, "#token")
    field.send_keys("not-the-token")
    browser.find_element(By.ID, "sign-in-button").click()
    error = wait_until(browser, lambda: browser.find_element(By.ID, "sign-in-error").text)
    assert "admin token is not valid" in error
    field.clear()
    field.send_keys(traffic.gateway.admin_token)
    browser.find_element(By.ID, "sign-in-button").click()
    wait_for(browser, "[data-kpi=cost]")
    return browser


def wait_until(browser: WebDriver, probe: Callable[[], object], timeout: float = 10) -> object:
    return WebDriverWait(browser, timeout, poll_frequency=0.05).until(lambda _: probe())


def wait_for(browser: WebDriver, css: str) -> WebElement:
    found = wait_until(browser, lambda: browser.find_elements(By.CSS_SELECTOR, css))
    assert isinstance(found, list)
    element: WebElement = found[0]
    return element


def show(browser: WebDriver, route: str, ready: str) -> None:
    """Go to a console route and wait until the page's `ready` element is there."""
    browser.execute_script("window.location.hash = arguments[0]", route)
    wait_until(browser, lambda: browser.execute_script("return !document.querySelector('.loading')"))
    wait_for(browser, ready)


def kpi(browser: WebDriver, name: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, f"[data-value={name}]").text


def table(browser: WebDriver, table_id: str) -> dict[str, dict[str, str]]:
    """A table's rows by their key, each {column key: text}."""
    rows = {}
    for row in browser.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr"):
        cells = row.find_elements(By.CSS_SELECTOR, "td[data-col]")
        rows[row.get_attribute("data-row") or ""] = {c.get_attribute("data-col") or "": c.text for c in cells}
    return rows


def usd(value: float) -> str:
    digits = 2 if value == 0 else 6 if abs(value) < 0.01 else 4 if abs(value) < 1 else 2
    return f"${value:.{digits}f}"


def test_spend_and_tokens_match_the_ledger(console: WebDriver, traffic: Traffic, shots: Path) -> None:
    ledger = traffic.ledger()
    assert len(ledger) == 6
    assert kpi(console, "requests") == "6"
    assert kpi(console, "prompt_tokens") == f"{sum(r.prompt_tokens for r in ledger):,}"
    assert kpi(console, "completion_tokens") == f"{sum(r.completion_tokens for r in ledger):,}"
    assert kpi(console, "cost") == usd(sum(r.cost_usd for r in ledger))

    for by, of in (("agent", lambda r: r.agent), ("team", lambda r: r.team), ("model", lambda r: r.model)):
        show(console, f"#/usage?range=24h&by={by}&metric=tokens", f"#usage-table [data-row='{of(ledger[0])}']")
        shown = table(console, "usage-table")
        expected: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
        for r in ledger:
            line = expected[of(r)]
            line[0] += 1
            line[1] += r.prompt_tokens
            line[2] += r.completion_tokens
            line[3] += r.cost_usd
        assert set(shown) == set(expected), by
        for name, (requests, prompt, completion, cost) in expected.items():
            assert shown[name]["requests"] == f"{int(requests):,}"
            assert shown[name]["prompt_tokens"] == f"{int(prompt):,}"
            assert shown[name]["completion_tokens"] == f"{int(completion):,}"
            assert shown[name]["cost"] == usd(cost)
        console.save_screenshot(str(shots / f"usage-{by}.png"))
        bars = console.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")
        assert len(bars) == len(expected)  # one bucket (this hour), one bar per group
    console.save_screenshot(str(shots / "usage.png"))
