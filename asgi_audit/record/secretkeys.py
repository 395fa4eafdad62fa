"""Which keys name a secret: words, the false friends, plurals, session ids.

PURE: no event loop, no file. The rules are those of
:mod:`asgi_audit.record.redaction` (its module docstring); this module holds the
word lists and the decision, :class:`~asgi_audit.record.redaction.Redactor` its
cache and the words a deployment chose.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ("DEFAULT_SECRET_WORDS", "is_secret", "key_words")

#: Words that make a key secret. Two-word secrets are listed joined (``apikey``).
DEFAULT_SECRET_WORDS: Final = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "privatekey",
        "secretkey",
        "accesskey",
        # Credential header and key names of providers' APIs, joined: Azure API
        # Management (Ocp-Apim-Subscription-Key), Azure Functions (x-functions-key),
        # Datadog (DD-APPLICATION-KEY), Parse and JSONBin (X-Master-Key), New Relic
        # (X-Insert-Key, X-License-Key), storage account and signing keys.
        "subscriptionkey",
        "functionskey",
        "functionkey",
        "masterkey",
        "applicationkey",
        "appkey",
        "insertkey",
        "licensekey",
        "adminkey",
        "accountkey",
        "signingkey",
        "encryptionkey",
        "authorization",
        "auth",
        "cookie",
        "session",
        "sessionid",
        "credential",
        "credentials",
        "jwt",
        "otp",
        "pin",
        "cvv",
        "signature",
    }
)

# Last words that describe a secret instead of holding it: the documented
# false-friend rule (``token_count`` and ``password_policy_url`` stay readable).
_DESCRIPTIVE_LAST_WORDS: Final = frozenset(
    {
        "count",
        "counts",
        "length",
        "len",
        "size",
        "type",
        "types",
        "kind",
        "policy",
        "url",
        "uri",
        "endpoint",
        "expires",
        "expiry",
        "expiration",
        "ttl",
        "age",
        "max",
        "min",
        "limit",
        "name",
        "field",
        "hint",
        "strength",
        "required",
        "enabled",
        "set",
        "present",
        "valid",
        "id",
        "ids",
        "method",
        "scheme",
        "mode",
        "status",
        "result",
        "provider",
        "at",
        # Who, not the secret: auth_username, basic_auth_email.
        "username",
        "email",
    }
)

# A dotted key whose last part is one of these is a file or a stack frame
# (``TokenService.java:42``, ``secrets.py:12``), not a key.
_FILE_SUFFIXES: Final = frozenset(
    [
        "py",
        "pyc",
        "pyi",
        "java",
        "kt",
        "scala",
        "groovy",
        "js",
        "mjs",
        "cjs",
        "ts",
        "tsx",
        "jsx",
        "go",
        "rb",
        "rs",
        "cs",
        "c",
        "cc",
        "cpp",
        "h",
        "hpp",
        "swift",
        "php",
        "pl",
        "sh",
        "txt",
        "log",
        "md",
        "json",
        "yaml",
        "yml",
        "toml",
        "xml",
        "html",
        "cfg",
        "conf",
        "ini",
        "properties",
    ]
)
# An exception's qualified class name (dotted, its class CamelCase) that begins
# with one of these names a failure, and what follows it is a message:
# ``auth.errors.InvalidCredentials: invalid username or password``. Unqualified,
# ``RevokedToken: ...`` may hold the token itself and stays secret.
_FAILURE_FIRST_WORDS: Final = frozenset(
    {"invalid", "missing", "expired", "bad", "wrong", "incorrect", "unknown", "failed", "revoked"}
)
_CLASS_NAME: Final = re.compile(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+")

# Keys are secret, whatever precedes them, when they end in one of these words
# (or in "session id", as two words): the session id is the credential itself,
# so "user_session_id" and "X-Session-ID" are secret although "id" is
# descriptive. The plural "session_ids" is not: a list of identifiers.
_SECRET_LAST_WORDS: Final = frozenset({"sessionid", "sid", "csrftoken"})

# Words before "tokens" that make a key a count of language-model tokens
# (``max_tokens``, ``prompt_tokens``, ``usage.total_tokens``), not a list of them.
_TOKEN_COUNT_WORDS: Final = frozenset(
    {
        "max",
        "min",
        "num",
        "n",
        "total",
        "prompt",
        "completion",
        "input",
        "output",
        "cached",
        "reasoning",
        "generated",
        "context",
        "remaining",
        "used",
    }
)


def _singular(word: str) -> str | None:
    """The singular of a plural word (``passwords`` -> ``password``), or None."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return None


# A word: a run of capitals as a plural (``IDs``, ``URLs``), a run of capitals
# not followed by a lower-case letter (``API`` in ``APIKey``), a capitalised or
# lower-case word, or a number.
_WORD_RE: Final = re.compile(r"[A-Z]{2,}s(?![a-z])|[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def key_words(key: str) -> list[str]:
    """Split a key into lower-case words: ``apiKey`` -> ``["api", "key"]``.

    A plural acronym is one word: ``tokenIDs`` -> ``["token", "ids"]``.
    """
    return [w.lower() for w in _WORD_RE.findall(key)]


def is_secret(key: str, secret: frozenset[str]) -> bool:
    """Whether a value under ``key`` is secret, ``secret`` being the secret words
    (joined, lower-case; see :mod:`asgi_audit.record.redaction` for the rules)."""
    if "." in key:
        tail = key.rsplit(".", 1)[1]
        if tail.lower() in _FILE_SUFFIXES:
            return False
        if _CLASS_NAME.fullmatch(tail) and key_words(tail)[0] in _FAILURE_FIRST_WORDS:
            return False
    words = key_words(key)
    if not words:
        return False
    joined = "".join(words)
    if words[-1] in _SECRET_LAST_WORDS or "".join(words[-2:]) == "sessionid":
        return True
    if words[-1] in _DESCRIPTIVE_LAST_WORDS and len(words) > 1:
        return False
    for i, w in enumerate(words):
        if w in secret:
            return True
        if i + 1 < len(words) and w + words[i + 1] in secret:
            return True
        # A vendor glued to "api" in a lower-case header: x-rapidapi-key.
        if i + 1 < len(words) and words[i + 1] == "key" and w.endswith("api"):
            return True
    if joined in secret:
        return True
    # A plural holds several of the secret: passwords, apiKeys, cookies.
    last = _singular(words[-1])
    if last is None:
        return False
    if last == "token" and len(words) > 1 and words[-2] in _TOKEN_COUNT_WORDS:
        return False  # max_tokens, prompt_tokens: counts, not tokens
    if last in secret:
        return True
    return len(words) > 1 and words[-2] + last in secret
