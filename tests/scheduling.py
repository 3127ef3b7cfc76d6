"""How `make test` shares the suite between pytest-xdist workers (`-n 2 --dist loadfile`).

A test file runs whole on one worker, so its module- and session-scoped servers start once.
Files that change state the database server keeps for all its databases run on the same
worker, one after the other: MariaDB's user list is one for the server, and the SQL attack
tests check that an attack leaves it unchanged while another test adds a user of its own.

xdist hands out files with the most tests first; the few files whose tests take minutes go
before them, so that neither worker is left with one of them while the other has finished.
"""

from __future__ import annotations

from xdist.scheduler import LoadFileScheduling
from xdist.workermanage import WorkerController

SHARED_STATE = {
    "tests/connectors/sql/test_sql_attacks.py": "mariadb-users",
    "tests/connectors/sql/test_sql_tools.py": "mariadb-users",
}
SLOW_FIRST = (
    "tests/readme/test_readme.py",
    "tests/admin/test_offload.py",
    "tests/cli/test_process.py",
    "tests/e2e/test_openapi_import.py",
    "tests/ops/test_readiness.py",
    "tests/demo/test_demo_command.py",
)


class FileScheduling(LoadFileScheduling):
    """`--dist loadfile` with the files of SHARED_STATE grouped into one unit of work, and
    the files of SLOW_FIRST handed out first."""

    _ordered = False

    def _split_scope(self, nodeid: str) -> str:
        path = super()._split_scope(nodeid)
        return SHARED_STATE.get(path, path)

    def _assign_work_unit(self, node: WorkerController) -> None:
        if not self._ordered:
            for scope in reversed(SLOW_FIRST):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            self._ordered = True
        super()._assign_work_unit(node)
