from typing import Annotated

from fastapi import Depends, FastAPI

from asgi_audit import AuditContext, AuditMiddleware, Auditor, audit_context

auditor = Auditor(log_dir="logs/security")
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(
    AuditMiddleware,
    auditor=auditor,
    # The proxies in front of the app (a load balancer's subnet, a local nginx).
    # Run uvicorn with --no-proxy-headers, so that only this list decides.
    trusted_proxies=["10.0.0.0/8", "127.0.0.1"],
)


@app.get("/whoami")
async def whoami(audit: Annotated[AuditContext, Depends(audit_context)]) -> dict[str, str | None]:
    return {"ip": audit.ip_address}
