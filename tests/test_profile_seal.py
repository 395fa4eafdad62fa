"""Lines sealed in their last object (the ECS profile's ``asgi_audit`` namespace),
altered as an attacker who writes the log directory but holds no key would.

The seal of such a line is ``{..., "asgi_audit": {..., "stream": ..., "seq": ...,
"mac": ...}}``: its body (what the MAC covers) is the line up to ``,"mac":"`` and
``}}``. Each case copies a real trail written by the public API, makes one
alteration, and asserts the breaks ``verify`` names, by file, line and kind.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import anyio
import orjson
import pytest

from asgi_audit import Auditor
from asgi_audit.proof.integrity import seal_fields, split_mac
from asgi_audit.proof.verify import verify_directory
from asgi_audit.record.pipeline import OutputFormat

KEY: Final = b"profile-seal-test-key-0123456789abcdef"
AUTH: Final = "auth-events.jsonl"


def write_trail(log_dir: Path, output_format: OutputFormat = "ecs", users: int = 4) -> None:
    async def record() -> None:
        async with Auditor(log_dir=log_dir, output_format=output_format, key=KEY) as auditor:
            for n in range(users):
                await auditor.login_attempt("failed", user_id=f"user-{n}")

    anyio.run(record)


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    log_dir = tmp_path_factory.mktemp("genuine") / "logs"
    write_trail(log_dir)
    return log_dir


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def breaks(log_dir: Path) -> list[tuple[str, int, str]]:
    result = verify_directory(log_dir, KEY)
    return [(b.file, b.line, b.kind) for b in result.breaks]


def test_the_genuine_trail_is_sealed_in_the_namespace_and_verifies(genuine: Path) -> None:
    assert verify_directory(genuine, KEY).ok
    for raw in lines(genuine / AUTH):
        assert raw.endswith(b'"}}\n')
        split = split_mac(raw.rstrip(b"\n"))
        assert split is not None
        body, _, _ = split
        doc = orjson.loads(body)
        assert list(doc)[-1] == "asgi_audit"
        assert seal_fields(doc, raw.rstrip(b"\n")) is doc["asgi_audit"]
        assert not {"stream", "seq", "mac"} & set(doc)  # nothing of ours at the top


def _edit(index: int, change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def alter(log_dir: Path) -> None:
        path = log_dir / AUTH
        found = lines(path)
        found[index] = change(found[index])
        path.write_bytes(b"".join(found))

    return alter


def _to_top_level(raw: bytes) -> bytes:
    # The same fields, the seal moved out of the namespace to the top level: the
    # form of a native line, as an attacker might rewrite it to read elsewhere.
    doc: dict[str, Any] = orjson.loads(raw)
    nested = doc["asgi_audit"]
    seal = {k: nested.pop(k) for k in ("stream", "seq", "mac") if k in nested}
    return orjson.dumps({**doc, **seal}) + b"\n"


CASES: Final[dict[str, tuple[Callable[[Path], None], list[tuple[str, int, str]]]]] = {
    "a value in the namespace": (
        _edit(1, lambda r: r.replace(b'"outcome":"failed"', b'"outcome":"success"', 1)),
        [(AUTH, 2, "modified")],
    ),
    "a value outside it": (
        _edit(1, lambda r: r.replace(b'"id":"user-1"', b'"id":"user-9"', 1)),
        [(AUTH, 2, "modified")],
    ),
    "the seq in the namespace": (
        _edit(2, lambda r: r.replace(b'"seq":3', b'"seq":2', 1)),
        [(AUTH, 3, "inserted")],  # as for a native line: a second seq 2 in its place
    ),
    "a closing brace added": (
        _edit(1, lambda r: r.replace(b'"}}\n', b'"}}}\n')),
        [(AUTH, 2, "modified")],
    ),
    "a closing brace taken away": (
        _edit(1, lambda r: r.replace(b'"}}\n', b'"}\n')),
        [(AUTH, 2, "modified")],
    ),
    "the seal moved to the top level": (_edit(1, _to_top_level), [(AUTH, 2, "modified")]),
    "a field planted before the seal": (
        _edit(1, lambda r: r.replace(b',"stream":', b',"note":"x","stream":', 1)),
        [(AUTH, 2, "modified")],
    ),
    "a planted namespace before the real one": (
        _edit(
            1, lambda r: r.replace(b'"asgi_audit":{', b'"asgi_audit":{"seq":1},"asgi_audit":{', 1)
        ),
        [(AUTH, 2, "modified")],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_an_alteration_is_named(genuine: Path, tmp_path: Path, name: str) -> None:
    copy = tmp_path / "logs"
    shutil.copytree(genuine, copy)
    alter, expected = CASES[name]
    alter(copy)
    found = breaks(copy)
    for wanted in expected:
        assert wanted in found, found
    assert not verify_directory(copy, KEY).ok


def test_lines_swapped_and_a_line_deleted_are_named(genuine: Path, tmp_path: Path) -> None:
    swapped = tmp_path / "swapped"
    shutil.copytree(genuine, swapped)
    found = lines(swapped / AUTH)
    found[1], found[2] = found[2], found[1]
    (swapped / AUTH).write_bytes(b"".join(found))
    assert not verify_directory(swapped, KEY).ok
    deleted = tmp_path / "deleted"
    shutil.copytree(genuine, deleted)
    found = lines(deleted / AUTH)
    del found[1]
    (deleted / AUTH).write_bytes(b"".join(found))
    assert not verify_directory(deleted, KEY).ok


def test_a_native_trail_carried_on_in_ecs_verifies_across_the_change(tmp_path: Path) -> None:
    # The same directory written natively, then (after a restart) as ECS: the first
    # ECS line names, in its namespace, where the native stream of the file ended.
    log_dir = tmp_path / "logs"
    write_trail(log_dir, "native", users=2)
    write_trail(log_dir, "ecs", users=2)
    result = verify_directory(log_dir, KEY)
    assert result.ok, result
    raw = lines(log_dir / AUTH)
    assert [r.endswith(b'"}}\n') for r in raw] == [False, False, True, True]
    first_ecs = orjson.loads(raw[2])["asgi_audit"]
    last_native = orjson.loads(raw[1])
    assert (first_ecs["prev_stream"], first_ecs["prev_seq"]) == (
        last_native["stream"],
        last_native["seq"],
    )
    assert first_ecs["prev_mac"] == last_native["mac"]
