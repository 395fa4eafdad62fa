"""asgi_audit: a security audit trail for ASGI apps.

Security events (logins, injection attempts, blocked tool and file access, API
access) become one JSON object per line, one file per category, written by a
background writer so that a request handler never waits on disk.

    from . import Auditor, AuditMiddleware, AuditContext, audit_context
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .auditor import Auditor
    from .methods import outcome_for_status
    from .proof.keycheck import WeakKeyError
    from .proof.setup import SealingKeyMissing
    from .record.context import RequestContext, current_context
    from .record.encoding import Caps
    from .record.events import CATEGORY_FILES, SCHEMA_VERSION, category_filename
    from .record.redaction import REDACTED, Redactor
    from .record.scanner import SecretRule
    from .store.files import InsecureDirectoryError
    from .store.rotation import get_audit_stats, rotate_audit_logs
    from .store.stream import AuditorNotRunning, AuditQueueFull, AuditWriteError
    from .sync import SyncAuditor
    from .web.dependencies import AuditContext, audit_context
    from .web.identity import Identity
    from .web.middleware import AuditMiddleware
    from .web.options import MiddlewareOptionError
    from .web.policy import AuditPolicy, PolicyError, Rule

__version__ = "0.1.0"

# Each public name and the module it comes from, imported on first use (PEP 562),
# so that `asgi-audit` and code importing one submodule do not pay for the rest
# (the web adapters, AnyIO, Starlette).
_LAZY: Final[dict[str, str]] = {
    "AuditContext": ".web.dependencies",
    "AuditMiddleware": ".web.middleware",
    "AuditPolicy": ".web.policy",
    "AuditQueueFull": ".store.stream",
    "AuditWriteError": ".store.stream",
    "Auditor": ".auditor",
    "AuditorNotRunning": ".store.stream",
    "CATEGORY_FILES": ".record.events",
    "Caps": ".record.encoding",
    "Identity": ".web.identity",
    "InsecureDirectoryError": ".store.files",
    "MiddlewareOptionError": ".web.options",
    "PolicyError": ".web.policy",
    "REDACTED": ".record.redaction",
    "Redactor": ".record.redaction",
    "RequestContext": ".record.context",
    "Rule": ".web.policy",
    "SCHEMA_VERSION": ".record.events",
    "SealingKeyMissing": ".proof.setup",
    "SecretRule": ".record.scanner",
    "SyncAuditor": ".sync",
    "WeakKeyError": ".proof.keycheck",
    "audit_context": ".web.dependencies",
    "category_filename": ".record.events",
    "current_context": ".record.context",
    "get_audit_stats": ".store.rotation",
    "outcome_for_status": ".methods",
    "rotate_audit_logs": ".store.rotation",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # once imported, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = (
    "CATEGORY_FILES",
    "REDACTED",
    "SCHEMA_VERSION",
    "AuditContext",
    "AuditMiddleware",
    "AuditPolicy",
    "AuditQueueFull",
    "AuditWriteError",
    "Auditor",
    "AuditorNotRunning",
    "Caps",
    "Identity",
    "InsecureDirectoryError",
    "MiddlewareOptionError",
    "PolicyError",
    "Redactor",
    "RequestContext",
    "Rule",
    "SealingKeyMissing",
    "SecretRule",
    "SyncAuditor",
    "WeakKeyError",
    "__version__",
    "audit_context",
    "category_filename",
    "current_context",
    "get_audit_stats",
    "outcome_for_status",
    "rotate_audit_logs",
)
