"""The official MCP conformance suite against the reference server, directly and through the gateway.

The reference server (tests/conformance/reference_server.py) runs on loopback; the gateway
federates it as the `mcp` connector `ref` (bare names, so the suite finds its tools) and the
suite reaches the gateway through `AddKeyProxy`, which adds an agent key (the suite sends no
Authorization header). Through the gateway, every scenario that passes directly must pass, for
the default suite and for each revision's requirements; what the reference server itself fails
is reported (README: "MCP conformance").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from broker.demo.upstreams.serve import BackgroundServer
from tests.conformance.proxy import AddKeyProxy
from tests.conformance.reference_server import build_app
from tests.conformance.suite import Outcome, finish_suite, start_suite, summary
from tests.conftest import start_gateway

AGENT = "conformance-bot"
pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")


@dataclass
class Targets:
    direct: str
    via_gateway: str


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    database = tmp_path_factory.mktemp("conformance") / "broker.db"
    with BackgroundServer(build_app()) as reference:
        server, gateway = start_gateway(f"sqlite:///{database}")
        try:
            connector = {
                "kind": "mcp",
                "name": "ref",
                "transport": "http",
                "url": f"{reference.url}/mcp",
                "prefix": False,
                "allow_private_network": True,
            }
            registered = gateway.admin.post("/admin/connectors", json=connector)
            assert registered.status_code == 201, registered.text
            key = gateway.create_agent(AGENT)
            policy = {
                "name": "conformance",
                "agents": [AGENT],
                "allow": ["*"],
                "resources": {"allow": ["*"]},
                "prompts": {"allow": ["*"]},
            }
            granted = gateway.admin.post("/admin/policies", json={"policies": [policy]})
            assert granted.status_code == 200, granted.text
            with BackgroundServer(AddKeyProxy(gateway.url, key)) as proxy:
                yield Targets(direct=f"{reference.url}/mcp", via_gateway=f"{proxy.url}/mcp")
        finally:
            gateway.admin.close()
            server.stop()


def run_both(
    targets: Targets, out: Path, requirements: str | None
) -> tuple[dict[str, Outcome], dict[str, Outcome]]:
    """The same suite against both targets at once (each run is mostly waiting on the network)."""
    direct = start_suite(targets.direct, out / "direct", requirements=requirements)
    gateway = start_suite(targets.via_gateway, out / "gateway", requirements=requirements)
    return finish_suite(direct, out / "direct"), finish_suite(gateway, out / "gateway")


def report(name: str, direct: dict[str, Outcome], via: dict[str, Outcome]) -> str:
    lines = [f"{name}: direct {summary(direct)}, through the gateway {summary(via)}"]
    for scenario in sorted(direct):
        through = via.get(scenario)
        if through is None or not through.passed:
            reason = "; ".join(through.failures)[:300] if through else "not run"
            lines.append(f"  gateway fails {scenario}: {reason}")
    return "\n".join(lines)


def assert_gateway_transparent(direct: dict[str, Outcome], via: dict[str, Outcome]) -> None:
    lost = sorted(s for s, o in direct.items() if o.passed and not (s in via and via[s].passed))
    assert not lost, "through the gateway these fail but pass directly:\n" + "\n".join(
        f"{s}: {'; '.join(via[s].failures) if s in via else 'not run'}" for s in lost
    )


def test_the_default_suite_passes_through_the_gateway(targets: Targets, tmp_path: Path) -> None:
    direct, via = run_both(targets, tmp_path, None)
    print(report("default suite", direct, via))
    failing = sorted(s for s, o in direct.items() if not o.passed)
    assert not failing, f"the reference server itself fails: {[direct[s] for s in failing]}"
    assert_gateway_transparent(direct, via)


@pytest.mark.parametrize("revision", ["2025-11-25", "2026-07-28"])
def test_each_revisions_requirements_pass_through_the_gateway(
    targets: Targets, tmp_path: Path, revision: str
) -> None:
    """What the reference server passes at a revision passes through the gateway; what it does not
    pass (scenarios it has no fixture for) is reported and listed in the README."""
    direct, via = run_both(targets, tmp_path, revision)
    text = report(revision, direct, via)
    for scenario in sorted(s for s, o in direct.items() if not o.passed):
        text += f"\n  reference fails {scenario}: {'; '.join(direct[scenario].failures)[:300]}"
    print(text)
    assert_gateway_transparent(direct, via)
