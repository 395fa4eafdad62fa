"""The recorded ``ip_address`` is an IP address or absent, whatever the server and headers say.

With its proxy headers on (uvicorn's default, trusting 127.0.0.1), uvicorn puts
the text of an ``X-Forwarded-For`` hop into ``scope["client"]`` as it is: an
address, or any string a client chose. The middleware records the TCP peer (or
what trusted proxies reported) only as a canonical IPv4/IPv6 address; anything
else is no ``ip_address`` at all, and the text it got is noted, cut short, in
``ip_address_rejected``.

One test runs a real uvicorn with its default proxy headers and reads the file;
a property drives the real middleware with arbitrary peers and header text.
"""

from __future__ import annotations

import asyncio
import ipaddress
import signal
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from asgi_audit import AuditMiddleware, Auditor, current_context
from asgi_audit.record.context import RequestContext
from asgi_audit.web.proxies import REJECTED_CHARS, TrustedProxies, canonical_peer, client_address
from tests.apps import LOG_DIR_ENV
from tests.helpers import read_events
from tests.servers import run_server

APP: Final = "tests.apps.basic:app"
CLIENT_TIMEOUT: Final = httpx.Timeout(10.0)  # a bound on a hang, not an assertion
GARBAGE: Final = "garbage-" + "x" * 4088
#: What the middleware keeps of a rejected address: this many characters, then a marker.
KEPT: Final = REJECTED_CHARS


def round_trips(value: str) -> bool:
    return str(ipaddress.ip_address(value)) == value


@pytest.mark.e2e
def test_uvicorn_proxy_headers_never_put_a_non_address_into_ip_address(tmp_path: Path) -> None:
    # hop sent from 127.0.0.1 -> (ip_address, ip_address_rejected) recorded
    cases: dict[str, tuple[str | None, str | None]] = {
        GARBAGE: (None, GARBAGE[:KEPT] + f"…[truncated {len(GARBAGE) - KEPT} chars]"),
        "unknown": (None, "unknown"),
        "1.2.3.4:abc": (None, "1.2.3.4:abc"),
        "fe80::1%eth0<script>": ("fe80::1", None),
        "[2001:DB8::1]:443": ("2001:db8::1", None),
        "::ffff:198.51.100.9": ("198.51.100.9", None),
        "198.51.100.7": ("198.51.100.7", None),  # a forgery that is an address: see make serve
    }
    log_dir = tmp_path / "logs"
    with run_server(APP, {LOG_DIR_ENV: str(log_dir)}) as server:  # uvicorn's defaults
        with httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT) as client:
            for n, hop in enumerate(cases):
                response = client.get(
                    f"/api/items/{n}",
                    headers={"X-Forwarded-For": hop, "X-Request-ID": f"client-address-{n:04d}"},
                )
                assert response.status_code == 200
        server.stop(signal.SIGTERM)

    events = {e["request_id"]: e for e in read_events(log_dir / "api-audit.jsonl")}
    assert len(events) == len(cases)
    for n, (hop, (address, rejected)) in enumerate(cases.items()):
        event = events[f"client-address-{n:04d}"]
        assert (event.get("ip_address"), event.get("ip_address_rejected")) == (address, rejected)
        if address is not None:
            assert round_trips(event["ip_address"]), hop
    assert GARBAGE.encode() not in (log_dir / "api-audit.jsonl").read_bytes()


# --- a property over the real middleware ---------------------------------------------------

latin1_text = st.text(alphabet=st.characters(max_codepoint=255), max_size=300)
peers = st.one_of(
    st.none(),
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda ip: f"{ip}%{'eth0'}"),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
    st.ip_addresses(v=4).map(lambda ip: f"{ip}:80"),
    st.sampled_from(["testclient", "127.0.0.1", "::1", "", "localhost", "0x7f.1", "01.2.3.4"]),
    latin1_text,
)
trust = st.sampled_from([(), ["127.0.0.1"], "*", ["10.0.0.0/8", "::1", "fd00::/8", "127.0.0.1"]])


