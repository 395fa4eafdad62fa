from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel

from asgi_audit import AuditContext, AuditMiddleware, Auditor, audit_context

auditor = Auditor(log_dir="logs/security")
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor)


class Credentials(BaseModel):
    username: str
    password: str


@app.post("/login")
async def login(
    credentials: Credentials, audit: Annotated[AuditContext, Depends(audit_context)]
) -> dict[str, bool]:
    await audit.login_attempt(
        "failed",
        user_id=credentials.username,
        error_message="Invalid password",
        details={"attempt": credentials.model_dump()},  # a mistake redaction catches
    )
    raise HTTPException(status_code=401, detail="Invalid username or password")
