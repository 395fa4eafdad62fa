"""The per-event pipeline the writer runs: build, redact, cap, encode.

PURE: no event loop, no file. Composed once from the Auditor's options; the
writer calls :meth:`Pipeline.encode` for each captured event of a batch, in the
writer's thread, never on the request path.
"""

from __future__ import annotations

import hmac
import sys
from typing import Any, Final, Literal

from ..proof.integrity import SEAL_BYTES, Chain
from .ecs import to_ecs
from .encoding import (
    INT_MAX,
    INT_MIN,
    Caps,
    clean_str,
    encode_line,
    mark_cuts,
    to_jsonable,
    truncate,
)
from .events import UNKNOWN_OUTCOME, RawEvent, Uuid7Generator, build_event, format_timestamp
from .nested import NotPlain, redact_capped
from .redaction import Redactor

__all__ = ("OutputFormat", "Pipeline", "SessionIdMode")

SessionIdMode = Literal["hash", "raw", "omit"]
OutputFormat = Literal["native", "ecs"]

# Top-level fields the library makes itself (or hashes, for ``session_id``):
# nothing to redact in them.
_GENERATED: Final = frozenset(
    {"timestamp", "epoch_ms", "event_id", "category", "schema_version", "session_id"}
)
# Fields whose key names no secret although it may look like one; their text is
# still scanned (a request id comes from the client).
_TEXT_ONLY: Final = frozenset({"event_type", "outcome", "request_id"})
_SESSION_CACHE_SIZE: Final = 4096


