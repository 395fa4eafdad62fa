import threading
from typing import Annotated

from fastapi import Depends, FastAPI

from asgi_audit import AuditContext, AuditMiddleware, Auditor, audit_context

auditor = Auditor(log_dir="logs/security")
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor)


@app.post("/export")
def export(audit: Annotated[AuditContext, Depends(audit_context)]) -> dict[str, int]:
    # A def route runs in FastAPI's threadpool; audit.sync blocks only while the
    # in-memory stream is full, never on disk.
    rows = 12
    audit.sync.emit("admin", "export_requested", outcome="success", rows=rows)
    return {"rows": rows}


def revoke_sessions(user_id: str) -> None:
    # Any thread of yours: a scheduler job, a queue consumer, a callback.
    auditor.sync.session_event("sessions_revoked", user_id=user_id)


@app.post("/users/{user_id}/revoke")
async def revoke(user_id: str) -> dict[str, bool]:
    threading.Thread(target=revoke_sessions, args=(user_id,)).start()
    return {"accepted": True}
