"""The OTLP/HTTP JSON logs sink against a receiver that checks the OTLP JSON shape.

The receiver is a real HTTP server on 127.0.0.1 (in a thread of the test); it
checks each request the way a collector's OTLP/JSON decoder would read it and
answers 400 on a malformed one, or 503 while the test says the collector is down.
The sink gets the ledger's records too (``checkpoints.log``): each must arrive once,
in order, as its exact line, named ``asgi_audit.ledger.<type>``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

import pytest
from opentelemetry.sdk.trace import TracerProvider

from asgi_audit import Auditor
from asgi_audit.sinks.otlp import OtlpLogSink, log_record, otlp_request
from tests.helpers import LEDGER, is_ledger_line

HANG_GUARD: Final = 30.0
CATEGORY_FILES: Final = ("audit.jsonl", "tool-blocks.jsonl")
_DIGITS = re.compile(r"[0-9]+\Z")
_HEX = re.compile(r"[0-9a-f]+\Z")
_VALUE_KINDS = {"stringValue", "intValue", "boolValue", "doubleValue"}


def shape_errors(body: Any) -> list[str]:
    """What an OTLP/JSON ExportLogsServiceRequest decoder would refuse."""
    errors: list[str] = []

    def attrs(where: str, items: Any) -> None:
        if not isinstance(items, list):
            errors.append(f"{where}: attributes is not a list")
            return
        for a in items:
            if not (isinstance(a, dict) and isinstance(a.get("key"), str)):
                errors.append(f"{where}: attribute without a string key: {a!r}")
                continue
            value = a.get("value")
            if not (isinstance(value, dict) and len(value) == 1 and set(value) <= _VALUE_KINDS):
                errors.append(f"{where}: attribute {a['key']} value {value!r}")
            elif "intValue" in value and not _DIGITS.match(str(value["intValue"])):
                errors.append(f"{where}: intValue {value!r} is not a decimal string")

    if not isinstance(body, dict) or not isinstance(body.get("resourceLogs"), list):
        return ["no resourceLogs list"]
    for rl in body["resourceLogs"]:
        attrs("resource", rl.get("resource", {}).get("attributes", []))
        for sl in rl.get("scopeLogs", []):
            if not isinstance(sl.get("scope", {}).get("name"), str):
                errors.append("scope without a name")
            for rec in sl.get("logRecords", []):
                for key in ("timeUnixNano", "observedTimeUnixNano"):
                    if not (isinstance(rec.get(key), str) and _DIGITS.match(rec[key])):
                        errors.append(f"{key} {rec.get(key)!r} is not a decimal string")
                if not isinstance(rec.get("severityNumber"), int):
                    errors.append("severityNumber is not an integer")
                if not isinstance(rec.get("body", {}).get("stringValue"), str):
                    errors.append("body is not a stringValue")
                attrs("record", rec.get("attributes", []))
                for key, length in (("traceId", 32), ("spanId", 16)):
                    if key in rec and not (len(rec[key]) == length and _HEX.match(rec[key])):
                        errors.append(f"{key} {rec[key]!r} is not {length} hex digits")
    return errors


class Receiver(ThreadingHTTPServer):
    records: list[dict[str, Any]]
    refused: int
    down: bool
    bad: list[str]


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length))
        if self.server.down:
            self.server.refused += 1
            self.send_response(503)
        elif errors := shape_errors(body) or (
            [] if self.headers.get("content-type") == "application/json" else ["content-type"]
        ):
            self.server.bad.extend(errors)
            self.send_response(400)
        else:
            for rl in body["resourceLogs"]:
                for sl in rl["scopeLogs"]:
                    self.server.records.extend(sl["logRecords"])
            self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(("127.0.0.1", 0), Handler)
    server.records, server.refused, server.down, server.bad = [], 0, False, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def bodies(records: Sequence[dict[str, Any]], *, ledger: bool) -> list[bytes]:
    """The bodies of the event records, or of the ledger's, in the order received."""
    found = [r["body"]["stringValue"].encode() for r in list(records)]
    return [body for body in found if is_ledger_line(body) == ledger]


def attributes(record: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: a["value"] for a in record["attributes"]}


def unix_ns(timestamp: str) -> int:
    since = datetime.fromisoformat(timestamp) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (since.days * 86_400 + since.seconds) * 10**9 + since.microseconds * 1000


