from typing import Annotated

from fastapi import Depends, FastAPI

from asgi_audit import AuditContext, AuditMiddleware, Auditor, audit_context

auditor = Auditor(log_dir="logs/security")  # every option keyword-only, safe defaults
app = FastAPI(lifespan=auditor.lifespan)  # starts and drains the writer
app.add_middleware(AuditMiddleware, auditor=auditor)  # api_access events + request context


@app.post("/login")
async def login(audit: Annotated[AuditContext, Depends(audit_context)]) -> dict[str, bool]:
    # ip, user agent, session and request id are filled in
    await audit.login_attempt("failed", user_id="admin", error_message="Invalid password")
    return {"ok": False}


async def read_file_tool(path: str, agent_id: str) -> None:
    # Anywhere below a request: the context travels in a ContextVar.
    if ".ssh/" in path:
        await auditor.tool_blocked(
            tool_name="read_file",
            blocked_path=path,
            blocked_reason="SSH key file access denied",
            agent_id=agent_id,
        )
