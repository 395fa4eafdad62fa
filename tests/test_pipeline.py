"""Tests for asgi_audit.record.pipeline: build -> redact -> cap -> encode, per captured event."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from typing import Any

import pytest

from asgi_audit.record.context import RequestContext
from asgi_audit.record.encoding import Caps
from asgi_audit.record.events import RawEvent
from asgi_audit.record.pipeline import Pipeline, SessionIdMode
from asgi_audit.record.redaction import REDACTED, Redactor

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
T0 = 1_780_000_000_123_456_789
SECRET = "Zq9XwV3tLk8RmN2pYb7H"  # 20 chars


def make_pipeline(
    *,
    session_ids: SessionIdMode = "hash",
    session_key: bytes = KEY,
    caps: Caps | None = None,
    redactor: Redactor | None = None,
) -> Pipeline:
    return Pipeline(
        redactor=Redactor() if redactor is None else redactor,
        caps=Caps() if caps is None else caps,
        session_ids=session_ids,
        session_key=session_key,
    )


def make_raw(
    fields: dict[str, Any] | None = None,
    *,
    context: RequestContext | None = None,
    exception: BaseException | None = None,
    category: str = "injection",
    event_type: str = "injection_attempt",
) -> RawEvent:
    return RawEvent(
        category=category,
        event_type=event_type,
        outcome="blocked",
        time_ns=T0,
        context=context,
        fields={} if fields is None else fields,
        exception=exception,
    )


def parse(line: bytes) -> dict[str, Any]:
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert len(line.decode("utf-8").splitlines()) == 1
    event = json.loads(line)
    assert isinstance(event, dict)
    return event


def test_redaction_happens_before_the_cap() -> None:
    # The secret sits at chars 490-510 of a 600-char raw_input: a cut at 500 before
    # redaction would leave its first half in the file.
    head = "a" * 480 + " password="
    raw_input = head + SECRET + " " + "b" * (600 - len(head) - len(SECRET) - 1)
    assert len(raw_input) == 600
    assert raw_input.index(SECRET) == 490
    line = make_pipeline().encode(make_raw({"raw_input": raw_input}))
    event = parse(line)
    for part in (SECRET, SECRET[:10], SECRET[10:], SECRET[:5], SECRET[-5:]):
        assert part.encode() not in line
    redacted = raw_input.replace(SECRET, REDACTED)
    assert event["raw_input"] == redacted[:500] + f"…[truncated {len(redacted) - 500} chars]"
    assert event["truncated"] is True
    assert event["truncated_fields"] == {"raw_input": len(redacted)}


def test_session_id_is_stored_as_a_keyed_hash() -> None:
    context = RequestContext(session_id="sess-abc-123", request_id="req-1")
    event = parse(make_pipeline().encode(make_raw(context=context)))
    expected = "h:" + hmac.new(KEY, b"sess-abc-123", hashlib.sha256).hexdigest()[:32]
    assert re.fullmatch(r"h:[0-9a-f]{32}", event["session_id"])
    assert event["session_id"] == expected
    assert "sess-abc-123" not in json.dumps(event)


def test_session_hash_is_stable_for_one_key_and_differs_for_another() -> None:
    context = RequestContext(session_id="sess-abc-123")
    first = parse(make_pipeline().encode(make_raw(context=context)))
    again = parse(make_pipeline().encode(make_raw(context=context)))
    other_key = parse(make_pipeline(session_key=OTHER_KEY).encode(make_raw(context=context)))
    other_session = parse(
        make_pipeline().encode(make_raw(context=RequestContext(session_id="sess-xyz")))
    )
    assert first["session_id"] == again["session_id"]
    assert first["session_id"] != other_key["session_id"]
    assert first["session_id"] != other_session["session_id"]
    assert re.fullmatch(r"h:[0-9a-f]{32}", other_key["session_id"])


def test_session_id_given_as_a_field_is_hashed_too() -> None:
    event = parse(make_pipeline().encode(make_raw({"session_id": "sess-field"})))
    assert event["session_id"] == make_pipeline().hash_session_id("sess-field")


def test_raw_session_ids_are_stored_as_sent() -> None:
    context = RequestContext(session_id="sess-abc-123")
    event = parse(make_pipeline(session_ids="raw").encode(make_raw(context=context)))
    assert event["session_id"] == "sess-abc-123"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ([2**64, "a"], [str(2**64), "a"]),
        ("s\ud800id", "s\ufffdid"),
        ({"k": b"v"}, {"k": "v"}),
    ],
)
def test_raw_session_ids_that_json_cannot_hold_are_made_plain(given: Any, stored: Any) -> None:
    # A caller's session_id field, under session_ids="raw": a huge int or a lone
    # surrogate made orjson refuse the whole event.
    raw = make_raw({"session_id": given}, event_type="x\ud800")._replace(outcome="\udc00")
    event = parse(make_pipeline(session_ids="raw").encode(raw))
    assert "encoding_error" not in event
    assert event["session_id"] == stored
    assert (event["event_type"], event["outcome"]) == ("x\ufffd", "\ufffd")


def test_the_line_of_an_event_that_failed_holds_only_what_json_can(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Whatever fails in building the event (a bug), its line still encodes: the
    # event type and outcome the caller gave are made plain as well.
    def broken(self: Pipeline, raw: RawEvent, event_id: str | None = None) -> dict[str, Any]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Pipeline, "build", broken)
    raw = make_raw(event_type="x\ud800")._replace(outcome=Unrepresentable())  # type: ignore[arg-type]
    event = parse(make_pipeline().encode(raw))
    assert event["encoding_error"] == "RuntimeError"
    assert event["event_type"] == "x\ufffd"
    assert event["outcome"].startswith("[unrepresentable Unrepresentable")
    assert "a bug" in capsys.readouterr().err


def test_omitted_session_ids_leave_no_trace() -> None:
    context = RequestContext(session_id="sess-abc-123", ip_address="10.0.0.1")
    line = make_pipeline(session_ids="omit").encode(make_raw(context=context))
    event = parse(line)
    assert "session_id" not in event
    assert b"sess-abc-123" not in line
    assert event["ip_address"] == "10.0.0.1"


class Unrepresentable:
    def __repr__(self) -> str:
        raise RuntimeError("repr refused")


def test_field_whose_repr_raises_still_gives_one_valid_line() -> None:
    raw = make_raw({"tool_name": "write_file", "payload": Unrepresentable()})
    event = parse(make_pipeline().encode(raw))
    assert event["tool_name"] == "write_file"
    assert event["payload"].startswith("[unrepresentable Unrepresentable")
    assert event["event_type"] == "injection_attempt"


def test_event_that_cannot_be_converted_still_gives_a_line_with_its_header() -> None:
    # A set of unrepresentable objects defeats to_jsonable today (see test_encoding); the
    # pipeline must still record that the event happened.
    raw = make_raw({"tool_name": "write_file", "payload": {Unrepresentable(), Unrepresentable()}})
    event = parse(make_pipeline().encode(raw))
    assert event["timestamp"] == "2026-05-28T20:26:40.123456+00:00"
    assert event["epoch_ms"] == T0 // 1_000_000
    assert event["event_type"] == "injection_attempt"
    assert event["category"] == "injection"
    assert event["outcome"] == "blocked"
    assert uuid.UUID(event["event_id"]).version == 7


def test_unrepresentable_set_field_does_not_lose_the_other_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    raw = make_raw({"tool_name": "write_file", "payload": {Unrepresentable(), Unrepresentable()}})
    event = parse(make_pipeline().encode(raw))
    assert "encoding_error" not in event, capsys.readouterr().err
    assert event["tool_name"] == "write_file"


def test_library_fields_are_not_masked_by_the_key_rule() -> None:
    context = RequestContext(session_id="sess-abc-123", request_id="req-42", agent_id="agent-7")
    event = parse(make_pipeline(session_ids="raw").encode(make_raw(context=context)))
    assert event["session_id"] == "sess-abc-123"
    assert event["request_id"] == "req-42"
    assert event["agent_id"] == "agent-7"
    assert uuid.UUID(event["event_id"]).version == 7
    assert REDACTED not in json.dumps(event)


def test_caller_fields_under_secret_keys_are_masked() -> None:
    fields = {"session_token": "tok-1", "details": {"password": "hunter2", "attempt": 3}}
    event = parse(make_pipeline().encode(make_raw(fields)))
    assert event["session_token"] == REDACTED
    assert event["details"] == {"password": REDACTED, "attempt": 3}


@pytest.mark.parametrize(
    "field",
    ["raw_input", "matched_text", "error_message", "user_agent", "blocked_reason", "details"],
)
def test_secrets_are_redacted_in_every_free_text_field(field: str) -> None:
    value: Any = f"attempt with password={SECRET} now"
    if field == "details":
        value = {"note": value, "list": [value]}
    line = make_pipeline().encode(make_raw({field: value}))
    parse(line)
    assert SECRET.encode() not in line


def test_secret_in_the_request_context_is_redacted() -> None:
    context = RequestContext(request_path=f"/cb?access_token={SECRET}&x=1", user_agent="UA")
    line = make_pipeline().encode(make_raw(context=context))
    assert SECRET.encode() not in line
    assert parse(line)["request_path"] == f"/cb?access_token={REDACTED}&x=1"


def test_secret_in_an_exception_stack_trace_is_redacted() -> None:
    try:
        raise PermissionError(f"login refused for password={SECRET}")
    except PermissionError as exc:
        caught = exc
    line = make_pipeline().encode(make_raw(exception=caught))
    event = parse(line)
    assert SECRET.encode() not in line
    assert "PermissionError" in event["stack_trace"]


def test_oversized_event_is_fitted_under_max_event_bytes() -> None:
    caps = Caps(max_event_bytes=2048)
    fields = {"stack_trace": "s" * 8000, "error_message": "e" * 2000, "tool_name": "bash"}
    line = make_pipeline(caps=caps).encode(make_raw(fields))
    event = parse(line)
    assert len(line) <= 2048
    assert event["event_type"] == "injection_attempt"
    assert event["truncated"] is True


def test_no_redactor_leaves_text_as_is() -> None:
    pipeline = Pipeline(redactor=None, caps=Caps(), session_ids="raw", session_key=KEY)
    event = parse(pipeline.encode(make_raw({"raw_input": "password=hunter2"})))
    assert event["raw_input"] == "password=hunter2"


def test_each_event_gets_a_new_time_ordered_id() -> None:
    pipeline = make_pipeline()
    ids = [parse(pipeline.encode(make_raw()))["event_id"] for _ in range(50)]
    assert len(set(ids)) == 50
    assert ids == sorted(ids)
    assert all(uuid.UUID(i).int >> 80 == T0 // 1_000_000 for i in ids)


def test_a_core_from_before_the_pipeline_leaves_the_batch_to_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An installed core of the same ENGINE but without Pipeline (an older build):
    # its scanner serves redaction, the batch and the ids stay the reference's.
    from types import SimpleNamespace

    from asgi_audit.record import pipeline as pipeline_module
    from asgi_audit.record.events import Uuid7Generator

    monkeypatch.setattr(pipeline_module, "compiled_module", lambda: SimpleNamespace(ENGINE=2))
    p = Pipeline(redactor=Redactor(), caps=Caps(), session_ids="hash", session_key=b"k" * 32)
    assert not p.native
    assert type(p._ids) is Uuid7Generator
    raw = RawEvent(
        "auth",
        "login_attempt",
        "failed",
        1_700_000_000_000_000_000,
        None,
        {"user_id": "u1", "password": "hunter2"},
    )
    (line,) = p.encode_batch([raw], lambda _: None)
    event = json.loads(line)
    assert event["user_id"] == "u1"
    assert event["password"] == REDACTED
    assert event["event_id"].startswith("018bcfe5-6800-7")
