"""``asgi-audit sql`` as a real process beside a real uvicorn server whose trail
rotates and gzips every few KiB while it is read: every run checks and reads one
consistent trail (each file verified, nothing counted twice), and the last one,
after the server stops, counts every request."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Final

import httpx

from tests.apps import LOG_DIR_ENV
from tests.servers import REPO_ROOT, run_server

REQUESTS: Final = 1500
QUERY: Final = (
    "SELECT count(*) FILTER (event_type = 'login_attempt') AS logins, "
    "count(*) FILTER (event_type = 'api_access' AND request_path LIKE '/login/%') AS calls, "
    "count(DISTINCT event_id) AS ids, count(*) AS n, bool_and(verified) AS ok, "
    "(SELECT count(*) FROM log_files) AS files FROM events WHERE category <> 'audit'"
)


def sql(log_dir: Path) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-m", "asgi_audit", "sql", QUERY, str(log_dir), "--format", "jsonl"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = json.loads(done.stdout) if done.stdout else {}
    return done.returncode, found, done.stderr


def test_sql_reads_a_trail_that_rotates_while_it_is_read(tmp_path: Path) -> None:
    log_dir = tmp_path / "security"
    runs: list[tuple[int, dict[str, Any], str]] = []
    with run_server("tests.apps.trailsql:app", {LOG_DIR_ENV: str(log_dir)}) as server:

        def traffic() -> None:
            with httpx.Client(base_url=server.url, timeout=httpx.Timeout(10.0)) as client:
                for n in range(REQUESTS):
                    assert client.post(f"/login/user-{n}").status_code == 200

        writer = threading.Thread(target=traffic)
        writer.start()
        while writer.is_alive():
            runs.append(sql(log_dir))
        writer.join()
    assert len(runs) >= 2
    before = {"logins": 0, "calls": 0}
    for status, found, err in runs:
        assert (status, err) == (0, ""), err
        assert found["ok"] in (True, None)  # None: nothing written yet
        assert found["ids"] == found["n"]  # no line read twice
        # Each file is read as a whole-line prefix: a later run reads at least as much.
        for name, count in before.items():
            assert found[name] >= count
        before = {name: found[name] for name in before}
    status, last, err = sql(log_dir)
    assert (status, err) == (0, "")
    assert (last["logins"], last["calls"], last["ok"]) == (REQUESTS, REQUESTS, True)
    assert last["files"] > 20  # it did rotate, many times
    assert any(p.name.endswith(".rotated.gz") for p in log_dir.iterdir())
