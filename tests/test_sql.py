"""``asgi-audit sql``: SQL over a checked trail, on a real DuckDB.

Trails are written by real Auditors under ``tmp_path`` (rotated, gzipped, sealed
forward-secure); the commands run in process. The attacker of these tests can
write the log directory: change, insert, append, delete lines, plant or remove
files, put a symlink at a file's name. What they must not get is a row of theirs
read as verified, or a query that reaches beyond the trail.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import anyio
import pytest

from asgi_audit import Auditor
from asgi_audit.cli import main as cli_main
from asgi_audit.cli.checked import checked_trail
from asgi_audit.cli.database import lock_down, open_database
from asgi_audit.proof.keydir import KEY_DIR_ENV
from asgi_audit.proof.keyfiles import VERIFICATION_KEY_FILE, read_verification_key

USERS: Final = 30
#: Every auth line once: how many rows, how many distinct event ids.
AUTH_ONCE: Final = (
    "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events WHERE category = 'auth'"
)
Run = Callable[..., tuple[int, str, str]]


def write_trail(log_dir: Path, **options: Any) -> None:
    """USERS failed logins, USERS data reads, USERS api calls; rotated every ~2 KiB."""

    async def record() -> None:
        settings: dict[str, Any] = {
            "log_dir": log_dir,
            "key_dir": log_dir.with_name("keys"),
            "rotate_max_mb": 0.002,
            "compress_rotated": True,
            **options,
        }
        if settings["key_dir"] is None:
            del settings["key_dir"]
        async with Auditor(**settings) as auditor:
            for n in range(USERS):
                await auditor.login_attempt("failed", user_id=f"user-{n}", ip_address="203.0.113.9")
                await auditor.data_access("patient", f"p-{n}", user_id=f"user-{n}")
                await auditor.api_access(
                    method="GET", request_path=f"/items/{n}", status_code=200, duration_ms=1.5
                )
                await auditor.flush()

    anyio.run(record)


def key_file(log_dir: Path) -> str:
    return str(log_dir.with_name("keys") / VERIFICATION_KEY_FILE)


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    log_dir = tmp_path / "logs"
    write_trail(log_dir)
    return log_dir


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def go(query: str, log_dir: Path, *extra: str, key: bool = True) -> tuple[int, str, str]:
        capsys.readouterr()  # what came before (a trail's making) is not the command's
        argv = ["sql", query, str(log_dir), *extra]
        if key:
            argv += ["--verification-key", key_file(log_dir)]
        status = cli_main(argv)
        out, err = capsys.readouterr()
        return status, out, err

    return go


def rows(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def lines_of(path: Path) -> list[bytes]:
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        data: bytes = fh.read()
    return data.splitlines(keepends=True)


def rewrite(path: Path, lines: list[bytes]) -> None:
    data = b"".join(lines)
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)


def a_rotated_gz(log_dir: Path, prefix: str = "auth-events") -> Path:
    return sorted(log_dir.glob(f"{prefix}.jsonl.*.rotated.gz"))[0]


def test_every_line_of_current_rotated_and_gzipped_files_is_a_verified_row(
    trail: Path, run: Run
) -> None:
    kinds = {(p.name.endswith(".gz"), ".rotated" in p.name) for p in trail.glob("*.jsonl*")}
    assert {(True, True), (False, False)} <= kinds  # gzipped rotated files, current ones
    status, out, err = run(
        "SELECT category, count(*) AS n, bool_and(verified) AS ok FROM events "
        "GROUP BY ALL ORDER BY category",
        trail,
        "--format",
        "jsonl",
    )
    assert (status, err) == (0, "")
    found = {r["category"]: (r["n"], r["ok"]) for r in rows(out)}
    assert found["auth"] == found["data_access"] == found["api_audit"] == (USERS, True)
    # log_files: every file, each verified, its rows read from it
    status, out, _ = run(
        "SELECT f.name, f.verified, f.compressed, f.current, count(e.log_file) AS n "
        "FROM log_files f LEFT JOIN events e ON e.log_file = f.name GROUP BY ALL",
        trail,
        "--format",
        "jsonl",
    )
    files = rows(out)
    assert status == 0
    on_disk = sorted(
        p.name for p in trail.iterdir() if ".jsonl" in p.name and not p.name.startswith(".")
    )
    assert sorted(f["name"] for f in files) == on_disk
    assert all(f["verified"] for f in files)
    for f in files:
        assert f["n"] == len(lines_of(trail / f["name"]))


def test_the_columns_hold_the_events_fields_and_event_the_line_as_written(
    trail: Path, run: Run
) -> None:
    status, out, _ = run(
        "SELECT * FROM events WHERE category = 'api_audit' ORDER BY timestamp",
        trail,
        "--format",
        "jsonl",
    )
    assert status == 0
    found = rows(out)
    assert [r["request_path"] for r in found] == [f"/items/{n}" for n in range(USERS)]
    raw = {line.rstrip(b"\n") for p in trail.glob("api-audit.jsonl*") for line in lines_of(p)}
    for r in found:
        event = r["event"]
        assert (r["status_code"], r["method"], r["duration_ms"]) == (200, "GET", 1.5)
        assert (r["event_type"], r["outcome"], r["event_id"]) == (
            "api_access",
            "success",
            event["event_id"],
        )
        assert r["timestamp"] == event["timestamp"]
        assert (r["stream"], r["seq"]) == (event["stream"], event["seq"])
        # The line exactly as written is in the output: its seal can be checked again.
        assert any(line in out.encode() for line in raw)
    assert sum(line in out.encode() for line in raw) == USERS


@pytest.mark.parametrize("output_format", ["ecs", "ocsf"])
def test_ecs_and_ocsf_lines_give_the_columns_native_lines_give(
    tmp_path: Path, run: Run, output_format: str
) -> None:
    native, other = tmp_path / "native" / "logs", tmp_path / "other" / "logs"
    write_trail(native)
    write_trail(other, output_format=output_format)
    query = (
        "SELECT * EXCLUDE (event, log_file, stream, seq, timestamp, event_id) FROM events "
        "WHERE category <> 'audit' ORDER BY category, coalesce(user_id, request_path)"
    )
    status, mine, _ = run(query, native, "--format", "jsonl")
    assert status == 0
    status, theirs, _ = run(query, other, "--format", "jsonl")
    assert status == 0
    assert rows(theirs) == rows(mine)
    assert len(rows(mine)) == 3 * USERS
    assert {r["ip_address"] for r in rows(mine) if r["category"] == "auth"} == {"203.0.113.9"}


# -- the attacker's changes ----------------------------------------------------------


def _to_mallory(line: bytes) -> bytes:
    old = json.loads(line)["user_id"]
    changed = line.replace(f'"user_id":"{old}"'.encode(), b'"user_id":"mallory"')
    assert changed != line
    return changed


def _change_a_gzipped_line(log_dir: Path) -> str:
    path = a_rotated_gz(log_dir)
    lines = lines_of(path)
    lines[0] = _to_mallory(lines[0])
    rewrite(path, lines)
    return path.name


def _change_a_current_line(log_dir: Path) -> str:
    path = log_dir / "auth-events.jsonl"
    lines = lines_of(path)
    lines[-1] = _to_mallory(lines[-1])
    rewrite(path, lines)
    return path.name


def _append_a_forged_line(log_dir: Path) -> str:
    path = log_dir / "auth-events.jsonl"
    last = json.loads(lines_of(path)[-1])
    forged = {**last, "user_id": "mallory", "seq": last["seq"] + 1}
    with path.open("ab") as fh:
        fh.write(json.dumps(forged, separators=(",", ":")).encode() + b"\n")
    return path.name


def _insert_a_copied_line(log_dir: Path) -> str:
    path = a_rotated_gz(log_dir)
    lines = lines_of(path)
    rewrite(path, [lines[0], lines[0].replace(b"user-", b"mallory-"), *lines[1:]])
    return path.name


def _plant_a_rotated_file(log_dir: Path) -> str:
    source = a_rotated_gz(log_dir)
    lines = [line.replace(b"user-", b"mallory-") for line in lines_of(source)]
    planted = log_dir / "auth-events.jsonl.20200101_000000.rotated"
    rewrite(planted, lines)
    return planted.name


def _delete_a_line(log_dir: Path) -> str:
    path = a_rotated_gz(log_dir)
    lines = lines_of(path)
    assert len(lines) > 1
    rewrite(path, lines[1:])
    # and a forged line where the trail stays readable
    with (log_dir / "auth-events.jsonl").open("ab") as fh:
        fh.write(b'{"user_id":"mallory","category":"auth"}\n')
    return path.name


TAMPERING: Final = {
    "a gzipped line changed": _change_a_gzipped_line,
    "a current line changed": _change_a_current_line,
    "a forged line appended": _append_a_forged_line,
    "a copied line inserted": _insert_a_copied_line,
    "a rotated file planted": _plant_a_rotated_file,
    "a line deleted, one appended": _delete_a_line,
}


@pytest.mark.parametrize("tamper", TAMPERING.values(), ids=TAMPERING.keys())
def test_a_file_that_does_not_verify_is_refused_or_flagged(
    trail: Path, run: Run, tamper: Callable[[Path], str]
) -> None:
    name = tamper(trail)
    query = (
        "SELECT user_id, log_file, verified FROM events WHERE category = 'auth' "
        "ORDER BY user_id, log_file"
    )
    status, out, err = run(query, trail, "--format", "jsonl")
    assert status == 1
    assert f"{name} does not verify" in err
    refused = rows(out)
    assert refused
    assert all(r["verified"] for r in refused)
    assert not any("mallory" in (r["user_id"] or "") for r in refused)
    assert name not in {r["log_file"] for r in refused}
    # Flagged: the same rows, and the file's rows too, each marked.
    status, out, err = run(query, trail, "--format", "jsonl", "--unverified", "flag")
    assert status == 1
    assert "its rows say verified = false" in err
    flagged = rows(out)
    assert [r for r in flagged if r["verified"]] == refused
    theirs = [r for r in flagged if not r["verified"]]
    assert theirs
    assert {r["log_file"] for r in theirs} >= {name}
    assert any("mallory" in (r["user_id"] or "") for r in flagged if not r["verified"])


def test_a_symlink_at_a_files_name_is_never_read(trail: Path, run: Run, tmp_path: Path) -> None:
    forged = tmp_path / "forged.jsonl"
    forged.write_bytes(b'{"user_id":"mallory","category":"auth"}\n')
    current = trail / "auth-events.jsonl"
    current.unlink()
    current.symlink_to(forged)
    query = "SELECT user_id FROM events WHERE category = 'auth'"
    for mode in ("refuse", "flag"):
        status, out, err = run(query, trail, "--format", "jsonl", "--unverified", mode)
        assert status == 1
        assert "auth-events.jsonl" in err
        assert "symlink" in err
        assert "mallory" not in out


def test_a_deleted_file_is_named_and_the_rest_still_read(trail: Path, run: Run) -> None:
    gone = a_rotated_gz(trail, "data_access")
    kept = len(lines_of(gone))
    gone.unlink()
    query = "SELECT verified, count(*) AS n FROM events WHERE category = 'data_access' GROUP BY 1"
    status, out, err = run(query, trail, "--format", "jsonl", "--unverified", "flag")
    assert status == 1
    # The next file of the stream is where the gap shows: it is the one named.
    assert "deleted at line 1" in err
    assert "record says it was deleted" in err
    [named] = [p for p in trail.glob("data_access.jsonl*") if f"{p.name} does not verify" in err]
    found = {r["verified"]: r["n"] for r in rows(out)}
    assert found == {True: USERS - kept - len(lines_of(named)), False: len(lines_of(named))}


def test_lines_added_after_the_check_are_not_read(trail: Path, tmp_path: Path) -> None:
    key = read_verification_key(Path(key_file(trail)))
    spill = tmp_path / "spill"
    spill.mkdir()
    with checked_trail(trail, None, key) as checked:
        assert all(f.verified for f in checked.files)
        with (trail / "auth-events.jsonl").open("ab") as fh:
            fh.write(b'{"user_id":"mallory","category":"auth"}\n')
        con = open_database(checked, "refuse", spill)
        lock_down(con, [str(f.path) for f in checked.files], spill)
        [(n, mallory)] = con.execute(
            "SELECT count(*), count(*) FILTER (user_id = 'mallory') FROM events "
            "WHERE category = 'auth'"
        ).fetchall()
        con.close()
        assert (n, mallory) == (USERS, 0)
        assert checked.changed() == []  # the current file is read from its copy


def rewritten_after_the_check(trail: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The attacker rewrites a rotated file between the check and the reading."""
    from asgi_audit.cli import database

    real = database.open_database
    target = a_rotated_gz(trail, "api-audit")

    def attacker_then_open(*args: Any) -> Any:
        rewrite(target, [line.replace(b"/items/", b"/mallory/") for line in lines_of(target)])
        return real(*args)

    monkeypatch.setattr(database, "open_database", attacker_then_open)
    return target


