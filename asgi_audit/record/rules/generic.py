"""The last resort: a value after a key word that names a secret, whatever issued it.

These run after every provider's rule (their spans merge with the others'). A key
holds a word such as ``api_key``, ``secret``, ``token`` or ``password``
(``DB_PASSWORD``, ``x-auth-token``, ``clientSecret``); after the word comes the end of
the key or ``_``, ``.``, ``-`` and up to 20 more characters of name, so that ``author``
is not ``auth``. A separator (``=``, ``:``, ``:=``, ``=>``) and an optional quote
follow, then the value. The patterns start at the word, not at the key (what comes
before the word is never masked), so they need no boundary there; the value's class
holds every word character, so it ends at a boundary anyway.

- ``generic-secret``: 12 to 500 characters of ``[A-Za-z0-9_.+/~=-]`` with a digit in
  them and at least 3 bits of entropy per character: random tokens, not
  ``request.headers.get`` or ``required``.
- ``generic-key``: after the bare word ``key`` standing alone (``Key=``, ``?key=``,
  ``"key": "``, not ``monkey=`` or ``api_key=``, which ``generic-secret`` reads) and
  ``=`` right after it, or a quoted ``key`` and ``:`` (not ``public key: ...`` in
  prose), 20 to 200 characters of ``[A-Za-z0-9_-]`` with a digit
  in them and at least 3.5 bits of entropy per character, standing alone: an API key
  in a query or a log line, not ``key=photos/2024/a.jpg``, ``key=user:123:profile``,
  ``cache key=abc`` or ``primary key (id)``.
- ``generic-password-quoted``: after a key that ends in a password word
  (``DB_PASSWORD``, not ``password_policy_url``), a quoted value of 6 to 128 characters
  (spaces included): ``"password": "correct horse"``.
- ``generic-password``: after a key that ends in a password word and ``=`` or ``:``
  with no space before it (``DB_PASSWORD=...``, ``password: ...``, ``?password=...``),
  a value up to a space, a quote, ``,;&()[]``, with a digit or a symbol in it, so that
  a line of code stays (``password=password``, ``password: Optional[str]``,
  ``password = getpass.getpass()``).
"""

from __future__ import annotations

from typing import Final

from ..scanner import Rule
from ._forms import token

__all__ = ("RULES",)

_SEPARATED = "(?:[_.-][A-Za-z0-9_.-]{0,20})?"
_QUOTE = "\\\\?[\"']"  # a quote, or one escaped inside a JSON string
_ASSIGN = f"(?:{_QUOTE})?[ \\t]{{0,4}}(?::=|=>|=|:)[ \\t]{{0,4}}"

_KEY_WORDS = (
    "api[_.-]?key|api[_.-]?secret|access[_.-]?key|secret[_.-]?key|private[_.-]?key"
    "|signing[_.-]?key|master[_.-]?key|encryption[_.-]?key|client[_.-]?secret"
    "|secret|token|passwd|password|passphrase|pwd|credentials?|auth"
)
_ANY_KEY = f"(?i:(?:{_KEY_WORDS}){_SEPARATED})"
_PW_KEY = "(?i:passwd|password|passphrase|pwd)"

_VALUE = "[A-Za-z0-9_.+/~=-]"
#: A key's value after the bare word "key": a URL-safe random word.
_KEY_VALUE = "[A-Za-z0-9_-]"
#: Printable ASCII but a space, a quote, ``,;&()[]``.
_BARE = "[!#-%*-+\\-./0-9:<-Z\\\\^-~]"
#: Those of them that are not letters, ``.`` or ``_``: a digit or a symbol.
_MARK = "[!#-%*-+\\-/0-9:<-@\\\\^`{-~]"

RULES: Final[tuple[Rule, ...]] = (
    token(
        "generic-secret",
        "generic",
        f"{_ANY_KEY}{_ASSIGN}(?:{_QUOTE})?"
        f"(?P<secret>{_VALUE}{{0,11}}[0-9]{_VALUE}{{11,488}}"
        f"|{_VALUE}{{12,499}}[0-9]{_VALUE}{{0,488}})",
        "key",
        "secret",
        "token",
        "passw",
        "passphrase",
        "pwd",
        "credential",
        "auth",
        entropy=3.0,
        boundary=False,
    ),
    token(
        "generic-key",
        "generic",
        f"(?i:key)(?:=|{_QUOTE}[ \\t]{{0,4}}:[ \\t]{{0,4}}(?:{_QUOTE})?)"
        f"(?P<secret>{_KEY_VALUE}{{0,19}}[0-9]{_KEY_VALUE}{{19,199}}"
        f"|{_KEY_VALUE}{{20,199}}[0-9]{_KEY_VALUE}{{0,179}})",
        "key=",
        'key"',
        "key'",
        "key\\",
        entropy=3.5,
    ),
    token(
        "generic-password-quoted",
        "generic",
        f"{_PW_KEY}{_ASSIGN}{_QUOTE}(?P<secret>[ !#-&(-~]{{6,128}})",
        "passw",
        "passphrase",
        "pwd",
        entropy=2.0,
        boundary=False,
    ),
    token(
        "generic-password",
        "generic",
        f"{_PW_KEY}(?:=|:[ \\t]{{1,4}})(?P<secret>{_BARE}{{0,127}}{_MARK}{_BARE}{{0,127}})",
        "passw",
        "passphrase",
        "pwd",
        entropy=2.0,
        boundary=False,
    ),
)
