"""``make serve``: the demo app under a real uvicorn, started as the Makefile starts it.

The command is read from the Makefile's ``serve`` recipe (``$(BIN)/python`` becomes
this interpreter) and given a free port, so what runs here is what ``make serve``
runs and the two cannot drift apart. A local client sends forged
``X-Forwarded-For`` and ``Forwarded`` headers: they must neither choose the
recorded ``ip_address`` nor let the client walk around the demo's login rate
limiter by rotating them.
"""

from __future__ import annotations

import re
import shlex
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Final

import httpx
import pytest

from demo.guards import LoginRateLimiter
from tests.helpers import read_events
from tests.servers import REPO_ROOT, run_command

pytestmark = pytest.mark.e2e

MAKEFILE: Final = REPO_ROOT / "Makefile"
CLIENT_TIMEOUT: Final = httpx.Timeout(10.0)  # a bound on a hang, not an assertion
PASSWORD: Final = "Serve-Test-Pass-2b9e41"


def serve_recipe() -> list[str]:
    """The ``serve`` target's command, as words, with ``$(BIN)/python`` made this interpreter."""
    text = MAKEFILE.read_text(encoding="utf-8")
    match = re.search(r"^serve:[^\n]*\n((?:\t[^\n]*\n)+)", text, re.MULTILINE)
    assert match is not None, "the Makefile has no serve target with a recipe"
    lines = [line.strip() for line in match[1].splitlines() if line.strip()]
    assert len(lines) == 1, f"one command expected in the serve recipe: {lines}"
    command = lines[0].replace("$(BIN)/python", sys.executable)
    assert "$(" not in command, f"a make variable this test cannot expand: {command}"
    return shlex.split(command)


def serve_argv(port: int) -> list[str]:
    # The last --port wins, for argparse and for uvicorn's own options alike.
    return [*serve_recipe(), "--port", str(port)]


def test_make_serve_records_the_socket_address_and_forged_headers_do_not_pass_the_limiter(
    tmp_path: Path,
) -> None:
    log_dir = tmp_path / "security"
    env = {
        "ASGI_AUDIT_DEMO_LOG_DIR": str(log_dir),
        "ASGI_AUDIT_DEMO_PASSWORD": PASSWORD,
        "ASGI_AUDIT_KEY": "",  # unkeyed: this test is about addresses
    }
    limit = LoginRateLimiter().max_failures
    forged = [f"198.51.100.{n}" for n in range(1, limit + 3)]
    statuses: list[int] = []
    with run_command(serve_argv, env) as server:
        with httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT) as client:
            for n, address in enumerate(forged):
                headers = {"X-Forwarded-For": address, "Forwarded": f"for={address}"}
                if n == len(forged) - 1:
                    headers["X-Forwarded-For"] = "not-an-address-" + "x" * 4000
                response = client.post(
                    "/login",
                    json={"username": "admin", "password": f"guess-{n}"},
                    headers=headers,
                )
                statuses.append(response.status_code)
        server.stop(signal.SIGTERM)

    # Every attempt counted against 127.0.0.1: the limit holds whatever the headers say.
    assert statuses == [401] * limit + [429] * (len(forged) - limit)
    logins = read_events(log_dir / "auth-events.jsonl")
    assert Counter(e["outcome"] for e in logins) == {
        "failed": limit,
        "rate_limited": len(forged) - limit,
    }
    api = read_events(log_dir / "api-audit.jsonl")
    assert len(api) == len(forged)
    assert {e.get("ip_address") for e in [*logins, *api]} == {"127.0.0.1"}
    assert not any("ip_address_rejected" in e for e in [*logins, *api])
