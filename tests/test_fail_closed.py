"""Fail closed: a request whose arrival cannot be recorded is refused with a 503,
and its route never runs.

In process, a FastAPI app behind the middleware through ``httpx.ASGITransport``
with a real Auditor writing under ``tmp_path``. End to end, ``tests/apps/failclosed.py``
under a real uvicorn, whose writes the kernel refuses: ``RLIMIT_FSIZE`` set on the
running server with ``prlimit`` (a write past it fails with ``EFBIG``).
"""

from __future__ import annotations

import resource
import signal
from contextlib import suppress
from pathlib import Path
from typing import Annotated, Any, Final, TypeVar

import httpx
import pytest
from fastapi import Depends, FastAPI

from asgi_audit import (
    AuditContext,
    AuditMiddleware,
    Auditor,
    AuditPolicy,
    PolicyError,
    Rule,
    audit_context,
)
from asgi_audit.store.waiting import AuditWriteError
from asgi_audit.web import failclosed
from tests.apps import LOG_DIR_ENV
from tests.helpers import read_events, reports
from tests.servers import run_server
from tests.test_faults import wait_for

Audit = Annotated[AuditContext, Depends(audit_context)]
API: Final = "api-audit.jsonl"
MONEY: Final = Rule("metadata", paths=["/transfers/*"], fail_closed=True, name="money")
#: A bound on every poll; reaching it fails the test with what was seen.
WAIT: Final = 20.0
T = TypeVar("T")


def build_app(auditor: Auditor, committed: list[str], log_dir: Path) -> FastAPI:
    app = FastAPI()
    policy = AuditPolicy([MONEY], fail_closed_timeout=1.0)
    app.add_middleware(AuditMiddleware, auditor=auditor, policy=policy)

    @app.post("/transfers/{transfer_id}")
    async def transfer(transfer_id: str, audit: Audit) -> dict[str, Any]:
        # What is on disk while the route runs: its own arrival must be.
        on_disk = [e for e in read_events(log_dir / API) if e["request_id"] == audit.request_id]
        committed.append(transfer_id)
        return {"stages_on_disk": [e["stage"] for e in on_disk]}

    @app.post("/transfers/{transfer_id}/durable")
    async def durable_transfer(transfer_id: str) -> dict[str, str]:
        # What a route's own durable=True event raises when its fsync fails.
        raise AuditWriteError("[Errno 28] No space left on device")

    @app.post("/plain")
    async def plain(audit: Audit) -> dict[str, Any]:
        on_disk = [e for e in read_events(log_dir / API) if e["request_id"] == audit.request_id]
        return {"stages_on_disk": [e["stage"] for e in on_disk]}

    @app.post("/plain/durable")
    async def plain_durable() -> None:
        raise AuditWriteError("[Errno 28] No space left on device")

    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_the_arrival_is_on_disk_before_the_route_runs(tmp_path: Path) -> None:
    committed: list[str] = []
    auditor = Auditor(log_dir=tmp_path, self_audit=False)
    async with auditor, client_for(build_app(auditor, committed, tmp_path)) as client:
        money = await client.post("/transfers/t-1")
        plain = await client.post("/plain")
    assert money.status_code == plain.status_code == 200
    assert money.json() == {"stages_on_disk": ["request_received"]}
    assert plain.json() == {"stages_on_disk": []}  # fails open: recorded after the response
    assert committed == ["t-1"]
    found = [e for e in read_events(tmp_path / API) if e["request_path"] == "/transfers/t-1"]
    assert [(e["stage"], e["outcome"], e.get("fail_closed")) for e in found] == [
        ("request_received", "received", True),
        ("response_complete", "success", None),
    ]
    assert found[0]["request_id"] == found[1]["request_id"] == money.headers["x-request-id"]


async def test_an_auditor_that_is_not_running_refuses_the_request_and_the_route_never_runs(
    tmp_path: Path,
) -> None:
    committed: list[str] = []
    auditor = Auditor(log_dir=tmp_path, self_audit=False)  # never started
    async with client_for(build_app(auditor, committed, tmp_path)) as client:
        refused = await client.post("/transfers/t-2", headers={"X-Request-ID": "req-t-2-0001"})
    assert refused.status_code == 503
    assert refused.text == "Service Unavailable: the audit trail cannot record this request"
    assert refused.headers["retry-after"] == "5"
    assert refused.headers["x-request-id"] == "req-t-2-0001"
    assert committed == []  # the route never ran
    assert not (tmp_path / API).exists()


async def test_a_routes_own_failed_durable_event_is_a_503_where_it_fails_closed(
    tmp_path: Path,
) -> None:
    committed: list[str] = []
    auditor = Auditor(log_dir=tmp_path, self_audit=False)
    async with auditor, client_for(build_app(auditor, committed, tmp_path)) as client:
        money = await client.post("/transfers/t-4/durable")
        plain = await client.post("/plain/durable")
    assert (money.status_code, plain.status_code) == (503, 500)
    assert money.headers["connection"] == "close"
    records = {
        e["request_path"]: e
        for e in read_events(tmp_path / API)
        if e["stage"] != "request_received"
    }
    assert records["/transfers/t-4/durable"]["status_code"] == 503
    assert records["/transfers/t-4/durable"]["exception_type"] == "AuditWriteError"
    assert records["/plain/durable"]["status_code"] == 500


