"""The compiled secret shapes (``asgi_audit_native._shape_spans``) against the reference.

Skipped where the core is not installed (``make native`` builds and installs it).
The property: for ASCII texts assembled from the pieces each shape is made of (auth
schemes, JWTs, PEM markers, URL credentials, Slack hooks, card numbers, hex and
base64 runs, base64 of text, paths, integrity digests, percent escapes) with every
separator and random ASCII between them, the core's spans are the reference's, names
dropped. The core may answer None only where the reference decodes a base64 run to
text outside ASCII, whose printability Python's Unicode tables decide.
"""

from __future__ import annotations

import base64
import binascii
import string
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_audit.record import shapes

native: Any = pytest.importorskip("asgi_audit_native")

# About 5 s in all; many more examples were run while the core was written.
PROPERTY = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BASE64 = string.ascii_letters + string.digits + "+/"
BASE64URL = string.ascii_letters + string.digits + "-_"
SEPARATORS = " \t\n\r\x1c\x0b./~-_+=@:?#"
FIXED = (
    "Bearer ",
    "bearer\t",
    "BASIC  ",
    "basic\t",
    "Basic ",
    "Bearer",
    "Digest ",
    "digest\r\n",
    "DIGEST \t",
    "digest",
    "eyJ",
    "eyJhbGciOiJIUzI1NiJ9.",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN PGP PRIVATE KEY BLOCK-----",
    "-----END PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY BLOCK-----",
    "-----BEGIN",
    "-----END",
    " PRIVATE KEY",
    "-----",
    "https://user:pa@ss@host/",
    "https://",
    "git+ssh://u:",
    "://",
    "@",
    "@host",
    "hooks.slack.com/services/",
    "https://hooks.slack.com/services/",
    "https://hooks.slack.com/workflows/",
    "sha256-",
    "sha384-",
    "sha512-",
    "%3A",
    "%2F",
    "%",
    "=",
    "==",
    "===",
    "/a/b/",
    "./",
    "~/",
    "../",
    "token_type=",
    "expires_in=3600",
    "--flag",
)
WORDS = (
    "the",
    "report",
    "QuarterlyReport2024Q3",
    "user",
    "password",
    "session",
    "upload",
    "v1",
    "Café",
    "naïve",
    "日本",
)


def luhn_digit(digits: str) -> str:
    """The digit that makes ``digits`` + it pass the Luhn check."""
    for d in string.digits:
        if shapes.luhn_valid(digits + d):
            return d
    raise AssertionError("unreachable")


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    first = draw(st.sampled_from("2345623456017"))
    rest = draw(st.text(string.digits, min_size=9, max_size=20))
    digits = first + rest
    if draw(st.booleans()):
        digits = digits[:-1] + luhn_digit(digits[:-1])
    out = []
    for i, d in enumerate(digits):
        if i and draw(st.integers(0, 4)) == 0:
            out.append(draw(st.sampled_from(" -")))
        out.append(d)
    return "".join(out)


@st.composite
def hex_runs(draw: st.DrawFn) -> str:
    size = draw(st.sampled_from((32, 40, 64, 96, 128)) | st.integers(30, 140))
    alphabet = draw(st.sampled_from(("0123456789abcdef", "0123456789ABCDEF", string.hexdigits)))
    return draw(st.text(alphabet, min_size=size, max_size=size))


def b64(raw: bytes, *, urlsafe: bool, padded: bool) -> str:
    text = (base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)).decode()
    return text if padded else text.rstrip("=")


@st.composite
def encoded(draw: st.DrawFn) -> str:
    """Base64 of text (English, a ``user:password``, outside ASCII) or of random bytes."""
    words = st.sampled_from(WORDS) | st.text(string.ascii_letters, min_size=1, max_size=8)
    kind = draw(st.integers(0, 4))
    if kind == 0:
        punctuation = st.sampled_from((" ", ", ", ". ", "\n", ":", "\t"))
        chosen = draw(st.lists(words, min_size=3, max_size=12))
        raw = "".join(word + draw(punctuation) for word in chosen).encode()
    elif kind == 1:
        user = draw(st.text(string.ascii_letters + "._@+-", min_size=1, max_size=20))
        password = draw(st.text(string.printable.strip(), min_size=1, max_size=30))
        lead = draw(st.sampled_from(("", " ", "\n")))
        raw = f"{lead}{user}:{password}".encode()
    elif kind == 2:
        raw = draw(st.text(min_size=8, max_size=40)).encode("utf-8", "surrogatepass")
    elif kind == 3:
        raw = draw(st.binary(min_size=10, max_size=60))
    else:
        raw = draw(st.text(string.printable, min_size=10, max_size=60)).encode()
    return b64(raw, urlsafe=draw(st.booleans()), padded=draw(st.booleans()))


