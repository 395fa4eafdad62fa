"""End-to-end: AuditMiddleware options under a real uvicorn process.

``record_headers="*"`` starts and records every request header, the secret ones
masked. A wrong option stops the server at startup, with a non-zero exit status
and a message that quotes the option, instead of an app that starts and
answers every request with a 500: Starlette builds its middleware stack inside
the first ASGI call (the lifespan), where uvicorn's lifespan "auto" mode
swallows an exception, so the middleware reports the error as
``lifespan.startup.failed``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from asgi_audit import REDACTED
from tests.apps import LOG_DIR_ENV
from tests.apps.options import FASTAPI_APP, OPTIONS_ENV, STARLETTE_APP
from tests.helpers import read_events
from tests.servers import REPO_ROOT, free_port, run_server

pytestmark = pytest.mark.e2e

FACTORY: Final = ("--factory", "--no-proxy-headers")
APPS: Final = (FASTAPI_APP, STARLETTE_APP)
#: Bounds a server that does not stop, so the test fails instead of hanging.
HANG_GUARD: Final = 60.0
STARTUP_FAILED: Final = "Application startup failed. Exiting."
SWALLOWED: Final = "ASGI 'lifespan' protocol appears unsupported"


def env_for(log_dir: Path, options: dict[str, Any]) -> dict[str, str]:
    return {LOG_DIR_ENV: str(log_dir), OPTIONS_ENV: json.dumps(options)}


def run_until_exit(app_spec: str, env: dict[str, str]) -> tuple[int, str]:
    """Start uvicorn on ``app_spec`` and wait for it to exit; its status and stderr."""
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        app_spec,
        *FACTORY,
        "--host",
        "127.0.0.1",
        "--port",
        str(free_port()),
        "--app-dir",
        str(REPO_ROOT),
        "--no-use-colors",
    ]
    try:
        done = subprocess.run(
            argv,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=HANG_GUARD,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode("utf-8", "replace") if exc.stderr else ""
        pytest.fail(f"the server was still running after {HANG_GUARD}s:\n{stderr}")
    return done.returncode, done.stderr.decode("utf-8", "replace")


@pytest.mark.parametrize("app_spec", APPS)
def test_record_headers_star_records_every_header_and_masks_the_secret_ones(
    tmp_path: Path, app_spec: str
) -> None:
    token, cookie, session = "tok-9f8e7d6c5b4a", "raw-cookie-3k4j5h", "sess-2b3c4d5e6f"
    env = env_for(tmp_path, {"record_headers": "*"})
    with run_server(app_spec, env, extra_args=FACTORY) as server:
        with httpx.Client(base_url=server.url, timeout=httpx.Timeout(10.0)) as client:
            response = client.get(
                "/items/7",
                headers={
                    "Authorization": f"Bearer {token}",
                    "Cookie": f"session={cookie}",
                    "X-Session-ID": session,
                    "X-Tenant": "acme",
                    "User-Agent": "options-e2e/1.0",
                },
            )
        returncode = server.stop(signal.SIGTERM)
        stderr = server.stderr

    assert response.status_code == 200, stderr
    assert response.json() == {"item_id": 7}
    assert returncode in (0, -signal.SIGTERM), stderr
    assert SWALLOWED not in stderr
    data = (tmp_path / "api-audit.jsonl").read_bytes()
    for secret in (token, cookie, session):
        assert secret.encode() not in data
    (event,) = read_events(tmp_path / "api-audit.jsonl")
    assert "encoding_error" not in event
    assert event["status_code"] == 200
    assert event["request_headers"] == {
        "host": f"127.0.0.1:{server.port}",
        "accept": "*/*",
        "accept-encoding": "gzip, deflate",
        "connection": "keep-alive",
        "authorization": REDACTED,
        "cookie": REDACTED,
        "x-session-id": REDACTED,
        "x-tenant": "acme",
        "user-agent": "options-e2e/1.0",
    }


@pytest.mark.parametrize(
    ("app_spec", "options", "expected"),
    [
        (
            FASTAPI_APP,
            {"record_header": ["x-tenant"]},
            "unknown option record_header=['x-tenant'] (did you mean record_headers?)",
        ),
        (
            STARLETTE_APP,
            {"record_header": ["x-tenant"]},
            "unknown option record_header=['x-tenant'] (did you mean record_headers?)",
        ),
        (
            FASTAPI_APP,
            {"stages": ["response"]},
            "invalid stages=['response'] (expected a list of one or both of 'request_received',"
            " 'response_complete'; did you mean 'response_complete'?)",
        ),
        (
            STARLETTE_APP,
            {"trusted_proxies": ["10.0.0.1/8"]},
            "invalid trusted_proxies=['10.0.0.1/8']: Cannot parse trusted proxy: '10.0.0.1/8'",
        ),
    ],
)
def test_a_wrong_option_stops_the_server_at_startup_with_its_message(
    tmp_path: Path, app_spec: str, options: dict[str, Any], expected: str
) -> None:
    returncode, stderr = run_until_exit(app_spec, env_for(tmp_path, options))

    assert returncode != 0, stderr
    assert f"ERROR:    AuditMiddleware: {expected}" in stderr, stderr  # logged as an error
    assert STARTUP_FAILED in stderr
    assert SWALLOWED not in stderr
    assert "Application startup complete." not in stderr
    assert list(tmp_path.glob("*.jsonl")) == []  # the Auditor never started
