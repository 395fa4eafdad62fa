"""The audit of the audit trail: each ``asgi-audit`` command on a trail records who
ran it, what and when, in the trail itself (PCI DSS 10.2.1.3).

Trails are made by real Auditors under ``tmp_path``; commands run in process
(``asgi_audit.cli.main``) or as real processes beside a uvicorn server writing
the same trail.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

import anyio
import httpx
import pytest

from asgi_audit import REDACTED, Auditor
from asgi_audit.cli import main as cli_main
from asgi_audit.cli.access import EVENT_TYPE
from tests.apps import LOG_DIR_ENV
from tests.helpers import read_events
from tests.servers import REPO_ROOT, run_server

pytestmark = pytest.mark.access_recorded

AUDIT: Final = "audit.jsonl"
GITHUB_TOKEN: Final = "ghp_" + "x7Rb2QpL9mVt4KwZs1Nc8YhDf3Gj6Ue0AiOo"
STATIC_KEY: Final = "trail-access-static-key-0123456789abcdef"


def make_trail(log_dir: Path, **options: Any) -> None:
    async def record() -> None:
        async with Auditor(log_dir=log_dir, **options) as auditor:
            await auditor.login_attempt("failed", user_id="ann")

    anyio.run(record)


def accesses(log_dir: Path) -> list[dict[str, Any]]:
    path = log_dir / AUDIT
    return [e for e in read_events(path) if e["event_type"] == EVENT_TYPE] if path.exists() else []


def me() -> dict[str, Any]:
    uid = os.geteuid()
    return {"os_user": pwd.getpwuid(uid).pw_name, "uid": uid, "host": socket.gethostname()}


def test_a_command_is_recorded_before_it_runs_and_when_it_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_trail(tmp_path)
    argv = ["query", str(tmp_path), "-t", EVENT_TYPE]
    assert cli_main(argv) == 0
    # The query found its own start record: it was on disk before the query read.
    [printed] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    start, end = accesses(tmp_path)
    assert printed == start
    for record in (start, end):
        assert {k: record[k] for k in ("os_user", "uid", "host")} == me()
        assert record["pid"] == os.getpid()
        assert record["command"] == "query"
        assert record["arguments"] == argv
        assert record["log_dir"] == str(tmp_path.resolve())
        assert record["category"] == "audit"
    assert (start["stage"], end["stage"], end["exit_status"]) == ("start", "end", 0)
    assert "exit_status" not in start
    assert start["outcome"] == end["outcome"] == "success"
    assert start["timestamp"] <= end["timestamp"]
    # Sealed into the trail's chain: the trail still verifies, with them in it.
    assert cli_main(["verify", str(tmp_path)]) == 0


def test_the_guides_query_lists_who_looked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_trail(tmp_path)
    assert cli_main(["stats", str(tmp_path)]) == 0
    page = (REPO_ROOT / "docs" / "how-to" / "verify.md").read_text()
    [command] = [
        line
        for line in page.splitlines()
        if line.startswith("asgi-audit query logs/security --type")
    ]
    argv = command.split()[1:]
    argv[argv.index("logs/security")] = str(tmp_path)
    capsys.readouterr()
    assert cli_main(argv) == 0
    rows = capsys.readouterr().out.splitlines()
    # stats' start and end, and this query's own start: each a row of the table.
    assert len([row for row in rows if EVENT_TYPE in row]) == 3


@pytest.mark.parametrize("alteration", ["delete", "rewrite"])
def test_an_operator_who_hides_their_own_access_is_named_by_verify(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    alteration: str,
) -> None:
    # The attacker: an operator who can write the log directory (and so ran the
    # command, and was recorded) but holds no key, and then removes or rewrites the
    # record of their own query so that it names someone else.
    make_trail(tmp_path)
    assert cli_main(["query", str(tmp_path), "--user", "ann"]) == 0
    path = tmp_path / AUDIT
    lines = path.read_bytes().splitlines(keepends=True)
    [at] = [i for i, line in enumerate(lines) if b'"stage":"start"' in line]
    if alteration == "delete":
        del lines[at]
    else:
        user = me()["os_user"].encode()
        lines[at] = lines[at].replace(b'"os_user":"' + user, b'"os_user":"nobody-' + user, 1)
    path.write_bytes(b"".join(lines))
    capsys.readouterr()
    monkeypatch.setenv("ASGI_AUDIT_RECORD_ACCESS", "off")  # the check itself adds no line
    assert cli_main(["verify", str(tmp_path)]) == 1  # an alteration
    out = capsys.readouterr().out
    assert "audit.jsonl:" in out
    assert ("deleted" if alteration == "delete" else "modified") in out


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["stats", "{dir}"], "stats"),
        (["rotate", "{dir}"], "rotate"),
        (["tail", "{dir}", "-n", "1"], "tail"),
        (["query", "{dir}", "--limit", "1"], "query"),
        (["verify", "{dir}"], "verify"),
        (["keys", "show", "--log-dir", "{dir}"], "keys show"),
    ],
)
def test_every_command_on_a_trail_is_recorded(
    tmp_path: Path, argv: list[str], command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_trail(tmp_path)
    argv = [a.replace("{dir}", str(tmp_path)) for a in argv]
    assert cli_main(argv) == 0
    capsys.readouterr()
    found = accesses(tmp_path)
    assert [(e["command"], e["stage"]) for e in found] == [(command, "start"), (command, "end")]


def test_prove_is_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_trail(tmp_path)
    [login] = read_events(tmp_path / "auth-events.jsonl")
    assert cli_main(["prove", login["event_id"], str(tmp_path)]) == 0
    capsys.readouterr()
    assert [(e["command"], e["stage"]) for e in accesses(tmp_path)] == [
        ("prove", "start"),
        ("prove", "end"),
    ]


def test_a_failed_command_records_its_exit_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_trail(tmp_path)
    assert cli_main(["query", str(tmp_path), "--since", "yesterday-ish"]) == 2
    capsys.readouterr()
    _, end = accesses(tmp_path)
    assert (end["exit_status"], end["outcome"]) == (2, "failed")


def test_a_secret_in_the_arguments_is_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_trail(tmp_path)
    assert cli_main(["query", str(tmp_path), "--user", GITHUB_TOKEN]) == 0
    capsys.readouterr()
    assert GITHUB_TOKEN.encode() not in (tmp_path / AUDIT).read_bytes()
    start, _ = accesses(tmp_path)
    assert start["arguments"] == ["query", str(tmp_path), "--user", REDACTED]
    assert "encoding_error" not in start


def test_commands_without_a_trail_record_nothing_and_make_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    state = Path(os.environ["XDG_STATE_HOME"])
    before = sorted(state.rglob("*"))
    assert cli_main(["stats", str(empty)]) == 0
    assert cli_main(["redact", "nothing secret here"]) == 0
    capsys.readouterr()
    assert list(empty.iterdir()) == []  # no file, no ledger
    assert sorted(state.rglob("*")) == before  # no key made


def test_an_unsealed_trail_gets_plain_lines_and_no_key_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_trail(tmp_path, integrity=False)
    state = Path(os.environ["XDG_STATE_HOME"])
    keys_before = sorted(state.rglob("*"))
    assert cli_main(["stats", str(tmp_path)]) == 0
    capsys.readouterr()
    start, end = accesses(tmp_path)
    assert "mac" not in start
    assert "mac" not in end
    assert sorted(state.rglob("*")) == keys_before
    assert not (tmp_path / "checkpoints.log").exists()


def test_without_the_key_the_command_runs_and_says_it_is_not_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_trail(tmp_path)
    before = (tmp_path / AUDIT).read_bytes()
    # An auditor's machine: the trail (or a copy), not the app's key directory.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path.parent / "elsewhere"))
    assert cli_main(["query", str(tmp_path), "-c", "auth"]) == 0
    out, err = capsys.readouterr()
    assert "login_attempt" in out
    assert "asgi-audit: this access is not recorded in the trail:" in err
    assert (tmp_path / AUDIT).read_bytes() == before


def test_require_refuses_to_run_a_command_it_cannot_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_trail(tmp_path)
    monkeypatch.setenv("ASGI_AUDIT_RECORD_ACCESS", "require")
    assert cli_main(["query", str(tmp_path)]) == 0  # the key is there: recorded, and run
    out, _ = capsys.readouterr()
    assert "login_attempt" in out
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path.parent / "elsewhere"))
    before = (tmp_path / AUDIT).read_bytes()
    assert cli_main(["query", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # it did not run
    assert "this command was not run: its access could not be recorded" in err
    assert (tmp_path / AUDIT).read_bytes() == before


@pytest.mark.parametrize("mode", ["off", "OFF"])
def test_off_records_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    make_trail(tmp_path)
    monkeypatch.setenv("ASGI_AUDIT_RECORD_ACCESS", mode)
    assert cli_main(["stats", str(tmp_path)]) == 0
    capsys.readouterr()
    assert accesses(tmp_path) == []


def test_an_unknown_mode_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_trail(tmp_path)
    monkeypatch.setenv("ASGI_AUDIT_RECORD_ACCESS", "sometimes")
    assert cli_main(["stats", str(tmp_path)]) == 2
    _, err = capsys.readouterr()
    assert "$ASGI_AUDIT_RECORD_ACCESS is 'sometimes': expected on, require or off" in err


def test_a_trail_sealed_with_a_static_key_is_recorded_with_that_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_trail(tmp_path, key=STATIC_KEY)
    monkeypatch.setenv("ASGI_AUDIT_KEY", STATIC_KEY)
    assert cli_main(["stats", str(tmp_path)]) == 0
    capsys.readouterr()
    assert [e["stage"] for e in accesses(tmp_path)] == ["start", "end"]
    assert cli_main(["verify", str(tmp_path), "--key-env", "ASGI_AUDIT_KEY"]) == 0
    monkeypatch.delenv("ASGI_AUDIT_KEY")
    assert cli_main(["stats", str(tmp_path)]) == 0
    _, err = capsys.readouterr()
    assert "not recorded in the trail" in err


@pytest.mark.e2e
def test_commands_beside_a_running_server_are_sealed_into_the_same_trail(tmp_path: Path) -> None:
    log_dir = tmp_path / "security"
    env = {LOG_DIR_ENV: str(log_dir)}
    with run_server("tests.apps.basic:app", env, extra_args=("--no-proxy-headers",)) as server:
        with httpx.Client(base_url=server.url, timeout=httpx.Timeout(10.0)) as client:
            assert client.get("/api/items/1").status_code == 200
            for argv in (
                ["query", str(log_dir), "--limit", "1"],
                ["tail", str(log_dir), "-n", "2"],
            ):
                done = subprocess.run(
                    [sys.executable, "-m", "asgi_audit", *argv],
                    cwd=REPO_ROOT,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                assert done.returncode == 0, done.stderr
                assert "not recorded" not in done.stderr
            assert client.get("/api/items/2").status_code == 200
        returncode = server.stop(signal.SIGTERM)
        assert returncode in (0, -signal.SIGTERM), server.stderr
    found = accesses(log_dir)
    assert [(e["command"], e["stage"]) for e in found] == [
        ("query", "start"),
        ("query", "end"),
        ("tail", "start"),
        ("tail", "end"),
    ]
    assert len({e["pid"] for e in found}) == 2
    assert os.getpid() not in {e["pid"] for e in found}
    assert cli_main(["verify", str(log_dir)]) == 0
