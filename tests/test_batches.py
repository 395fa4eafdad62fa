"""The writer's encoded batch: each line placed under its category with the batch's
counts, and where each category's chain stands once the batch is encoded."""

from __future__ import annotations

from asgi_audit.proof.integrity import Chain
from asgi_audit.record.events import RawEvent
from asgi_audit.store.batches import Encoded


def _raw(category: str, *, durable: bool = False) -> RawEvent:
    return RawEvent(category, "tick", None, 1, None, {}, None, durable)


def test_lines_go_to_their_category_with_the_first_seq_and_the_real_count() -> None:
    encoded = Encoded(base=10, real=3)  # the 4th event is an events_dropped line
    for offset, category in enumerate(["auth", "api_audit", "auth", "auth"]):
        encoded.place(offset, _raw(category), f"{category}-{offset}\n".encode())
    assert encoded.lines == {
        "auth": [b"auth-0\n", b"auth-2\n", b"auth-3\n"],
        "api_audit": [b"api_audit-1\n"],
    }
    assert encoded.first_seq == {"auth": 10, "api_audit": 11}
    assert encoded.real_count == {"auth": 2, "api_audit": 1}
    assert encoded.durable is False


def test_one_durable_event_makes_the_batch_durable() -> None:
    encoded = Encoded(base=1, real=3)
    encoded.place(0, _raw("auth"), b"a\n")
    assert encoded.durable is False
    encoded.place(1, _raw("auth", durable=True), b"b\n")
    encoded.place(2, _raw("auth"), b"c\n")
    assert encoded.durable is True


def test_close_notes_where_each_sealed_category_stands() -> None:
    encoded = Encoded(base=1, real=2)
    encoded.place(0, _raw("auth"), b"a\n")
    encoded.place(1, _raw("custom"), b"b\n")
    chain = Chain(b"k" * 32)
    chain.seal(b'{"a":1,"stream":"x","seq":1}\n')
    encoded.close({"auth": chain})
    assert encoded.ends == {"auth": chain.end(), "custom": None}
    assert encoded.ends["auth"] is not None
    assert encoded.ends["auth"].seq == 1


def test_close_without_a_proof_leaves_every_category_unsealed() -> None:
    encoded = Encoded(base=1, real=1)
    encoded.place(0, _raw("auth"), b"a\n")
    encoded.close(None)
    assert encoded.ends == {"auth": None}
