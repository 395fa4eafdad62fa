"""The shapes of secrets in free text, whatever key they come under.

PURE: no event loop, no file. :func:`mask_shapes` replaces every match of a
precompiled set of patterns:

* credentials after an auth scheme: ``Bearer``, ``Basic``, ``Digest`` (any case);
* JWTs (``eyJ…``.``eyJ…``.sig), PEM private-key blocks (also cut-off ones);
* URL credentials ``scheme://user:password@host`` (the password goes);
* Slack webhook URLs (the token formats of providers are the rules of
  :mod:`asgi_audit.record.rules`, found by :mod:`asgi_audit.record.scanner`);
* card numbers of 13-19 digits (spaces or dashes allowed) that pass the Luhn
  check and start like a card (2-6);
* long random runs: base64/base64url of 20+ characters that mix upper case,
  lower case and digits, switch between them on at least 45% of characters and
  are dense (Shannon entropy >= 3.5 bits); and hex runs of 40+ characters that
  mix digits and letters, are dense (>= 3 bits) and whose length is not a digest's.

What stays, by rule: file paths (a run starting with ``/``, ``./`` or ``~/`` is
judged segment by segment, so only a random segment goes), UUIDs and the log's
own event ids (hex with dashes), request ids and hex digests of the usual
lengths (32, 40, 64, 96, 128 hex characters: MD5, SHA-1, SHA-256, SHA-384,
SHA-512), words and identifiers (``QuarterlyReport2024Q3`` switches too rarely).
"""

from __future__ import annotations

import binascii
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import Final, TypeAlias

__all__ = (
    "DIGEST_HEX_LENGTHS",
    "Span",
    "apply_mask",
    "entropy",
    "luhn_valid",
    "mask_shapes",
    "merge_spans",
    "random_token",
    "shape_spans",
)

#: A span of a text that holds a secret, and what found it.
Span: TypeAlias = tuple[int, int, str]
#: What merging takes: a bare span, a named one, or a scanner's hit (its rule's index).
Spanned: TypeAlias = tuple[int, int] | tuple[int, int, str] | tuple[int, int, int]

#: Lengths of hex runs that are kept as digests or ids rather than masked.
DIGEST_HEX_LENGTHS: Final = frozenset({32, 40, 64, 96, 128})

