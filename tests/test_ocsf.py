"""The OCSF profile: every event type as an OCSF 1.8.0 event that validates against
the published schema, sealed and verifiable.

The schema is the schema.ocsf.io export that ``ocsf-json-schema`` ships; that
package makes each class's JSON Schema (draft 2020-12, with the profiles an event
names), and ``jsonschema`` validates the events a real Auditor wrote.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Final

import httpx
import orjson
import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from ocsf_json_schema import (  # type: ignore[import-untyped]  # ships no types
    OcsfJsonSchemaEmbedded,
    get_ocsf_schema,
)

from asgi_audit import AuditContext, AuditMiddleware, Auditor, RequestContext
from asgi_audit.proof.verify import verify_directory
from asgi_audit.record.events import INTEGRITY_FIELDS
from asgi_audit.record.ocsf import CLASSES, OCSF_VERSION, UNMAPPED, to_ocsf
from tests.helpers import key_paths, read_events

KEY: Final = b"ocsf-test-key-0123456789abcdef01"
CLASS_NAMES: Final = {uid: name for name, (_, uid) in CLASSES.items()}


@functools.cache
def _schemas() -> OcsfJsonSchemaEmbedded:
    return OcsfJsonSchemaEmbedded(get_ocsf_schema(version=OCSF_VERSION))


@functools.cache
def _validator(name: str, profiles: tuple[str, ...]) -> Draft202012Validator:
    schema = _schemas().get_class_schema(name, profiles=list(profiles))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def violations(doc: dict[str, Any]) -> list[str]:
    """What the published schema refuses in ``doc`` (its class and profiles' schema)."""
    name = CLASS_NAMES[doc["class_uid"]]
    profiles = tuple(sorted(doc["metadata"].get("profiles", ())))
    return [
        f"{'/'.join(map(str, e.path))}: {e.message}"
        for e in _validator(name, profiles).iter_errors(doc)
    ]


async def write_every_event(log_dir: Path, **options: Any) -> None:
    auditor = Auditor(log_dir=log_dir, output_format="ocsf", **options)
    app = FastAPI()
    app.add_middleware(AuditMiddleware, auditor=auditor)

    @app.get("/items/{item_id}")
    async def read(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.delete("/items/{item_id}", status_code=403)
    async def delete(item_id: int) -> dict[str, bool]:
        return {"deleted": False}

    async with auditor:
        await auditor.login_attempt("failed", user_id="ann", error_message="bad password")
        await auditor.login_attempt("success", user_id="ann")
        await auditor.logout(user_id="ann")
        await auditor.session_event("session_created", user_id="ann")
        await auditor.injection_attempt(rule_name="ignore_previous", severity="HIGH")
        await auditor.injection_attempt(
            rule_name="role_play", severity="LOW", outcome="logged", raw_input="pretend"
        )
        await auditor.tool_blocked(tool_name="read_file", blocked_path="/etc/shadow")
        await auditor.tool_blocked(tool_name="shell", outcome="requires_approval")
        await auditor.data_access("patient", 7, purpose="treatment", user_id="dr-ann")
        await auditor.data_access("patient", ids=[1, 2], action="delete", outcome="denied")
        await auditor.emit("billing", "invoice_sent", invoice="INV-7")
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await client.get("/items/7")
            await client.delete("/items/7")


def every_doc(log_dir: Path) -> list[dict[str, Any]]:
    return [e for path in sorted(log_dir.glob("*.jsonl")) for e in read_events(path)]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import anyio

    log_dir = tmp_path_factory.mktemp("ocsf") / "logs"
    anyio.run(lambda: write_every_event(log_dir, key=KEY))
    return log_dir


def test_every_event_validates_against_the_published_schema(written: Path) -> None:
    docs = every_doc(written)
    assert len(docs) == 15  # 11 events, 2 requests, audit_started and audit_stopped
    for doc in docs:
        assert violations(doc) == [], doc
        assert doc["metadata"]["version"] == "1.8.0"
        assert doc["type_uid"] == doc["class_uid"] * 100 + doc["activity_id"]
        assert list(doc)[-1] == UNMAPPED  # the seal's object, last
        assert not INTEGRITY_FIELDS & set(doc)
    classes = sorted({(d["unmapped"]["event_type"], d["class_uid"]) for d in docs})
    assert classes == [
        ("api_access", 6003),
        ("audit_started", 6002),
        ("audit_stopped", 6002),
        ("data_access", 6005),
        ("injection_attempt", 2004),
        ("invoice_sent", 0),
        ("login_attempt", 3002),
        ("logout", 3002),
        ("session_created", 3002),
        ("tool_path_blocked", 2004),
    ]


def test_the_ocsf_trail_is_sealed_and_verifies(written: Path) -> None:
    result = verify_directory(written, KEY)
    assert result.ok, result
    assert result.lines == 15


def _by(docs: list[dict[str, Any]], **wanted: Any) -> dict[str, Any]:
    [found] = [d for d in docs if all(d["unmapped"].get(k) == v for k, v in wanted.items())]
    return found


def test_each_class_carries_what_its_consumers_query(written: Path) -> None:
    docs = every_doc(written)
    failed = _by(docs, event_type="login_attempt", outcome="failed")
    assert (failed["activity_id"], failed["status_id"], failed["status"]) == (1, 2, "Failure")
    assert failed["user"] == {"uid": "ann", "name": "ann"}
    assert failed["status_detail"] == "bad password"
    assert _by(docs, event_type="logout")["activity_id"] == 2
    session = _by(docs, event_type="session_created")
    assert (session["activity_id"], session["activity_name"]) == (99, "session_created")

    # A block is the control acting, not a failure: disposition Blocked, status New.
    blocked = _by(docs, event_type="injection_attempt", outcome="blocked")
    assert (blocked["action_id"], blocked["disposition_id"], blocked["status_id"]) == (2, 2, 1)
    assert blocked["severity_id"] == 4  # HIGH
    assert blocked["finding_info"]["title"] == "prompt injection: ignore_previous"
    assert blocked["metadata"]["profiles"] == ["security_control"]
    anonymous = _by(docs, event_type="data_access", action="delete")
    assert anonymous["actor"] == {"user": {"name": "unknown", "type_id": 0, "type": "Unknown"}}
    logged = _by(docs, event_type="injection_attempt", outcome="logged")
    assert (logged["action_id"], logged["disposition_id"]) == (1, 1)
    held = _by(docs, event_type="tool_path_blocked", outcome="requires_approval")
    assert (held["action_id"], held["disposition_id"]) == (2, 14)

    read = _by(docs, event_type="data_access", action="read")
    assert (read["class_uid"], read["activity_id"]) == (6005, 1)
    assert read["actor"] == {"user": {"uid": "dr-ann", "name": "dr-ann"}}
    deleted = _by(docs, event_type="data_access", action="delete")
    assert (deleted["activity_id"], deleted["status_id"]) == (7, 2)

    get = _by(docs, event_type="api_access", method="GET")
    assert (get["activity_id"], get["http_response"], get["status_id"]) == (2, {"code": 200}, 1)
    assert get["src_endpoint"] == {"ip": "203.0.113.9"}
    assert get["api"]["operation"] == "GET /items/{item_id}"
    assert get["http_request"]["url"] == {"path": "/items/7"}
    refused = _by(docs, event_type="api_access", method="DELETE")
    assert (refused["activity_id"], refused["http_response"], refused["status_id"]) == (
        4,
        {"code": 403},
        2,
    )
    assert _by(docs, event_type="audit_started")["app"]["name"] == "asgi_audit"
    custom = _by(docs, event_type="invoice_sent")
    assert (custom["class_uid"], custom["unmapped"]["invoice"]) == (0, "INV-7")


def test_a_changed_ocsf_line_is_named(written: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "logs"
    shutil.copytree(written, copy)
    path = copy / "auth-events.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].replace(b'"status_id":2', b'"status_id":1', 1)
    path.write_bytes(b"".join(lines))
    result = verify_directory(copy, KEY)
    assert [(b.file, b.line, b.kind) for b in result.breaks] == [
        ("auth-events.jsonl", 1, "modified")
    ]


async def test_the_reference_page_shows_a_real_line(tmp_path: Path) -> None:
    page = (Path(__file__).parent.parent / "docs" / "reference" / "ocsf.md").read_text()
    [shown_line] = re.findall(r"```json\n(.*?)\n```", page, re.DOTALL)
    shown = orjson.loads(shown_line)
    context = RequestContext(
        ip_address="203.0.113.7",
        request_id="2c0b9f4e8d1a4c7e9b3f6a5d8e2c1b0a",
        request_path="/login",
        method="POST",
        user_agent="curl/8.5.0",
    )
    async with Auditor(log_dir=tmp_path, output_format="ocsf") as auditor:
        audit = AuditContext(auditor, context)
        await audit.login_attempt("failed", user_id="ann", error_message="Invalid password")
    [real] = read_events(tmp_path / "auth-events.jsonl")
    assert violations(shown) == []
    assert key_paths(shown) == key_paths(real)
    varying = {"time", "uid", "hostname", "timestamp", "epoch_ms", "event_id", "stream", "mac"}

    def steady(doc: Any) -> Any:
        if isinstance(doc, dict):
            return {k: steady(v) for k, v in doc.items() if k not in varying}
        return doc

    assert steady(shown) == steady(real)


# --- any input --------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
likely = st.sampled_from(
    [
        "login_attempt", "logout", "api_access", "websocket_connect", "websocket_close",
        "injection_attempt", "tool_path_blocked", "data_access", "audit_started", "auth",
        "success", "failed", "blocked", "logged", "requires_approval", "GET", "DELETE",
        "read", "delete", "HIGH", "127.0.0.1", "fe80::1%eth0", "testclient", 403, 2**63,
    ]
)  # fmt: skip
keys = st.sampled_from(
    [
        "event_type", "category", "outcome", "epoch_ms", "event_id", "method", "status_code",
        "request_path", "user_id", "ip_address", "action", "severity", "rule_name",
        "tool_name", "user_agent", "query_string", "request_id", "error_message", "stream",
        "seq", "mac", "resource", "blocked_reason",
    ]
) | st.text(max_size=8)  # fmt: skip


@settings(deadline=None)  # the first example builds the schemas' validators
@given(st.dictionaries(keys, likely | values, max_size=16))
def test_any_event_converts_validates_and_loses_nothing(event: dict[str, Any]) -> None:
    before = orjson.dumps(event)
    doc = to_ocsf(event)
    assert orjson.dumps(event) == before  # not changed
    assert violations(doc) == []
    assert doc[UNMAPPED] == event  # every native field, by its own name
    assert list(doc)[-1] == UNMAPPED
    if "mac" in event:
        assert list(doc[UNMAPPED])[-1] == "mac"
