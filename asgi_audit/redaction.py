"""Secrets out of every string of an event.

PURE: no event loop, no file. Two mechanisms, both precompiled once per
:class:`Redactor`:

* **Keys.** A value whose key names a secret is replaced whole. Keys are split
  into words (``user_password`` -> user, password; ``apiKey`` -> api, key;
  ``x-api-key`` -> x, api, key) and a key is secret when one of its words, or two
  adjacent words joined, is a secret word. The false-friend rule: a key whose
  *last* word describes the secret rather than holding it (``token_count``,
  ``password_policy_url``, ``token_type``) is not secret. Whole words only, so
  ``tokenizer``, ``author`` and ``keyboard`` are never masked.
* **Values in free text.** ``key=value``, ``key: value`` and ``"key": "value"``
  where the key is secret (quoted values are masked whole, passphrases with
  spaces included); ``Bearer``/``Basic``/``Digest`` credentials in any case; long
  high-entropy base64 runs (mixed case and digits: file paths, UUIDs and hex
  digests are not masked).

Redaction runs in the writer, before any size cap, so no half-secret survives a cut.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = ("DEFAULT_SECRET_WORDS", "REDACTED", "Redactor", "key_words")

REDACTED: Final = "***REDACTED***"

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
        "method",
        "scheme",
        "mode",
        "status",
        "result",
        "provider",
    }
)

# Keys that are secret even with a descriptive last word: a session id and a
# key id that ends in "id" are credentials, not descriptions.
_ALWAYS_SECRET_KEYS: Final = frozenset({"sessionid", "session_id", "sid", "csrftoken"})

_WORD_RE: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def key_words(key: str) -> list[str]:
    """Split a key into lower-case words: ``apiKey`` -> ``["api", "key"]``."""
    return [w.lower() for w in _WORD_RE.findall(key)]


_CLEAN_CACHE_SIZE: Final = 4096
_CLEAN_CACHE_CHARS: Final = 512

_BASE64_RUN: Final = re.compile(r"[A-Za-z0-9+/_-]{32,}={0,2}")
_AUTH_SCHEME: Final = re.compile(
    r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=-]{8,})|\b(digest)(\s+)([^\r\n]+)"
)


def _char_class(c: str) -> int:
    if c.isdigit():
        return 0
    if c.isupper():
        return 1
    if c.islower():
        return 2
    return 3


def _random_token(token: str) -> bool:
    """Whether a run of base64 characters looks like a random secret.

    Random base64 mixes upper case, lower case and digits, switches between those
    classes on more than half of its characters (CamelCase names with numbers
    switch on a third), and is dense. Hex digests, UUIDs and words lack a class
    and stay.
    """
    chars = token.replace("/", "").replace("+", "").replace("-", "").replace("_", "")
    n = len(chars)
    if n < 20:
        return False
    classes = [_char_class(c) for c in chars]
    if not (0 in classes and 1 in classes and 2 in classes):
        return False
    switches = sum(1 for a, b in itertools.pairwise(classes) if a != b)
    if switches < 0.45 * (n - 1):
        return False
    entropy = -sum(k / n * math.log2(k / n) for k in Counter(chars).values())
    return entropy >= 3.5


class Redactor:
    """Masks secrets in strings and nested structures.

    Args:
        secret_words: replaces :data:`DEFAULT_SECRET_WORDS` when given.
        extra_words: added to the secret words.
        remove_words: taken out of the secret words (say ``{"pin"}``).
        mask: the replacement text.

    A Redactor is immutable after construction and safe to share between threads.
    """

    __slots__ = ("_clean", "_key_cache", "_kv_re", "_mask", "_words")

    def __init__(
        self,
        *,
        secret_words: Iterable[str] | None = None,
        extra_words: Iterable[str] = (),
        remove_words: Iterable[str] = (),
        mask: str = REDACTED,
    ) -> None:
        base = DEFAULT_SECRET_WORDS if secret_words is None else _words(secret_words)
        words = {_join(w) for w in base} | {_join(w) for w in _words(extra_words)}
        words -= {_join(w) for w in _words(remove_words)}
        for w in words:
            if not w:
                raise ValueError("Empty secret word in redaction settings")
        self._words: frozenset[str] = frozenset(words)
        self._mask = mask
        self._key_cache: dict[str, bool] = {}
        self._clean: set[str] = set()
        # key=value, key: value, "key": "value", key="quoted passphrase". The key
        # is any identifier-like run; is_secret_key decides on its words.
        self._kv_re = re.compile(
            r"""(?P<q>["']?)\b(?P<key>[A-Za-z_][A-Za-z0-9_.-]{0,63})(?P=q)(?P<sep>\s*[:=]\s*)"""
            r"""(?P<val>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s&,;"'}\]]+)"""
        )

    @property
    def mask(self) -> str:
        """The replacement text."""
        return self._mask

    def is_secret_key(self, key: str) -> bool:
        """Whether a value under ``key`` is masked whole (see the module rules)."""
        cached = self._key_cache.get(key)
        if cached is not None:
            return cached
        result = self._decide_key(key)
        if len(self._key_cache) < 4096:
            self._key_cache[key] = result
        return result

    def _decide_key(self, key: str) -> bool:
        words = key_words(key)
        if not words:
            return False
        joined = "".join(words)
        if joined in _ALWAYS_SECRET_KEYS or key.lower() in _ALWAYS_SECRET_KEYS:
            return True
        if words[-1] in _DESCRIPTIVE_LAST_WORDS and len(words) > 1:
            return False
        secret = self._words
        for i, w in enumerate(words):
            if w in secret:
                return True
            if i + 1 < len(words) and w + words[i + 1] in secret:
                return True
        return joined in secret

    def redact_text(self, text: str) -> str:
        """``text`` with every secret it carries replaced by the mask."""
        if len(text) < 4 or text in self._clean:
            return text
        out = text
        # Schemes first: ``Authorization: Bearer x`` would otherwise lose only the
        # word ``Bearer`` to the key=value pass and keep the token.
        lowered = out.lower()
        if "bearer" in lowered or "basic" in lowered or "digest" in lowered:
            out = _AUTH_SCHEME.sub(self._mask_scheme, out)
        if "=" in out or ":" in out:
            out = self._kv_re.sub(self._mask_pair, out)
        if len(out) >= 32:
            out = _BASE64_RUN.sub(self._mask_random, out)
        if out == text and len(text) <= _CLEAN_CACHE_CHARS:
            # Only strings that held no secret are remembered, so the cache never
            # keeps a secret alive; repeated user agents and paths skip the scan.
            if len(self._clean) >= _CLEAN_CACHE_SIZE:
                self._clean.clear()
            self._clean.add(text)
        return out

    def _mask_scheme(self, m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return f"{m.group(1)}{m.group(2)}{self._mask}"
        return f"{m.group(4)}{m.group(5)}{self._mask}"

    def _mask_pair(self, m: re.Match[str]) -> str:
        val = m.group("val")
        if not self.is_secret_key(m.group("key")):
            # The value may hold pairs of its own (``next=/login?password=x``).
            start = m.start("val") - m.start(0)
            inner = self._kv_re.sub(self._mask_pair, val) if ("=" in val or ":" in val) else val
            return m.group(0)[:start] + inner
        mask = self._mask
        if val in (mask, f'"{mask}"', f"'{mask}'"):
            return m.group(0)
        quote = val[0] if val[:1] in ("'", '"') else ""
        q = m.group("q")
        return f"{q}{m.group('key')}{q}{m.group('sep')}{quote}{mask}{quote}"

    def _mask_random(self, m: re.Match[str]) -> str:
        run = m.group(0)
        if run.startswith("/") or run.count("/") > 2:
            # A path: judge each segment alone, so a random segment is masked and
            # the names around it stay.
            parts = run.split("/")
            masked = [self._mask if _random_token(p) else p for p in parts]
            return "/".join(masked)
        return self._mask if _random_token(run.rstrip("=")) else run

    def redact(self, value: Any, key: str | None = None) -> Any:
        """A redacted copy of a JSON-like value (dicts, lists, strings, scalars).

        A value under a secret ``key`` is masked whole, whatever its type.
        """
        if key is not None and self.is_secret_key(key):
            return value if value is None else self._mask
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, Mapping):
            return {k: self.redact(v, k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact(v) for v in value]
        return value


def _words(words: Iterable[str]) -> Iterable[str]:
    # A single string is one word, not a list of letters.
    return (words,) if isinstance(words, str) else words


def _join(word: str) -> str:
    return "".join(key_words(word))
