from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from asgi_audit import REDACTED
from asgi_audit.testing import CapturedEvents, capture_events

from .main import app, auditor


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # else anyio runs each test on every backend installed (trio too)


@pytest.fixture
def audit() -> Iterator[CapturedEvents]:
    with capture_events(auditor) as captured:  # no files: the events come here
        yield captured


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.mark.anyio  # anyio's pytest plugin: anyio is installed with asgi_audit
async def test_a_wrong_password_is_audited(
    client: httpx.AsyncClient, audit: CapturedEvents
) -> None:
    response = await client.post("/login", json={"username": "ann", "password": "nope"})
    assert response.status_code == 401
    [login] = audit.of_type("login_attempt")
    assert login["outcome"] == "failed"
    assert login["event_action"] == "authn_login_fail"
    assert login["details"]["attempt"]["password"] == REDACTED
    assert "nope" not in str(audit.events)  # redacted like the lines


@pytest.mark.anyio
async def test_the_request_id_ties_the_events_together(
    client: httpx.AsyncClient, audit: CapturedEvents
) -> None:
    response = await client.post("/login", json={"username": "ann", "password": "nope"})
    request_id = response.headers["x-request-id"]
    assert [(e["event_type"], e["request_id"]) for e in audit] == [
        ("login_attempt", request_id),
        ("api_access", request_id),
    ]
    [access] = audit.in_category("api_audit")
    assert (access["status_code"], access["outcome"]) == (401, "denied")
