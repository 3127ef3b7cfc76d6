"""MaskPII stage benchmark: what the stage adds to one tool call, on ~2 KB CRM results or weather answers.

Run it from the project root (needs the dev dependencies, for Faker):

    .venv/bin/python bench/mask_stage.py                 # 1000 distinct results, SQLite token vault
    .venv/bin/python bench/mask_stage.py --results 3000 --kb 20
    .venv/bin/python bench/mask_stage.py --policies weather --results 5000   # tool_path's http row

What it does: runs the MaskPII stage as the gateway builds it (a `Maskers` over the SQLite token
vault, in a temp file, writing behind) with a terminal that answers at once with
`ToolOutput.from_json(result)`, as an http/openapi connector does; the results are bench/pii.py's
CRM search results. Three policies: `replace` (every entity shown as its type, the default),
`tokens` (e-mails and phones as reversible tokens, as the demo's support bot has) over results
whose values it has not seen yet (first sight: a token is issued, looked up in the vault for
collisions, and written behind), and `tokens` again over the same results (tokens already issued,
the steady state of repeated lookups).

`weather` is the tool-path benchmark's `http` row alone: the demo weather upstream's `current`
answers for its cities (389 bytes each, repeating as in that benchmark) under its masking
policy (bench/_setup.py MASKING: coordinates masked whole as LOCATION by a field rule, e-mails
and phones as tokens); `--kb` does not apply to it.

What the numbers mean: per call, the wall time of the stage (median, p90, p99) and the CPU time,
after a warm-up on other results; nothing else is timed (no HTTP, no upstream). The vault's
background writer shares the process, as in the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._load import CITIES
from bench._setup import MASKING
from bench.pii import Corpus
from broker.catalog import AgentIdentity, Snapshot
from broker.metrics import Metrics
from broker.pii.maskers import Maskers
from broker.pii.sealing import TokenSealer
from broker.pii.sql_vault import SqlTokenVault
from broker.pipeline.call import ToolCall
from broker.pipeline.mask import MaskPII
from broker.secrets.keys import generate_key
from broker.store.db import make_engine
from broker.store.migrate import upgrade
from connectors.base import ToolOutput
from policies import MaskingPolicy, Policy, PolicySet

POLICIES = {
    "replace": None,
    "tokens": MaskingPolicy.model_validate(
        {"entities": {"EMAIL_ADDRESS": "token", "PHONE_NUMBER": "token"}, "resolve_tokens_for": ["crm.*"]}
    ),
    "weather": MaskingPolicy.model_validate(MASKING),
}


def weather_answers(count: int) -> list[dict[str, Any]]:
    """The demo weather upstream's `current` answers for the tool-path benchmark's cities, cycled."""
    from fastapi.testclient import TestClient

    from broker.demo.upstreams.weather import create_weather_app

    with TestClient(create_weather_app()) as client:
        answers = [client.get("/v1/current", params={"city": city}).json() for city in CITIES]
    return [answers[n % len(answers)] for n in range(count)]


async def timed(stage: MaskPII, call: ToolCall, output: ToolOutput) -> float:
    async def upstream(_: ToolCall) -> ToolOutput:
        return output

    started = time.perf_counter()
    await stage(call, upstream)
    return (time.perf_counter() - started) * 1000


def line(label: str, walls: list[float], cpu_ms: float) -> str:
    walls = sorted(walls)
    p90, p99 = walls[int(len(walls) * 0.9)], walls[min(len(walls) - 1, int(len(walls) * 0.99))]
    return (
        f"  {label:<22} median {statistics.median(walls):6.3f} ms  p90 {p90:6.3f}  p99 {p99:6.3f}  "
        f"CPU {cpu_ms:6.3f} ms/call"
    )


async def run(policy_name: str, args: argparse.Namespace, workdir: Path) -> None:
    url = f"sqlite:///{workdir / f'{policy_name}.db'}"
    upgrade(url)
    engine = make_engine(url)
    vault = SqlTokenVault(engine, TokenSealer([generate_key()]), write_behind=True)
    vault.start()
    policy_set = PolicySet(
        [Policy(name="p", agents=["bot"], allow=["crm.*", "weather.*"], masking=POLICIES[policy_name])],
        version=1,
    )
    snapshot = Snapshot(
        revision=1, policy_revision=1, policy_set=policy_set, keys={}, tools={}, connectors={}
    )
    stage = MaskPII(Maskers(b"bench-salt-0123456789", vault), Metrics())
    if policy_name == "weather":
        warm = [ToolOutput.from_json(answer) for answer in weather_answers(200)]
        outputs = [ToolOutput.from_json(answer) for answer in weather_answers(args.results)]
    else:
        corpus = Corpus(args.seed)
        warm = [ToolOutput.from_json(corpus.result(args.kb * 1000)) for _ in range(200)]
        outputs = [ToolOutput.from_json(corpus.result(args.kb * 1000)) for _ in range(args.results)]
    tool = "weather.current" if policy_name == "weather" else "crm.search_contacts"
    agent = AgentIdentity("agent-id", "bot", None)

    def call() -> ToolCall:
        return ToolCall(
            request_id="r",
            agent=agent,
            tool_name=tool,
            arguments={"query": "acme"},
            snapshot=snapshot,
        )

    for output in warm:
        await timed(stage, call(), output)
    size = statistics.mean(len(o.content[0]["text"].encode()) for o in outputs)
    rounds = ["first sight", "seen before"] if policy_name == "tokens" else ["all"]
    distinct = len({o.content[0]["text"] for o in outputs})
    print(f"{policy_name}: {len(outputs)} results ({distinct} distinct) of {size / 1000:.1f} KB")
    for label in rounds:
        cpu = time.process_time()
        walls = [await timed(stage, call(), output) for output in outputs]
        cpu_ms = (time.process_time() - cpu) / len(outputs) * 1000
        print(line(label, walls, cpu_ms))
    await vault.close()
    engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=1000, help="distinct results per policy")
    parser.add_argument("--kb", type=int, default=2, help="approximate result size in KB")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--policies", default=",".join(POLICIES), help="comma-separated: " + ", ".join(POLICIES)
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mask-stage-bench-") as workdir:
        for policy_name in args.policies.split(","):
            await run(policy_name, args, Path(workdir))


if __name__ == "__main__":
    asyncio.run(main())
