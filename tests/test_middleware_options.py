"""AuditMiddleware's options, driven in process: every wrong one is loud, at startup.

Built directly, the middleware raises a ``MiddlewareOptionError`` (a TypeError
and a ValueError) whose message quotes the wrong option and says what to write.
Built by Starlette or FastAPI (lazily, inside the lifespan), it answers the
lifespan's startup with ``lifespan.startup.failed`` carrying the same message,
and raises it for any request. ``record_headers="*"`` records every header, the
secret ones masked. (``tests/test_middleware_options_e2e.py`` does the same
under a real uvicorn.)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import anyio
import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message

from asgi_audit import REDACTED, AuditMiddleware, Auditor
from asgi_audit.web.middleware import MiddlewareOptionError
from tests.helpers import read_events

OPTIONS: Final = (
    "auditor, policy, include, exclude, stages, identity_resolver, outcome_for_status,"
    " trusted_proxies, forwarded_header, request_id_header, session_cookie, session_header,"
    " agent_id_header, send_500, request_id_factory, record_query, record_headers"
)

#: (options, what the message says after "AuditMiddleware: ")
BAD: Final[list[tuple[dict[str, Any], str]]] = [
    (
        {"auditor": None},
        "invalid auditor=None (expected your Auditor: add_middleware(",
    ),
    (
        {"policy": "strict"},
        "invalid policy='strict' (expected an AuditPolicy such as",
    ),
    (
        {"include": "/api/*"},
        "invalid include='/api/*' (expected a list of glob patterns such as "
        "['/api/*']; write include=['/api/*'])",
    ),
    (
        {"include": ["/api/*", ""]},
        "invalid include pattern '' in include=['/api/*', '']",
    ),
    (
        {"include": ["api/*"]},
        "invalid include pattern 'api/*' in include=['api/*'] (a glob matches "
        "the whole path, so it starts with '/' or '*', such as '/api/*')",
    ),
    (
        {"exclude": "/healthz"},
        "invalid exclude='/healthz' (expected a list of glob patterns such as "
        "['/api/*']; write exclude=['/healthz'])",
    ),
    (
        {"exclude": ["/health", 7]},
        "invalid exclude pattern 7 in exclude=['/health', 7]",
    ),
    (
        {"stages": "response_complete"},
        "invalid stages='response_complete' (expected a list of one or both of "
        "'request_received', 'response_complete'; write "
        "stages=['response_complete'])",
    ),
    (
        {"stages": ["response"]},
        "invalid stages=['response'] (expected a list of one or both of "
        "'request_received', 'response_complete'; did you mean "
        "'response_complete'?)",
    ),
    (
        {"stages": []},
        "invalid stages=[] (expected a list of one or both of",
    ),
    (
        {"identity_resolver": "user"},
        "invalid identity_resolver='user' (expected a callable taking the ASGI scope, or None)",
    ),
    (
        {"outcome_for_status": None},
        "invalid outcome_for_status=None (expected a callable from a status code to an outcome)",
    ),
    (
        {"trusted_proxies": ["10.0.0.1/8"]},
        "invalid trusted_proxies=['10.0.0.1/8']: Cannot parse trusted proxy: "
        "'10.0.0.1/8' (expected IP addresses and CIDR networks such as "
        "['10.0.0.0/8'], or '*' for every peer)",
    ),
    (
        {"trusted_proxies": [10]},
        "invalid trusted_proxies=[10] (expected IP addresses and CIDR",
    ),
    (
        {"forwarded_header": "x-real-ip"},
        "invalid forwarded_header='x-real-ip' (expected one of 'x-forwarded-for', 'forwarded')",
    ),
    (
        {"forwarded_header": "x_forwarded_for"},
        "invalid forwarded_header='x_forwarded_for' (expected one of "
        "'x-forwarded-for', 'forwarded'; did you mean 'x-forwarded-for'?)",
    ),
    (
        {"request_id_header": "X Request ID"},
        "invalid request_id_header='X Request ID' (expected a header name such as 'X-Request-ID')",
    ),
    (
        {"session_cookie": "my session"},
        "invalid session_cookie='my session' (expected a cookie name such as 'session', or None)",
    ),
    (
        {"session_header": 5},
        "invalid session_header=5 (expected a header name such as 'X-Session-ID', or None)",
    ),
    (
        {"agent_id_header": "x-agent:"},
        "invalid agent_id_header='x-agent:' (expected a header name",
    ),
    (
        {"send_500": "false"},
        "invalid send_500='false' (expected True or False)",
    ),
    (
        {"record_query": 1},
        "invalid record_query=1 (expected True or False)",
    ),
    (
        {"request_id_factory": "uuid4"},
        "invalid request_id_factory='uuid4' (expected a callable returning a "
        "new request id, or None)",
    ),
    (
        {"record_headers": "x-tenant"},
        "invalid record_headers='x-tenant' (expected a list of header names, "
        "or '*' for all; write record_headers=['x-tenant'])",
    ),
    (
        {"record_headers": 5},
        "invalid record_headers=5 (expected a list of header names such as "
        "['x-tenant'], or '*' for all)",
    ),
    (
        {"record_headers": ["x tenant"]},
        "invalid header name 'x tenant' in record_headers=['x tenant']",
    ),
    (
        {"record_header": ["x-tenant"]},
        "unknown option record_header=['x-tenant'] (did you mean record_headers?)",
    ),
    (
        {"recrod_query": True},
        "unknown option recrod_query=True (did you mean record_query?)",
    ),
    (
        {"frobnicate": 1},
        f"unknown option frobnicate=1 (the options are {OPTIONS})",
    ),
]


async def _item(request: Request) -> JSONResponse:
    return JSONResponse({"item_id": int(request.path_params["item_id"])})


def starlette_app(auditor: Auditor, options: dict[str, Any]) -> Starlette:
    return Starlette(
        routes=[Route("/items/{item_id}", _item)],
        lifespan=auditor.lifespan,
        middleware=[Middleware(AuditMiddleware, **{"auditor": auditor, **options})],
    )


async def start(app: ASGIApp) -> list[Message]:
    """Drive the lifespan's startup as a server does; what the app sent back."""
    sent: list[Message] = []
    incoming = [{"type": "lifespan.startup"}]

    async def receive() -> Message:
        if incoming:
            return incoming.pop()
        await anyio.sleep_forever()  # the shutdown never comes: the server stopped
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    with anyio.fail_after(10):  # a bound on a hang, not a timing assertion
        await app(scope, receive, send)
    return sent


