from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from asgi_audit import AuditMiddleware, Auditor

auditor = Auditor(log_dir="logs/security")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with auditor, httpx.AsyncClient() as client:  # the Auditor starts first, stops last
        yield {"client": client}


app = FastAPI(lifespan=lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor)


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}
