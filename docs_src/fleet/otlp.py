import os

from fastapi import FastAPI

from asgi_audit import AuditMiddleware, Auditor
from asgi_audit.sinks.otlp import OtlpLogSink  # pip install 'asgi-audit[otlp]'

auditor = Auditor(
    log_dir="logs/security",
    sinks=[
        OtlpLogSink(
            os.environ.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://127.0.0.1:4318/v1/logs"),
            service_name="billing-api",
        )
    ],
)
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor)


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}