def http_scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }


def websocket_scope(path: str) -> dict[str, Any]:
    return {**http_scope(path), "type": "websocket", "scheme": "ws", "subprotocols": []}


@pytest.mark.parametrize(("options", "expected"), BAD)
def test_built_directly_a_wrong_option_raises_quoting_it(
    tmp_path: Path, options: dict[str, Any], expected: str
) -> None:
    auditor = Auditor(log_dir=tmp_path)
    with pytest.raises(MiddlewareOptionError) as caught:
        AuditMiddleware(Starlette(), **{"auditor": auditor, **options})
    assert str(caught.value).startswith(f"AuditMiddleware: {expected}")
    assert isinstance(caught.value, TypeError)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(("options", "expected"), BAD)
async def test_built_by_starlette_a_wrong_option_fails_the_startup_with_its_message(
    tmp_path: Path, options: dict[str, Any], expected: str
) -> None:
    app = starlette_app(Auditor(log_dir=tmp_path / "logs"), options)

    sent = await start(app)

    [failed] = sent
    assert failed["type"] == "lifespan.startup.failed"
    assert failed["message"].startswith(f"AuditMiddleware: {expected}")
    # A server without lifespan: each request (and websocket) raises the same error.
    for scope in (http_scope("/items/1"), http_scope("/items/2"), websocket_scope("/ws")):
        with pytest.raises(MiddlewareOptionError) as caught:
            await app(scope, empty_body, ignore_send)
        assert str(caught.value) == failed["message"]
    assert not (tmp_path / "logs").exists()  # the Auditor never started


