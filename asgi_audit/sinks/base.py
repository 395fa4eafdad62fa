"""What a sink is: somewhere beyond the local files that the audit trail is delivered to.

API. The local files stay the source of truth: the writer never waits for a sink.
Each configured sink gets its own runner thread (see :mod:`asgi_audit.sinks.runner`)
that follows the category files and the ledger (``checkpoints.log``) from the
position the sink last acknowledged, hands it batches of whole lines, and saves the
new position once :meth:`Sink.send` returns. So a slow or failing sink never slows
the files or the requests, and a sink that was down resumes where it stopped,
across restarts of either side.

A line is an event, or one of the ledger's signed records (delivered so that a
record that left the host can serve as ``asgi-audit verify --anchor``);
:func:`ledger_record` tells them apart.

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
from typing import Any, Protocol, runtime_checkable

__all__ = ("Sink", "ledger_record")


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
        backoff. An event line carries ``category`` and ``event_id``, a ledger
        record its ``n`` (see :func:`ledger_record`), so a destination can tell
        a resent line from a new one.
        """
        ...

    def close(self) -> None:
        """Release connections; called once when the Auditor stops."""
        ...


def ledger_record(record: Any) -> tuple[int, str] | None:
    """``(n, type)`` when ``record``, a line parsed as JSON, is a ledger record; else None.

    A ledger record (a line of ``checkpoints.log``, see :mod:`asgi_audit.proof.records`)
    has a non-negative integer ``n``, a string ``prev``, ``type`` and ``sig``, and
    no ``event_id``, which every event has.
    """
    if not isinstance(record, dict) or "event_id" in record:
        return None
    n, kind = record.get("n"), record.get("type")
    if (
        isinstance(n, int)
        and not isinstance(n, bool)
        and n >= 0
        and isinstance(kind, str)
        and isinstance(record.get("prev"), str)
        and isinstance(record.get("sig"), str)
    ):
        return n, kind
    return None
