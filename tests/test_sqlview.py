"""The pure parts of ``asgi-audit sql``: the view's SQL text, quoting, and what is
printed (a table safe for a terminal, JSON rows), property-tested with hypothesis
against a real DuckDB."""

from __future__ import annotations

import re
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_audit.cli.sql import json_row, table
from asgi_audit.cli.sqlview import COLUMNS, _path, _places, events_view, quoted, string_literal
from asgi_audit.record.ecs import ECS_FIELDS, to_ecs
from asgi_audit.record.ocsf import to_ocsf

# What DuckDB strings can hold (no NUL) and what JSON keys can be.
TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


@pytest.fixture(scope="module")
def con() -> Any:
    return duckdb.connect()


@given(text=TEXT)
def test_a_string_literal_is_the_text(con: Any, text: str) -> None:
    assert con.execute(f"SELECT {string_literal(text)}").fetchone() == (text,)


@given(name=TEXT.filter(bool))
def test_a_quoted_identifier_names_the_column(con: Any, name: str) -> None:
    cursor = con.execute(f"SELECT 1 AS {quoted(name)}")
    assert cursor.description[0][0] == name


@given(key=TEXT.filter(bool), value=TEXT)
def test_a_path_finds_its_key(con: Any, key: str, value: str) -> None:
    # Dots, brackets, stars and spaces are names, not path syntax; only the top level.
    doc = orjson.dumps({key + "_": {key: "not this"}, key: value}).decode()
    found = con.execute(
        f"SELECT json_extract_string(?::JSON, {string_literal(_path(key))})", [doc]
    ).fetchone()
    assert found == (value,)


def test_each_profile_has_the_places_of_every_column() -> None:
    for column in COLUMNS:
        assert _places("native", column.name) == [_path(column.name)]
        assert _places("ocsf", column.name) == [_path("unmapped", column.name)]
        ecs = _places("ecs", column.name)
        assert ecs[-2:] in (
            [_path("asgi_audit", column.name), _path("asgi_audit", "data", column.name)],
            [_path("asgi_audit", "data", column.name), '$."event"."duration"'],
        )
    # ECS: the ECS field first, then the namespace; event.duration last (scaled back).
    assert _places("ecs", "user_id")[0] == '$."user"."id"'
    assert _places("ecs", "duration_ms")[-1] == '$."event"."duration"'
    assert ECS_FIELDS["duration_ms"] == ("event.duration",)


SAMPLE: dict[str, Any] = {
    "timestamp": "2026-12-06T07:00:00.123456+00:00",
    "event_id": "01a24a2e-de80-727e-8487-268038f246ec",
    "event_type": "api_access",
    "category": "api_audit",
    "outcome": "success",
    "ip_address": "203.0.113.7",
    "user_id": "ann",
    "user_agent": "curl/8",
    "session_id": "s-1",
    "request_id": "r-1",
    "agent_id": "a-1",
    "method": "POST",
    "request_path": "/items",
    "status_code": 201,
    "duration_ms": 12.5,
    "tool_name": "shell",
    "blocked_path": "/etc/shadow",
    "rule_name": "r",
    "severity": "HIGH",
    "resource_type": "patient",
    "resource_id": "p-1",
    "action": "read",
    "record_count": 3,
    "purpose": "care",
    "authz_decision": "allow",
    "authz_reason": "owner",
    "stream": "0123456789abcdef",
    "seq": 7,
}


