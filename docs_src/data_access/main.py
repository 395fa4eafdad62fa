from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException

from asgi_audit import AuditContext, AuditMiddleware, Auditor, audit_context

auditor = Auditor(log_dir="logs/security")
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor)

Audit = Annotated[AuditContext, Depends(audit_context)]

PATIENTS: dict[int, dict[str, int | str]] = {
    i: {"id": i, "name": f"Patient {i}", "ward": "B" if i % 2 else "C"} for i in range(1, 2001)
}


@app.get("/patients/{patient_id}")
async def read_patient(
    patient_id: int, audit: Audit, x_purpose: Annotated[str, Header()] = "treatment"
) -> dict[str, int | str]:
    audit.set_actor("dr-ann")  # your login sets this; every later event carries it
    await audit.data_access("patient", patient_id, purpose=x_purpose)
    return PATIENTS[patient_id]


@app.get("/wards/{ward}/patients")
async def list_ward(ward: str, audit: Audit) -> list[dict[str, int | str]]:
    found = [p for p in PATIENTS.values() if p["ward"] == ward]
    # Which records left the system, not only how many: ids beyond one line's
    # worth are split into linked events (access_id, part, parts).
    await audit.data_access("patient", ids=[p["id"] for p in found], purpose="ward round")
    return found


@app.post("/patients/export")
async def export_patients(audit: Audit, x_role: Annotated[str, Header()] = "") -> dict[str, int]:
    if x_role != "records-officer":
        await audit.data_access("patient", action="export", outcome="denied")
        raise HTTPException(status_code=403, detail="Records officers only")
    # durable=True: returns once every line of the export's record is on disk.
    await audit.data_access(
        "patient", ids=PATIENTS, action="export", purpose="annual registry", durable=True
    )
    return {"exported": len(PATIENTS)}
