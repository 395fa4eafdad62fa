"""A FastAPI app whose money transfers fail closed, for the fail-closed tests.

Serve it with ``run_server("tests.apps.failclosed:app", {LOG_DIR_ENV: str(log_dir)})``.

Routes:
    POST /transfers/{transfer_id}   fails closed: commits the transfer (in memory)
                                    only once its arrival is on disk
    GET  /transfers                 the committed transfers
    GET  /balance                   recorded as any request (fails open)
    GET  /control/flush             flushes the Auditor (bounded), for the tests
"""

from __future__ import annotations

import os
from typing import Final

import anyio
from fastapi import FastAPI

from asgi_audit import AuditMiddleware, Auditor, AuditPolicy, Rule
from tests.apps import LOG_DIR_ENV

#: The seconds a transfer waits for its arrival record (short: the tests wait it out).
FAIL_CLOSED_TIMEOUT: Final = 1.0

auditor = Auditor(log_dir=os.environ[LOG_DIR_ENV])
policy = AuditPolicy(
    [Rule("metadata", paths=["/transfers/*"], methods=["POST"], fail_closed=True, name="money")],
    fail_closed_timeout=FAIL_CLOSED_TIMEOUT,
)
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor, policy=policy)

committed: list[int] = []


@app.post("/transfers/{transfer_id}")
async def transfer(transfer_id: int) -> dict[str, int]:
    committed.append(transfer_id)
    return {"committed": transfer_id}


@app.get("/transfers")
async def transfers() -> list[int]:
    return committed


@app.get("/balance")
async def balance() -> dict[str, bool]:
    return {"ok": True}


@app.get("/control/flush")
async def flush() -> dict[str, bool]:
    with anyio.move_on_after(15.0):  # a bound on a hang
        await auditor.flush()
        return {"flushed": True}
    return {"flushed": False}
