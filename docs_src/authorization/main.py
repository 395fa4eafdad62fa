from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException

from asgi_audit import AuditContext, AuditMiddleware, Auditor, audit_context

auditor = Auditor(log_dir="logs/security")
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor)

Audit = Annotated[AuditContext, Depends(audit_context)]


def require_role(role: str) -> Callable[..., Awaitable[None]]:
    """A route's guard that says on the request's record why it let it through or not."""

    async def check(audit: Audit, x_role: Annotated[str, Header()] = "") -> None:
        policy = f"rbac:{role}"  # X-Role stands in for what your authentication gives
        if x_role != role:
            audit.authorize("deny", reason=f"role {role!r} required", policy=policy)
            raise HTTPException(status_code=403, detail="Forbidden")
        audit.authorize("allow", reason=f"has role {role!r}", policy=policy)

    return check


@app.delete("/invoices/{invoice_id}", dependencies=[Depends(require_role("billing-admin"))])
async def delete_invoice(invoice_id: int) -> dict[str, int]:
    return {"deleted": invoice_id}


@app.get("/invoices/{invoice_id}")
async def read_invoice(
    invoice_id: int, audit: Audit, x_user: Annotated[str, Header()] = ""
) -> dict[str, int]:
    if x_user != "ann":  # only the invoice's owner may see it; others get a 404
        audit.authorize("deny", reason="not the invoice's owner", policy="invoices.owner")
        raise HTTPException(status_code=404, detail="Not Found")
    audit.authorize("allow", reason="owner", policy="invoices.owner")
    return {"id": invoice_id}


@app.get("/reports")
async def reports() -> dict[str, list[str]]:
    raise HTTPException(status_code=403, detail="Forbidden")  # no reason recorded
