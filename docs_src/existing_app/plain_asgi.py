from starlette.types import Receive, Scope, Send

from asgi_audit import AuditMiddleware, Auditor

auditor = Auditor(log_dir="logs/security")


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":  # run the Auditor for as long as the app
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await auditor.__aenter__()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await auditor.__aexit__(None, None, None)
                await send({"type": "lifespan.shutdown.complete"})
                return
    # The middleware set the request's context: the event gets its ip, request id, ...
    await auditor.emit("greetings", "hello_sent", outcome="success")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello\n"})


app = AuditMiddleware(hello, auditor=auditor)
