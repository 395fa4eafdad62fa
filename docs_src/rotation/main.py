from fastapi import FastAPI

from asgi_audit import AuditMiddleware, Auditor

auditor = Auditor(
    log_dir="logs/security",
    rotate_max_mb=100,  # rotate a file before a batch would take it past 100 MB
    rotate_interval="daily",  # and at midnight UTC
    compress_rotated=True,  # gzip rotated files, off the writer's path
    retain_count=90,  # keep at most 90 rotated files per category
    retain_days=365,  # and none older than a year
)
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor)


@app.get("/audit/stats")
async def audit_stats() -> dict[str, int]:
    # Live counters of this process: written, dropped, rotations, errors per category.
    categories = auditor.stats()["categories"]
    return {name: entry["rotations"] for name, entry in categories.items()}
