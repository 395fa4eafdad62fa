"""``data_access``: who read, exported, changed or deleted which records.

Each test records through a real Auditor into real files under ``tmp_path`` and
reads the lines back; the end-to-end test serves ``tests/apps/records.py`` under
a real uvicorn and talks to it over HTTP.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import anyio.to_thread
import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_audit import REDACTED, AuditContext, Auditor, RequestContext
from asgi_audit.cli import main as cli_main
from asgi_audit.record.access import split_ids
from asgi_audit.record.ecs import to_ecs
from tests.apps import LOG_DIR_ENV
from tests.helpers import read_events, reports
from tests.servers import run_server

FILE: Final = "data_access.jsonl"
# Credentials in their providers' published formats: a GitHub classic personal
# access token (ghp_ and 36 base62 characters) and AWS's documented example
# access key id, as a careless caller might pass them as a purpose or an id.
GITHUB_TOKEN: Final = "ghp_" + "x7Rb2QpL9mVt4KwZs1Nc8YhDf3Gj6Ue0AiOo"
AWS_KEY_ID: Final = "AKIAIOSFODNN7EXAMPLE"


def events(log_dir: Path) -> list[dict[str, Any]]:
    return read_events(log_dir / FILE)


async def test_a_read_of_one_record_is_written_with_its_owasp_name_and_resource(
    tmp_path: Path,
) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        await auditor.data_access("patient", 42, purpose="treatment", user_id="dr-ann")
    [event] = events(tmp_path)
    assert event["event_type"] == "data_access"
    assert event["category"] == "data_access"
    assert event["outcome"] == "success"
    assert event["action"] == "read"
    assert event["resource_type"] == "patient"
    assert event["resource_id"] == 42
    assert event["record_count"] == 1
    assert event["purpose"] == "treatment"
    assert event["user_id"] == "dr-ann"
    assert event["event_action"] == "sensitive_read"
    assert event["resource"] == "patient"
    assert "ids" not in event


@pytest.mark.parametrize(
    ("action", "outcome", "owasp"),
    [
        ("read", "success", "sensitive_read"),
        ("export", "success", "sensitive_read"),
        ("update", "success", "sensitive_update"),
        ("delete", "success", "sensitive_delete"),
        ("delete", "failed", "sensitive_delete"),
        ("read", "denied", "authz_fail"),
        ("export", "denied", "authz_fail"),
    ],
)
async def test_each_action_and_outcome_has_its_owasp_name(
    tmp_path: Path, action: Any, outcome: Any, owasp: str
) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        await auditor.data_access("invoice", "inv-7", action=action, outcome=outcome)
    [event] = events(tmp_path)
    assert (event["action"], event["outcome"], event["event_action"]) == (action, outcome, owasp)


def _generated() -> Iterator[int]:
    yield from range(3, 8)


@pytest.mark.parametrize(
    ("kwargs", "count", "ids"),
    [
        pytest.param({"ids": [1, 2, 3]}, 3, [1, 2, 3], id="a-list"),
        pytest.param({"ids": ("a", "b")}, 2, ["a", "b"], id="a-tuple"),
        pytest.param({"ids": _generated}, 5, [3, 4, 5, 6, 7], id="a-generator"),
        pytest.param({"ids": {9: "x", 8: "y"}}, 2, [9, 8], id="a-dict-s-keys"),
        pytest.param({"ids": []}, 0, [], id="none-found"),
        pytest.param({"ids": [1, 2], "record_count": 500}, 500, [1, 2], id="a-sample-of-500"),
        pytest.param({"resource_id": 7}, 1, None, id="one-record"),
        pytest.param({"resource_id": 7, "record_count": 0}, 0, None, id="one-missing-record"),
        pytest.param({}, None, None, id="a-query-of-unknown-size"),
        pytest.param({"record_count": 12}, 12, None, id="only-a-count"),
    ],
)
async def test_the_record_count_follows_the_ids_unless_given(
    tmp_path: Path, kwargs: dict[str, Any], count: int | None, ids: list[Any] | None
) -> None:
    if callable(kwargs.get("ids")):  # a fresh generator each run: one is used up once read
        kwargs = {**kwargs, "ids": kwargs["ids"]()}
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        await auditor.data_access("patient", **kwargs)
    [event] = events(tmp_path)
    assert event.get("record_count") == count
    assert event.get("ids") == ids


async def test_the_ids_are_copied_at_the_call(tmp_path: Path) -> None:
    # The writer reads the event later: a caller reusing its list must not change
    # what was recorded.
    wanted: list[Any] = [1, 2, 3]
    async with Auditor(log_dir=tmp_path, self_audit=False, batch_interval_ms=60_000) as auditor:
        await auditor.data_access("patient", ids=wanted)
        wanted.append(4)
        wanted[0] = "changed"
    [event] = events(tmp_path)
    assert event["ids"] == [1, 2, 3]
    assert event["record_count"] == 3


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"resource_type": ""}, ValueError, "Invalid data_access resource_type: ''"),
        ({"resource_type": None}, ValueError, "Invalid data_access resource_type: None"),
        ({"resource_type": "patient", "ids": "1,2,3"}, TypeError, "not one string: '1,2,3'"),
        ({"resource_type": "patient", "ids": b"12"}, TypeError, "not one string"),
        (
            {"resource_type": "patient", "ids": "7" * 100},
            TypeError,
            f"not one string: '{'7' * 40}'; pass resource_id=",
        ),
        ({"resource_type": "patient", "record_count": -1}, ValueError, "record_count: -1"),
        ({"resource_type": "patient", "record_count": True}, TypeError, "got True"),
        ({"resource_type": "patient", "record_count": 2.0}, TypeError, "got 2.0"),
    ],
)
@pytest.mark.parametrize("door", ["auditor", "context", "sync"])
async def test_a_wrong_argument_is_refused_at_the_call_and_nothing_is_queued(
    tmp_path: Path, door: str, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        target: Any = {
            "auditor": auditor,
            "context": AuditContext(auditor, RequestContext(request_id="req-data-1")),
            "sync": auditor.sync,
        }[door]
        with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
            target.data_access(**kwargs)
        assert auditor.stats()["enqueued"] == 0
    assert not (tmp_path / FILE).exists()


async def test_every_front_door_writes_the_same_event_with_its_context(tmp_path: Path) -> None:
    context = RequestContext(
        ip_address="203.0.113.9", user_agent="records/1.0", request_id="req-data-42"
    )
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        audit = AuditContext(auditor, context)
        await audit.data_access("patient", 1)
        await anyio.to_thread.run_sync(lambda: audit.sync.data_access("patient", 2))
        await auditor.data_access("patient", 3)
    found = events(tmp_path)
    assert [e["resource_id"] for e in found] == [1, 2, 3]
    for event in found[:2]:
        assert event["ip_address"] == "203.0.113.9"
        assert event["user_agent"] == "records/1.0"
        assert event["request_id"] == "req-data-42"
    assert "request_id" not in found[2]  # outside a request, no context


async def test_secrets_in_the_purpose_and_the_ids_are_redacted_and_the_event_stays_whole(
    tmp_path: Path,
) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        await auditor.data_access(
            "api_key",
            ids=[AWS_KEY_ID, "plain-id-1"],
            purpose=f"rotation of {GITHUB_TOKEN} after the leak",
        )
    raw = (tmp_path / FILE).read_bytes()
    assert GITHUB_TOKEN.encode() not in raw
    assert AWS_KEY_ID.encode() not in raw
    [event] = events(tmp_path)
    assert "encoding_error" not in event
    assert event["purpose"] == f"rotation of {REDACTED} after the leak"
    assert event["ids"] == [REDACTED, "plain-id-1"]
    assert event["record_count"] == 2


@pytest.mark.parametrize("size", [1_000, 200_000])
async def test_hostile_text_in_every_argument_becomes_one_valid_line(
    tmp_path: Path, size: int
) -> None:
    hostile = 'x\n{"forged": true}\u2028\ud800' + "é" * size
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        await auditor.data_access(hostile, hostile, ids=[hostile], purpose=hostile)
    data = (tmp_path / FILE).read_bytes()
    assert data.count(b"\n") == 1
    assert len(data) <= 64 * 1024  # max_event_bytes's default
    assert b"\xe2\x80\xa8" not in data  # U+2028 escaped, never raw
    event = orjson.loads(data)
    assert "forged" not in event
    assert "encoding_error" not in event
    assert event["record_count"] == 1
    if size == 1_000:  # within the caps: kept as given, the lone surrogate replaced
        assert event["resource_type"] == hostile.replace("\ud800", "\ufffd")
        assert event["resource"] == event["resource_type"]


# Ids as callers pass them: numbers, and text without the characters JSON
# escapes in more bytes than split_ids counts (quotes, backslashes, controls).
plain_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters='"\\'), max_size=60
)
record_ids = st.lists(st.integers(-(2**63), 2**64 - 1) | plain_text, max_size=400)


@given(ids=record_ids, most=st.integers(1, 300), budget=st.integers(1, 4000))
def test_split_ids_keeps_every_id_in_order_in_parts_that_fit(
    ids: list[Any], most: int, budget: int
) -> None:
    parts = split_ids(ids, most, budget)
    assert [i for part in parts for i in part] == ids
    assert parts == [[]] if not ids else all(parts)  # no empty part
    for number, part in enumerate(parts):
        assert len(part) <= most
        if len(part) > 1:  # an id over the budget alone is a part of its own
            assert len(orjson.dumps(part)) <= budget
        grown = [*part, *parts[number + 1][:1]] if number + 1 < len(parts) else part
        if len(grown) > len(part) and all(type(i) is int or i.isascii() for i in grown):
            # Where the count is exact (numbers, ASCII), a part ends only where
            # the next id does not fit.
            assert len(grown) > most or len(orjson.dumps(grown)) > budget


@pytest.mark.parametrize(
    ("ids", "most", "budget", "parts"),
    [
        ([1, 22, 333], 10, len(b"[1,22]"), [[1, 22], [333]]),  # the brackets counted once
        ([1, 22, 333], 10, len(b"[1,22,333]"), [[1, 22, 333]]),  # exactly the budget fits
        (["ab", "cd"], 10, len(b'["ab","cd"]'), [["ab", "cd"]]),
        (["ab", "cd"], 10, len(b'["ab","cd"]') - 1, [["ab"], ["cd"]]),
        ([1, 2, 3], 2, 1000, [[1, 2], [3]]),  # at most `most` ids a part
        (["é", "é"], 10, 1 + 2 * (6 + 3) - 1, [["é"], ["é"]]),  # 6 bytes a character, from above
        (["é", "é"], 10, 1 + 2 * (6 + 3), [["é", "é"]]),
        ([1.5, 2.5], 10, 1 + 2 * (3 + 3), [[1.5, 2.5]]),  # any other id: its text, quoted
        ([1.5, 2.5], 10, 1 + 2 * (3 + 3) - 1, [[1.5], [2.5]]),
        (["x" * 50], 1, 10, [["x" * 50]]),  # an id over the budget alone is a part
        ([], 5, 10, [[]]),
        # A later part starts its count afresh: the second fits its budget exactly.
        (["aaaa", "bb", "cc"], 10, len(b'["bb","cc"]'), [["aaaa"], ["bb", "cc"]]),
    ],
)
def test_split_ids_counts_each_ids_bytes_as_the_line_takes_them(
    ids: list[Any], most: int, budget: int, parts: list[list[Any]]
) -> None:
    assert split_ids(ids, most, budget) == parts


@given(
    ids=st.lists(
        st.integers(-(2**63), 2**64 - 1)
        | st.text(
            st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters='"\\'),
            max_size=20,
        ),
        min_size=1,
        max_size=50,
    )
)
def test_the_count_of_numbers_and_plain_ascii_is_exact(ids: list[Any]) -> None:
    # One part exactly as long as the JSON of the list: it fits; a byte less: it splits.
    exact = len(orjson.dumps(ids))
    assert split_ids(ids, len(ids), exact) == [ids]
    if len(ids) > 1:
        assert len(split_ids(ids, len(ids), exact - 1)) > 1


def whole_parts(found: list[dict[str, Any]]) -> list[Any]:
    """The ids of one access split into parts, checked as one access: one
    access_id, parts numbered 1..n in file order, nothing cut."""
    assert len({e["access_id"] for e in found}) == 1
    assert all(len(e["access_id"]) == 32 and int(e["access_id"], 16) >= 0 for e in found)
    assert {(e["event_type"], e["category"]) for e in found} == {("data_access", "data_access")}
    assert [(e["part"], e["parts"]) for e in found] == [
        (i, len(found)) for i in range(1, 1 + len(found))
    ]
    assert len({e["record_count"] for e in found}) == 1
    for event in found:
        assert "truncated" not in event
        assert "encoding_error" not in event
    return [i for e in found for i in e["ids"]]


async def test_more_ids_than_one_line_holds_are_split_and_none_is_lost(tmp_path: Path) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        await auditor.data_access(
            "patient", ids=range(100_000), action="export", details={"ticket": "T-7"}
        )
    data = (tmp_path / FILE).read_bytes()
    assert max(len(line) for line in data.splitlines()) <= 16 * 1024  # max_event_bytes
    found = events(tmp_path)
    assert len(found) == -(-100_000 // 256)  # the writer's max_items ids a line
    assert whole_parts(found) == list(range(100_000))
    assert {e["record_count"] for e in found} == {100_000}
    assert {e["action"] for e in found} == {"export"}
    assert all(e["details"] == {"ticket": "T-7"} for e in found)


@pytest.mark.parametrize("max_event_bytes", [2048, 16 * 1024])
async def test_long_ids_are_split_by_size_within_the_line_cap(
    tmp_path: Path, max_event_bytes: int
) -> None:
    ids = [f"{i:04d}-" + "8f14e45f-ceea-467a-9575-2a5d3b1c9e07" for i in range(600)]
    ids[7] = "Zürich-é-" + "ü" * 40  # not ASCII: up to 3 bytes a character
    async with Auditor(
        log_dir=tmp_path, self_audit=False, max_event_bytes=max_event_bytes
    ) as auditor:
        await auditor.data_access("document", ids=ids, purpose="legal hold 2026-114")
    data = (tmp_path / FILE).read_bytes()
    assert max(len(line) for line in data.splitlines()) <= max_event_bytes
    found = events(tmp_path)
    assert whole_parts(found) == ids
    assert {e["purpose"] for e in found} == {"legal hold 2026-114"}
    assert len(found) > (4 if max_event_bytes == 2048 else 2)


async def test_a_split_access_is_one_access_on_every_front_door(tmp_path: Path) -> None:
    context = RequestContext(request_id="req-split-1", ip_address="203.0.113.5")
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        audit = AuditContext(auditor, context)
        await audit.data_access("patient", ids=range(300))
        await anyio.to_thread.run_sync(lambda: audit.sync.data_access("invoice", ids=range(300)))
    found = events(tmp_path)
    by_type = {t: [e for e in found if e["resource_type"] == t] for t in ("patient", "invoice")}
    for parts in by_type.values():
        assert whole_parts(parts) == list(range(300))
        assert {(e["request_id"], e["ip_address"]) for e in parts} == {
            ("req-split-1", "203.0.113.5")
        }
        assert len({e["timestamp"] for e in parts}) == 1  # one access, one moment
    assert by_type["patient"][0]["access_id"] != by_type["invoice"][0]["access_id"]


@pytest.mark.parametrize("door", ["auditor", "sync"])
async def test_a_durable_split_access_returns_once_every_part_is_written(
    tmp_path: Path, door: str
) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False, batch_interval_ms=60_000) as auditor:
        if door == "sync":
            await anyio.to_thread.run_sync(
                lambda: auditor.sync.data_access("patient", ids=range(1000), durable=True)
            )
        else:
            await auditor.data_access("patient", ids=range(1000), durable=True)
        # Before the Auditor stops: the call returned once its last part was synced,
        # and the stream syncs its events in order.
        # (The writer lingers 60 s between batches: only the durable wait hastened it.)
        assert whole_parts(events(tmp_path)) == list(range(1000))


async def test_the_category_file_verifies_and_the_query_command_finds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Auditor(log_dir=tmp_path) as auditor:
        await auditor.data_access("patient", 1, user_id="dr-ann")
        await auditor.data_access("patient", 2, action="delete", outcome="denied", user_id="eve")
    assert cli_main(["verify", str(tmp_path)]) == 0
    capsys.readouterr()
    assert cli_main(["query", str(tmp_path), "--category", "data_access"]) == 0
    found = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["user_id"], e["action"], e["outcome"]) for e in found] == [
        ("dr-ann", "read", "success"),
        ("eve", "delete", "denied"),
    ]


@pytest.mark.parametrize(
    ("action", "outcome", "types", "ecs_outcome"),
    [
        ("read", "success", ["access"], "success"),
        ("export", "success", ["access"], "success"),
        ("update", "success", ["change"], "success"),
        ("delete", "success", ["change"], "success"),
        ("read", "denied", ["access"], "failure"),
    ],
)
async def test_in_ecs_a_data_access_is_a_database_event(
    tmp_path: Path, action: Any, outcome: Any, types: list[str], ecs_outcome: str
) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False, output_format="ecs") as auditor:
        await auditor.data_access("patient", 5, action=action, outcome=outcome)
    [doc] = events(tmp_path)
    assert doc["event"]["category"] == ["database"]
    assert doc["event"]["type"] == types
    assert doc["event"]["outcome"] == ecs_outcome
    expected = (
        "authz_fail"
        if outcome == "denied"
        else f"sensitive_{action}".replace("sensitive_export", "sensitive_read")
    )
    assert doc["event"]["action"] == expected
    assert doc["event"]["dataset"] == "asgi_audit.data_access"
    assert doc["asgi_audit"]["resource_type"] == "patient"
    assert doc["asgi_audit"]["action"] == action


def test_another_event_of_the_category_is_a_database_info_event_in_ecs() -> None:
    doc = to_ecs({"event_type": "consent_checked", "category": "data_access", "outcome": "success"})
    assert doc["event"]["category"] == ["database"]
    assert doc["event"]["type"] == ["info"]


@pytest.mark.e2e
def test_over_real_http_each_access_carries_its_request_and_user(tmp_path: Path) -> None:
    log_dir = tmp_path / "security"
    with run_server("tests.apps.records:app", {LOG_DIR_ENV: str(log_dir)}) as server:
        with httpx.Client(base_url=server.url, timeout=httpx.Timeout(10.0)) as client:
            one = client.get("/patients/4", headers={"X-Purpose": "treatment"})
            several = client.get("/patients", params={"ids": "1,2,3"})
            exported = client.post("/patients/export")
            refused = client.delete("/patients/4")
            deleted = client.delete("/patients/5", headers={"X-Role": "admin"})
            forbidden = client.get("/forbidden")
        returncode = server.stop(signal.SIGTERM)
        stderr = server.stderr
    assert returncode in (0, -signal.SIGTERM), stderr
    assert reports(stderr) == []
    statuses = [r.status_code for r in (one, several, exported, refused, deleted, forbidden)]
    assert statuses == [200, 200, 200, 403, 200, 403]
    found = events(log_dir)
    assert [
        (e["action"], e["outcome"], e.get("resource_id"), e["record_count"], e["request_id"])
        for e in found
    ] == [
        ("read", "success", 4, 1, one.headers["x-request-id"]),
        ("read", "success", None, 3, several.headers["x-request-id"]),
        ("export", "success", None, 20, exported.headers["x-request-id"]),
        ("delete", "denied", 4, 1, refused.headers["x-request-id"]),
        ("delete", "success", 5, 1, deleted.headers["x-request-id"]),
    ]
    assert found[0]["user_id"] == "dr-ann"  # set_actor, before the record
    assert found[0]["purpose"] == "treatment"
    assert found[1]["ids"] == [1, 2, 3]
    assert found[2]["ids"] == list(range(1, 21))  # a dict's keys, from the sync route
    assert {e["ip_address"] for e in found} == {"127.0.0.1"}
    # authorize: each request's record says why it was allowed or refused.
    api = {e["request_id"]: e for e in read_events(log_dir / "api-audit.jsonl")}
    decisions = [
        {k: v for k, v in api[r.headers["x-request-id"]].items() if k.startswith("authz_")}
        for r in (refused, deleted, forbidden, one)
    ]
    assert decisions == [
        {
            "authz_decision": "deny",
            "authz_reason": "role None may not delete",
            "authz_policy": "records.delete",
        },
        {"authz_decision": "allow", "authz_reason": "admin", "authz_policy": "records.delete"},
        {"authz_reason_missing": True},
        {},
    ]
    assert cli_main(["verify", str(log_dir)]) == 0
