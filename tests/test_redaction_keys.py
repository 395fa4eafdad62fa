"""Which keys are secret: lists of identifiers are not, secrets stay masked.

A key ending in ``ids`` (``session_ids``, ``token_ids``, ``sessionIDs``) names
identifiers, as one ending in ``id`` does: readable. A key naming a secret stays
masked whatever its spelling (case, ``-``, ``_``, ``.``, camelCase, prefixes),
and so does a session id under any prefix (``user_session_id``, ``X-Session-ID``,
``connect.sid``): the session id is the credential.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from asgi_audit import REDACTED, Auditor
from asgi_audit.record.redaction import Redactor, key_words
from tests.helpers import read_events

R: Final = Redactor()

STYLES: Final = (
    "snake",
    "kebab",
    "dotted",
    "camel",
    "pascal",
    "upper_snake",
    "upper_kebab",
    "title_kebab",
)
#: Words put before a stem; none of them is secret on its own.
PREFIXES: Final = st.lists(
    st.sampled_from(["x", "user", "old", "new", "my", "revoked", "2", "oauth"]), max_size=2
)
#: The words before ``ids`` in a key naming identifiers: secret words included.
ID_STEMS: Final = (
    ("session",),
    ("token",),
    ("access", "token"),
    ("api", "key"),
    ("client", "secret"),
    ("session", "token"),
    ("password",),
    ("auth",),
    ("user",),
    ("request",),
)
#: Keys that hold a secret.
SECRETS: Final = (
    ("token",),
    ("access", "token"),
    ("refresh", "token"),
    ("auth", "token"),
    ("api", "key"),
    ("private", "key"),
    ("client", "secret"),
    ("session", "token"),
    ("password",),
    ("secret",),
    ("session", "id"),
    ("sid",),
    ("jwt",),
    ("cookie",),
    ("authorization",),
)


def spell(words: Sequence[str], style: str, acronym: bool = False) -> str:
    """``words`` as a key in one spelling; ``acronym`` writes a last id as ``ID``/``IDs``."""

    def cap(word: str, last: bool) -> str:
        if acronym and last and word in ("id", "ids"):
            return "ID" + word[2:]
        return word.capitalize()

    last = len(words) - 1
    if style == "snake":
        return "_".join(words)
    if style == "kebab":
        return "-".join(words)
    if style == "dotted":
        return ".".join(words)
    if style == "camel":
        return words[0] + "".join(cap(w, i == last) for i, w in enumerate(words) if i)
    if style == "pascal":
        return "".join(cap(w, i == last) for i, w in enumerate(words))
    if style == "upper_snake":
        return "_".join(words).upper()
    if style == "upper_kebab":
        return "-".join(words).upper()
    return "-".join(cap(w, i == last) for i, w in enumerate(words))  # title_kebab


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("tokenIDs", ["token", "ids"]),
        ("userIDs", ["user", "ids"]),
        ("X-Session-IDs", ["x", "session", "ids"]),
        ("sessionID", ["session", "id"]),
        ("APIKey", ["api", "key"]),
        ("URLs", ["urls"]),
        ("HTTPSProxy", ["https", "proxy"]),
        ("IDSecret", ["id", "secret"]),
    ],
)
def test_a_plural_acronym_is_one_word(key: str, words: list[str]) -> None:
    assert key_words(key) == words


@pytest.mark.parametrize(
    "key",
    [
        "session_ids",
        "token_ids",
        "sessionIds",
        "tokenIDs",
        "SESSION_IDS",
        "X-Session-IDs",
        "api_key_ids",
        "password_ids",
        "user_ids",
        "auth_token_id",  # names a token, as token_id does; the token itself is not there
    ],
)
def test_keys_naming_identifiers_are_readable(key: str) -> None:
    assert not R.is_secret_key(key)
    assert R.redact({key: ["a1", "b2"]}) == {key: ["a1", "b2"]}
    assert R.redact_text(f"{key}=a1b2c3d4") == f"{key}=a1b2c3d4"


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "access_token",
        "api_key",
        "client_secret",
        "session_token",
        "password",
        "session_id",
        "sessionId",
        "SESSIONID",
        "sid",
        "csrftoken",
        "user_session_id",
        "X-Session-ID",
        "connect.sid",
        "x-csrftoken",
        "id_token",
    ],
)
def test_keys_holding_secrets_are_masked(key: str) -> None:
    assert R.is_secret_key(key)
    assert R.redact({key: "s3cr3t-value"}) == {key: REDACTED}
    assert "s3cr3t" not in R.redact_text(f"{key}=s3cr3t-value")


@example(prefix=[], stem=("session",), style="snake", acronym=False)
@example(prefix=[], stem=("token",), style="camel", acronym=True)
@example(prefix=["x"], stem=("session",), style="title_kebab", acronym=True)
@given(
    prefix=PREFIXES,
    stem=st.sampled_from(ID_STEMS),
    style=st.sampled_from(STYLES),
    acronym=st.booleans(),
)
def test_property_a_key_ending_in_ids_is_never_secret(
    prefix: list[str], stem: tuple[str, ...], style: str, acronym: bool
) -> None:
    key = spell([*prefix, *stem, "ids"], style, acronym)
    assert not R.is_secret_key(key), key
    assert R.redact({key: [1, 2]}) == {key: [1, 2]}


@example(prefix=["user"], stem=("session", "id"), style="snake", acronym=False)
@example(prefix=["x"], stem=("session", "id"), style="title_kebab", acronym=True)
@example(prefix=["connect"], stem=("sid",), style="dotted", acronym=False)
@given(
    prefix=PREFIXES,
    stem=st.sampled_from(SECRETS),
    style=st.sampled_from(STYLES),
    acronym=st.booleans(),
)
def test_property_a_secret_key_is_masked_in_every_spelling(
    prefix: list[str], stem: tuple[str, ...], style: str, acronym: bool
) -> None:
    key = spell([*prefix, *stem], style, acronym)
    assert R.is_secret_key(key), key
    assert R.redact({key: "s3cr3t-value"}) == {key: REDACTED}


async def test_identifier_lists_reach_the_file_readable_and_secrets_do_not(
    tmp_path: Path,
) -> None:
    secret, session = "tok-7Qx9-unguessable", "sess-4Kd2-raw-cookie"
    details = {
        "session_ids": "hash",
        "token_ids": [1, 2],
        "revokedSessionIDs": ["h:01", "h:02"],
        "session_token": secret,
        "user_session_id": session,
    }
    async with Auditor(log_dir=tmp_path) as auditor:  # records its configuration too
        await auditor.emit("admin", "sessions_revoked", outcome="success", details=details)

    data = (tmp_path / "admin.jsonl").read_bytes()
    assert secret.encode() not in data
    assert session.encode() not in data
    (event,) = read_events(tmp_path / "admin.jsonl")
    assert "encoding_error" not in event  # the event itself survived, whole
    assert event["event_type"] == "sessions_revoked"
    assert event["details"] == {
        "session_ids": "hash",
        "token_ids": [1, 2],
        "revokedSessionIDs": ["h:01", "h:02"],
        "session_token": REDACTED,
        "user_session_id": REDACTED,
    }
    started, _stopped = read_events(tmp_path / "audit.jsonl")
    assert started["event_type"] == "audit_started"
    assert "encoding_error" not in started
    assert started["details"]["configuration"]["session_ids"] == "hash"


#: Plurals of secret words: a key holding several secrets.
PLURAL_SECRETS: Final = (
    ("passwords",),
    ("tokens",),
    ("access", "tokens"),
    ("refresh", "tokens"),
    ("api", "keys"),
    ("private", "keys"),
    ("secrets",),
    ("client", "secrets"),
    ("cookies",),
    ("credentials",),
    ("passphrases",),
    ("signatures",),
    ("jwts",),
)


@pytest.mark.parametrize(
    "key",
    ["passwords", "tokens", "apiKeys", "API_KEYS", "x-api-keys", "refresh_tokens", "cookies",
     "userPasswords", "secrets", "accessKeys", "user_tokens"],
)  # fmt: skip
def test_a_plural_secret_key_holds_several_secrets_and_is_masked(key: str) -> None:
    assert R.is_secret_key(key), key
    assert R.redact({key: ["s3cr3t-one", "s3cr3t-two"]}) == {key: REDACTED}
    assert "s3cr3t" not in R.redact_text(f"{key}=s3cr3t-value")


@pytest.mark.parametrize(
    "key",
    ["max_tokens", "prompt_tokens", "completion_tokens", "total_tokens", "input_tokens",
     "outputTokens", "cached_tokens", "reasoning_tokens", "token_counts", "passwords_count",
     "status", "address", "passes", "keys", "news"],
)  # fmt: skip
def test_counts_of_model_tokens_and_plain_plurals_stay_readable(key: str) -> None:
    assert not R.is_secret_key(key), key
    assert R.redact({key: 128}) == {key: 128}


@given(
    prefix=PREFIXES,
    stem=st.sampled_from(PLURAL_SECRETS),
    style=st.sampled_from(STYLES),
)
def test_property_a_plural_secret_key_is_masked_in_every_spelling(
    prefix: list[str], stem: tuple[str, ...], style: str
) -> None:
    key = spell([*prefix, *stem], style)
    assert R.is_secret_key(key), key
    assert R.redact({key: ["s3cr3t-value"]}) == {key: REDACTED}


async def test_plural_secrets_never_reach_the_file_and_token_usage_does(tmp_path: Path) -> None:
    details = {
        "passwords": ["hunter2-Zq9", "letmein-Wx4"],
        "api_keys": {"primary": "pk-8Hs2-primary", "backup": "pk-8Hs2-backup"},
        "usage": {"prompt_tokens": 153, "completion_tokens": 41, "total_tokens": 194},
    }
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        await auditor.emit("admin", "keys_rotated", outcome="success", details=details)

    data = (tmp_path / "admin.jsonl").read_bytes()
    for secret in (b"hunter2-Zq9", b"letmein-Wx4", b"pk-8Hs2"):
        assert secret not in data
    (event,) = read_events(tmp_path / "admin.jsonl")
    assert "encoding_error" not in event
    assert event["details"] == {
        "passwords": REDACTED,
        "api_keys": REDACTED,
        "usage": {"prompt_tokens": 153, "completion_tokens": 41, "total_tokens": 194},
    }


@pytest.mark.parametrize(
    "key",
    [
        "my_private_key",  # the last two words joined
        "x_access_key",
        "user_secret_key",
        "A-P-I-Key",  # all the words joined
        "auth_password",
    ],
)
def test_secret_words_joined_at_the_end_or_as_a_whole(key: str) -> None:
    assert Redactor().is_secret_key(key)


def test_a_descriptive_word_a_deployment_makes_secret_is_secret_alone() -> None:
    # The false-friend rule reads a descriptive *last* word after others only.
    assert Redactor(extra_words={"hint"}).is_secret_key("hint")
    assert not Redactor(extra_words={"hint"}).is_secret_key("password_hint")


@pytest.mark.parametrize("key", ["auth_username", "basic_auth_email", "REACT_APP_AUTH_USERNAME"])
def test_who_is_not_the_secret(key: str) -> None:
    assert not Redactor().is_secret_key(key)
