"""Sinks: delivering the audit trail beyond the local files (see :mod:`.base`).

``OtlpLogSink`` (needs ``httpx``) and ``SyslogSink`` are imported from their
modules, so that importing asgi_audit never needs their dependencies.
"""

from __future__ import annotations

from .base import Sink
from .runner import SinkRunner

__all__ = ("Sink", "SinkRunner")