def test_a_rotated_file_changed_while_it_is_read_is_named(
    trail: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = rewritten_after_the_check(trail, monkeypatch)
    query = "SELECT request_path FROM events WHERE request_path LIKE '/mallory/%'"
    # A table is shown once every row is in hand: a change found by then shows nothing.
    status, out, err = run(query, trail)
    assert (status, out) == (1, "")
    assert f"{target.name} changed while it was read" in err
    # Streaming rows are printed as they come: the change is named at the end.
    status, out, err = run(query, trail, "--format", "jsonl")
    assert status == 1
    assert f"{target.name} changed while it was read" in err


# -- what a query may do ---------------------------------------------------------------


HOSTILE: Final = {
    "read another file": "SELECT * FROM read_text('/etc/passwd')",
    "read the keys": "SELECT * FROM read_text('{keys}/sealing.key')",
    "list a directory": "SELECT * FROM glob('{trail}/*')",
    "write a file": "COPY (SELECT 1) TO '{trail}/auth-events.jsonl'",
    "change a setting": "SET enable_external_access = true",
    "attach a database": "ATTACH '{trail}/x.db'",
    "install an extension": "INSTALL httpfs",
    "load an extension": "LOAD httpfs",
    "read a csv elsewhere": "SELECT * FROM read_csv('/etc/passwd', sep = ':')",
    "a copy after a select": "SELECT * FROM events; COPY log_files TO '/tmp/x'",
    "two statements": "SELECT 1; SELECT 2",
    "create a table": "CREATE TABLE t AS SELECT 1",
    "delete rows": "DELETE FROM log_files",
    "not SQL": "SELEKT * FROM events",
    "a path that climbs out": "SELECT * FROM read_text('{trail}/../keys/sealing.key')",
}


@pytest.mark.parametrize("query", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_query_reads_the_trail_and_nothing_else(trail: Path, run: Run, query: str) -> None:
    before = {p.name: p.read_bytes() for p in trail.iterdir() if p.is_file()}
    text = query.format(trail=trail, keys=trail.with_name("keys"))
    status, out, err = run(text, trail)
    assert status == 2
    assert err.startswith("asgi-audit: ")
    assert "root:" not in out
    assert "PRIVATE" not in out
    assert not (trail / "x.db").exists()
    after = {p.name: p.read_bytes() for p in trail.iterdir() if p.is_file()}
    assert {k: v for k, v in after.items() if k in before} == before


def test_a_refused_files_bytes_are_out_of_reach_too(trail: Path, run: Run) -> None:
    name = _change_a_gzipped_line(trail)
    status, out, err = run(
        f"SELECT content FROM read_text('{trail / name}')",  # noqa: S608
        trail,
        "--format",
        "jsonl",
    )
    assert status == 2
    assert "Permission" in err
    assert "mallory" not in out


def test_values_are_shown_safely_in_a_table(tmp_path: Path, run: Run) -> None:
    log_dir = tmp_path / "logs"

    async def record() -> None:
        async with Auditor(log_dir=log_dir, key_dir=tmp_path / "keys") as auditor:
            await auditor.login_attempt(
                "failed", user_id="\x1b[31mroot\x1b[0m", user_agent="evil\u202egnp.exe\r\n"
            )

    anyio.run(record)
    status, out, _ = run("SELECT user_id, user_agent FROM events WHERE category = 'auth'", log_dir)
    assert status == 0
    assert "\x1b" not in out
    assert "\u202e" not in out
    assert "\r" not in out
    assert "\\u001b[31mroot" in out
    assert "\\u202e" in out
    assert out.splitlines()[-1] == "(1 row)"
    status, out, _ = run(
        "SELECT user_id FROM events WHERE category = 'auth'", log_dir, "--format", "jsonl"
    )
    assert rows(out) == [{"user_id": "\x1b[31mroot\x1b[0m"}]


# -- keys, verdicts and the choices -----------------------------------------------------


def test_without_the_key_nothing_is_verified_and_verify_says_what_to_give(
    trail: Path, run: Run
) -> None:
    status, out, err = run("SELECT count(*) AS n FROM events", trail, "--format", "jsonl",
                           key=False)  # fmt: skip
    assert status == 3
    assert "sealed with a key, checked without one" in err
    assert "--verification-key" in err
    assert rows(out) == [{"n": 0}]


def test_an_unkeyed_trail_exits_4_unless_accepted(tmp_path: Path, run: Run) -> None:
    log_dir = tmp_path / "logs"
    write_trail(log_dir, sealing="unkeyed")
    query = "SELECT count(*) AS n, bool_and(verified) AS ok FROM events WHERE category = 'auth'"
    status, out, err = run(query, log_dir, "--format", "jsonl", key=False)
    assert (status, rows(out)) == (4, [{"n": USERS, "ok": True}])
    assert "sealed without a key" in err
    status, out, err = run(query, log_dir, "--format", "jsonl", "--accept-unkeyed", key=False)
    assert (status, err, rows(out)) == (0, "", [{"n": USERS, "ok": True}])


def test_an_unsealed_trail_is_refused_and_can_be_read_flagged(tmp_path: Path, run: Run) -> None:
    log_dir = tmp_path / "logs"
    write_trail(log_dir, integrity=False)
    query = "SELECT count(*) AS n, bool_or(verified) AS any FROM events WHERE category = 'auth'"
    status, out, err = run(query, log_dir, "--format", "jsonl", key=False)
    assert (status, rows(out)) == (1, [{"n": 0, "any": None}])
    assert "does not verify" in err
    status, out, _ = run(query, log_dir, "--format", "jsonl", "--unverified", "flag", key=False)
    assert (status, rows(out)) == (1, [{"n": USERS, "any": False}])


def test_no_verify_reads_every_file_unchecked(trail: Path, run: Run) -> None:
    _change_a_gzipped_line(trail)
    status, out, err = run(
        "SELECT count(*) AS n, count(verified) AS checked FROM events WHERE category = 'auth'",
        trail,
        "--format",
        "jsonl",
        "--no-verify",
        key=False,
    )
    assert (status, rows(out)) == (0, [{"n": USERS, "checked": 0}])
    assert "not verified (--no-verify)" in err


def test_an_empty_log_directory_has_no_rows(tmp_path: Path, run: Run) -> None:
    status, out, err = run(
        "SELECT count(*) AS n FROM events", tmp_path, "--format", "jsonl", "--no-verify",
        key=False,
    )  # fmt: skip
    assert (status, rows(out)) == (0, [{"n": 0}])
    assert "not verified" in err


def test_without_duckdb_the_command_says_how_to_get_it(
    trail: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)
    status, out, err = run("SELECT 1", trail)
    assert (status, out) == (2, "")
    assert "pip install 'asgi-audit[sql]'" in err


def test_a_query_error_is_one_line_and_exit_2(trail: Path, run: Run) -> None:
    status, out, err = run("SELECT no_such_column FROM events", trail)
    assert (status, out) == (2, "")
    assert err.startswith("asgi-audit: the query failed: ")
    assert "no_such_column" in err


@pytest.mark.access_recorded
def test_the_query_is_recorded_in_the_trail_it_reads(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The keys where every command finds them without being told.
    monkeypatch.setenv(KEY_DIR_ENV, str(tmp_path / "state"))
    log_dir = tmp_path / "logs"
    write_trail(log_dir, key_dir=None)
    query = (
        "SELECT event->>'$.command' AS c, event->>'$.stage' AS s, verified FROM events "
        "WHERE event_type = 'audit_trail_access'"
    )
    status, out, err = run(query, log_dir, "--format", "jsonl", key=False)
    assert (status, err) == (0, "")
    assert rows(out) == [{"c": "sql", "s": "start", "verified": True}]
    status, out, _ = run(query, log_dir, "--format", "jsonl", key=False)
    assert [r["s"] for r in rows(out)] == ["start", "end", "start"]


# -- a trail that moves while it is checked and read -------------------------------------


def _gzip_in_place(path: Path, content: bytes | None = None) -> None:
    """What rotation's compression does: the .gz beside the plain file, then the plain
    file removed."""
    gz = path.with_name(path.name + ".gz")
    gz.write_bytes(gzip.compress(path.read_bytes() if content is None else content))
    path.unlink()


@pytest.fixture
def plain_trail(tmp_path: Path) -> Path:
    log_dir = tmp_path / "logs"
    write_trail(log_dir, compress_rotated=False)
    return log_dir


def _rotate(log_dir: Path, stamp: str = "20991231_235959") -> None:
    """What the writer does at a rotation: the current file renamed, a new one made."""
    current = log_dir / "auth-events.jsonl"
    current.rename(log_dir / f"auth-events.jsonl.{stamp}.rotated")
    current.touch(mode=0o600)


def test_a_rotation_during_the_check_changes_nothing_read(
    plain_trail: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asgi_audit.proof.verify import verify_directory as real

    calls: list[int] = []

    def rotate_then_verify(*args: Any, **kwargs: Any) -> Any:
        _rotate(plain_trail)  # while the check runs, the writer rotates
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr("asgi_audit.cli.checked.verify_directory", rotate_then_verify)
    status, out, err = run(
        AUTH_ONCE,
        plain_trail,
        "--format",
        "jsonl",
    )
    assert (status, err) == (0, "")
    assert len(calls) == 1
    assert rows(out) == [{"n": USERS, "ids": USERS}]  # every line once: the copy's


def test_a_rotation_between_listing_and_copying_starts_again(
    plain_trail: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asgi_audit.store.snapshot import copy_whole_lines as real

    rotations: list[int] = []

    def rotate_then_copy(source: Path, target: Path) -> None:
        if source.name == "auth-events.jsonl" and len(rotations) < 2:
            _rotate(plain_trail, f"2099123{len(rotations)}_235959")
            rotations.append(1)
        real(source, target)

    monkeypatch.setattr("asgi_audit.cli.checked.copy_whole_lines", rotate_then_copy)
    query = AUTH_ONCE
    status, out, err = run(query, plain_trail, "--format", "jsonl")
    assert (status, err) == (0, "")
    assert len(rotations) == 2  # twice a rotation under the copy, then a clean one
    assert rows(out) == [{"n": USERS, "ids": USERS}]

    # Every time: the check gives up, and says so.
    def always_rotate(source: Path, target: Path) -> None:
        if source.name == "auth-events.jsonl":
            _rotate(plain_trail, f"20991230_{len(rotations):06d}")
            rotations.append(1)
        real(source, target)

    monkeypatch.setattr("asgi_audit.cli.checked.copy_whole_lines", always_rotate)
    status, out, err = run(query, plain_trail, "--format", "jsonl")
    assert (status, out) == (2, "")
    assert "rotated while it was copied, 3 times: try again" in err


def test_a_file_gzipped_after_the_check_is_read_from_its_gz(
    plain_trail: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asgi_audit.cli import database

    real = database.open_database
    plain = sorted(plain_trail.glob("auth-events.jsonl.*.rotated"))[0]

    def gzip_then_open(*args: Any) -> Any:
        if plain.exists():
            _gzip_in_place(plain)
        return real(*args)

    monkeypatch.setattr(database, "open_database", gzip_then_open)
    status, out, err = run(
        "SELECT log_file, count(*) AS n FROM events WHERE category = 'auth' GROUP BY 1",
        plain_trail,
        "--format",
        "jsonl",
    )
    assert (status, err) == (0, "")
    found = {r["log_file"]: r["n"] for r in rows(out)}
    assert sum(found.values()) == USERS
    assert found[plain.name] == len(lines_of(plain.with_name(plain.name + ".gz")))


@pytest.mark.parametrize("mode", ["refuse", "flag"])
def test_a_file_gzipped_into_other_bytes_after_the_check_is_not_read(
    plain_trail: Path, run: Run, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from asgi_audit.cli import database

    real = database.open_database
    plain = sorted(plain_trail.glob("auth-events.jsonl.*.rotated"))[0]
    kept = len(lines_of(plain))

    def forge_then_open(*args: Any) -> Any:
        if plain.exists():
            forged = b"".join(_to_mallory(line) for line in lines_of(plain))
            _gzip_in_place(plain, forged)
        return real(*args)

    monkeypatch.setattr(database, "open_database", forge_then_open)
    status, out, err = run(
        "SELECT count(*) AS n, count(*) FILTER (user_id = 'mallory') AS m FROM events "
        "WHERE category = 'auth'",
        plain_trail,
        "--format",
        "jsonl",
        "--unverified",
        mode,
    )
    assert status == 1
    assert f"{plain.name} was gzipped since it was checked, into other bytes" in err
    assert rows(out) == [{"n": USERS - kept, "m": 0}]


def documented_queries() -> list[str]:
    """Every ``asgi-audit sql "..."`` of the docs' pages, its query."""
    found = []
    for page in ("how-to/sql.md", "reference/cli.md"):
        text = (Path(__file__).parents[1] / "docs" / page).read_text(encoding="utf-8")
        for line in text.splitlines():
            if line.startswith('asgi-audit sql "'):
                found.append(shlex.split(line)[2])
    return found


def test_the_docs_show_queries() -> None:
    assert len(documented_queries()) >= 9


@pytest.mark.parametrize("query", documented_queries())
def test_every_documented_query_runs(trail: Path, run: Run, query: str) -> None:
    status, out, err = run(query, trail, "--unverified", "flag")
    assert (status, err) == (0, "")
    assert out.splitlines()[-1].endswith(("row)", "rows)"))


def test_a_trail_of_another_static_key_is_not_read_and_its_breaks_are_few_lines(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_dir = tmp_path / "logs"
    write_trail(log_dir, key=b"the-key-the-app-ran-with-0123456789abcdef")
    monkeypatch.setenv("ASGI_AUDIT_KEY", "another-key-given-to-the-query-0123456789")
    status, out, err = run(
        "SELECT count(*) AS n FROM events", log_dir, "--format", "jsonl", key=False
    )
    assert status == 3
    assert rows(out) == [{"n": 0}]
    assert "sealed with another key" in err
    assert 1 <= err.count("checkpoints.log:") <= 20
    assert err.count("does not verify") == 20
    files = sum(1 for p in log_dir.iterdir() if ".jsonl" in p.name and p.name[0] != ".")
    assert f"and {files - 20:,} more files that do not verify" in err
    assert len(err.splitlines()) < 50


def test_verify_reads_the_snapshot_in_place_of_the_files_that_grow(
    trail: Path, tmp_path: Path
) -> None:
    from asgi_audit.proof.verify import verify_directory
    from asgi_audit.store.snapshot import copy_whole_lines

    key = read_verification_key(Path(key_file(trail)))
    copies = tmp_path / "copies"
    copies.mkdir()
    currents = [p.name for p in trail.glob("*.jsonl")]
    snapshot = {n: copies / n for n in [*currents, "checkpoints.log"]}
    for name, copy in snapshot.items():
        copy_whole_lines(trail / name, copy)
    _change_a_current_line(trail)  # after the copies: the live file is altered
    assert not verify_directory(trail, None, verification_key=key).ok
    assert verify_directory(trail, None, verification_key=key, snapshot=snapshot).ok
    # A current file without a copy is not read; one whose copy is gone reads as absent.
    del snapshot["auth-events.jsonl"]
    (copies / "data_access.jsonl").unlink()
    result = verify_directory(trail, None, verification_key=key, snapshot=snapshot)
    assert "auth-events.jsonl" not in result.files
    assert "data_access.jsonl" not in result.files
    assert "api-audit.jsonl" in result.files


def test_a_copy_holds_the_whole_lines_only(tmp_path: Path) -> None:
    from asgi_audit.store.opening import NotRegularFile
    from asgi_audit.store.snapshot import copy_whole_lines

    source = tmp_path / "a.jsonl"
    source.write_bytes(b'{"a":1}\n{"a":2}\n{"a":3')  # the last line still being written
    copy_whole_lines(source, tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == b'{"a":1}\n{"a":2}\n'
    assert os.stat(tmp_path / "copy").st_mode & 0o777 == 0o600
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"x" * (3 << 20) + b"\n" + b"y" * 10)
    copy_whole_lines(big, tmp_path / "big-copy")
    assert (tmp_path / "big-copy").read_bytes() == b"x" * (3 << 20) + b"\n"
    link = tmp_path / "link.jsonl"
    link.symlink_to(source)
    with pytest.raises(NotRegularFile):
        copy_whole_lines(link, tmp_path / "never")
    assert not (tmp_path / "never").exists()
    with pytest.raises(FileExistsError):
        copy_whole_lines(source, tmp_path / "copy")


# -- the check's bookkeeping, file by file --------------------------------------------


def _trail_file(path: Path, **changes: Any) -> Any:
    from asgi_audit.cli.checked import TrailFile

    fields: dict[str, Any] = {
        "name": path.name,
        "category": "auth",
        "path": path,
        "current": False,
        "compressed": False,
        "verified": True,
        "problem": None,
        **changes,
    }
    return TrailFile(**fields)


def test_following_compression_says_whether_a_file_moved(plain_trail: Path) -> None:
    from asgi_audit.cli.checked import CheckedTrail

    key = read_verification_key(Path(key_file(plain_trail)))
    plains = sorted(plain_trail.glob("auth-events.jsonl.*.rotated"))
    with checked_trail(plain_trail, None, key) as trail:
        assert trail.follow_compression() is False  # nothing moved
        _gzip_in_place(plains[0])
        plains[1].unlink()
        assert trail.follow_compression() is True
        found = {f.name: f for f in trail.files}
        gz = plains[0].with_name(plains[0].name + ".gz")
        assert (found[plains[0].name].path, found[plains[0].name].compressed) == (gz, True)
        assert plains[1].name not in found
        assert trail.moved_off == {plains[1].name: "deleted since it was checked"}
        assert gz in trail.pinned
        assert trail.follow_compression() is False  # followed once, and for good
    # A current file is read from its copy: a copy gone is no compression to follow.
    copy = plain_trail / "auth-events.jsonl"
    lone = CheckedTrail([_trail_file(copy.with_name("gone.jsonl"), current=True)], None)
    assert lone.follow_compression() is False
    assert len(lone.files) == 1


def test_changed_names_every_file_that_changed_or_cannot_be_looked_at(tmp_path: Path) -> None:
    from asgi_audit.cli.checked import CheckedTrail
    from asgi_audit.store.snapshot import fingerprint

    paths = [tmp_path / f"f{n}.jsonl.20260101_000000.rotated" for n in range(4)]
    for p in paths:
        p.write_bytes(b'{"a":1}\n')
    blocker = tmp_path / "not-a-dir"
    blocker.write_bytes(b"")
    # First a path that cannot be looked at (its parent is a file), then the rest.
    pinned = {blocker / "x": fingerprint(paths[1]), **{p: fingerprint(p) for p in paths}}
    trail = CheckedTrail([], None, pinned=pinned)
    assert trail.changed() == ["x"]
    paths[0].unlink()  # gone (a plain file once its .gz is made): not a change
    with paths[2].open("ab") as fh:
        fh.write(b'{"a":2}\n')
    # Rewritten with the same size, its modification time set back: the change time tells.
    before = os.stat(paths[3])
    paths[3].write_bytes(b'{"a":9}\n')
    os.utime(paths[3], ns=(before.st_atime_ns, before.st_mtime_ns))
    assert sorted(trail.changed()) == sorted(["x", paths[2].name, paths[3].name])


def test_a_rotated_file_changed_during_the_check_is_named(
    trail: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asgi_audit.proof.verify import verify_directory as real

    target = a_rotated_gz(trail, "api-audit")

    def verify_then_rewrite(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)  # the file verified as it was...
        rewrite(target, [line.replace(b"/items/", b"/mallory/") for line in lines_of(target)])
        return result  # ...and changed before the check ended

    monkeypatch.setattr("asgi_audit.cli.checked.verify_directory", verify_then_rewrite)
    status, out, err = run("SELECT count(*) FROM events", trail)
    assert (status, out) == (1, "")
    assert f"{target.name} changed while it was read" in err


def test_a_symlink_at_the_ledgers_name_is_named(trail: Path, run: Run, tmp_path: Path) -> None:
    ledger = trail / "checkpoints.log"
    moved = tmp_path / "ledger-elsewhere.log"
    ledger.rename(moved)
    ledger.symlink_to(moved)
    status, _, err = run("SELECT count(*) FROM events", trail, "--format", "jsonl")
    assert status == 1
    assert "checkpoints.log:0: not a regular file" in err
    assert "a symlink" in err


@pytest.mark.parametrize("becomes", ["gone", "a symlink"])
def test_a_current_file_that_goes_between_listing_and_copying_is_not_read(
    trail: Path, run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, becomes: str
) -> None:
    from asgi_audit.store.snapshot import copy_whole_lines as real

    def change_then_copy(source: Path, target: Path) -> None:
        if source.name == "data_access.jsonl" and source.is_file() and not source.is_symlink():
            source.rename(tmp_path / "kept.jsonl")
            if becomes == "a symlink":
                source.symlink_to(tmp_path / "kept.jsonl")
        real(source, target)

    monkeypatch.setattr("asgi_audit.cli.checked.copy_whole_lines", change_then_copy)
    status, out, _ = run(
        "SELECT log_file FROM events WHERE category = 'data_access'",
        trail,
        "--format",
        "jsonl",
        "--unverified",
        "flag",
    )
    assert status == 1  # its lines are missing from what the ledger recorded
    assert "data_access.jsonl" not in {r["log_file"] for r in rows(out)}


def test_every_mismatch_has_its_words() -> None:
    from asgi_audit.cli.checked import _NOT_CHECKED
    from asgi_audit.proof.keymatch import MISMATCH_CLASSES

    assert set(_NOT_CHECKED) == set(MISMATCH_CLASSES)


def test_a_file_of_another_key_says_so_in_log_files(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_dir = tmp_path / "logs"
    write_trail(log_dir, key=b"the-key-the-app-ran-with-0123456789abcdef")
    monkeypatch.setenv("ASGI_AUDIT_KEY", "another-key-given-to-the-query-0123456789")
    status, out, _ = run(
        "SELECT name, verified, problem FROM log_files ORDER BY name",
        log_dir,
        "--format",
        "jsonl",
        key=False,
    )
    assert status == 3
    found = rows(out)
    assert found
    assert not any(f["verified"] for f in found)
    firsts = [f for f in found if f["problem"].startswith("unknown key at line 1: ")]
    later = [f for f in found if f["problem"] == "sealed with another key"]
    assert firsts  # a stream's first file: its first line's break
    assert later  # the stream's later files: the stream is not the key's
    assert len(firsts) + len(later) == len(found)


def test_a_snapshot_keeps_the_files_listed_when_it_was_made() -> None:
    from asgi_audit.proof.verify import _as_snapshot
    from asgi_audit.store.listing import EventFile

    def rotated(name: str, compressed: bool = False) -> EventFile:
        return EventFile(Path("/logs") / name, "auth", 1.0, 0, compressed)

    current = EventFile(Path("/logs/auth-events.jsonl"), "auth")
    other = EventFile(Path("/logs/api-audit.jsonl"), "api_audit")
    old, new = rotated("a.rotated.gz", True), rotated("b.rotated")
    gzipped_since = rotated("c.rotated.gz", True)  # c.rotated was listed, and is gone
    twin_plain, twin_gz = rotated("d.rotated"), rotated("d.rotated.gz", True)
    files = [old, new, gzipped_since, twin_plain, twin_gz, current, other]
    copies = {"auth-events.jsonl": Path("/copies/auth-events.jsonl")}
    listed = ["a.rotated.gz", "c.rotated", "d.rotated"]
    kept = _as_snapshot(files, copies, listed)
    assert [f.path for f in kept] == [
        old.path,
        gzipped_since.path,
        twin_plain.path,  # its .gz appeared since, but the plain one is still there
        Path("/copies/auth-events.jsonl"),
    ]
    # Without a list of rotated files, every rotated file is read.
    assert [f.path.name for f in _as_snapshot(files, copies, None)] == [
        "a.rotated.gz", "b.rotated", "c.rotated.gz", "d.rotated", "d.rotated.gz",
        "auth-events.jsonl",
    ]  # fmt: skip


def test_a_plain_rotated_file_gzipped_after_the_listing_is_read_from_its_gz(
    plain_trail: Path,
) -> None:
    from asgi_audit.proof.sources import feed_file
    from asgi_audit.proof.verification import Verifier
    from asgi_audit.store.listing import list_event_files

    [plain, *_] = [f for f in list_event_files(plain_trail).categories["auth"] if not f.current]
    count = len(lines_of(plain.path))
    _gzip_in_place(plain.path)
    verifier = Verifier(None, None)
    assert feed_file(plain, verifier) is True
    assert verifier.lines == count
    assert all(b.file == plain.path.name for b in verifier.breaks)
    gone = dataclasses.replace(plain, path=plain.path.with_name("never.rotated"))
    assert feed_file(gone, Verifier(None, None)) is False


def test_a_file_gzipped_while_the_check_lists_and_hashes_is_read_as_checked(
    plain_trail: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asgi_audit.proof.sources import file_hashes as real

    plain = sorted(plain_trail.glob("auth-events.jsonl.*.rotated"))[0]
    count = len(lines_of(plain))

    def gzip_then_hash(f: Any) -> Any:
        # Compression ends between the check's listing and its hashing of the file:
        # the check hashes nothing for it and reads its lines from the .gz.
        if f.path == plain and plain.exists():
            _gzip_in_place(plain)
        return real(f)

    monkeypatch.setattr("asgi_audit.proof.verify.file_hashes", gzip_then_hash)
    query = (
        "SELECT f.compressed, f.verified, count(e.log_file) AS n FROM log_files f "
        "JOIN events e ON e.log_file = f.name WHERE f.name = 'NAME' GROUP BY ALL"
    ).replace("NAME", plain.name)
    status, out, err = run(
        query,
        plain_trail,
        "--format",
        "jsonl",
    )
    assert (status, err) == (0, "")
    assert rows(out) == [{"compressed": True, "verified": True, "n": count}]


@pytest.mark.parametrize("width", ["0", "-5", "7", "wide"])
def test_a_width_too_small_to_show_a_value_is_a_usage_error(
    trail: Path, run: Run, width: str
) -> None:
    status, out, err = run("SELECT 1", trail, "--max-width", width)
    assert (status, out) == (2, "")
    assert "expected a width of 8 or more" in err


def test_values_are_shortened_to_the_width_given(tmp_path: Path, run: Run) -> None:
    status, out, _ = run("SELECT repeat('x', 50) AS long", tmp_path, "--max-width", "8",
                         "--no-verify", key=False)  # fmt: skip
    assert status == 0
    assert out.splitlines()[2] == "xxxxxxx…"


def test_an_integer_beyond_64_bits_is_its_decimal_text_in_jsonl(tmp_path: Path, run: Run) -> None:
    big = 2**100
    status, out, _ = run(
        f"SELECT {big}::HUGEINT AS big, -5::HUGEINT AS small, [{big}::HUGEINT] AS many",
        tmp_path,
        "--format",
        "jsonl",
        "--no-verify",
        key=False,
    )
    assert status == 0
    assert rows(out) == [{"big": str(big), "small": -5, "many": [str(big)]}]
