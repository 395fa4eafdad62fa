import os

from fastapi import FastAPI

from asgi_audit import AuditMiddleware, Auditor


def require_key() -> None:
    # Without a key the chain is plain SHA-256: anyone who can write the files can
    # recompute it. Refuse to start in production rather than run unkeyed.
    if not os.environ.get("ASGI_AUDIT_KEY"):
        raise SystemExit("ASGI_AUDIT_KEY is not set: refusing to start without an audit key")


require_key()
auditor = Auditor(log_dir="logs/security")  # reads ASGI_AUDIT_KEY from the environment
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor)


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}