async def empty_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def ignore_send(message: Message) -> None:
    pass


async def test_a_misspelt_keyword_to_fastapi_fails_the_startup_with_a_suggestion(
    tmp_path: Path,
) -> None:
    auditor = Auditor(log_dir=tmp_path)
    app = FastAPI(lifespan=auditor.lifespan)
    # The type checker flags the misspelt keyword too: were it not to, this
    # ignore would be unused and `make lint` (mypy --strict) would fail.
    app.add_middleware(AuditMiddleware, auditor=auditor, record_header=["x"])  # type: ignore[call-arg]

    [failed] = await start(app)

    assert failed == {
        "type": "lifespan.startup.failed",
        "message": "AuditMiddleware: unknown option record_header=['x']"
        " (did you mean record_headers?)",
    }


async def test_a_missing_auditor_fails_the_startup_naming_it(tmp_path: Path) -> None:
    app = Starlette(middleware=[Middleware(AuditMiddleware)])  # type: ignore[call-arg]
    [failed] = await start(app)
    assert failed["message"] == (
        "AuditMiddleware: missing auditor= (expected your Auditor:"
        " add_middleware(AuditMiddleware, auditor=auditor))"
    )


def test_options_given_by_position_are_refused(tmp_path: Path) -> None:
    auditor = Auditor(log_dir=tmp_path)
    with pytest.raises(MiddlewareOptionError, match=re.escape("got positional arguments")):
        AuditMiddleware(Starlette(), auditor)  # type: ignore[call-arg]


def test_a_subclass_built_by_starlette_refuses_too(tmp_path: Path) -> None:
    class Tenanted(AuditMiddleware):
        def __init__(self, app: ASGIApp, auditor: Auditor) -> None:
            super().__init__(app, auditor=auditor, stages=["response"])

    app = Starlette(middleware=[Middleware(Tenanted, auditor=Auditor(log_dir=tmp_path))])
    [failed] = anyio.run(start, app)
    assert "invalid stages=['response']" in failed["message"]


@pytest.mark.parametrize("record_headers", ["*", ["*"], ("X-Tenant", "*")])
async def test_record_headers_star_records_every_header_with_secrets_masked(
    tmp_path: Path, record_headers: Any
) -> None:
    auditor = Auditor(log_dir=tmp_path, self_audit=False)
    app = starlette_app(auditor, {"record_headers": record_headers})
    token, session = "tok-4d5e6f7a8b9c", "sess-1a2b3c4d5e"
    async with auditor:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get(
                "/items/3",
                headers={
                    "Authorization": f"Bearer {token}",
                    "X-Session-ID": session,
                    "X-Api-Key": token,
                    "X-Tenant": "acme",
                },
            )
    assert response.status_code == 200
    data = (tmp_path / "api-audit.jsonl").read_bytes()
    assert token.encode() not in data
    assert session.encode() not in data
    (event,) = read_events(tmp_path / "api-audit.jsonl")
    assert "encoding_error" not in event
    headers = event["request_headers"]
    assert headers["authorization"] == REDACTED
    assert headers["x-session-id"] == REDACTED
    assert headers["x-api-key"] == REDACTED
    assert headers["x-tenant"] == "acme"
    assert headers["host"] == "test"
    assert set(headers) >= {"accept", "accept-encoding", "connection", "user-agent"}


