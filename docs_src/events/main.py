from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel

from asgi_audit import AuditContext, AuditMiddleware, Auditor, audit_context

auditor = Auditor(log_dir="logs/security")
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor, agent_id_header="X-Agent-ID")

Audit = Annotated[AuditContext, Depends(audit_context)]


class Prompt(BaseModel):
    text: str


class ReportError(Exception):
    pass


@app.post("/agent/prompt")
async def prompt(body: Prompt, audit: Audit) -> dict[str, str]:
    if "ignore previous instructions" in body.text.lower():
        await audit.injection_attempt(  # agent_id comes from the X-Agent-ID header
            rule_name="ignore_previous_instructions",
            severity="HIGH",  # risk_score 0.7 unless you pass one
            matched_text="ignore previous instructions",
            raw_input=body.text,  # redacted and capped in the writer
        )
        raise HTTPException(status_code=400, detail="Prompt refused")
    return {"answer": "..."}


@app.delete("/accounts/{account_id}")
async def delete_account(account_id: str, audit: Audit) -> dict[str, bool]:
    # durable=True: returns once the line is written and fsynced (group commit).
    await audit.emit(
        "admin",  # your own category: logs/security/admin.jsonl
        "account_deleted",
        outcome="success",
        event_action="user_deleted",  # the OWASP vocabulary name, if one fits
        account_id=account_id,
        durable=True,
    )
    return {"deleted": True}


def build_report() -> bytes:
    raise ReportError("the reporting database is down")


@app.post("/reports")
async def make_report(audit: Audit) -> dict[str, int]:
    try:
        report = build_report()
    except ReportError:
        await audit.emit("reports", "report_failed", outcome="error", exc_info=True)
        raise HTTPException(status_code=503, detail="Try again later") from None
    return {"bytes": len(report)}
