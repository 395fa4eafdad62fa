"""Sinks: delivering the audit trail beyond the local files (see :mod:`.base`)."""

from __future__ import annotations

from .base import Sink
from .runner import SinkRunner

__all__ = ("Sink", "SinkRunner")
