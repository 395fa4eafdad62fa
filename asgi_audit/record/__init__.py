"""The record: what one event is and how it becomes one line.

PURE. No file, no event loop. The event vocabulary and fields, the request
context, redaction (rules and engine), size caps, the per-event pipeline and the
output profiles (native, ECS). The hot path of one event lives here and in
``asgi_audit.proof.integrity``'s sealing. Imports nothing of the package but
``asgi_audit.proof.integrity`` (pure).
"""
