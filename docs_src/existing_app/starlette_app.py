from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_audit import AuditMiddleware, Auditor, audit_context

auditor = Auditor(log_dir="logs/security")


async def logout(request: Request) -> JSONResponse:
    audit = audit_context(request)  # the same AuditContext as Depends(audit_context)
    await audit.logout(user_id="ann")
    return JSONResponse({"ok": True})


app = Starlette(
    routes=[Route("/logout", logout, methods=["POST"])],
    middleware=[Middleware(AuditMiddleware, auditor=auditor)],
    lifespan=auditor.lifespan,
)
