"""asgi_audit: a security audit trail for ASGI apps.

Security events (logins, injection attempts, blocked tool and file access, API
access) become one JSON object per line, one file per category, written by a
background writer so that a request handler never waits on disk.

    from . import Auditor, AuditMiddleware, AuditContext, audit_context
"""

from __future__ import annotations

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