@pytest.mark.parametrize("profile", ["native", "ecs", "ocsf"])
def test_the_view_reads_each_column_from_each_profile(
    con: Any, tmp_path: Any, profile: str
) -> None:
    document = {"native": SAMPLE, "ecs": to_ecs(SAMPLE), "ocsf": to_ocsf(SAMPLE)}[profile]
    path = tmp_path / "x.jsonl"
    path.write_bytes(orjson.dumps(document) + b"\n")
    con.execute("CREATE OR REPLACE TEMP TABLE files (path VARCHAR, name VARCHAR, verified BOOLEAN)")
    con.execute("INSERT INTO files VALUES (?, 'x.jsonl', true)", [str(path)])
    con.execute("DROP VIEW IF EXISTS events")
    con.execute(events_view([str(path)], "files", 1 << 20))
    cursor = con.execute("SELECT * FROM events")
    names = [d[0] for d in cursor.description]
    [row] = cursor.fetchall()
    found = dict(zip(names, row, strict=True))
    for column in COLUMNS:
        if column.name == "timestamp":
            assert found["timestamp"].isoformat() == SAMPLE["timestamp"]
        else:
            assert found[column.name] == SAMPLE[column.name], column.name
    assert orjson.loads(found["event"]) == document
    assert (found["log_file"], found["verified"]) == ("x.jsonl", True)


def test_a_view_of_no_file_has_the_columns_and_no_row(con: Any) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE files (path VARCHAR, name VARCHAR, verified BOOLEAN)")
    con.execute("DROP VIEW IF EXISTS events")
    con.execute(events_view([], "files", 1 << 20))
    cursor = con.execute("SELECT * FROM events")
    assert cursor.fetchall() == []
    assert [d[0] for d in cursor.description] == [
        *(c.name for c in COLUMNS),
        "event",
        "log_file",
        "verified",
    ]


CELLS = st.one_of(st.none(), TEXT, st.integers(), st.floats(allow_nan=False), st.booleans())


@given(
    names=st.lists(TEXT, min_size=1, max_size=4, unique=True),
    data=st.data(),
    width=st.integers(min_value=1, max_value=80),
)
def test_a_table_is_safe_for_a_terminal_and_aligned(
    names: list[str], data: Any, width: int
) -> None:
    rows = data.draw(st.lists(st.lists(CELLS, min_size=len(names), max_size=len(names))))
    lines = table(names, rows, width)
    assert not any(UNSAFE.search(line) for line in lines)
    assert lines[-1] == f"({len(rows):,} row{'' if len(rows) == 1 else 's'})"
    assert len(lines) == len(rows) + 3
    assert set(lines[1]) <= {"-", "+"}


@given(
    row=st.lists(st.one_of(st.none(), TEXT, st.integers(-(2**63), 2**63 - 1), st.booleans()),
                 min_size=1, max_size=5),
    event=st.dictionaries(TEXT, TEXT, max_size=3),
)  # fmt: skip
def test_a_json_row_holds_the_values_and_the_event_as_json(row: list[Any], event: Any) -> None:
    names = [f"c{i}" for i in range(len(row))] + ["event"]
    line = json_row(names, [len(row)], [*row, orjson.dumps(event).decode()])
    assert b"\n" not in line
    assert orjson.loads(line) == {**dict(zip(names, row, strict=False)), "event": event}


def test_values_ecs_types_do_not_fit_are_read_from_the_namespace(con: Any, tmp_path: Any) -> None:
    odd = {**SAMPLE, "ip_address": "unknown", "status_code": "abc", "user_id": 5,
           "duration_ms": -1, "agent_id": 7}  # fmt: skip
    found = {}
    for profile, document in (("native", odd), ("ecs", to_ecs(odd)), ("ocsf", to_ocsf(odd))):
        path = tmp_path / f"{profile}.jsonl"
        path.write_bytes(orjson.dumps(document) + b"\n")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE files (path VARCHAR, name VARCHAR, verified BOOLEAN)"
        )
        con.execute("INSERT INTO files VALUES (?, 'x', true)", [str(path)])
        con.execute("DROP VIEW IF EXISTS events")
        con.execute(events_view([str(path)], "files", 1 << 20))
        cursor = con.execute("SELECT * EXCLUDE (event) FROM events")
        found[profile] = cursor.fetchall()
    assert found["ecs"] == found["native"] == found["ocsf"]
    [row] = found["native"]
    assert (row[6], row[13], row[5], row[14], row[10]) == ("unknown", None, "5", -1.0, "7")
