from typing import Any

from fastapi import FastAPI

from asgi_audit import AuditMiddleware, Auditor, AuditPolicy, Rule

policy = AuditPolicy(
    [
        Rule("none", paths=["/static/*"]),
        Rule("request_response", paths=["/admin/*"], methods=["POST", "PUT"], name="admin writes"),
        Rule("request", paths=["re:/api/v[0-9]+/search"], headers=["x-tenant"]),
        Rule("request", roles=["admin"], name="everything admins do"),
    ]
)

auditor = Auditor(log_dir="logs/security")
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor, policy=policy)


@app.get("/static/app.js")
async def script() -> str:
    return "console.log('hi')"


@app.post("/admin/users")
async def create_user(user: dict[str, Any]) -> dict[str, Any]:
    return {"created": user.get("name")}


@app.get("/api/v1/search")
async def search(q: str) -> list[str]:
    return [q]


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}
