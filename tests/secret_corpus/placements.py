"""Where a secret lands in an event: the places secrets leak into logs from.

A :class:`Placement` turns the text of a secret (or of an ordinary value) into the value
planted, and names the event field that carries it (``slot``); ``measure`` makes the
event through the public API. Placements differ in what a redactor sees around the
secret: nothing (free text), prose, a query string, JSON inside a string, a dict value
under an innocuous key, a dict key, an exception message, a request path segment, a
percent-encoded query value, a URL path, a command line, an HTTP header value, a user
agent, a multi-line log excerpt.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

__all__ = ("PLACEMENTS", "Placement", "by_name")


@dataclass(frozen=True, slots=True)
class Placement:
    """One way a value lands in an event.

    Attributes:
        name: short and stable, used in reports.
        slot: where ``measure`` puts the planted value (see ``measure.SLOTS``).
        plant: the value planted, from the secret's (or ordinary value's) text.
        single_line: only for texts without a newline (headers, paths, query strings).
        token_like: only for texts without whitespace (path segments, bare query values).
        ordinary: also used for ordinary values; False where the placement itself names a
            secret (``?token=``, ``/keys/<x>``), where masking an ordinary value is right.
    """

    name: str
    slot: str
    plant: Callable[[str], str]
    single_line: bool = False
    token_like: bool = False
    ordinary: bool = True

    def accepts(self, text: str) -> bool:
        if self.single_line and "\n" in text:
            return False
        return not (self.token_like and any(ch.isspace() for ch in text))


def _sentence(text: str) -> str:
    return f"While reproducing the bug I pasted {text} into the ticket, see above."


def _query(text: str) -> str:
    return f"/v1/export?format=csv&token={text}&page=2"


def _json_in_string(text: str) -> str:
    return json.dumps({"id": 7, "note": text, "ok": True})


def _path_segment(text: str) -> str:
    return f"/api/v1/keys/{text}/rotate"


def _percent_encoded(text: str) -> str:
    return f"/search?q={quote(text, safe='')}&lang=en"


def _url_path(text: str) -> str:
    return f"https://files.example.net/share/{text}/download"


def _command_line(text: str) -> str:
    return f"backup-agent --verbose --label {shlex.quote(text)} --target s3://backups/db"


def _log_excerpt(text: str) -> str:
    return "\n".join(
        [
            "2026-03-02T10:15:01.112Z INFO  worker[812] starting batch 42",
            f"2026-03-02T10:15:02.407Z DEBUG worker[812] upstream replied: {text}",
            "2026-03-02T10:15:02.409Z INFO  worker[812] batch 42 done in 1297 ms",
        ]
    )


def _same(text: str) -> str:
    return text


PLACEMENTS: Final[tuple[Placement, ...]] = (
    Placement("free_text", "raw_input", _same),
    Placement("sentence", "blocked_reason", _sentence),
    Placement("query_string", "request_path", _query, single_line=True, ordinary=False),
    Placement("json_in_string", "payload", _json_in_string),
    Placement("dict_value", "details.note", _same),
    Placement("dict_key", "labels.<key>", _same, single_line=True),
    Placement("exception_message", "error_message", lambda t: f"upstream call failed: {t}"),
    Placement(
        "path_segment", "request_path", _path_segment, single_line=True, token_like=True,
        ordinary=False,
    ),
    Placement("percent_encoded_query", "request_path", _percent_encoded),
    Placement("url_path", "link", _url_path, single_line=True, token_like=True),
    Placement("command_line", "command", _command_line),
    Placement("header_value", "request_headers.x-note", _same, single_line=True),
    Placement("user_agent", "user_agent", _same, single_line=True),
    Placement("log_excerpt", "log_excerpt", _log_excerpt),
)  # fmt: skip


def by_name(name: str) -> Placement:
    """The placement called ``name``."""
    return next(p for p in PLACEMENTS if p.name == name)
