"""A FastAPI app that reads, exports and deletes records, for end-to-end tests of
``data_access``.

Serve it with ``run_server("tests.apps.records:app", {LOG_DIR_ENV: str(log_dir)})``.

Routes:
    GET    /patients/{patient_id}   one record read; the purpose from ``X-Purpose``
    GET    /patients?ids=1,2,3      several records read, by ``ids``
    POST   /patients/export         every record exported, from a sync route (the
                                    sync facade, in the server's thread pool)
    DELETE /patients/{patient_id}   refused (403, ``denied``) without ``X-Role: admin``;
                                    the decision and its reason recorded (``authorize``)
    GET    /forbidden               403 with no reason recorded
"""

from __future__ import annotations

import os
from typing import Annotated, Final

from fastapi import Depends, FastAPI, Header
from fastapi.responses import JSONResponse

from asgi_audit import AuditContext, AuditMiddleware, Auditor, audit_context
from tests.apps import LOG_DIR_ENV

#: The records the app serves.
PATIENTS: Final = {i: f"patient {i}" for i in range(1, 21)}

auditor = Auditor(log_dir=os.environ[LOG_DIR_ENV])
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor)

Audit = Annotated[AuditContext, Depends(audit_context)]


@app.get("/patients/{patient_id}")
async def read_patient(
    patient_id: int, audit: Audit, x_purpose: Annotated[str | None, Header()] = None
) -> dict[str, str]:
    audit.set_actor("dr-ann")
    await audit.data_access("patient", patient_id, purpose=x_purpose)
    return {"name": PATIENTS[patient_id]}


@app.get("/patients")
async def read_patients(ids: str, audit: Audit) -> dict[str, list[str]]:
    wanted = [int(i) for i in ids.split(",")]
    await audit.data_access("patient", ids=wanted, purpose="ward round")
    return {"names": [PATIENTS[i] for i in wanted]}


@app.post("/patients/export")
def export_patients() -> dict[str, int]:
    # A sync route: FastAPI runs it in a worker thread, with the request's context.
    auditor.sync.data_access(
        "patient", ids=PATIENTS, action="export", purpose="quarterly report", durable=True
    )
    return {"exported": len(PATIENTS)}


@app.delete("/patients/{patient_id}")
async def delete_patient(
    patient_id: int, audit: Audit, x_role: Annotated[str | None, Header()] = None
) -> JSONResponse:
    if x_role != "admin":
        audit.authorize("deny", reason=f"role {x_role!r} may not delete", policy="records.delete")
        await audit.data_access("patient", patient_id, action="delete", outcome="denied")
        return JSONResponse({"deleted": False}, status_code=403)
    audit.authorize("allow", reason="admin", policy="records.delete")
    await audit.data_access("patient", patient_id, action="delete")
    return JSONResponse({"deleted": True})


@app.get("/forbidden")
async def forbidden() -> JSONResponse:
    return JSONResponse({"ok": False}, status_code=403)