async def _seen_context(
    trusted: Any, header: str, peer: str | None, values: list[str]
) -> RequestContext | None:
    seen: list[RequestContext | None] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(current_context())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    # exclude everything: the context is built as for any request, nothing is written.
    auditor = Auditor(log_dir="unused-never-created", self_audit=False)
    middleware = AuditMiddleware(
        app, auditor=auditor, trusted_proxies=trusted, forwarded_header=header, exclude=["*"]
    )
    name = header.encode("latin-1")
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(name, value.encode("latin-1")) for value in values],
        "client": None if peer is None else (peer, 5000),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    await middleware(scope, receive, send)
    return seen[0]


@settings(max_examples=300, deadline=None)
@given(
    trusted=trust,
    header=st.sampled_from(["x-forwarded-for", "forwarded"]),
    peer=peers,
    values=st.lists(latin1_text, max_size=4),
)
def test_property_ip_address_is_absent_or_a_canonical_address(
    trusted: Any, header: str, peer: str | None, values: list[str]
) -> None:
    context = asyncio.run(_seen_context(trusted, header, peer, values))
    assert context is not None
    ip = context.ip_address
    assert ip is None or round_trips(ip)
    rejected = context.ip_address_rejected
    if rejected is not None:
        assert ip is None  # only a peer that gave no address is noted
        assert peer
        assert rejected == peer[:KEPT] + (
            f"…[truncated {len(peer) - KEPT} chars]" if len(peer) > KEPT else ""
        )
    elif ip is None:
        assert not peer  # no peer (a unix socket) or an empty one


# --- client_address, in process: the pair the middleware records --------------------

NO_PROXIES: Final = TrustedProxies([])
BEHIND_PROXY: Final = TrustedProxies(["10.0.0.1"])


@pytest.mark.parametrize(
    ("proxies", "peer", "headers", "expected"),
    [
        (NO_PROXIES, "127.0.0.1", [], ("127.0.0.1", None)),
        (NO_PROXIES, "2001:DB8::7", [], ("2001:db8::7", None)),
        (NO_PROXIES, "::ffff:10.0.0.9", [], ("10.0.0.9", None)),
        (NO_PROXIES, "fe80::1%eth0", [], ("fe80::1", None)),
        (NO_PROXIES, None, [], (None, None)),
        (NO_PROXIES, "", [], (None, None)),
        (NO_PROXIES, "testclient", [], (None, "testclient")),
        (NO_PROXIES, "1.2.3.4", ["5.6.7.8"], ("1.2.3.4", None)),  # header not believed
        (BEHIND_PROXY, "10.0.0.1", ["203.0.113.5"], ("203.0.113.5", None)),
        (BEHIND_PROXY, "10.0.0.1", ["not-an-ip"], ("10.0.0.1", None)),  # falls back
        (BEHIND_PROXY, "garbage", ["203.0.113.5"], (None, "garbage")),
    ],
)
def test_client_address_pairs(
    proxies: TrustedProxies,
    peer: str | None,
    headers: list[str],
    expected: tuple[str | None, str | None],
) -> None:
    assert client_address(proxies, peer, headers) == expected


@pytest.mark.parametrize("proxies", [NO_PROXIES, BEHIND_PROXY])
def test_a_rejected_peer_is_cut_at_the_limit_with_a_marker(proxies: TrustedProxies) -> None:
    exact = "x" * REJECTED_CHARS
    assert client_address(proxies, exact, []) == (None, exact)
    longer = "y" * (REJECTED_CHARS + 1)
    assert client_address(proxies, longer, []) == (
        None,
        "y" * REJECTED_CHARS + "…[truncated 1 chars]",
    )
    huge = "z" * 4096
    ip, rejected = client_address(proxies, huge, [])
    assert ip is None
    assert rejected == "z" * REJECTED_CHARS + f"…[truncated {4096 - REJECTED_CHARS} chars]"


def test_canonical_peer_refuses_text_past_the_longest_address() -> None:
    # 100 characters is the most a peer may have before it is not parsed at all.
    padded = "0" * 90 + "127.0.0.1"  # 99 chars, not an address anyway
    assert canonical_peer(padded) is None
    assert canonical_peer("1" * 101) is None
    assert canonical_peer("0:0:0:0:0:ffff:7f00:1") == "127.0.0.1"
