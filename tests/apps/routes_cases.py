"""Apps for ``asgi-audit routes``: each way a route can (and cannot visibly) record
an authorization decision, and each way an app can carry the middleware.

Nothing is started: the command imports these and reads them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, WebSocket
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, WebSocketRoute

from asgi_audit import AuditContext, AuditMiddleware, Auditor, AuditPolicy, Rule, audit_context

Audit = Annotated[AuditContext, Depends(audit_context)]
auditor = Auditor(log_dir="unused-never-started")
policy = AuditPolicy(
    [
        Rule("none", paths=["/public/*"], name="public"),
        Rule("request", paths=["/admin/*"], fail_closed=True, name="admin"),
    ]
)


def check_owner(audit: AuditContext, owner: str) -> None:
    """A helper the route calls by name: followed."""
    audit.authorize("allow" if owner == "ann" else "deny", reason="owner check")


class RequireScope:
    """A class instance used as a dependency: its __call__ is read."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def __call__(self, audit: Audit) -> None:
        audit.authorize("allow", reason=f"scope {self.scope}")


def signed_in(audit: Audit) -> AuditContext:
    audit.authorize("allow", reason="signed in")
    return audit


def account(audit: Annotated[AuditContext, Depends(signed_in)]) -> AuditContext:
    return audit  # decides nothing itself: its own dependency does


class Guard:
    def check(self, audit: AuditContext) -> None:
        audit.authorize("allow", reason="guarded")


guard = Guard()

app = FastAPI()
app.add_middleware(AuditMiddleware, auditor=auditor, policy=policy)
scoped = APIRouter(dependencies=[Depends(RequireScope("reports:read"))])


@app.get("/documents/{doc_id}")
async def document(doc_id: str, audit: Audit) -> dict[str, str]:
    check_owner(audit, "ann")
    return {"id": doc_id}


@app.get("/me")
async def me(audit: Annotated[AuditContext, Depends(account)]) -> dict[str, Any]:
    return {"user": audit.user_id}


@app.get("/guarded")
async def guarded(audit: Audit) -> dict[str, bool]:
    guard.check(audit)  # through an object's attribute: not seen
    return {"ok": True}


@app.get("/public/status")
async def status() -> dict[str, bool]:
    return {"ok": True}


@app.post("/admin/users")
async def add_user(audit: Audit) -> dict[str, bool]:
    audit.authorize("allow", reason="admin")
    return {"ok": True}


@app.get("/healthz")
async def healthz() -> dict[str, bool]:
    return {"ok": True}


@scoped.get("/reports")
async def reports() -> list[str]:
    return []


@app.websocket("/ws/chat")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()


app.include_router(scoped)


# A Starlette app wrapped in the middleware, with a mount and a websocket.
async def homepage(request: Request) -> PlainTextResponse:
    return PlainTextResponse("home")


async def inside(request: Request) -> PlainTextResponse:
    audit_context(request).authorize("allow", reason="mounted")
    return PlainTextResponse("inside")


async def feed(websocket: Any) -> None:
    await websocket.accept()


starlette_app = AuditMiddleware(
    Starlette(
        routes=[
            Route("/", homepage),
            Mount("/v1", routes=[Route("/items/{item_id}", inside, methods=["GET", "PUT"])]),
            WebSocketRoute("/feed", feed),
        ]
    ),
    auditor=auditor,
)

# No middleware at all.
bare = FastAPI()


@bare.get("/items")
async def items() -> list[int]:
    return []


def create_app() -> FastAPI:
    """A factory, for ``--factory``."""
    made = FastAPI()
    made.add_middleware(AuditMiddleware, auditor=auditor)

    @made.get("/made")
    async def made_route(audit: Audit) -> dict[str, bool]:
        audit.authorize("allow", reason="factory")
        return {"ok": True}

    return made
