"""The web adapters: what sits between an ASGI server and the Auditor.

ADAPT. The pure ASGI middleware and its websocket half, the request/response
exchange it watches, body capture, identity, proxy resolution, the audit policy,
and the FastAPI dependency (``audit_context`` / ``AuditContext``). May import the
API (``asgi_audit.auditor``), ``store`` and ``record``; nothing below imports this.
"""