def test_every_failure_of_the_trail_has_its_reason() -> None:
    assert set(failclosed._REASONS) == set(failclosed.AUDIT_FAILURES)
    assert sorted(failclosed._REASONS.values()) == ["not_running", "queue_full", "write_error"]


# --------------------------------------------------------------- the policy


def test_a_fail_closed_rule_needs_a_level_that_records() -> None:
    with pytest.raises(PolicyError, match=r"rule #1 \('money'\): fail_closed needs a level"):
        AuditPolicy([Rule("none", paths=["/transfers/*"], fail_closed=True, name="money")])


@pytest.mark.parametrize("value", [1, "yes", None])
def test_fail_closed_is_true_or_false(value: Any) -> None:
    with pytest.raises(PolicyError, match=r"invalid fail_closed .* \(expected True or False\)"):
        AuditPolicy([{"level": "metadata", "fail_closed": value}])


@pytest.mark.parametrize("value", [0, -1, 301, float("nan"), True, "2"])
def test_the_fail_closed_timeout_is_seconds_within_bounds(value: Any) -> None:
    with pytest.raises(PolicyError, match=r"invalid fail_closed_timeout"):
        AuditPolicy([MONEY], fail_closed_timeout=value)


def test_a_decision_says_whether_its_request_fails_closed() -> None:
    policy = AuditPolicy([MONEY, Rule("request", users=["ann"], fail_closed=True)])
    assert policy.decide(path="/transfers/1", method="POST").fail_closed
    assert not policy.decide(path="/items/1", method="GET").fail_closed
    assert policy.decide(path="/items/1", method="GET", user_id="ann").fail_closed
    # At arrival the user is not known yet: a rule that could match counts.
    assert policy.highest(path="/items/1", method="GET").fail_closed
    assert policy.fails_closed
    assert not AuditPolicy([Rule("request")]).fails_closed
    assert "'money' fails closed" in repr(policy)
    assert "fail_closed_timeout=2" in repr(policy)


# --------------------------------------------------------------- end to end


@pytest.mark.e2e
def test_a_full_disk_refuses_a_fail_closed_request_and_commits_nothing(tmp_path: Path) -> None:
    log_dir = tmp_path / "security"
    path = log_dir / API
    with run_server("tests.apps.failclosed:app", {LOG_DIR_ENV: str(log_dir)}) as server:
        with httpx.Client(base_url=server.url, timeout=httpx.Timeout(WAIT)) as client:
            assert client.post("/transfers/1").status_code == 200
            for _ in range(40):  # the file grows past the server's stderr (see below)
                client.get("/balance")
            assert client.get("/control/flush").json() == {"flushed": True}
            size = path.stat().st_size
            # The limit is per process: the server's stderr file must stay below it.
            assert len(server.stderr.encode()) + 4096 < size, (size, server.stderr)
            resource.prlimit(
                server.pid, resource.RLIMIT_FSIZE, (size + 100, resource.RLIM_INFINITY)
            )
            try:
                refused = client.post(
                    "/transfers/2", headers={"X-Request-ID": "transfer-2-attempt"}
                )
                pinged = client.get("/balance")  # fails open: served though not recorded
                during = client.get("/transfers").json()
            finally:
                with suppress(ProcessLookupError):
                    resource.prlimit(
                        server.pid,
                        resource.RLIMIT_FSIZE,
                        (resource.RLIM_INFINITY, resource.RLIM_INFINITY),
                    )
            # Once writing works again, the client's retry gets through.
            retried = wait_for(
                lambda: client.post("/transfers/2", headers={"X-Request-ID": "transfer-2-retry"}),
                lambda r: r.status_code == 200,
                "a transfer after the limit was lifted",
            )
            after = client.get("/transfers").json()
            assert client.get("/control/flush").json() == {"flushed": True}
        returncode = server.stop(signal.SIGTERM)
        stderr = server.stderr

    assert returncode in (0, -signal.SIGTERM), stderr
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert pinged.status_code == 200
    assert during == [1]  # the refused transfer was never committed
    assert retried.status_code == 200
    assert after == [1, 2]
    assert "File too large" in "".join(reports(stderr))
    transfers = [e for e in read_events(path) if e["request_path"] == "/transfers/2"]
    by_id: dict[str, list[tuple[Any, ...]]] = {}
    for e in transfers:
        seen = (e["stage"], e.get("status_code"), e.get("fail_closed_reason"))
        by_id.setdefault(e["request_id"], []).append(seen)
    # The refused attempt: its arrival, held while the disk refused it and written
    # once it took writes again, and the refusal; never a completed transfer.
    assert sorted(by_id["transfer-2-attempt"]) == [
        ("fail_closed", 503, "timeout"),
        ("request_received", None, None),
    ]
    assert by_id["transfer-2-retry"][0] == ("request_received", None, None)
    assert ("response_complete", 200, None) in by_id["transfer-2-retry"]
