"""Worker processes run the job, and end with the gateway however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from broker import offload

CHILD = """
import asyncio, os
from broker import offload

async def main():
    print(await offload.in_process(os.getpid), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_job_runs_in_another_process() -> None:
    assert await offload.in_process(os.getpid) != os.getpid()


def test_workers_end_when_the_gateway_is_killed() -> None:
    gateway = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert gateway.stdout is not None
        worker = int(gateway.stdout.readline())
        os.kill(worker, 0)  # alive while the gateway is
    finally:
        gateway.send_signal(signal.SIGKILL)
        gateway.wait()
    deadline = time.monotonic() + 60
    while _alive(worker):
        assert time.monotonic() < deadline, f"worker {worker} outlived its killed gateway"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for init to reap it is gone too
        return stat.read().split()[2] != "Z"
