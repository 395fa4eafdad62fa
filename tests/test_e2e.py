"""End-to-end: the FastAPI app of ``tests/apps/basic.py`` under a real uvicorn process.

Requests travel over real HTTP on 127.0.0.1; the server is stopped with SIGTERM,
so the lifespan drains the writer, and only then are the files read.

uvicorn runs with ``--no-proxy-headers``: by default uvicorn itself rewrites the
client address from ``X-Forwarded-For`` for peers in ``--forwarded-allow-ips``
(127.0.0.1 by default) before any middleware sees the request, which would
hide what asgi_audit does with those headers on loopback.
"""

from __future__ import annotations

import signal
import stat
import uuid
from collections import Counter
from pathlib import Path
from typing import Final

import httpx
import pytest

from tests.apps import LOG_DIR_ENV, PASSWORD, TRUSTED_PROXIES_ENV
from tests.helpers import read_events, reports
from tests.servers import run_server

pytestmark = pytest.mark.e2e

APP: Final = "tests.apps.basic:app"
NO_PROXY_HEADERS: Final = ("--no-proxy-headers",)
USER_AGENT: Final = "audit-e2e/1.0"
RID: Final = "x-request-id"
CLIENT_TIMEOUT: Final = httpx.Timeout(10.0)  # a bound on a hang, not an assertion


def http_client(server_url: str) -> httpx.Client:
    return httpx.Client(
        base_url=server_url, headers={"user-agent": USER_AGENT}, timeout=CLIENT_TIMEOUT
    )


def test_every_event_over_real_http_is_written_exactly_once_with_the_response_request_ids(
    tmp_path: Path,
) -> None:
    log_dir = tmp_path / "audit" / "security"  # missing: the Auditor creates it
    env = {LOG_DIR_ENV: str(log_dir)}
    with run_server(APP, env, extra_args=NO_PROXY_HEADERS) as server:
        with http_client(server.url) as client:
            failed = client.post(
                "/login",
                json={"username": "alice", "password": "guess"},
                headers={"X-Request-ID": "e2e-login-failed-0001"},
            )
            succeeded = client.post("/login", json={"username": "alice", "password": PASSWORD})
            blocked = client.post("/tools/read_file", json={"path": "/home/alice/.ssh/id_rsa"})
            allowed = client.post("/tools/read_file", json={"path": "/srv/reports/q3.txt"})
            items = [client.get(f"/api/items/{i}", params={"token": "q-secret"}) for i in range(3)]
            missing = client.get("/api/no-such-route")
            health = client.get("/healthz")
        with http_client(server.url) as client:  # its own connection: uvicorn closes it after
            crashed = client.get("/boom", headers={"X-Request-ID": "e2e-boom-0001"})
        returncode = server.stop(signal.SIGTERM)
        stderr = server.stderr

    # A graceful stop: uvicorn re-raises the SIGTERM it handled, after the lifespan ended.
    assert returncode in (0, -signal.SIGTERM), stderr
    assert "Application shutdown complete." in stderr
    assert "boom: an unhandled error in a route" in stderr
    assert reports(stderr) == []  # no write failure or lost event was reported
    assert "could not encode" not in stderr

    recorded = [failed, succeeded, blocked, allowed, *items, missing, crashed]
    statuses = [response.status_code for response in (*recorded, health)]
    assert statuses == [401, 200, 403, 200, 200, 200, 200, 404, 500, 200]
    assert failed.headers[RID] == "e2e-login-failed-0001"
    assert crashed.headers[RID] == "e2e-boom-0001"

    api = read_events(log_dir / "api-audit.jsonl")
    assert Counter(
        (e["method"], e["request_path"], e["status_code"], e["request_id"]) for e in api
    ) == Counter(
        (r.request.method, r.request.url.path, r.status_code, r.headers[RID]) for r in recorded
    )
    assert {e["ip_address"] for e in api} == {"127.0.0.1"}
    assert {e["user_agent"] for e in api} == {USER_AGENT}

    auth = read_events(log_dir / "auth-events.jsonl")
    assert [(e["event_type"], e["outcome"], e["request_id"]) for e in auth] == [
        ("login_attempt", "failed", "e2e-login-failed-0001"),
        ("login_attempt", "success", succeeded.headers[RID]),
    ]
    assert auth[0]["error_message"] == "Invalid password"
    assert {e["user_id"] for e in auth} == {"alice"}
    assert {(e["ip_address"], e["user_agent"]) for e in auth} == {("127.0.0.1", USER_AGENT)}

    [tool_block] = read_events(log_dir / "tool-blocks.jsonl")
    assert tool_block["event_type"] == "tool_path_blocked"
    assert tool_block["request_id"] == blocked.headers[RID]
    assert tool_block["blocked_path"] == "/home/alice/.ssh/id_rsa"
    assert tool_block["tool_name"] == "read_file"
    assert tool_block["ip_address"] == "127.0.0.1"

    assert sorted(path.name for path in log_dir.glob("*.jsonl")) == [
        "api-audit.jsonl",
        "audit.jsonl",
        "auth-events.jsonl",
        "tool-blocks.jsonl",
    ]
    everything = [*api, *auth, tool_block]
    assert len({e["event_id"] for e in everything}) == len(everything) == 12
    assert all(uuid.UUID(e["event_id"]).version == 7 for e in everything)
    assert b"q-secret" not in (log_dir / "api-audit.jsonl").read_bytes()
    assert PASSWORD.encode() not in b"".join(p.read_bytes() for p in log_dir.glob("*.jsonl"))

    assert stat.S_IMODE(log_dir.stat().st_mode) == 0o700
    for path in log_dir.iterdir():  # the category files and the key file
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