# One pattern per family, each run only when a cheap substring test says the
# text could hold it: most strings (user agents, paths, tool names) hold none,
# and Python's re pays for every alternative at every position.
_PEM: Final = re.compile(
    r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
    re.DOTALL,
)
# The credential after the scheme: not a lower-case word, not a flag, and not a
# ``key=value`` (``token_type=Bearer expires_in=3600``): "=" only as padding.
_SCHEME: Final = re.compile(
    r"(\b(?i:bearer|basic)[ \t]+)(?![a-z]+\b)(?!-)[A-Za-z0-9._~+/-]{6,}=*(?![A-Za-z0-9._~+/=-])"
)
_DIGEST: Final = re.compile(r"(\b(?i:digest)\s+)[^\r\n]+")
_JWT: Final = re.compile(r"\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
_URL_PASSWORD: Final = re.compile(
    r"(\b[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s/:@?#]*:)[^\s/?#]+(?=@[^\s@/?#]*(?:[\s/?#]|\Z))"
)
_SLACK_HOOK: Final = re.compile(
    r"(https://hooks\.slack\.com/(?:services|workflows)/)[A-Za-z0-9/_-]+"
)
_CARD: Final = re.compile(r"(?<![\w.-])[2-6](?:[ -]?\d){12,18}(?!\w)(?!\.\d)")
_HEX: Final = re.compile(r"(?<![A-Za-z0-9_-])[0-9a-fA-F]{40,}(?![A-Za-z0-9_-])")
# Long runs are judged in a last pass, once the shapes above are masked, so a
# token or a URL inside a path is found by its own pattern first.
_DIGIT: Final = re.compile(r"[0-9]")
# Hex in one case only: mixed case could be a random base64 secret.
_HEX_ONLY: Final = re.compile(r"[0-9a-f]+|[0-9A-F]+")
_SEGMENTS: Final = re.compile(r"([/.~])")
_LONG_SEGMENT: Final = re.compile(r"[^/.~]{20}")
_RUN: Final = re.compile(r"[A-Za-z0-9+/_~.-]{20,}={0,2}")
_INTEGRITY_IN: Final = re.compile(r"(?<![A-Za-z0-9])sha(?:256|384|512)-[A-Za-z0-9+/]{43,86}={0,2}")
_BASE64_40: Final = re.compile(r"[A-Za-z0-9+/]{40}")
_ESCAPE_DIGITS: Final = re.compile(r"[0-9A-Fa-f]{2}")
_URLSAFE: Final = str.maketrans("-_", "+/")
_INTEGRITY: Final = re.compile(r"sha(?:256|384|512)-[A-Za-z0-9+/]{43,86}={0,2}")
_BASE64: Final = re.compile(r"[A-Za-z0-9+/]+|[A-Za-z0-9_-]+")
_CREDENTIAL_PAIR: Final = re.compile(r"[A-Za-z0-9._@+-]{1,128}:[^\s]{1,256}")


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _char_class(c: str) -> int:
    if c.isdigit():
        return 0
    if c.isupper():
        return 1
    if c.islower():
        return 2
    return 3


def random_token(token: str) -> bool:
    """Whether a run of base64 characters looks like a random secret (see the module rules)."""
    if len(token) < 20:
        return False
    chars = token.replace("/", "").replace("+", "").replace("-", "").replace("_", "")
    n = len(chars)
    if n < 20:
        return False
    # Cheap tests in C first: most runs (hex ids, words, numbers) miss a class.
    if chars.islower() or chars.isupper() or chars.isalpha() or _DIGIT.search(chars) is None:
        return False
    classes = [_char_class(c) for c in chars]
    if not (0 in classes and 1 in classes and 2 in classes):
        return False
    switches = sum(1 for a, b in itertools.pairwise(classes) if a != b)
    if switches < 0.45 * (n - 1):
        return False
    return entropy(chars) >= 3.5


def entropy(text: str) -> float:
    """Shannon entropy in bits per character; the counts summed in code-point order,
    one at a time (the order the compiled core sums them in, so that both round
    alike on every Python: ``sum`` of floats rounds differently from 3.12 on)."""
    n = len(text)
    if n == 0:
        return 0.0
    total = 0.0
    for _, count in sorted(Counter(text).items()):
        p = count / n
        total -= p * math.log2(p)
    return total


def _random_hex(run: str) -> bool:
    # Random hex mixes digits and letters and is dense (4 bits is the most).
    return any(c.isdigit() for c in run) and any(c.isalpha() for c in run) and entropy(run) >= 3.0


def _run_spans(run: str, offset: int) -> list[Span]:
    if run.startswith(("/", "./", "~/", "../")) or "." in run:
        # A path or a dotted name: judge each segment alone, so a random segment
        # is masked and the names around it stay. Only a segment of 20 or more
        # characters can be random.
        if _LONG_SEGMENT.search(run) is None:
            return []
        # A labelled digest keeps its "/"s: its pieces are not segments.
        kept = [m.span() for m in _INTEGRITY_IN.finditer(run)]
        spans = []
        at = 0
        for part in _SEGMENTS.split(run):
            end = at + len(part)
            if not any(s < end and at < e for s, e in kept) and _random(part):
                spans.append((offset + at, offset + end, "random-run"))
            at = end
        # A 40-character secret with "/" in it (an AWS secret access key) is cut
        # into segments by its own slashes: judge each 40-character window
        # between two slashes (or the run's ends) as a whole.
        slashes = [-1, *(k for k, c in enumerate(run) if c == "/"), len(run)]
        ends = set(slashes)
        for first in slashes:
            last = first + 41
            window = run[first + 1 : last]
            if (
                last in ends
                and "/" in window
                and _BASE64_40.fullmatch(window)
                and not any(s < last and first + 1 < e for s, e in kept)
                and random_token(window)
                and not _text_in_base64(window)
            ):
                spans.append((offset + first + 1, offset + last, "random-run"))
        return spans
    return [(offset, offset + len(run), "random-run")] if _random(run) else []


def _random(run: str) -> bool:
    # A labelled digest (subresource integrity, npm lockfiles) or base64 of
    # ordinary text is not a secret, however random it looks.
    return (
        random_token(run.rstrip("="))
        and _INTEGRITY.fullmatch(run) is None
        and not _text_in_base64(run)
    )


def _text_in_base64(run: str) -> bool:
    """Whether ``run`` is base64 of ordinary text: printable ASCII or UTF-8 with
    letters and spaces, and not a ``user:password`` pair (Basic credentials)."""
    body = run.rstrip("=")
    if len(body) < 16 or not _BASE64.fullmatch(body):
        return False
    try:
        standard = body.translate(_URLSAFE) + "=" * (-len(body) % 4)
        raw = binascii.a2b_base64(standard)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    if not decoded.isprintable() and not all(c.isprintable() or c in "\t\r\n" for c in decoded):
        return False
    if _CREDENTIAL_PAIR.fullmatch(decoded.strip()):
        return False
    letters = sum(c.isalpha() for c in decoded)
    return letters >= len(decoded) // 2 and any(c in " ,.:;{}<>\n" for c in decoded)


def _table(chars: str, mark: str) -> bytes:
    # A bytes.translate table: ``chars`` become ``mark``, every other byte a space.
    return bytes(ord(mark) if chr(b) in chars else 0x20 for b in range(256))


_HEX_TABLE: Final = _table("0123456789abcdefABCDEF", "h")
_NOT_DIGITS: Final = bytes(b for b in range(256) if not 0x30 <= b <= 0x39)
_HEX_RUN: Final = b"h" * 40


def ascii_bytes(text: str) -> bytes:
    """``text`` as bytes for the cheap gates below (non-ASCII bytes never match them)."""
    return text.encode("utf-8", "surrogatepass")


def _digit_count(data: bytes) -> int:
    return len(data.translate(None, _NOT_DIGITS))


def shape_spans(text: str, random: bool = True) -> list[Span]:
    """The spans of ``text`` that hold a secret shape of the module rules (unsorted,
    possibly overlapping, each with the name of its shape), found on the text as it is.

    ``random=False`` leaves out the long random runs (base64 and hex): in text with
    percent escapes they are judged on the decoded view only, where ``%2B`` does not
    cut a run in pieces that each look random.
    """
    if len(text) in DIGEST_HEX_LENGTHS and _HEX_ONLY.fullmatch(text):
        return []  # a digest or a request id: kept by rule, nothing else can match it
    spans: list[Span] = []
    if "-----BEGIN" in text:
        spans += [(*m.span(), "pem-private-key") for m in _PEM.finditer(text)]
    lowered = text.lower()
    if "bearer" in lowered or "basic" in lowered:
        spans += [(m.end(1), m.end(), "auth-scheme") for m in _SCHEME.finditer(text)]
    if "digest" in lowered:
        spans += [(m.end(1), m.end(), "digest-auth") for m in _DIGEST.finditer(text)]
    if "eyJ" in text:
        spans += [(*m.span(), "jwt") for m in _JWT.finditer(text)]
    if "://" in text:
        spans += [(m.end(1), m.end(), "url-password") for m in _URL_PASSWORD.finditer(text)]
        if "hooks.slack.com" in text:
            spans += [(m.end(1), m.end(), "slack-webhook") for m in _SLACK_HOOK.finditer(text)]
    if len(text) < 16:
        return spans
    # The gates below run in C over the bytes (a translate and a substring
    # search): a regex pass over text that cannot match costs far more.
    data = ascii_bytes(text)
    digits = _digit_count(data)
    if digits >= 13:
        spans += [
            (*m.span(), "card-number")
            for m in _CARD.finditer(text)
            if luhn_valid(_digits_only(m.group(0)))
        ]
    if not random:
        return spans
    if digits >= 6 and len(text) >= 40 and _HEX_RUN in data.translate(_HEX_TABLE):
        for m in _HEX.finditer(text):
            run, at = m.group(0), m.start()
            if at and text[at - 1] == "%":
                run, at = run[2:], at + 2  # "%3Ab80...": an escaped ":", then the run
            if len(run) not in DIGEST_HEX_LENGTHS and _random_hex(run):
                spans.append((at, at + len(run), "random-hex"))
    if len(text) >= 20:
        for m in _RUN.finditer(text):
            run, at = m.group(0), m.start()
            if at and text[at - 1] == "%" and _ESCAPE_DIGITS.match(run):
                run, at = run[2:], at + 2  # "%3Ab80..." is ":b80...", escaped
            spans += _run_spans(run, at)
    return spans


def mask_shapes(text: str, mask: str) -> str:
    """``text`` with every secret shape of the module rules replaced by ``mask``."""
    return apply_mask(text, shape_spans(text), mask)


def merge_spans(spans: Iterable[Spanned]) -> list[tuple[int, int]]:
    """The ``(start, end)`` of ``spans`` sorted and merged where they overlap or touch
    (empty ones dropped)."""
    merged: list[tuple[int, int]] = []
    for start, end, *_ in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        elif end > start:
            merged.append((start, end))
    return merged


def apply_mask(text: str, spans: Iterable[Spanned], mask: str) -> str:
    """``text`` with each of ``spans`` (merged first) replaced by ``mask``."""
    merged = merge_spans(spans)
    if not merged:
        return text
    parts = []
    pos = 0
    for start, end in merged:
        parts.append(text[pos:start])
        parts.append(mask)
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def _digits_only(text: str) -> str:
    return text.replace(" ", "").replace("-", "")
