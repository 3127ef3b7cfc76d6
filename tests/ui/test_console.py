"""The console, driven in headless Chromium, shows the numbers the ledger and the audit log hold."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.ui.traffic import HOSTILE, HOSTILE_DESCRIPTION, HOSTILE_TOOL, Traffic, running_traffic


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traffic]:
    with running_traffic(tmp_path_factory.mktemp("console")) as running:
        yield running


@pytest.fixture(scope="module")
def console(browser: WebDriver, traffic: Traffic, shots: Path) -> WebDriver:
    """Signed in (after a wrong token is refused)."""
    browser.get(f"{traffic.gateway.url}/ui")
    field = wait_for(browser, "#token")
    browser.save_screenshot(str(shots / "sign-in.png"))
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
        show(
            console, f"#/usage?range=24h&by={by}&metric=tokens", f"#usage-table [data-row='{of(ledger[0])}']"
        )
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


def test_tool_activity_matches_the_audit_log(console: WebDriver, traffic: Traffic, shots: Path) -> None:
    audit = traffic.audit()
    served = {"hit", "coalesced"}
    show(console, "#/activity?range=24h&by=tool", "#activity-table [data-row='weather.current']")
    assert kpi(console, "calls") == str(len(audit))
    assert kpi(console, "denied") == str(sum(r.decision == "deny" for r in audit))
    assert kpi(console, "upstream_errors") == str(sum(r.outcome == "upstream_error" for r in audit))
    assert kpi(console, "masked") == str(sum(sum((r.masked or {}).values()) for r in audit))
    hits = sum(r.cache in served for r in audit)
    lookups = sum(r.cache in (*served, "miss") for r in audit)
    assert hits and kpi(console, "cache_hit_ratio") == f"{100 * hits / lookups:.1f}%"

    for by, of in (("tool", lambda r: r.tool), ("agent", lambda r: r.agent)):
        show(console, f"#/activity?range=24h&by={by}", f"#activity-table [data-row='{of(audit[0])}']")
        shown = table(console, "activity-table")
        assert set(shown) == {of(r) for r in audit}
        for name in shown:
            rows = [r for r in audit if of(r) == name]
            assert shown[name]["calls"] == str(len(rows)), name
            assert shown[name]["denied"] == str(sum(r.decision == "deny" for r in rows)), name
            assert shown[name]["upstream_errors"] == str(sum(r.outcome == "upstream_error" for r in rows)), (
                name
            )
            masked: Counter[str] = Counter()
            for r in rows:
                masked.update(r.masked or {})
            expected = ", ".join(f"{k} {v}" for k, v in sorted(masked.items())) or "none"
            assert ", ".join(sorted(shown[name]["masked"].split(", "))) == expected, name
    weather = [r for r in audit if r.tool == "weather.current"]
    show(console, "#/activity?range=24h&by=tool", "#activity-table [data-row='weather.current']")
    cache = table(console, "activity-table")["weather.current"]["cache"]
    w_hits = sum(r.cache in served for r in weather)
    w_lookups = sum(r.cache in (*served, "miss") for r in weather)
    assert cache == f"{100 * w_hits / w_lookups:.1f}% ({w_hits}/{w_lookups})"
    console.save_screenshot(str(shots / "activity.png"))


def test_audit_trail_filters_and_shows_hostile_names_as_text(
    console: WebDriver, traffic: Traffic, shots: Path
) -> None:
    audit = traffic.audit()
    show(console, "#/audit", "#audit-table")
    Select(console.find_element(By.ID, "filter-agent")).select_by_value("analyst")
    Select(console.find_element(By.ID, "filter-outcome")).select_by_value("denied")
    console.find_element(By.ID, "filter-apply").click()
    wait_until(console, lambda: "outcome=denied" in console.current_url)
    wait_for(console, "#audit-table")
    shown = table(console, "audit-table")
    expected = [r for r in audit if r.agent == "analyst" and r.outcome == "denied"]
    assert len(expected) == 2 and set(shown) == {str(r.id) for r in expected}
    assert {row["tool"] for row in shown.values()} == {"weather.forecast"}

    show(console, "#/audit?agent=support-bot&outcome=unknown_tool", "#audit-table")
    hostile = [r for r in audit if r.outcome == "unknown_tool"]
    shown = table(console, "audit-table")
    assert set(shown) == {str(r.id) for r in hostile}
    assert any(HOSTILE in row["tool"] for row in shown.values())  # the markup, as text
    assert console.execute_script("return window.__xss") is None
    assert not console.find_elements(By.CSS_SELECTOR, "#content img, #content script")
    console.save_screenshot(str(shots / "audit.png"))


def test_a_quarantined_tool_is_reviewed_and_approved_from_the_page(
    console: WebDriver, traffic: Traffic, shots: Path
) -> None:
    show(console, "#/connectors", "#held-table [data-row='up.echo']")
    assert "1 quarantined" in table(console, "connector-table")["up"]["state"]
    console.save_screenshot(str(shots / "connectors.png"))
    show(console, "#/connectors/up", "#review-button")
    console.find_element(By.ID, "review-button").click()
    diff = wait_for(console, "[data-tool=echo] pre.diff")
    assert f'+  "description": {json.dumps(HOSTILE_DESCRIPTION)}' in diff.text  # the markup, as text
    flags = console.find_element(By.CSS_SELECTOR, "[data-tool=echo] .flags").text
    assert "instruction block" in flags
    assert console.execute_script("return window.__xss") is None
    console.save_screenshot(str(shots / "review.png"))

    console.find_element(By.ID, "approve-button").click()
    done = wait_for(console, "#approve-result")
    assert "Approved echo" in done.text
    assert not console.find_elements(By.CSS_SELECTOR, "#held-table")
    assert traffic.gateway.admin.get("/admin/quarantine").json() == []
    tools = table(console, "tool-table")
    assert HOSTILE_TOOL not in tools and tools["up.echo"]["description"].startswith(
        "Echo it. <IMPORTANT><img"
    )
    assert console.execute_script("return window.__xss") is None


def test_agents_show_keys_without_secrets_and_explain_decisions(
    console: WebDriver, traffic: Traffic, shots: Path
) -> None:
    show(console, "#/agents", "#agent-table [data-row=analyst]")
    agents = table(console, "agent-table")
    assert agents["analyst"]["team"] == "analytics"
    assert agents["intruder"]["description"] == HOSTILE_DESCRIPTION  # markup shown as text, never run
    assert console.execute_script("return window.__xss") is None
    show(console, "#/agents/analyst", "#key-table")
    keys = table(console, "key-table")
    secret = traffic.keys["analyst"]
    assert len(keys) == 1 and next(iter(keys.values()))["prefix"].rstrip("…") in secret
    assert secret not in console.page_source
    assert "analytics" in table(console, "policy-table")
    visibility = table(console, "visibility-table")
    assert visibility["crm.list_companies"]["visible"] == "allow"
    assert visibility["crm.get_contact"]["visible"] == "deny"

    console.find_element(By.ID, "explain-tool").send_keys("weather.forecast")
    console.find_element(By.ID, "explain-arguments").send_keys('{"city": "Paris", "days": 6}')
    console.find_element(By.ID, "explain-button").click()
    verdict = wait_for(console, "#explain-result .verdict")
    assert "refused" in verdict.text and "days" in verdict.text
    expected = traffic.gateway.admin.post(
        "/admin/policies/explain",
        json={"agent": "analyst", "tool": "weather.forecast", "arguments": {"city": "Paris", "days": 6}},
    ).json()
    assert expected["allowed"] is False and expected["reason"] in verdict.text

    uri = "broker://crm/tables/customers"  # kinds beyond tools, as the explain endpoint offers them
    Select(console.find_element(By.ID, "explain-kind")).select_by_value("resource")
    target = console.find_element(By.ID, "explain-tool")
    target.clear()
    target.send_keys(uri)
    console.find_element(By.ID, "explain-button").click()
    wanted = traffic.gateway.admin.post("/admin/policies/explain", json={"agent": "analyst", "resource": uri})
    reason = wanted.json()["reason"]
    shown = wait_until(console, lambda: reason in console.find_element(By.ID, "explain-result").text)
    assert shown and "resources/list" in console.find_element(By.ID, "explain-result").text
    console.save_screenshot(str(shots / "agent.png"))


def test_no_token_in_urls_no_script_errors_and_sign_out(console: WebDriver, traffic: Traffic) -> None:
    token = traffic.gateway.admin_token
    assert token not in console.current_url
    entries = console.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert entries and not any(token in url for url in entries)
    assert all(url.startswith(traffic.gateway.url) for url in entries)  # nothing from a CDN
    assert console.execute_script("return sessionStorage.length") == 1
    problems = [e for e in console.get_log("browser") if e["level"] == "SEVERE" and "401" not in e["message"]]
    assert problems == []
    console.find_element(By.ID, "sign-out").click()
    wait_for(console, "#token")
    assert console.execute_script("return sessionStorage.length") == 0


def test_console_and_docs_pages_are_served_with_a_strict_policy(traffic: Traffic) -> None:
    with httpx.Client(base_url=traffic.gateway.url) as client:
        page = client.get("/ui/")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert "<script>" not in page.text and "http" not in page.text.replace("http-equiv", "")
        assert client.get("/ui/static/js/app.js").headers["x-content-type-options"] == "nosniff"
        assert client.get("/ui/static/nothing.js").status_code == 404
        docs = client.get("/admin/docs")
        assert "script-src 'self'" in docs.headers["content-security-policy"]
        assert "<script>" not in docs.text and "cdn" not in docs.text.lower()


def test_the_admin_api_docs_load_without_a_cdn(browser: WebDriver, traffic: Traffic, shots: Path) -> None:
    browser.get(f"{traffic.gateway.url}/admin/docs")
    title = wait_for(browser, ".swagger-ui .info .title")
    assert "tool-broker" in title.text
    wait_until(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, ".opblock")) > 20)
    entries = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(url.startswith(traffic.gateway.url) for url in entries)
    browser.save_screenshot(str(shots / "docs.png"))
