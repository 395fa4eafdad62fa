"""The demo app: the integrations of the AI-agent platform asgi_audit replaces.

A FastAPI app with a login page (a password check, a blocked account and a
per-client rate limiter), logout, an injection guard in front of agent tool
calls, a ``read_file``/``write_file`` tool behind a path safety checker, a
bearer-protected admin API and a sync (``def``) route. Every security decision
is recorded with asgi_audit, into the four files of the original system plus a
custom ``admin.jsonl``.

Run it with ``make serve`` (``python -m demo.serve``: uvicorn with its proxy
headers off, see ``demo/serve.py``), or let ``make demo`` drive scripted traffic
through it (see ``demo/traffic.py``).

Environment:
    ASGI_AUDIT_DEMO_LOG_DIR: where the audit files go (default ``logs/security``).
    ASGI_AUDIT_DEMO_PASSWORD: the password of the ``admin`` user (default
        :data:`DEFAULT_PASSWORD`; this is a demo, set your own).
    ASGI_AUDIT_DEMO_ADMIN_TOKEN: the bearer token of the admin API. When unset a
        random token is made at start-up and shown nowhere, so the admin API is
        closed until you set one.

The pure checks (:class:`~demo.guards.LoginRateLimiter`,
:func:`~demo.guards.scan_arguments` with :data:`~demo.guards.INJECTION_RULES`,
:func:`~demo.guards.check_path`) live in ``demo/guards.py``: they hold no I/O
and are tested directly in ``tests/test_demo.py``. This module wires them into
the routes and records their decisions.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from asgi_audit import AuditContext, AuditMiddleware, Auditor, audit_context
from demo.guards import WORKSPACE, LoginRateLimiter, check_path, scan_arguments

__all__ = (
    "BLOCKED_USERS",
    "DEFAULT_PASSWORD",
    "app",
    "auditor",
)

#: The admin password when ``ASGI_AUDIT_DEMO_PASSWORD`` is not set.
DEFAULT_PASSWORD: Final = "correct-horse-battery-staple"

#: Accounts that exist but may not log in: their attempts are ``blocked`` (403).
BLOCKED_USERS: Final = frozenset({"root"})

auditor = Auditor(log_dir=os.environ.get("ASGI_AUDIT_DEMO_LOG_DIR", "logs/security"))
app = FastAPI(title="asgi_audit demo", lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor)

#: A route's audit context: the request's IP, user agent, session and request id.
Audit = Annotated[AuditContext, Depends(audit_context)]

_USERS: Final[Mapping[str, str]] = {
    "admin": os.environ.get("ASGI_AUDIT_DEMO_PASSWORD") or DEFAULT_PASSWORD,
}
_ADMIN_TOKEN: Final = os.environ.get("ASGI_AUDIT_DEMO_ADMIN_TOKEN") or secrets.token_urlsafe(32)


# --------------------------------------------------------------------------- login


rate_limiter = LoginRateLimiter()

#: Live sessions: token -> user. In memory, for the demo.
_sessions: dict[str, str] = {}


class LoginRequest(BaseModel):
    """The login form, as JSON."""

    username: str = Field(min_length=1, max_length=128)
    password: str = Field(max_length=1024)


def _password_ok(username: str, password: str) -> bool:
    expected = _USERS.get(username)
    # Compare even for an unknown user so both paths take the same time.
    candidate = password.encode()
    reference = (expected or secrets.token_urlsafe(16)).encode()
    return hmac.compare_digest(candidate, reference) and expected is not None


@app.post("/login")
async def login(body: LoginRequest, response: Response, audit: Audit) -> dict[str, str]:
    """Log in: 429 when rate limited, 403 for a blocked account, 401 for bad credentials.

    The rate limiter keys on ``audit.ip_address``: the client address the
    middleware resolved (through trusted proxies only), the same one recorded.
    Failures are counted before the first ``await``, so concurrent attempts
    cannot slip past the limit together.
    """
    client = audit.ip_address or "unknown"
    user = body.username
    if rate_limiter.is_limited(client):
        retry = rate_limiter.retry_after(client)
        await audit.login_attempt(
            "rate_limited",
            user_id=user,
            error_message=f"Too many failed logins from this address; retry in {retry}s",
        )
        raise HTTPException(
            status_code=429,
            detail="Too many failed login attempts",
            headers={"Retry-After": str(retry)},
        )
    if user in BLOCKED_USERS:
        await audit.login_attempt("blocked", user_id=user, error_message="Account is blocked")
        raise HTTPException(status_code=403, detail="Account is blocked")
    if not _password_ok(user, body.password):
        rate_limiter.record_failure(client)
        reason = "Invalid password" if user in _USERS else "Unknown user"
        await audit.login_attempt("failed", user_id=user, error_message=reason)
        raise HTTPException(
            status_code=401,
            detail="Invalid username or password",
            headers={"WWW-Authenticate": "Session"},
        )
    rate_limiter.reset(client)
    token = secrets.token_urlsafe(32)
    _sessions[token] = user
    await audit.login_attempt("success", user_id=user)
    # The new session id is passed explicitly (the request carried none); the
    # writer stores its keyed hash, which later events of the session share.
    await audit.session_event("session_created", user_id=user, session_id=token)
    # secure=True belongs behind HTTPS; the demo serves plain HTTP on 127.0.0.1.
    response.set_cookie("session", token, httponly=True, samesite="strict")
    return {"status": "ok", "user": user}


@app.post("/logout")
async def logout(request: Request, response: Response, audit: Audit) -> dict[str, str]:
    """End the session of the ``session`` cookie; 401 when there is none."""
    token = request.cookies.get("session")
    user = _sessions.pop(token, None) if token else None
    if user is None:
        await audit.logout(outcome="failed", error_message="No active session")
        raise HTTPException(status_code=401, detail="Not logged in")
    await audit.logout(user_id=user)
    await audit.session_event("session_destroyed", user_id=user)
    response.delete_cookie("session", httponly=True, samesite="strict")
    return {"status": "ok"}


# ---------------------------------------------------------------- injection guard


async def guard_tool_call(agent_id: str, tool_name: str, arguments: Mapping[str, Any]) -> bool:
    """Scan a tool call; record every finding; True when the call must be blocked.

    Plain code below the route, recording through the module-level ``auditor``:
    the request's IP, session and request id reach the events through the
    ContextVar the middleware set, without being passed down.
    """
    blocked = False
    for finding in scan_arguments(arguments):
        await auditor.injection_attempt(
            agent_id=agent_id,
            tool_name=tool_name,
            rule_name=finding.rule.name,
            severity=finding.rule.severity,
            outcome=finding.outcome,
            matched_text=finding.matched_text,
            raw_input=finding.text,
            details={"argument": finding.argument},
        )
        blocked = blocked or finding.outcome == "blocked"
    return blocked


# ------------------------------------------------------------------- agent tools

#: The workspace's files, in memory: the demo serves these and nothing from disk.
_workspace: dict[str, str] = {
    f"{WORKSPACE}/README.md": "# Agent workspace\n\nNotes and drafts live here.\n",
    f"{WORKSPACE}/docs/guide.md": "# Guide\n\nTools: read_file, write_file.\n",
    f"{WORKSPACE}/notes/todo.txt": "- review the audit trail\n",
}


class ToolError(Exception):
    """A tool call refused or failed; ``status_code`` is the HTTP status to answer with."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def _string_argument(arguments: Mapping[str, Any], name: str) -> str:
    value = arguments.get(name)
    if not isinstance(value, str):
        raise ToolError(422, f"Argument {name!r} must be a string")
    return value


