"""What makes a deployment key acceptable: long enough and not an obvious pattern.

PURE: no event loop, no file. The deployment key (``Auditor(key=...)`` or
``$ASGI_AUDIT_KEY``) keys the MAC chain: anyone who guesses it can rewrite a log
so that ``asgi-audit verify`` finds nothing, and every sealed line lets a guess
be checked offline. So a key is refused, with a message saying why, when it:

* is shorter than :data:`MIN_KEY_BYTES` (32) bytes. A string counts its UTF-8
  bytes, which *are* the key: nothing is decoded (a hex or base64 text is taken
  as it is written), so every key that worked before still seals and verifies
  the same MACs;
* repeats a shorter pattern from start to end (``"ab" * 16``,
  ``"password" * 4``, ``"a" * 64``): its length says nothing of its strength;
* has fewer than :data:`MIN_DISTINCT_BYTES` (6) different byte values
  (``"a" * 63 + "b"``).

A random key passes: ``secrets.token_hex(32)`` (64 characters),
``secrets.token_urlsafe(32)``, 32 bytes of ``os.urandom``. The chance that a
random 32-character hex string has fewer than 6 different characters is about
3 in 10**13. This is a guard against accidents (placeholders, test values,
truncated variables), not a measure of entropy: a long sentence passes.
"""

from __future__ import annotations

from typing import Final

__all__ = (
    "GENERATE_HINT",
    "KEY_ENV",
    "MIN_DISTINCT_BYTES",
    "MIN_KEY_BYTES",
    "WeakKeyError",
    "check_key",
)

#: The environment variable an Auditor and ``asgi-audit verify`` read a static key from.
KEY_ENV: Final = "ASGI_AUDIT_KEY"
#: The fewest bytes a deployment key may have.
MIN_KEY_BYTES: Final = 32
#: The fewest different byte values a deployment key may have.
MIN_DISTINCT_BYTES: Final = 6
#: How to make a good key, in every refusal.
GENERATE_HINT: Final = 'make one with: python -c "import secrets; print(secrets.token_hex(32))"'


class WeakKeyError(ValueError):
    """A deployment key that is refused; the message says why and never holds the key."""


def _period(key: bytes) -> int | None:
    """The shortest ``p`` with ``key[i] == key[i + p]`` throughout, if ``p <= len(key) // 2``.

    The prefix function of Knuth, Morris and Pratt: linear in the key's length.
    """
    border = [0] * len(key)
    for i in range(1, len(key)):
        k = border[i - 1]
        while k and key[i] != key[k]:
            k = border[k - 1]
        border[i] = k + 1 if key[i] == key[k] else 0
    period = len(key) - (border[-1] if key else 0)
    return period if key and period <= len(key) // 2 else None


def check_key(key: bytes, source: str) -> bytes:
    """``key`` if it is acceptable as a deployment key, else raise.

    Args:
        key: the key's bytes (a string key's UTF-8 bytes).
        source: where it came from, for the message (``$ASGI_AUDIT_KEY``,
            ``Auditor(key=...)``).

    Raises:
        WeakKeyError: what is wrong, the rule, and :data:`GENERATE_HINT`.
    """
    if len(key) < MIN_KEY_BYTES:
        raise WeakKeyError(
            f"{source} is too short: {len(key)} byte{'' if len(key) == 1 else 's'}; "
            "an audit key needs at least "
            f"{MIN_KEY_BYTES} bytes (a string's UTF-8 bytes are the key); {GENERATE_HINT}"
        )
    period = _period(key)
    if period is not None:
        raise WeakKeyError(
            f"{source} is too weak: it repeats a pattern of {period} "
            f"byte{'s' if period > 1 else ''}; {GENERATE_HINT}"
        )
    distinct = len(set(key))
    if distinct < MIN_DISTINCT_BYTES:
        raise WeakKeyError(
            f"{source} is too weak: only {distinct} different bytes (an audit key needs at "
            f"least {MIN_DISTINCT_BYTES}); {GENERATE_HINT}"
        )
    return key