def test_a_ledger_record_is_named_by_its_type_and_number() -> None:
    line = (
        b'{"n":17,"prev":"' + b"ab" * 32 + b'","type":"checkpoint",'
        b'"timestamp":"2026-11-28T10:36:10.020115+00:00","deployment":"0e036f2828a97c03",'
        b'"host":"web-1","pid":4242,"epoch":3,"reason":"interval","streams":{},'
        b'"sig":"ed25519:' + b"cd" * 64 + b'"}\n'
    )
    record = log_record(line, 5)
    assert record["body"] == {"stringValue": line[:-1].decode()}
    assert attributes(record) == {
        "event.name": {"stringValue": "asgi_audit.ledger.checkpoint"},
        "asgi_audit.ledger.n": {"intValue": "17"},
    }
    assert record["timeUnixNano"] == str(unix_ns("2026-11-28T10:36:10.020115+00:00"))
    assert record["timeUnixNano"] == "1795862170020115000"
    assert (record["severityText"], record["severityNumber"]) == ("INFO", 9)
    assert "traceId" not in record
    assert shape_errors(otlp_request([line], resource={}, scope_version="0")) == []
    # An unreadable time is the time it was observed; an event is never a ledger record.
    assert log_record(line.replace(b"2026-11-28T", b"yesterday "), 5)["timeUnixNano"] == "5"
    event = line.replace(b'{"n":17,', b'{"event_id":"e-1","n":17,')
    assert attributes(log_record(event, 5)) == {"event.id": {"stringValue": "e-1"}}


async def test_every_event_reaches_the_collector_as_a_well_formed_log_record(
    tmp_path: Path, receiver: Receiver
) -> None:
    url = f"http://127.0.0.1:{receiver.server_address[1]}/v1/logs"
    sink = OtlpLogSink(url, resource={"deployment.environment": "test"})
    tracer = TracerProvider().get_tracer("t")
    async with Auditor(log_dir=tmp_path, sinks=[sink]) as auditor:
        for i in range(120):
            await auditor.tool_blocked(tool_name="read_file", blocked_path=f"/srv/{i}")
        with tracer.start_as_current_span("job") as span:
            await auditor.login_attempt("success", user_id="ann")
        await auditor.flush()
        lines = (tmp_path / "tool-blocks.jsonl").read_bytes().splitlines()
        wait_until(  # + audit_started
            lambda: len(bodies(receiver.records, ledger=False)) >= 122, "the collector"
        )

    assert receiver.bad == []
    events = bodies(receiver.records, ledger=False)
    assert [b for b in events if json.loads(b)["category"] == "tool_blocks"] == lines  # exact
    # The ledger's records, each once, in order, as the exact line; named by type and n.
    ledger = (tmp_path / LEDGER).read_bytes().splitlines()
    assert [json.loads(line)["type"] for line in ledger][-2:] == ["checkpoint", "stop"]
    assert bodies(receiver.records, ledger=True) == ledger
    for rec in receiver.records:
        record = json.loads(rec["body"]["stringValue"])
        if "event_id" in record:
            continue
        assert attributes(rec) == {
            "event.name": {"stringValue": f"asgi_audit.ledger.{record['type']}"},
            "asgi_audit.ledger.n": {"intValue": str(record["n"])},
        }
        assert rec["timeUnixNano"] == str(unix_ns(record["timestamp"]))
        assert rec["severityText"] == "INFO"
    login = next(r for r in receiver.records if '"login_attempt"' in r["body"]["stringValue"])
    ctx = span.get_span_context()
    assert login["traceId"] == f"{ctx.trace_id:032x}"
    assert login["spanId"] == f"{ctx.span_id:016x}"
    blocked = next(r for r in receiver.records if "tool_path_blocked" in r["body"]["stringValue"])
    names = {a["key"]: a["value"] for a in blocked["attributes"]}
    assert names["event.name"] == {"stringValue": "tool_path_blocked"}
    assert blocked["severityText"] == "WARN"
    event = json.loads(blocked["body"]["stringValue"])
    assert names["event.id"] == {"stringValue": event["event_id"]}
    assert blocked["timeUnixNano"] == str(event["epoch_ms"] * 1_000_000)


async def test_a_collector_that_was_down_gets_everything_once_it_is_back(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.down = True
    url = f"http://127.0.0.1:{receiver.server_address[1]}/v1/logs"
    async with Auditor(log_dir=tmp_path, sinks=[OtlpLogSink(url)]) as auditor:
        for i in range(50):
            await auditor.tool_blocked(tool_name="read_file", blocked_path=f"/srv/{i}")
        await auditor.flush()
        wait_until(lambda: receiver.refused >= 2, "the refusals")
        assert receiver.records == []
        # The receiver counts a refusal before its answer reaches the sink's thread.
        wait_until(lambda: auditor.stats()["sinks"]["otlp"]["errors"] >= 2, "the sink's errors")
        receiver.down = False
        wait_until(
            lambda: len(bodies(receiver.records, ledger=False)) >= 51,
            "the collector to catch up",
        )

    events = bodies(receiver.records, ledger=False)
    ids = [json.loads(body)["event_id"] for body in events]
    assert len(ids) == len(set(ids))  # no duplicates: refused batches were not stored
    files = {name: (tmp_path / name).read_bytes().splitlines() for name in CATEGORY_FILES}
    assert sorted(events) == sorted(line for lines in files.values() for line in lines)
    for name, lines in files.items():  # in order per category
        assert [body for body in events if body in set(lines)] == lines, name
    # The ledger's records, refused first of all, arrived once each, in order.
    assert bodies(receiver.records, ledger=True) == (tmp_path / LEDGER).read_bytes().splitlines()
