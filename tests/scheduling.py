"""How `make test` shares the suite between pytest-xdist workers (`-n 2 --dist loadfile`).

A test file runs whole on one worker, so its module- and session-scoped servers start once.
Files that change state the database server keeps for all its databases run on the same
worker, one after the other: MariaDB's user list is one for the server, and the SQL attack
tests check that an attack leaves it unchanged while another test adds a user of its own.
"""

from __future__ import annotations

from xdist.scheduler import LoadFileScheduling

SHARED_STATE = {
    "tests/connectors/sql/test_sql_attacks.py": "mariadb-users",
    "tests/connectors/sql/test_sql_tools.py": "mariadb-users",
}


class FileScheduling(LoadFileScheduling):
    """`--dist loadfile` with the files of SHARED_STATE grouped into one unit of work."""

    def _split_scope(self, nodeid: str) -> str:
        path = super()._split_scope(nodeid)
        return SHARED_STATE.get(path, path)