async def _checked_path(agent_id: str, tool_name: str, path: str) -> str:
    # The path safety checker in front of every file tool; a refusal is recorded
    # (from plain tool code, through the ContextVar) before the error goes up.
    decision = check_path(path)
    if decision.verdict == "allow":
        return decision.path
    await auditor.tool_blocked(
        tool_name=tool_name,
        blocked_path=path,
        blocked_reason=decision.reason,
        outcome=decision.verdict,
        agent_id=agent_id,
        details={"resolved_path": decision.path},
    )
    raise ToolError(403, f"{decision.reason} ({decision.verdict})")


async def read_file(agent_id: str, path: str) -> str:
    """The ``read_file`` tool: a workspace file's text, behind the path checker."""
    full = await _checked_path(agent_id, "read_file", path)
    content = _workspace.get(full)
    if content is None:
        raise ToolError(404, f"No such file: {path}")
    return content


async def write_file(agent_id: str, path: str, content: str) -> int:
    """The ``write_file`` tool: store text in the in-memory workspace; its length."""
    full = await _checked_path(agent_id, "write_file", path)
    _workspace[full] = content
    return len(content)


async def run_tool(agent_id: str, tool_name: str, arguments: Mapping[str, Any]) -> Any:
    """Run one tool call.

    Raises:
        ToolError: an unknown tool, a bad argument, a refused path, a missing file.
    """
    if tool_name == "read_file":
        return {"content": await read_file(agent_id, _string_argument(arguments, "path"))}
    if tool_name == "write_file":
        path = _string_argument(arguments, "path")
        written = await write_file(agent_id, path, _string_argument(arguments, "content"))
        return {"written": written}
    raise ToolError(404, f"Unknown tool: {tool_name}")


