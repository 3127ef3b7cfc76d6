"""A worker process keeps the memory a job frees for the next (`broker.offload_memory`): the next
job's documents are built in pages already resident, and come out the same."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

JOBS = """
import hashlib, json, random, resource, sys
from broker import offload_memory

if sys.argv[1] == "keep":
    offload_memory.keep(offload_memory.WORKER_KEEP_BYTES)
rng = random.Random(7)
alphabet = ["a", "é", "日本", "\\U0001f600", "\\ud800", "\\x00", '"', "\\\\", "\\n", "x" * 600]
faults, digests = [], []
for job in range(4):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    records = [
        {"id": n, "name": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))),
         "tags": [rng.randint(-2**70, 2**70) for _ in range(3)], "nested": {"deep": [[{}], [n]]}}
        for n in range(10_000)
    ]
    text = json.dumps(records, ensure_ascii=False)  # (a 5 MB result's text, parsed as a worker does)
    parsed = json.loads(text)
    digests.append(hashlib.sha256(repr(parsed).encode("utf-8", "surrogatepass")).hexdigest())
    assert parsed == records
    del records, text, parsed
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"faults": faults, "digests": digests}))
"""


def _jobs(mode: str) -> dict[str, list[int] | list[str]]:
    done = subprocess.run([sys.executable, "-c", JOBS, mode], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_jobs_after_the_first_find_their_memory_resident() -> None:
    pytest.importorskip("broker.pii._native", reason="the arena cache is native")
    faults = _jobs("keep")["faults"]
    assert all(later * 5 < faults[0] for later in faults[1:]), faults


def test_jobs_build_the_same_documents_with_memory_kept() -> None:
    assert _jobs("keep")["digests"] == _jobs("plain")["digests"]
