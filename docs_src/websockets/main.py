from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from asgi_audit import AuditMiddleware, Auditor, AuditPolicy, Rule, audit_context

auditor = Auditor(log_dir="logs/security")
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(
    AuditMiddleware,
    auditor=auditor,
    # Message content is kept only at request_response: here for the support chat.
    policy=AuditPolicy([Rule("request_response", paths=["/ws/support"])]),
)


@app.websocket("/ws/{room}")
async def chat(websocket: WebSocket, room: str) -> None:
    if room == "staff-only":
        await websocket.close(code=1008)  # refused: websocket_connect with outcome denied
        return
    await websocket.accept()
    try:
        while (text := await websocket.receive_text()) != "bye":
            await websocket.send_text(f"echo: {text}")
            if "password" in text:  # the context works here as in any route
                await audit_context(websocket).emit("chat", "secret_shared", outcome="warned")
        await websocket.close()
    except WebSocketDisconnect:
        pass  # the client left: websocket_close says closed_by "client"
