"""Tests for web.websocket: what a websocket session keeps of its messages."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import anyio

from asgi_audit.web.websocket import KEPT_MESSAGES, WebsocketSession

Message = dict[str, Any]


def run_session(client_texts: list[str], server_texts: list[str]) -> WebsocketSession:
    """Drive a session: every client message arrives, then the server answers."""
    incoming: list[Message] = [{"type": "websocket.receive", "text": t} for t in client_texts]
    incoming.append({"type": "websocket.disconnect", "code": 1000})
    delivered: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        delivered.append(dict(message))

    session = WebsocketSession(receive, send, keep=True, limit=100)

    async def main() -> None:
        await session.send({"type": "websocket.accept"})
        for _ in client_texts:
            await session.receive()
        for text in server_texts:
            await session.send({"type": "websocket.send", "text": text})
        await session.receive()

    anyio.run(main)
    assert len(delivered) == 1 + len(server_texts)  # every message passed through
    return session


def test_the_first_messages_are_kept_each_way_a_chatty_client_cannot_crowd_out_the_server() -> None:
    client = [f"client-{n}" for n in range(3 * KEPT_MESSAGES)]
    server = [f"server-{n}" for n in range(5)]
    session = run_session(client, server)
    fields = session.close_fields()
    kept_in = [m["message"] for m in fields["messages"] if m["direction"] == "in"]
    kept_out = [m["message"] for m in fields["messages"] if m["direction"] == "out"]
    assert kept_in == client[:KEPT_MESSAGES]
    assert kept_out == server
    assert fields["messages_in"] == len(client)
    assert fields["messages_out"] == len(server)
    assert fields["close_code"] == 1000
    assert fields["closed_by"] == "client"


def test_exactly_kept_messages_each_way_at_the_limit() -> None:
    client = [f"c{n}" for n in range(KEPT_MESSAGES + 1)]
    server = [f"s{n}" for n in range(KEPT_MESSAGES + 1)]
    fields = run_session(client, server).close_fields()
    directions = [m["direction"] for m in fields["messages"]]
    assert directions.count("in") == KEPT_MESSAGES
    assert directions.count("out") == KEPT_MESSAGES
