"""asgi_audit: a security audit trail for ASGI apps.

Security events (logins, injection attempts, blocked tool and file access, API
access) become one JSON object per line, one file per category, written by a
background writer so that a request handler never waits on disk.

    from asgi_audit import Auditor, AuditMiddleware, AuditContext, audit_context
"""

from __future__ import annotations

from .auditor import Auditor, SyncAuditor, outcome_for_status
from .context import RequestContext, current_context
from .dependencies import AuditContext, audit_context
from .encoding import Caps
from .events import CATEGORY_FILES, SCHEMA_VERSION, category_filename
from .files import get_audit_stats, rotate_audit_logs
from .middleware import AuditMiddleware
from .redaction import REDACTED, Redactor
from .writer import AuditorNotRunning, AuditQueueFull

__version__ = "0.1.0"

__all__ = (
    "CATEGORY_FILES",
    "REDACTED",
    "SCHEMA_VERSION",
    "AuditContext",
    "AuditMiddleware",
    "AuditQueueFull",
    "Auditor",
    "AuditorNotRunning",
    "Caps",
    "Redactor",
    "RequestContext",
    "SyncAuditor",
    "__version__",
    "audit_context",
    "category_filename",
    "current_context",
    "get_audit_stats",
    "outcome_for_status",
    "rotate_audit_logs",
)
