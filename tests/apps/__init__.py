"""Small ASGI apps that the end-to-end tests serve with a real uvicorn (see ``tests.servers``).

An app module reads its settings from the environment when uvicorn imports it, so
a test imports the names from here, never the app module itself.
"""

from __future__ import annotations

from typing import Final

#: The log directory of the app's Auditor (required).
LOG_DIR_ENV: Final = "ASGI_AUDIT_TEST_LOG_DIR"
#: ``trusted_proxies`` of the app's AuditMiddleware, comma-separated (default: none).
TRUSTED_PROXIES_ENV: Final = "ASGI_AUDIT_TEST_TRUSTED_PROXIES"
#: The password ``tests.apps.basic`` accepts at ``POST /login``.
PASSWORD: Final = "correct horse"
