"""Secrets by their key in free text: ``key=value`` pairs and ``--key value`` flags.

PURE: no event loop, no file. Finds the spans of the values whose key is secret
(the caller decides, :meth:`asgi_audit.record.redaction.Redactor.is_secret_key`):

* ``key=value`` (query strings and form bodies too), ``key: value``,
  ``"key": "value"`` and ``\\"key\\": \\"value\\"`` (JSON inside a string): a
  quoted value is a secret whole, inside its quotes (passphrases with spaces); a
  bare value after ``=`` runs up to whitespace or ``&,;``, after ``:`` up to the
  end of the line or ``&,;``. The value of a pair whose key is not secret is
  scanned for pairs of its own (``next=/login?password=x``).
* ``--password value``, ``-p value``: command lines in error messages and stack
  traces.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from .shapes import Span

__all__ = ("flag_spans", "has_flag", "pair_spans")

# The key is any identifier-like run and the caller decides on its words. An
# unquoted value after "=" ends at whitespace or a pair separator; after ":" it
# runs on to the end of the line or a separator, since headers and YAML-like
# text put spaces in values.
_SEPARATOR: Final = re.compile(r"[:=]")
# The key before a separator, matched on the reversed text from the separator
# leftwards, so finding pairs costs a little per ":" or "=" instead of a regex
# attempt at every position. Reversed: optional blanks, the closing quote (with
# its escaping backslashes), the key (its first character last), the same quote,
# and no word character before it.
_KEY_BACKWARDS: Final = re.compile(
    r"""[ \t]*(?P<q>["']?\\*)(?P<key>[A-Za-z0-9_.-]{0,63}[A-Za-z_])(?P=q)(?![A-Za-z0-9_])"""
)
_VALUE: Final = re.compile(
    r"""[ \t]*(?P<val>(?P<vq>\\+)".*?(?<!\\)(?P=vq)"|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"""
    r"""|[^\s&,;"'}\]][^\r\n&,;"'}\]]*)"""
)
_FLAG: Final = re.compile(
    r"(?<![\w-])(?P<flag>--?(?P<key>[A-Za-z][A-Za-z0-9_-]{0,63}))(?P<sep>\s+)(?P<val>[^\s-]\S*)"
)
_SPACE: Final = re.compile(r"\s")
# A query's placeholder, not a value: ``password_hash = $1``, ``token = ?``, ``%s``,
# ``%(name)s``, ``:name``, ``{name}``.
_PLACEHOLDER: Final = re.compile(
    r"\$[0-9]{1,3}|\?|%s|%\([A-Za-z_][A-Za-z0-9_]*\)s|:[A-Za-z_]\w*|\{\w*\}"
)
# Word characters become "w", "-" stays, anything else (non-ASCII bytes too,
# which may be non-word characters) becomes a space.
_FLAG_TABLE: Final = bytes(
    0x77 if chr(b).isascii() and (chr(b).isalnum() or b == 0x5F) else 0x2D if b == 0x2D else 0x20
    for b in range(256)
)


def pair_spans(text: str, is_secret: Callable[[str], bool]) -> list[Span]:
    """The spans of the values of ``text``'s pairs whose key ``is_secret``, each named
    ``key <the key>``."""
    # Each separator is looked at on its own: the key to its left, the value to
    # its right. A pair whose key is not secret swallows nothing, so the pairs
    # inside its value (``next=/login?password=x``, ``error: password="a b"``)
    # are found too.
    spans: list[Span] = []
    pos = 0
    backwards: str | None = None
    last = len(text) - 1
    for sep in _SEPARATOR.finditer(text):
        i = sep.start()
        if i < pos:
            continue  # inside a secret value already
        if backwards is None:
            backwards = text[::-1]
        key_match = _KEY_BACKWARDS.match(backwards, last - i + 1)
        key = None if key_match is None else key_match.group("key")[::-1]
        if key is None or not is_secret(key):
            continue
        m = _VALUE.match(text, i + 1)
        if m is None:
            continue
        start, end = m.span("val")
        val = m.group("val")
        escape = m.group("vq")
        if escape:
            # JSON inside JSON: the value's own escaped quotes stay.
            spans.append((start + len(escape) + 1, end - len(escape) - 1, f"key {key}"))
        elif val[:1] in ("'", '"'):
            spans.append((start + 1, end - 1, f"key {key}"))
        else:
            if sep.group(0) == "=":
                # After "=" a bare value ends at whitespace.
                space = _SPACE.search(val)
                if space is not None:
                    end = start + space.start()
            if _PLACEHOLDER.fullmatch(text, start, end) is None:
                spans.append((start, end, f"key {key}"))
        pos = end
    return spans


def has_flag(data: bytes) -> bool:
    """Whether ``data`` (the text's UTF-8) can hold a flag: a ``-`` at the start or
    after a non-word character (checked in C before the regex walks the text)."""
    marks = data.translate(_FLAG_TABLE)
    return marks.startswith(b"-") or b" -" in marks


def flag_spans(text: str, is_secret: Callable[[str], bool]) -> list[Span]:
    """The spans of the values of ``text``'s command-line flags whose name ``is_secret``,
    each named ``flag <the flag>``."""
    return [
        (*m.span("val"), f"flag {m.group('flag')}")
        for m in _FLAG.finditer(text)
        if is_secret(m.group("key"))
    ]
