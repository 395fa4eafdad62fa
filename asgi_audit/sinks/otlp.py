"""An OpenTelemetry logs sink: batches as OTLP/HTTP JSON to a collector.

IO, in the sink's runner thread (see :mod:`asgi_audit.sinks.base`). Each line
becomes one ``LogRecord``: ``body`` is the line itself (the exact JSON the file
holds, so the chain can still be verified downstream), ``timeUnixNano`` the
event's time, ``severityNumber`` WARN for blocked, denied, failed, rate-limited
and error outcomes and INFO otherwise, ``traceId``/``spanId`` when the event
carries them, and ``event.name``, ``event.id``, ``asgi_audit.category`` and
``asgi_audit.outcome`` as attributes. A ledger record (a line of
``checkpoints.log``, shipped too: see :func:`~asgi_audit.sinks.base.ledger_record`)
has none of those fields: its ``body`` is its line all the same, ``timeUnixNano``
its ``timestamp``, the severity INFO, ``event.name`` ``asgi_audit.ledger.<type>``
(``asgi_audit.ledger.checkpoint``, ...) and ``asgi_audit.ledger.n`` its number;
the body of the newest one a collector holds is an anchor for
``asgi-audit verify --anchor``. A batch is one ``POST`` to
``.../v1/logs``; any answer but 2xx, or no answer, raises, so the runner sends
the batch again after a backoff (at least once: a collector that stored a batch
but whose answer was lost gets it twice, with the same ``event.id``).

Needs ``httpx`` (``pip install asgi-audit[otlp]``).
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from .base import ledger_record

__all__ = ("OtlpLogSink", "log_record", "otlp_request")

_WARN: Final = frozenset({"blocked", "denied", "failed", "rate_limited", "error", "dropped"})
_HEX32: Final = frozenset("0123456789abcdef")


def _attribute(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _hex_id(value: Any, length: int) -> str | None:
    if isinstance(value, str) and len(value) == length and set(value) <= _HEX32:
        return value
    return None


def _unix_ns(timestamp: Any) -> int | None:
    # An RFC 3339 time with an offset (the ledger's ``timestamp``) in ns since the epoch.
    if not isinstance(timestamp, str):
        return None
    try:
        when = _dt.datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    since = when - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    ns = since // _dt.timedelta(microseconds=1) * 1000
    return ns if ns >= 0 else None


def _ledger_log_record(
    text: str, record: Mapping[str, Any], n: int, kind: str, observed_ns: int
) -> dict[str, Any]:
    when = _unix_ns(record.get("timestamp"))
    return {
        "timeUnixNano": str(observed_ns if when is None else when),
        "observedTimeUnixNano": str(observed_ns),
        "severityNumber": 9,
        "severityText": "INFO",
        "body": {"stringValue": text},
        "attributes": [
            _attribute("event.name", f"asgi_audit.ledger.{kind}"),
            _attribute("asgi_audit.ledger.n", n),
        ],
    }


def log_record(line: bytes, observed_ns: int) -> dict[str, Any]:
    """The OTLP ``LogRecord`` of one line (its JSON parsed for the header fields)."""
    text = line.rstrip(b"\n").decode("utf-8", "replace")
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        event = {}
    if not isinstance(event, dict):
        event = {}
    ledger = ledger_record(event)
    if ledger is not None:
        return _ledger_log_record(text, event, *ledger, observed_ns)
    epoch_ms = event.get("epoch_ms")
    when = epoch_ms * 1_000_000 if isinstance(epoch_ms, int) and epoch_ms >= 0 else observed_ns
    outcome = event.get("outcome")
    warn = outcome in _WARN
    record: dict[str, Any] = {
        "timeUnixNano": str(when),
        "observedTimeUnixNano": str(observed_ns),
        "severityNumber": 13 if warn else 9,
        "severityText": "WARN" if warn else "INFO",
        "body": {"stringValue": text},
        "attributes": [
            _attribute(key, event[name])
            for key, name in (
                ("event.name", "event_type"),
                ("event.id", "event_id"),
                ("asgi_audit.category", "category"),
                ("asgi_audit.outcome", "outcome"),
            )
            if event.get(name) is not None
        ],
    }
    trace_id = _hex_id(event.get("trace_id"), 32)
    span_id = _hex_id(event.get("span_id"), 16)
    if trace_id is not None and span_id is not None:
        record["traceId"] = trace_id
        record["spanId"] = span_id
    return record


def otlp_request(
    lines: Sequence[bytes], *, resource: Mapping[str, Any], scope_version: str
) -> dict[str, Any]:
    """The ``ExportLogsServiceRequest`` (OTLP JSON) of a batch."""
    observed = time.time_ns()
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": [_attribute(k, v) for k, v in resource.items()]},
                "scopeLogs": [
                    {
                        "scope": {"name": "asgi_audit", "version": scope_version},
                        "logRecords": [log_record(line, observed) for line in lines],
                    }
                ],
            }
        ]
    }


class OtlpLogSink:
    """Sends the audit lines to an OpenTelemetry collector over OTLP/HTTP JSON.

    Args:
        endpoint: the collector's logs URL (default ``http://127.0.0.1:4318/v1/logs``).
        name: the sink's name (stats, position file).
        headers: extra HTTP headers (an API key for a hosted collector, say).
        service_name: the ``service.name`` resource attribute.
        resource: more resource attributes (``deployment.environment``, ...).
        timeout: seconds for one request.
        verify: TLS verification for ``https`` endpoints (True, or a CA bundle path).
    """

    def __init__(
        self,
        endpoint: str = "http://127.0.0.1:4318/v1/logs",
        *,
        name: str = "otlp",
        headers: Mapping[str, str] | None = None,
        service_name: str = "asgi_audit",
        resource: Mapping[str, Any] | None = None,
        timeout: float = 10.0,
        verify: bool | str = True,
    ) -> None:
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - without the extra
            raise ImportError("OtlpLogSink needs httpx: pip install 'asgi-audit[otlp]'") from exc
        from .. import __version__

        self.name = name
        self._endpoint = endpoint
        self._resource = {"service.name": service_name, **(resource or {})}
        self._version = __version__
        self._client = httpx.Client(
            timeout=timeout,
            verify=verify,
            headers={"content-type": "application/json", **(headers or {})},
        )

    def send(self, lines: Sequence[bytes]) -> None:
        body = orjson.dumps(
            otlp_request(lines, resource=self._resource, scope_version=self._version)
        )
        response = self._client.post(self._endpoint, content=body)
        response.raise_for_status()

    def close(self) -> None:
        self._client.close()