@st.composite
def paths(draw: st.DrawFn) -> str:
    segment = (
        st.sampled_from(WORDS[:8])
        | st.text(BASE64URL, min_size=15, max_size=45)
        | st.text(string.ascii_letters + string.digits, min_size=18, max_size=24)
    )
    parts = draw(st.lists(segment, min_size=1, max_size=5))
    start = draw(st.sampled_from(("/", "./", "~/", "../", "", "a.")))
    return start + "/".join(parts) + draw(st.sampled_from(("", "/", ".pdf", "==")))


@st.composite
def slashed_keys(draw: st.DrawFn) -> str:
    """40 base64 characters with slashes in them (an AWS secret access key's shape)."""
    key = list(draw(st.text(string.ascii_letters + string.digits, min_size=40, max_size=40)))
    for i in draw(st.lists(st.integers(1, 38), min_size=1, max_size=3)):
        key[i] = "/"
    return "".join(key)


@st.composite
def jwts(draw: st.DrawFn) -> str:
    piece = st.text(BASE64URL, min_size=0, max_size=12)
    return f"eyJ{draw(piece)}.{draw(piece)}.{draw(piece)}"


@st.composite
def integrity(draw: st.DrawFn) -> str:
    label = draw(st.sampled_from(("sha256-", "sha384-", "sha512-", "sha1-")))
    body = draw(st.text(BASE64, min_size=40, max_size=90))
    return label + body + "=" * draw(st.integers(0, 3))


# Small pieces of one family each, run together: the corners of each pattern
# (a marker cut short, a run one too long, a separator where a digit should be).
DENSE = (
    (
        "-----BEGIN",
        "-----END",
        " PRIVATE KEY",
        " BLOCK",
        "-----",
        "-",
        " RSA",
        "PRIVATE",
        "\n",
        "x",
    ),
    ("Bearer", "basic", "BASIC", " ", "\t", "abcdef", "ABC123", "-", "=", "==", ".", "_", "a", "7"),
    ("digest", "Digest", " ", "\t", "\r", "\n", "\x0b", "\x1c", "x", "_", "=", "a"),
    ("http", "a", "://", ":", "@", "/", "?", "#", " ", "\t", "u", "p", "+", ".", "-", "1", "_"),
    ("https://hooks.slack.com/", "services/", "workflows/", "T0", "/", "_", "-", ":", " "),
    ("4", "2", "6", "0", "1", "9", " ", "-", ".", "_", "a", "4111", "5500", "  "),
    ("0123456789", "abcdef", "ABCDEF", "9f86d081", "b80c", "-", "_", "%", "g", " ", "."),
    ("eyJ", "ab", "_-", ".", "x", " ", "eyJhbGciOiJIUzI1NiJ9", "-"),
)


@st.composite
def dense(draw: st.DrawFn) -> str:
    pieces = draw(st.sampled_from(DENSE))
    return "".join(draw(st.lists(st.sampled_from(pieces), min_size=1, max_size=30)))


@st.composite
def base64_pieces(draw: st.DrawFn) -> str:
    """Pieces of base64 runs with the characters that cut or end them in between."""
    piece = (
        st.text(BASE64, min_size=3, max_size=22)
        | st.sampled_from(("%3A", "%2F", "%", "=", "==", "/", ".", "~", "~/", "./", "-", "_"))
        | st.sampled_from(("sha256-", "sha512-", "+", "/a/b/", "9", "Zq", " "))
    )
    return "".join(draw(st.lists(piece, min_size=1, max_size=12)))


FRAGMENTS = (
    st.sampled_from(FIXED)
    | st.sampled_from(WORDS[:8])
    | card_numbers()
    | hex_runs()
    | st.text(BASE64, min_size=15, max_size=90)
    | st.text(BASE64URL, min_size=15, max_size=90)
    | encoded()
    | paths()
    | slashed_keys()
    | jwts()
    | integrity()
    | st.text(st.characters(max_codepoint=127), max_size=6)
    | st.text(SEPARATORS, min_size=1, max_size=3)
    | dense()
    | base64_pieces()
)


