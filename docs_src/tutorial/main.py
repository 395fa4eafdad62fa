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


def password_is_right(credentials: Credentials) -> bool:
    return False  # your user store goes here; in this tutorial every password is wrong


@app.post("/login")
async def login(
    credentials: Credentials,
    audit: Annotated[AuditContext, Depends(audit_context)],
) -> dict[str, bool]:
    if not password_is_right(credentials):
        await audit.login_attempt(
            "failed", user_id=credentials.username, error_message="Invalid password"
        )
        raise HTTPException(status_code=401, detail="Invalid username or password")
    await audit.login_attempt("success", user_id=credentials.username)
    return {"ok": True}