class Pipeline:
    """Turns a :class:`RawEvent` into one encoded line.

    Args:
        redactor: masks secrets; None turns redaction off (not recommended).
        caps: string and event size caps.
        session_ids: ``"hash"`` (default) stores a keyed hash of the session id,
            stable for a given key so events still correlate; ``"raw"`` stores it
            as sent; ``"omit"`` leaves it out.
        session_key: the key of that hash.
    """

    __slots__ = (
        "_caps",
        "_ecs",
        "_ids",
        "_redactor",
        "_session_hashes",
        "_session_ids",
        "_session_key",
    )

    def __init__(
        self,
        *,
        redactor: Redactor | None,
        caps: Caps,
        session_ids: SessionIdMode,
        session_key: bytes,
        output_format: OutputFormat = "native",
    ) -> None:
        if output_format not in ("native", "ecs"):
            raise ValueError(f"output_format must be 'native' or 'ecs', got {output_format!r}")
        self._ecs = output_format == "ecs"
        self._redactor = redactor
        self._caps = caps
        self._session_ids = session_ids
        self._session_key = session_key
        self._ids = Uuid7Generator()
        # Session ids repeat from request to request: each is hashed once.
        self._session_hashes: dict[str, str] = {}

    def hash_session_id(self, session_id: str) -> str:
        """The stored form of a session id: 32 hex chars of HMAC-SHA256."""
        cached = self._session_hashes.get(session_id)
        if cached is not None:
            return cached
        digest = hmac.digest(self._session_key, session_id.encode("utf-8", "replace"), "sha256")
        hashed = "h:" + digest.hex()[:32]
        if len(self._session_hashes) >= _SESSION_CACHE_SIZE:
            self._session_hashes.clear()
        self._session_hashes[session_id] = hashed
        return hashed

    def build(self, raw: RawEvent) -> dict[str, Any]:
        """The redacted, capped event dict (before encoding).

        One pass over the top-level fields does what :func:`to_jsonable`,
        :meth:`Redactor.redact` and :meth:`Caps.apply` would do in three: a
        string is cleaned, redacted and capped at once; only containers and
        other objects take the general path.
        """
        event = build_event(raw, self._ids.new(raw.time_ns))
        sid = event.get("session_id")
        if sid is not None:
            if self._session_ids == "hash":
                event["session_id"] = self.hash_session_id(sid if type(sid) is str else str(sid))
            elif self._session_ids == "omit":
                del event["session_id"]
        redactor = self._redactor
        caps = self._caps
        field_caps = caps.fields
        default_chars = caps.default_chars
        cut: dict[str, int] = {}
        for key, value in event.items():
            if key in _GENERATED:
                continue
            t = type(value)
            if t is int or t is float or value is True or value is False:
                if redactor is not None and key not in _TEXT_ONLY and redactor.is_secret_key(key):
                    event[key] = redactor.mask
                elif t is int and not INT_MIN <= value <= INT_MAX:
                    event[key] = str(value)
                continue
            if t is str:
                if not value.isascii():
                    value = clean_str(value)
                if redactor is not None:
                    if key in _TEXT_ONLY or not redactor.is_secret_key(key):
                        value = redactor.redact_text(value)
                    else:
                        value = redactor.mask
            elif (
                (t is dict or t is list)
                and redactor is not None
                and not redactor.is_secret_key(key)
            ):
                # Plain JSON (the usual details): redacted and capped in one walk.
                try:
                    value, changed = redact_capped(value, redactor, caps)
                except NotPlain:
                    value, changed = caps.nested(redactor.redact(to_jsonable(value), key))
                if changed:
                    cut[key] = -1
                event[key] = value
                continue
            else:
                value = to_jsonable(value)
                if redactor is not None:
                    value = redactor.redact(value, key)
            if type(value) is str:
                cap = field_caps.get(key, default_chars)
                if len(value) > cap:
                    cut[key] = len(value)
                    value = truncate(value, cap)
            else:
                value, changed = caps.nested(value)
                if changed:
                    cut[key] = -1
            event[key] = value
        if cut:
            mark_cuts(event, cut)
        if not all(map(str.isascii, event)):
            # A caller's field name with a lone surrogate: orjson would refuse it.
            event = {clean_str(k): v for k, v in event.items()}
        return event

    def encode(self, raw: RawEvent, chain: Chain | None = None) -> bytes:
        """One line for ``raw``, sealed into ``chain`` when given.

        A failure anywhere still gives a line saying so (``encoding_error``), so an
        event never silently disappears and the chain has no hole.
        """
        limit = self._caps.max_event_bytes - (SEAL_BYTES if chain is not None else 0)
        try:
            event = self.build(raw)
            if self._ecs:
                line = self._encode_ecs(event, chain, limit)
            else:
                if chain is not None:
                    chain.stamp(event)
                line = encode_line(event)
                if len(line) > limit:
                    line = self._caps.fit(event, line, limit)
        except Exception as exc:  # a bug here must not lose the event's existence
            print(
                f"asgi_audit: could not encode a {raw.category}/{raw.event_type} event: "
                f"{type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
            fallback = {
                "timestamp": format_timestamp(raw.time_ns),
                "epoch_ms": raw.time_ns // 1_000_000,
                "event_id": self._ids.new(raw.time_ns),
                "event_type": raw.event_type,
                "category": raw.category,
                "outcome": UNKNOWN_OUTCOME if raw.outcome is None else raw.outcome,
                "encoding_error": f"{type(exc).__name__}",
            }
            if chain is not None:
                chain.stamp(fallback)
            line = encode_line(fallback)
        return line if chain is None else chain.seal(line)

    def _encode_ecs(self, event: dict[str, Any], chain: Chain | None, limit: int) -> bytes:
        # ECS documents nest the fields; the size cap is applied to the native
        # event (where the largest fields are known by name), leaving room for
        # what the ECS form adds, and the ECS form is then made again.
        doc = to_ecs(event)
        if chain is not None:
            chain.stamp(doc)
        line = encode_line(doc)
        if len(line) > limit:
            native = encode_line(event)
            room = limit - max(0, len(line) - len(native)) - 256
            self._caps.fit(event, native, max(room, 256))
            doc = to_ecs(event)
            if chain is not None:
                chain.stamp(doc)  # stamping does not move the chain: the same seq again
            line = encode_line(doc)
        return line
