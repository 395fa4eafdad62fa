from fastapi import FastAPI

from asgi_audit import AuditMiddleware, Auditor, AuditPolicy, Rule

auditor = Auditor(log_dir="logs/security")
policy = AuditPolicy(
    [
        # Money moves only once its request is on disk; else the client gets a 503.
        Rule("metadata", paths=["/transfers/*"], methods=["POST"], fail_closed=True, name="money"),
    ],
    fail_closed_timeout=2.0,  # seconds to wait for the disk before refusing
)
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor, policy=policy)

ledger: list[tuple[str, int]] = []


@app.post("/transfers/{account}")
async def transfer(account: str, amount: int) -> dict[str, int]:
    ledger.append((account, amount))  # runs only after the arrival record is fsynced
    return {"transfers": len(ledger)}


@app.get("/balance/{account}")
async def balance(account: str) -> dict[str, int]:
    # Not fail-closed: served even while the trail cannot be written (fails open).
    return {"balance": sum(a for who, a in ledger if who == account)}
