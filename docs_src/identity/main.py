import secrets
from collections.abc import MutableMapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Response
from pydantic import BaseModel
from starlette.requests import HTTPConnection

from asgi_audit import AuditContext, AuditMiddleware, Auditor, Identity, audit_context

# Your user store and session store; a dict each, to keep the example short.
USERS = {("ann", "correct horse battery staple"): Identity("ann", ("admin",))}
SESSIONS: dict[str, Identity] = {}


def identity_from_session(scope: MutableMapping[str, Any]) -> Identity | None:
    """Called at the end of each request the app did not name a user for."""
    session = HTTPConnection(scope).cookies.get("session")
    return SESSIONS.get(session) if session else None


auditor = Auditor(log_dir="logs/security")
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor, identity_resolver=identity_from_session)

Audit = Annotated[AuditContext, Depends(audit_context)]


class Credentials(BaseModel):
    username: str
    password: str


@app.post("/login")
async def login(credentials: Credentials, response: Response, audit: Audit) -> dict[str, bool]:
    user = USERS.get((credentials.username, credentials.password))
    if user is None:
        await audit.login_attempt(
            "failed", user_id=credentials.username, error_message="Invalid password"
        )
        raise HTTPException(status_code=401, detail="Invalid username or password")
    session = secrets.token_urlsafe(16)
    SESSIONS[session] = user
    response.set_cookie("session", session, httponly=True)
    # From here on, every event of this request carries the user, and so does
    # its api_access line; the roles feed the audit policy's role rules.
    audit.set_actor(user.user_id, roles=user.roles)
    await audit.login_attempt("success")
    return {"ok": True}


@app.get("/me")
async def me(audit: Audit) -> dict[str, str | None]:
    # The resolver runs when the request ends: its api_access line names the user.
    return {"request_id": audit.request_id}
