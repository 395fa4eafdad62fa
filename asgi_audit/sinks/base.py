"""What a sink is: somewhere beyond the local files that the audit trail is delivered to.

API. The local files stay the source of truth: the writer never waits for a sink.
Each configured sink gets its own runner thread (see :mod:`asgi_audit.sinks.runner`)
that follows the category files from the position the sink last acknowledged,
hands it batches of whole lines, and saves the new position once
:meth:`Sink.send` returns. So a slow or failing sink never slows the files or
the requests, and a sink that was down resumes where it stopped, across restarts
of either side.

Write your own by implementing two methods::

    class HttpSink:
        name = "collector"

        def __init__(self, url: str) -> None:
            self._client = httpx.Client(timeout=10)
            self._url = url

        def send(self, lines: Sequence[bytes]) -> None:
            body = b"[" + b",".join(line.rstrip(b"\\n") for line in lines) + b"]"
            response = self._client.post(
                self._url, content=body, headers={"content-type": "application/json"}
            )
            response.raise_for_status()  # raising = not delivered: retried later

        def close(self) -> None:
            self._client.close()

    auditor = Auditor(sinks=[HttpSink("https://collector.example/audit")])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ("Sink",)


@runtime_checkable
class Sink(Protocol):
    """A destination for the audit lines.

    ``name`` names the sink in ``auditor.stats()["sinks"]`` and names the file
    that keeps its position in the log directory, so it must be stable across
    restarts and unique per Auditor (letters, digits, ``-`` and ``_``).
    """

    name: str

    def send(self, lines: Sequence[bytes]) -> None:
        """Deliver ``lines`` (each one JSON object ending with ``\\n``), in order.

        Called from the sink's own thread, never on the event loop; it may block.
        Return only once the destination has the lines (acknowledged, where the
        protocol has acknowledgements): the position moves past them then. Raise
        to say they were not delivered; the same lines are offered again after a
        backoff. The lines carry ``category`` and ``event_id``, so a destination
        can tell a resent line from a new one.
        """
        ...

    def close(self) -> None:
        """Release connections; called once when the Auditor stops."""
        ...
