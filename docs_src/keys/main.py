import os
from pathlib import Path

from fastapi import FastAPI

from asgi_audit import AuditMiddleware, Auditor

LOG_DIR = "logs/security"
# A directory that outlives every deploy (a volume), the app's own, mode 0700.
KEY_DIR = Path(os.environ.get("AUDIT_KEY_DIR", "/var/lib/app/audit-keys"))


def require_sealing_key() -> None:
    # Made beforehand with `asgi-audit keys init`, so that the secret verification key
    # never stays on this host. Without it the Auditor would make keys on its first
    # start, and leave that key here: refuse to start instead.
    if not (KEY_DIR / "sealing.key").is_file():
        raise SystemExit(
            f"no sealing key in {KEY_DIR}: make it first with: asgi-audit keys init "
            f"--log-dir {Path(LOG_DIR).resolve()} --key-dir {KEY_DIR} --out -"
        )
    if (KEY_DIR / "verification.key").exists():
        raise SystemExit(f"{KEY_DIR / 'verification.key'} is on this host: move it off first")


require_sealing_key()
auditor = Auditor(log_dir=LOG_DIR, key_dir=KEY_DIR)
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor)


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}