@pytest.mark.parametrize(
    ("options", "attribute", "expected"),
    [
        ({"trusted_proxies": "10.0.0.0/8, 192.168.0.1"}, "_reader._proxies", "10.0.0.0/8"),
        ({"session_header": ""}, "_reader._session_name", None),
        ({"session_cookie": None}, "_reader._session_cookie", None),
        ({"forwarded_header": "Forwarded"}, "_reader._forwarded_name", b"forwarded"),
        ({"record_headers": ["X-Tenant"]}, "_record_headers", frozenset({"x-tenant"})),
        ({"record_headers": "*"}, "_record_headers", frozenset({"*"})),
    ],
)
def test_options_that_are_right_are_taken_as_they_were(
    tmp_path: Path, options: dict[str, Any], attribute: str, expected: Any
) -> None:
    middleware = AuditMiddleware(Starlette(), auditor=Auditor(log_dir=tmp_path), **options)
    value: Any = middleware
    for name in attribute.split("."):
        value = getattr(value, name)
    if attribute.endswith("_proxies"):
        assert expected in repr(value)
    else:
        assert value == expected


#: Headers that carry a credential, as the providers document them (not names this
#: code was written around): the attacker here reads the shipped api-audit.jsonl and
#: wants the credentials legitimate clients sent while ``record_headers="*"`` was on.
PROVIDER_CREDENTIAL_HEADERS: Final = (
    "Authorization",  # RFC 9110
    "Proxy-Authorization",  # RFC 9110
    "Cookie",
    "X-Api-Key",  # AWS API Gateway
    "Ocp-Apim-Subscription-Key",  # Azure API Management
    "x-functions-key",  # Azure Functions
    "x-amz-security-token",  # AWS temporary credentials
    "X-Goog-Api-Key",  # Google Cloud
    "PRIVATE-TOKEN",  # GitLab
    "JOB-TOKEN",  # GitLab CI
    "X-Vault-Token",  # HashiCorp Vault
    "X-Consul-Token",  # HashiCorp Consul
    "X-Nomad-Token",  # HashiCorp Nomad
    "DD-API-KEY",  # Datadog
    "DD-APPLICATION-KEY",  # Datadog
    "X-Master-Key",  # JSONBin
    "X-Parse-Master-Key",  # Parse Server
    "X-Parse-REST-API-Key",  # Parse Server
    "X-Insert-Key",  # New Relic
    "X-License-Key",  # New Relic
    "X-Algolia-API-Key",  # Algolia
    "X-Shopify-Access-Token",  # Shopify
    "X-Postmark-Server-Token",  # Postmark
    "X-RapidAPI-Key",  # RapidAPI
    "X-Hasura-Admin-Secret",  # Hasura
    "X-Auth-Token",  # OpenStack Keystone
    "X-Auth-Key",  # Cloudflare (legacy global key)
    "X-Figma-Token",  # Figma
    "X-Riot-Token",  # Riot Games
    "X-Cisco-Meraki-API-Key",  # Meraki
    "X-CSRF-Token",
    "X-XSRF-TOKEN",  # Angular
    "X-Session-ID",
)


async def test_every_provider_credential_header_is_masked_under_record_headers_star(
    tmp_path: Path,
) -> None:
    # Values shaped as the providers issue them: 32 lowercase hex (Azure APIM, Datadog),
    # which the free-text shape rules read as a digest, so the header name must decide.
    values = {
        name: f"{n:02d}{'9f3a1c7e5b2d4086' * 2}"[:32]
        for n, name in enumerate(PROVIDER_CREDENTIAL_HEADERS)
    }
    auditor = Auditor(log_dir=tmp_path, self_audit=False)
    app = starlette_app(auditor, {"record_headers": "*"})
    async with auditor:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/items/3", headers={**values, "X-Tenant": "acme"})
    assert response.status_code == 200
    data = (tmp_path / "api-audit.jsonl").read_bytes()
    leaked = [name for name, value in values.items() if value.encode() in data]
    assert leaked == []
    (event,) = read_events(tmp_path / "api-audit.jsonl")
    assert "encoding_error" not in event
    headers = event["request_headers"]
    assert {headers[name.lower()] for name in values} == {REDACTED}
    assert headers["x-tenant"] == "acme"
