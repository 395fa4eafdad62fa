"""``asgi-audit routes``: every route of an app, the level the audit policy records it
at, and the routes that record no authorization decision (ASVS V16.1).

The apps are real modules (``tests/apps/routes_cases.py``, the docs' examples),
imported by the command as uvicorn imports an app; one run is a real process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from asgi_audit.cli import main as cli_main
from tests.servers import REPO_ROOT


def coverage(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    status = cli_main(["routes", *argv, "--json"])
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return status, document


def by_path(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {route["path"]: route for route in document["routes"]}


def test_each_way_of_recording_a_decision_is_found(capsys: pytest.CaptureFixture[str]) -> None:
    status, document = coverage(capsys, "tests.apps.routes_cases:app")
    assert status == 0
    assert document["audit_middleware"] is True
    routes = by_path(document)
    found = {path: r["authorizes"] for path, r in routes.items() if not r["framework"]}
    assert found == {
        # a helper the route calls by name
        "/documents/{doc_id}": ["tests.apps.routes_cases:check_owner"],
        # a dependency of a dependency
        "/me": ["tests.apps.routes_cases:signed_in"],
        # through an object's attribute: not seen, and flagged
        "/guarded": [],
        "/public/status": [],
        # the route itself
        "/admin/users": ["tests.apps.routes_cases:add_user"],
        "/healthz": [],
        "/ws/chat": [],
        # a router's dependency, a class instance with __call__
        "/reports": ["tests.apps.routes_cases:RequireScope.__call__"],
    }
    flagged = sorted(path for path, r in routes.items() if r["missing_decision"])
    assert flagged == ["/guarded", "/ws/chat"]


def test_each_route_gets_the_level_the_policy_gives_its_path(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, document = coverage(capsys, "tests.apps.routes_cases:app")
    routes = by_path(document)
    levels = {
        path: (r["kind"], r["methods"], r["level"], r["rule"], r["fail_closed"])
        for path, r in routes.items()
        if not r["framework"]
    }
    assert levels == {
        "/documents/{doc_id}": ("http", ["GET"], "metadata", None, False),
        "/me": ("http", ["GET"], "metadata", None, False),
        "/guarded": ("http", ["GET"], "metadata", None, False),
        "/public/status": ("http", ["GET"], "none", "public", False),
        "/admin/users": ("http", ["POST"], "request", "admin", True),
        "/healthz": ("http", ["GET"], "excluded", None, False),  # the middleware's exclude
        "/ws/chat": ("websocket", [], "metadata", None, False),
        "/reports": ("http", ["GET"], "metadata", None, False),
    }
    # FastAPI's own pages are listed, and not flagged.
    framework = [path for path, r in routes.items() if r["framework"]]
    assert "/openapi.json" in framework
    assert not any(routes[path]["missing_decision"] for path in framework)


def test_a_wrapped_starlette_app_with_a_mount_and_a_websocket(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, document = coverage(capsys, "tests.apps.routes_cases:starlette_app")
    assert [
        (r["kind"], r["path"], r["methods"], r["authorizes"], r["missing_decision"])
        for r in document["routes"]
    ] == [
        ("http", "/", ["GET"], [], True),
        ("http", "/v1/items/{item_id}", ["GET", "PUT"], ["tests.apps.routes_cases:inside"], False),
        ("websocket", "/feed", [], [], True),
    ]


def test_an_app_without_the_middleware_is_unaudited(capsys: pytest.CaptureFixture[str]) -> None:
    status, document = coverage(capsys, "tests.apps.routes_cases:bare", "--check")
    assert status == 0  # nothing is recorded, so nothing lacks a decision
    assert document["audit_middleware"] is False
    assert {r["level"] for r in document["routes"]} == {"unaudited"}
    assert cli_main(["routes", "tests.apps.routes_cases:bare"]) == 0
    assert "no AuditMiddleware found" in capsys.readouterr().out


def test_check_fails_when_a_recorded_route_decides_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli_main(["routes", "docs_src.authorization.main:app", "--check"]) == 1
    out = capsys.readouterr().out
    [flagged] = [line for line in out.splitlines() if line.startswith("!")]
    assert "/reports" in flagged
    assert out.splitlines()[-1] == (
        "7 routes, 7 recorded, 1 recorded without an authorization decision (!)"
    )
    assert cli_main(["routes", "tests.apps.routes_cases:create_app", "--factory", "--check"]) == 0
    capsys.readouterr()


def test_the_reference_shows_the_commands_output(capsys: pytest.CaptureFixture[str]) -> None:
    page = (REPO_ROOT / "docs" / "reference" / "cli.md").read_text()
    section = page.split("## `routes`", 1)[1]
    shown = section.split("```text\n")[2].split("```", 1)[0]
    assert cli_main(["routes", "docs_src.authorization.main:app"]) == 0
    assert capsys.readouterr().out == shown


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "expected MODULE:ATTRIBUTE (as uvicorn takes it), got 'no_colon'"),
        ("tests.apps.nope:app", "cannot import 'tests.apps.nope': ModuleNotFoundError"),
        ("tests.apps.routes_cases:missing", "'tests.apps.routes_cases' has no attribute 'missing'"),
        ("tests.apps.basic:app", "cannot import 'tests.apps.basic': KeyError"),
    ],
)
def test_an_app_that_cannot_be_loaded_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], spec: str, message: str
) -> None:
    assert cli_main(["routes", spec]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"asgi-audit: {message}")
    assert err.count("\n") == 1


def test_the_app_dir_is_where_the_app_is_imported_from(tmp_path: Path) -> None:
    (tmp_path / "shop.py").write_text(
        "from fastapi import FastAPI\n"
        "from asgi_audit import AuditMiddleware, Auditor\n"
        "app = FastAPI()\n"
        "app.add_middleware(AuditMiddleware, auditor=Auditor(log_dir='unused'))\n"
        "@app.get('/cart')\n"
        "async def cart() -> list[int]:\n"
        "    return []\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "asgi_audit", "routes", "shop:app", "--app-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "!  GET      /cart" in done.stdout