@st.composite
def texts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(FRAGMENTS, max_size=10))
    glue = st.sampled_from(("", "", " ")) | st.text(SEPARATORS, min_size=1, max_size=2)
    text = "".join(part + draw(glue) for part in parts)
    # Fragments of text outside ASCII only ever reach the core base64-encoded.
    return text.encode("ascii", "ignore").decode()


def decodes_outside_ascii(run: str) -> bool:
    """Whether base64 ``run`` decodes (as ``_text_in_base64`` does) to UTF-8 outside ASCII."""
    body = run.rstrip("=")
    standard = body.translate(str.maketrans("-_", "+/")) + "=" * (-len(body) % 4)
    try:
        return not binascii.a2b_base64(standard).decode("utf-8").isascii()
    except (binascii.Error, ValueError):
        return False


def reference(text: str, random: bool) -> tuple[list[tuple[int, int]], list[str]]:
    """The reference's spans, names dropped, and the runs it tried as base64 of text."""
    tried: list[str] = []
    text_in_base64 = shapes._text_in_base64

    def recording(run: str) -> bool:
        tried.append(run)
        return text_in_base64(run)

    with patch.object(shapes, "_text_in_base64", recording):
        spans = shapes.shape_spans(text, random)
    return sorted({(start, end) for start, end, _ in spans}), tried


def check(text: str, random: bool) -> None:
    expected, tried = reference(text, random)
    got = native._shape_spans(text, random)
    if got is None:
        assert any(decodes_outside_ascii(run) for run in tried), text
    else:
        assert got == expected, text


@PROPERTY
@given(texts(), st.booleans())
def test_the_core_finds_the_reference_spans(text: str, random: bool) -> None:
    check(text, random)


@PROPERTY
@given(st.text(st.characters(max_codepoint=127), max_size=60), st.booleans())
def test_the_core_finds_the_reference_spans_in_any_ascii(text: str, random: bool) -> None:
    check(text, random)


KEY = "u8jzPde0IgxLd/GncfBAepfJB/0Kh8oOOL8dKLzd"
TOKEN = "Zk9xR3bT7qLm2NvW8sYc4HjD"
HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08ff"


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("Authorization: Bearer abc123XYZ.def", [(22, 35)]),
        ("basic\tdXNlcjpwYXNz==, rest", [(6, 20)]),
        ("token_type=Bearer expires_in=3600", []),
        ("Bearer --flag-value", []),
        ("Digest username=x\r\nnext", [(7, 17)]),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln rest", [(4, 24), (4, 45)]),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- ok", [(0, 66)]),
        ("-----BEGIN PRIVATE KEY-----\nMIIE cut off", [(0, 40)]),
        ("see https://user:pa@ss@host/x", [(17, 22)]),
        ("https://hooks.slack.com/services/T000/B000/XXXX ok", [(33, 47)]),
        ("card 4111 1111 1111 1111 ok", [(5, 24)]),
        ("card 4111 1111 1111 1112 ok", []),
        (f"id {HEX} end", [(3, 69)]),
        (f"sum {HEX[:64]} end", []),
        (f"token {TOKEN} end", [(6, 30)]),
        (f"aws {KEY}", [(4, 44)]),
        (f"/srv/data/{TOKEN}/report.pdf", [(10, 34)]),
        (f"q=%3A{TOKEN}", [(5, 29)]),
        ("VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcw==", []),
        (f"/static/sha512-{TOKEN * 3}=", []),
        ("QuarterlyReport2024Q3 is in /usr/local/share/reports/2024/q3.pdf", []),
    ],
)
def test_each_shape(text: str, spans: list[tuple[int, int]]) -> None:
    assert native._shape_spans(text, True) == spans
    assert reference(text, True)[0] == spans


def test_base64_of_text_outside_ascii_is_left_to_the_reference() -> None:
    # "café crème, très bien": Python's tables decide whether it is ordinary text.
    run = "Y2Fmw6kgY3LDqG1lLCB0csOocyBiaWVu"
    assert shapes.random_token(run)
    assert native._shape_spans(f"x {run} y", True) is None
    assert native._shape_spans(f"x {run} y", False) == []


def test_non_ascii_text_is_refused() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        native._shape_spans("café", True)