@pytest.mark.parametrize(
    ("trusted_proxies", "headers", "expected"),
    [
        pytest.param(
            "",
            {"X-Forwarded-For": "6.6.6.6", "Forwarded": "for=6.6.6.6"},
            "127.0.0.1",
            id="spoof-ignored-by-default",
        ),
        pytest.param(
            "127.0.0.1",
            {"X-Forwarded-For": "198.51.100.7"},
            "198.51.100.7",
            id="believed-from-a-trusted-proxy",
        ),
    ],
)
def test_x_forwarded_for_over_real_http_counts_only_from_a_trusted_proxy(
    tmp_path: Path, trusted_proxies: str, headers: dict[str, str], expected: str
) -> None:
    env = {LOG_DIR_ENV: str(tmp_path / "logs"), TRUSTED_PROXIES_ENV: trusted_proxies}
    with run_server(APP, env, extra_args=NO_PROXY_HEADERS) as server:
        with http_client(server.url) as client:
            response = client.get("/api/items/1", headers=headers)
        server.stop(signal.SIGTERM)

    assert response.status_code == 200
    [event] = read_events(tmp_path / "logs" / "api-audit.jsonl")
    assert event["request_id"] == response.headers[RID]
    assert event["ip_address"] == expected


def test_a_streamed_response_reaches_the_client_chunk_by_chunk_over_real_http(
    tmp_path: Path,
) -> None:
    env = {LOG_DIR_ENV: str(tmp_path / "logs")}
    with run_server(APP, env, extra_args=NO_PROXY_HEADERS) as server:
        with http_client(server.url) as client:
            headers = {"X-Request-ID": "e2e-stream-0001"}
            with client.stream("GET", "/stream/gate-1", headers=headers) as response:
                chunks = response.iter_raw()
                received = b""
                while len(received) < len(b"first"):
                    # The route now waits for the release below: this data was not held back.
                    received += next(chunks)
                released = client.post("/stream/gate-1/release")
                rest = b"".join(chunks)
        server.stop(signal.SIGTERM)

    assert (received, rest) == (b"first", b"second")
    assert response.status_code == 200
    assert response.headers[RID] == "e2e-stream-0001"
    api = read_events(tmp_path / "logs" / "api-audit.jsonl")
    by_path = {event["request_path"]: event for event in api}
    assert len(api) == len(by_path) == 2
    assert by_path["/stream/gate-1"]["status_code"] == 200
    assert by_path["/stream/gate-1"]["request_id"] == "e2e-stream-0001"
    assert by_path["/stream/gate-1/release"]["request_id"] == released.headers[RID]


def test_a_500_for_an_unhandled_error_tells_the_client_to_close_the_connection(
    tmp_path: Path,
) -> None:
    env = {LOG_DIR_ENV: str(tmp_path / "logs")}
    with run_server(APP, env, extra_args=NO_PROXY_HEADERS) as server:
        with http_client(server.url) as client:
            crashed = client.get("/boom")
            assert crashed.status_code == 500
            assert crashed.headers.get("connection") == "close"
            after = client.get("/api/items/1")  # the same client, so a closed connection shows
            assert after.status_code == 200
        server.stop(signal.SIGTERM)


def test_a_finished_requests_audit_cell_is_not_kept_alive_by_the_servers_keep_alive_timer(
    tmp_path: Path,
) -> None:
    # uvicorn schedules a keep-alive timer inside a response's last send; a timer
    # keeps a copy of the context until its time (5 s) or, cancelled, until the loop
    # purges cancelled timers (over 100 of them and half its timers). With the
    # cell in that copy, every request's cell and context would outlive it.
    env = {LOG_DIR_ENV: str(tmp_path / "logs")}
    with run_server(APP, env, extra_args=NO_PROXY_HEADERS) as server:
        with http_client(server.url) as client:  # one keep-alive connection
            for i in range(20):
                assert client.get(f"/api/items/{i}").status_code == 200
            alive = client.get("/debug/cells").json()["cells"]
            # A background task after the last send still has the request's context.
            later = client.post("/later/read_file", headers={RID: "e2e-later-00001"})
            assert later.status_code == 202
        server.stop(signal.SIGTERM)

    assert alive == 1  # the /debug/cells request's own
    [blocked] = read_events(tmp_path / "logs" / "tool-blocks.jsonl")
    assert blocked["request_id"] == "e2e-later-00001"
    assert blocked["request_path"] == "/later/read_file"
    assert blocked["blocked_path"] == "/etc/shadow"
    assert "encoding_error" not in blocked
    paths = [e["request_path"] for e in read_events(tmp_path / "logs" / "api-audit.jsonl")]
    assert sorted(paths) == sorted(
        [f"/api/items/{i}" for i in range(20)] + ["/debug/cells", "/later/read_file"]
    )
