"""asgi_audit: a security audit trail for ASGI apps.

Security events (logins, injection attempts, blocked tool and file access, API
access) become one JSON object per line, one file per category, written by a
background writer so that a request handler never waits on disk.

    from asgi_audit import Auditor, AuditMiddleware, AuditContext, audit_context
"""

from __future__ import annotations

from .auditor import Auditor
from .context import RequestContext, current_context
from .dependencies import AuditContext, audit_context
from .encoding import Caps
from .events import CATEGORY_FILES, SCHEMA_VERSION, category_filename
from .files import InsecureDirectoryError
from .identity import Identity
from .methods import outcome_for_status
from .middleware import AuditMiddleware
from .policy import AuditPolicy, PolicyError, Rule
from .redaction import REDACTED, Redactor
from .rotation import get_audit_stats, rotate_audit_logs
from .stream import AuditorNotRunning, AuditQueueFull, AuditWriteError
from .sync import SyncAuditor

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
    "PolicyError",
    "Redactor",
    "RequestContext",
    "Rule",
    "SyncAuditor",
    "__version__",
    "audit_context",
    "category_filename",
    "current_context",
    "get_audit_stats",
    "outcome_for_status",
    "rotate_audit_logs",
)
