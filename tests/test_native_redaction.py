"""The compiled core's redaction of a string against the reference.

Skipped where the core is not installed (``make native`` builds and installs it).
The properties: for ASCII texts assembled from the pieces the detectors look for
(keys of every kind, separators, quotes and escaped quotes, placeholders, flags,
percent escapes, tokens, blanks including the ones only Python's ``\\s`` knows),
the core decides keys, finds pairs and flags, and masks exactly as the reference
(:mod:`asgi_audit.record.secretkeys`, :mod:`asgi_audit.record.pairs`,
:meth:`asgi_audit.record.redaction.Redactor.spans`).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_audit.record.pairs import flag_spans, pair_spans
from asgi_audit.record.redaction import Redactor
from asgi_audit.record.secretkeys import DEFAULT_SECRET_WORDS, is_secret

native: Any = pytest.importorskip("asgi_audit_native")

WORDS = sorted(DEFAULT_SECRET_WORDS)

KEYS = [
    "password",
    "Password",
    "PASSWORD",
    "user_password",
    "passwords",
    "passwordPolicy",
    "password_policy_url",
    "api_key",
    "apiKey",
    "APIKey",
    "x-api-key",
    "x-rapidapi-key",
    "token",
    "tokens",
    "token_count",
    "max_tokens",
    "refresh_tokens",
    "tokenIDs",
    "tokenizer",
    "sessionId",
    "session_ids",
    "X-Session-ID",
    "sessiOnid",
    "connect.sid",
    "csrftoken",
    "secrets.py",
    "TokenService.java",
    "auth.errors.InvalidCredentials",
    "RevokedToken",
    "a.b.ExpiredToken",
    "pin",
    "pwd2",
    "URLs",
    "AWSSecretKey",
    "user",
    "name",
    "q",
    "_",
    "x9",
    "k" * 70,
    "a-" * 40 + "password",
    "a." * 40 + "password",
]
SEPARATORS = ["=", ":", " = ", ": ", "\t:", "  =  ", "=\t"]
QUOTES = ['"', "'", '\\"', '\\\\"', "\\", "\\'", '\\\\\\"']
VALUES = [
    "hunter2",
    "a b",
    "s3cr3t&x=1",
    "$1",
    "$1234",
    "?",
    "%s",
    "%(pw)s",
    "%()s",
    ":name",
    ":1x",
    "{x}",
    "{}",
    "{a-b}",
    "",
    "Tr0ub4dor&3",
    "ghp_" + "A1b2C3d4" * 5,
]
PIECES = [
    " ",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1f",
    "&",
    ",",
    ";",
    "}",
    "]",
    "{",
    "[",
    "-",
    "--",
    "-p",
    "--password",
    "--token=",
    "-u",
    "_",
    ".",
    "%",
    "%3D",
    "%3d",
    "%22",
    "%2F",
    "%41",
    "%7F",
    "%80",
    "%zz",
    "/",
    "?",
    "@",
    "#",
    "x",
    "A",
    "7",
    "\\",
    '"',
    "'",
    "password=",
    'password="',
    "Authorization: Bearer ",
    "user:pa55@host",
    "mysql -p s3cret",
    "curl -u admin:pw",
    "+",
    "++",
    "%2B",
    "%2b",
    "q=mysql+-p+s3cret",
    "+--password+",
    "ai21_key%3A+",
]

ascii_text = st.text(st.characters(max_codepoint=127), max_size=6)
pieces = st.one_of(
    st.sampled_from(KEYS),
    st.sampled_from(SEPARATORS),
    st.sampled_from(QUOTES),
    st.sampled_from(VALUES),
    st.sampled_from(PIECES),
    ascii_text,
)
texts = st.lists(pieces, max_size=14).map("".join)
keys = st.one_of(
    st.sampled_from(KEYS),
    st.lists(st.sampled_from([*KEYS, "_", "-", ".", "ID", "s", "Key", "9"]), max_size=5).map(
        "".join
    ),
    st.text(
        st.sampled_from("abcdeknoprstwyzABCIDKPST019_.-"),
        max_size=24,
    ),
)
SETTINGS = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def secret(key: str) -> bool:
    return is_secret(key, DEFAULT_SECRET_WORDS)


def test_the_word_lists_are_the_references() -> None:
    from asgi_audit.record import secretkeys

    lists = dict(native._key_lists())
    assert set(lists) == {
        "_DESCRIPTIVE_LAST_WORDS",
        "_FILE_SUFFIXES",
        "_FAILURE_FIRST_WORDS",
        "_SECRET_LAST_WORDS",
        "_TOKEN_COUNT_WORDS",
    }
    for name, words in lists.items():
        assert set(words) == set(getattr(secretkeys, name)), name


@SETTINGS
@given(keys)
def test_keys_are_decided_alike(key: str) -> None:
    core = native.Redactor(native.Scanner([]), WORDS, "*")
    assert core.is_secret_key(key) is secret(key)


@SETTINGS
@given(texts)
def test_pairs_are_found_alike(text: str) -> None:
    expected = [(s, e) for s, e, _ in pair_spans(text, secret)]
    assert native._pair_spans(text, WORDS) == expected


@SETTINGS
@given(texts)
def test_flags_are_found_alike(text: str) -> None:
    expected = [(s, e) for s, e, _ in flag_spans(text, secret)]
    assert native._flag_spans(text, WORDS) == expected


@SETTINGS
@given(texts)
def test_a_string_is_masked_alike(text: str) -> None:
    r = Redactor()
    core = r._core
    if core is None:
        pytest.skip("ASGI_AUDIT_PURE is set: the Redactor runs the reference")
    spans = core.spans(text)
    if spans is None:  # only the reference can decide: it then does
        return
    assert spans == r.spans(text)
    masked = core.redact(text)
    expected = r._masked(text)
    assert masked == expected


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("password=hunter2 and more", "password=*** and more"),
        ('{\\"password\\": \\"a b\\"}', '{\\"password\\": \\"***\\"}'),
        ("next=%2Flogin%3Fpassword%3Dhunter2&x=1", "next=%2Flogin%3Fpassword%3D***&x=1"),
        ("mysql --password s3cr3t -u root", "mysql --password *** -u root"),
        ("password = $1", None),
        ("nothing to see here", None),
    ],
)
def test_pinned(text: str, masked: str | None) -> None:
    core = native.Redactor(native.Scanner([]), WORDS, "***")
    try:
        assert core.redact(text) == masked
    except ValueError:
        pytest.skip("the shapes are decided by the reference in this build")


def test_not_ascii_is_refused() -> None:
    core = native.Redactor(native.Scanner([]), WORDS, "*")
    with pytest.raises(ValueError, match="ASCII"):
        core.redact("pässword=x")
