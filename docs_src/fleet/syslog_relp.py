import os

from fastapi import FastAPI

from asgi_audit import AuditMiddleware, Auditor
from asgi_audit.sinks.syslog import SyslogSink

auditor = Auditor(
    log_dir="logs/security",
    sinks=[
        SyslogSink(
            os.environ.get("SYSLOG_HOST", "logs.internal"),
            int(os.environ.get("SYSLOG_PORT", "2514")),
            transport="relp",
            name="central",
        ),
        # or transport="tls" with cafile="ca.pem" (server certificate checked by default),
        # or "relp-tls" with certfile/keyfile (imrelp asks for a client certificate)
    ],
)
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor)


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}