class ToolCall(BaseModel):
    """An agent's tool call."""

    agent_id: str = Field(min_length=1, max_length=128)
    tool_name: str = Field(min_length=1, max_length=128)
    arguments: dict[str, Any] = Field(default_factory=dict)


@app.post("/agent/tool")
async def agent_tool(call: ToolCall) -> dict[str, Any]:
    """Run an agent's tool call behind the injection guard and the path checker.

    403 when the guard blocks or a path is refused; the guard's warnings do not
    stop the call.
    """
    if await guard_tool_call(call.agent_id, call.tool_name, call.arguments):
        raise HTTPException(status_code=403, detail="Blocked by the injection guard")
    try:
        result = await run_tool(call.agent_id, call.tool_name, call.arguments)
    except ToolError as exc:
        raise HTTPException(status_code=exc.status_code, detail=exc.message) from None
    return {"status": "ok", "result": result}


# --------------------------------------------------------------------- admin API


async def require_admin(authorization: Annotated[str | None, Header()] = None) -> str:
    """The admin's user id if the request carries the admin bearer token, else 401.

    No event here: the middleware records every request to the admin API as an
    ``api_access`` event with its status (401 becomes ``denied``), and never the
    Authorization header itself.
    """
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), _ADMIN_TOKEN.encode()
    ):
        raise HTTPException(
            status_code=401,
            detail="A valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return "admin"


Admin = Annotated[str, Depends(require_admin)]

_DIRECTORY: Final = (
    {"username": "admin", "role": "admin"},
    {"username": "alice", "role": "operator"},
    {"username": "agent-7", "role": "agent"},
)


@app.get("/api/admin/users")
async def admin_users(admin: Admin) -> dict[str, Any]:
    """The user directory: a sensitive endpoint the middleware's records cover."""
    return {"users": list(_DIRECTORY)}


@app.get("/api/admin/export")
def admin_export(
    admin: Admin, fmt: Annotated[Literal["csv", "json"], Query(alias="format")] = "csv"
) -> dict[str, Any]:
    """Export the user directory: a ``def`` route, run in FastAPI's threadpool.

    It records with ``auditor.sync``, the thread-safe blocking form of the event
    methods, into the custom category ``admin`` (``admin.jsonl``); the request's
    context came along into the worker thread.
    """
    if fmt == "csv":
        rows = "username,role\n" + "".join(f"{u['username']},{u['role']}\n" for u in _DIRECTORY)
        body: Any = rows
    else:
        body = list(_DIRECTORY)
    auditor.sync.emit(
        "admin",
        "export_requested",
        outcome="success",
        user_id=admin,
        details={"format": fmt, "rows": len(_DIRECTORY)},
    )
    return {"format": fmt, "data": body}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: not recorded (the middleware excludes ``/healthz`` by default)."""
    return {"status": "ok"}
