"""The mask covers whole secrets and nothing else: what is not masked stays byte for byte.

Every detector finds spans on the text as written (and on its percent-decoded
view, mapped back); the spans are merged, grown to the edges of the token they
land in, and masked. So a percent-encoded text keeps its encoding, and a mask never
leaves a fragment of the token it lands in.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from asgi_audit.record.percent import decoded_view, extend_to_token
from asgi_audit.record.redaction import REDACTED, Redactor

REDACTOR = Redactor()
TOKEN = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
SECRET = "Zq9xW2rT5yU8iO1pA4sD7fG0"


def test_a_secret_in_percent_encoded_text_is_masked_and_the_encoding_kept() -> None:
    path = "/cb?next=%2Flogin%3Fpassword%3Dhunter2%26x%3D1&lang=%C3%A9&q=a+b"
    assert REDACTOR.redact_text(path) == (
        f"/cb?next=%2Flogin%3Fpassword%3D{REDACTED}%26x%3D1&lang=%C3%A9&q=a+b"
    )


def test_a_secret_that_is_itself_percent_encoded_is_masked_whole() -> None:
    encoded = "sig%3DAbc%2Bdef%2F" + SECRET
    out = REDACTOR.redact_text(f"/blob?sv=2024&{encoded}&se=1")
    assert SECRET not in out
    assert out.startswith("/blob?sv=2024&")
    assert out.endswith("&se=1")


def test_a_mask_inside_a_token_takes_the_whole_token() -> None:
    # The random-run detector stops at "." but the token goes on with "_x-y".
    text = f"id {SECRET}_x-y done"
    assert REDACTOR.redact_text(text) == f"id {REDACTED} done"


def test_the_view_maps_every_character_back_to_where_it_was_written() -> None:
    view = decoded_view("a%3Db%41%e9%7e")
    assert view is not None
    decoded, starts = view
    assert decoded == "a=bA%e9~"
    assert starts == [0, 1, 4, 5, 8, 9, 10, 11, 14]
    assert decoded_view("no escapes, 100%") is None


def test_growing_a_span_stops_at_an_escape_and_at_non_token_characters() -> None:
    text = "token%3Dabc_def&x=1"
    start = text.index("abc")
    assert extend_to_token(text, start, start + 3) == (start, start + 7)
    assert extend_to_token("a.bc-d e", 2, 3) == (2, 6)


words = st.sampled_from(
    [
        "GET",
        "/api/v1/items",
        "password=hunter2",
        "token: abc123",
        "--password s3cret",
        "Bearer abcdefghij",
        SECRET,
        "%2F",
        "%3D",
        "&",
        "?",
        " ",
        "é",
        "_",
        "-",
        "user",
        "2026-12-04T10:00:00Z",
        "sha256:" + "ab" * 32,
    ]
)


@given(st.lists(words, max_size=12).map("".join))
@example("x" + SECRET + "y")
@example("password=%41" + SECRET)
def test_what_is_not_masked_stays_in_order_and_no_mask_touches_a_token(text: str) -> None:
    out = REDACTOR.redact_text(text)
    parts = out.split(REDACTED)
    # The unmasked parts are the text's own, in order.
    at = 0
    for part in parts:
        found = text.find(part, at)
        assert found >= 0, (text, out)
        at = found + len(part)
    # No mask leaves a fragment: the characters around it are not token characters,
    # or are the end of a %XX escape.
    for m in re.finditer(re.escape(REDACTED), out):
        before = out[m.start() - 1] if m.start() else " "
        after = out[m.end()] if m.end() < len(out) else " "
        escape_end = re.search(r"%[0-9A-Fa-f]{2}$", out[: m.start()]) is not None
        assert before not in TOKEN or escape_end, (text, out)
        assert after not in TOKEN, (text, out)


# --- ordinary values that look like secrets ------------------------------------------------

B64_TEXT = "VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcyBvdmVyIHRoZSBsYXp5IGRvZw=="  # a sentence
GOOGLE = "ya29.a0AfH6SMBx3kL9pQ2rT5vW8yZ1bC4dF7gJ0"  # an OAuth access token's shape
SRI = "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC"


@pytest.mark.parametrize(
    "text",
    [
        B64_TEXT,
        f"https://files.example.net/share/{B64_TEXT}",
        "eyJ1c2VyIjoiYWxpY2UiLCJyb2xlIjoidmlld2VyIn0=",  # {"user":"alice","role":"viewer"}
        SRI,
        f"<script src=x.js integrity={SRI}>",
        f"https://cdn.example.net/share/{SRI}",
        "/search?q=" + quote(SRI, safe="") + "&lang=en",
        "/search?q=sha256%3A" + "b8049975a2290742a9bd78376a0c986144ee98b2fade8cbab636b0f76c2e0479",
        "token_type=Bearer expires_in=3600",
        "upstream replied: Bearer\n2026-03-02T10:15:02.409Z INFO batch 42 done",
        "UPDATE users SET password_hash = $1, password_changed_at = now() WHERE id = $2",
        "SELECT 1 FROM keys WHERE token = ? AND secret = %(secret)s",
        '\tat com.acme.auth.TokenService.java:42 in "String.length()"',
        "raise auth.errors.InvalidCredentials: invalid username or password",
    ],
)
def test_an_ordinary_value_that_looks_random_or_keyed_stays(text: str) -> None:
    assert REDACTOR.redact_text(text) == text


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("auth dXNlcjpodW50ZXIyc2VjcmV0cGFzcw==", "dXNlcjpodW50ZXIyc2VjcmV0cGFzcw=="),  # user:...
        ("Authorization: Basic YWRtaW46czNjcjN0LXBhc3N3b3Jk", "YWRtaW46czNjcjN0LXBhc3N3b3Jk"),
        (
            "Bearer ya29.a0AfH6SMBx3kL9pQ2rT5vW8yZ1bC4dF7gJ0",
            "ya29.a0AfH6SMBx3kL9pQ2rT5vW8yZ1bC4dF7gJ0",
        ),
        ("RevokedToken: " + SECRET, SECRET),
        ("UPDATE users SET password_hash = 'x9$Zq'", "x9$Zq"),
    ],
)
def test_a_secret_that_looks_like_those_is_still_masked(text: str, secret: str) -> None:
    out = REDACTOR.redact_text(text)
    assert secret not in out
    assert REDACTED in out
