"""The Auditor's sinks, started, woken, stopped and counted together.

IO. One :class:`~asgi_audit.sinks.runner.SinkRunner` per sink; see
:mod:`asgi_audit.sinks.base` for what a sink is.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .base import Sink
from .runner import SinkRunner, validate_sink_name

__all__ = ("SinkGroup", "check_sinks")


def check_sinks(sinks: Iterable[Sink] | object) -> tuple[Sink, ...]:
    """The sinks as a tuple; raises on a bad or repeated name."""
    if isinstance(sinks, (str, bytes)) or not isinstance(sinks, Iterable):
        raise TypeError(f"sinks takes a list of sinks, not {sinks!r}")
    found: tuple[Sink, ...] = tuple(sinks)
    names = [validate_sink_name(sink) for sink in found]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"Two sinks are named {name!r}; each needs its own name")
    return found


class SinkGroup:
    """The runners of one Auditor's sinks."""

    __slots__ = ("_runners",)

    def __init__(self, sinks: Sequence[Sink], directory: Path) -> None:
        self._runners = [SinkRunner(sink, directory) for sink in sinks]

    def __bool__(self) -> bool:
        return bool(self._runners)

    def start(self) -> None:
        for runner in self._runners:
            runner.start()

    def wake(self) -> None:
        """New lines are in the files (any thread, never blocks)."""
        for runner in self._runners:
            runner.wake()

    def stop(self, seconds: float) -> None:
        """Give the sinks up to ``seconds`` to deliver what the files hold, then stop them."""
        deadline = time.monotonic() + seconds
        for runner in self._runners:
            runner.stop(deadline)

    def stats(self) -> dict[str, dict[str, Any]]:
        return {runner.name: runner.stats() for runner in self._runners}
