"""Secrets out of every string of an event.

PURE: no event loop, no file. Precompiled once; a :class:`Redactor` is
immutable after construction and safe to share between threads.

* **Keys.** A value whose key names a secret is replaced whole, whatever its
  type, at any depth. Keys are split into words (``user_password`` -> user,
  password; ``apiKey`` -> api, key; ``x-api-key`` -> x, api, key) and a key is
  secret when one of its words, or two adjacent words joined, is a secret word.
  Whole words only, so ``tokenizer``, ``author`` and ``keyboard`` are never
  masked. **The false-friend rule:** a key of several words whose *last* word
  describes the secret rather than holding it (``token_count``,
  ``password_policy_url``, ``token_type``, ``token_id``) is not secret; nor is a
  list of identifiers (``session_ids``, ``token_ids``). A key ending in the
  plural of a secret word holds several (``passwords``, ``apiKeys``,
  ``refresh_tokens``), except a count of language-model tokens
  (``max_tokens``, ``prompt_tokens``). A key ending in a
  session id (``session_id``, ``sessionid``, ``sid``, under any prefix:
  ``user_session_id``, ``X-Session-ID``, ``connect.sid``) or in ``csrftoken``
  always is: that id is the credential.
* **Pairs in free text** (:mod:`asgi_audit.record.pairs`). ``key=value`` (query
  strings and form bodies too),
  ``key: value``, ``"key": "value"`` and ``\\"key\\": \\"value\\"`` (JSON inside
  a string), ``--key value`` on command lines, and the same inside
  percent-encoded text, where the key is secret: quoted values are masked
  whole (passphrases with spaces), a bare value after ``=`` up to whitespace or
  ``&,;``, after ``:`` up to the end of the line or ``&,;``. The value of a
  pair whose key is not secret is scanned for pairs of its own
  (``next=/login?password=x``).
* **Token rules,** whatever the key: the published formats of providers' tokens and
  the places credentials take (:mod:`asgi_audit.record.rules`), found by the scanner
  (:mod:`asgi_audit.record.scanner`; the compiled core when installed,
  :mod:`asgi_audit.record.engine`).
* **Shapes,** whatever the key: see :mod:`asgi_audit.record.shapes` (auth schemes,
  JWTs, PEM blocks, URL credentials, Luhn-valid card numbers, long random runs;
  paths, UUIDs, digests and base64 of text stay).

Every detector reports spans on the text as written, on its percent-decoded view
(:mod:`asgi_audit.record.percent`) and, where it holds a ``+``, on the text read with
``+`` as a form's space (not for random runs); the spans are merged, grown to their token's edges
and masked, and nothing else changes. Redaction runs in the writer, before any size
cap, so no half-secret survives a cut.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .engine import PURE_VARIABLE, ScannerLike, new_scanner, redaction_core
from .pairs import flag_spans, has_flag, pair_spans
from .percent import decoded_view, extend_to_token
from .rules import RULES
from .scanner import Rule
from .secretkeys import DEFAULT_SECRET_WORDS, is_secret, key_words
from .shapes import Span, apply_mask, ascii_bytes, merge_spans, shape_spans

__all__ = ("DEFAULT_SECRET_WORDS", "REDACTED", "Redactor", "key_words")

REDACTED: Final = "***REDACTED***"

_CLEAN_CACHE_SIZE: Final = 4096
_CLEAN_CACHE_CHARS: Final = 512


class Redactor:
    """Masks secrets in strings and nested structures.

    Args:
        secret_words: replaces :data:`DEFAULT_SECRET_WORDS` when given.
        extra_words: added to the secret words.
        remove_words: taken out of the secret words (say ``{"pin"}``).
        mask: the replacement text.
        rules: the token rules (:class:`~asgi_audit.record.scanner.Rule`); the
            built-in table when None.
        extra_rules: added to the token rules (users' own formats).

    A Redactor is immutable after construction and safe to share between threads.
    """

    __slots__ = ("_clean", "_core", "_key_cache", "_mask", "_names", "_scanner", "_words")

    def __init__(
        self,
        *,
        secret_words: Iterable[str] | None = None,
        extra_words: Iterable[str] = (),
        remove_words: Iterable[str] = (),
        mask: str = REDACTED,
        rules: Iterable[Rule] | None = None,
        extra_rules: Iterable[Rule] = (),
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
        table = (*(builtin_rules() if rules is None else rules), *extra_rules)
        self._scanner = scanner_for(table)
        self._names = tuple(f"rule {rule.name}" for rule in table)
        # The compiled core's whole redaction of a string, for ASCII text, when
        # the scanner is the core's (engine.redaction_core).
        self._core = redaction_core(self._scanner, self._words, mask)

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
        return is_secret(key, self._words)

    def redact_text(self, text: str) -> str:
        """``text`` with every secret it carries replaced by the mask.

        Every detector runs on the text as it is, and on its percent-decoded view
        when it has escapes; the spans they find are merged, grown to the edges of
        the token they land in, and masked. Everything else stays byte for byte.
        """
        if len(text) < 4 or text in self._clean:
            return text
        core = self._core
        if core is not None and text.isascii():
            try:
                masked = core.redact(text)
            except ValueError:  # only the reference can decide
                masked = self._masked(text)
        else:
            masked = self._masked(text)
        if masked is None:
            if len(text) <= _CLEAN_CACHE_CHARS:
                # Only strings that held no secret are remembered, so the cache
                # never keeps a secret alive; repeated user agents and paths skip
                # the scan.
                if len(self._clean) >= _CLEAN_CACHE_SIZE:
                    self._clean.clear()
                self._clean.add(text)
            return text
        return masked

    def _masked(self, text: str) -> str | None:
        # The reference: the text masked, or None when it holds no secret.
        spans = self.spans(text)
        return apply_mask(text, spans, self._mask) if spans else None

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The merged spans of ``text`` that :meth:`redact_text` masks."""
        return [extend_to_token(text, s, e) for s, e in merge_spans(self.findings(text))]

    def findings(self, text: str) -> list[Span]:
        """What each detector finds in ``text``, before merging: ``(start, end, what)``,
        ``what`` naming the detector (``rule github-pat``, ``key password``, ``flag
        --password``, ``jwt``, ``random-run``, ...; ``... (percent-decoded)`` when it
        was found in the decoded view, ``... (+ as a space)`` when with ``+`` read as
        a space). Sorted by span."""
        view = decoded_view(text) if "%" in text else None
        found = self._find(text, random=view is None)
        if view is not None:
            decoded, starts = view
            seen = set(found)
            for s, e, what in self._find(decoded):
                span = (starts[s], starts[e], what)
                if span not in seen:  # found again outside the escapes
                    found.append((*span[:2], f"{what} (percent-decoded)"))
        if "+" in text:
            # A form's space: the text read with each "+" as a space (and its
            # escapes decoded), so that a command line or a ``key: value`` sent in a
            # query string is read as written. Not for random runs, which base64's
            # "+" would cut in pieces there; the readings above judge those.
            spaced = text.replace("+", " ")
            plus_view = decoded_view(spaced) if view is not None else None
            plus, plus_starts = plus_view if plus_view is not None else (spaced, None)
            seen = set(found)
            for s, e, what in self._find(plus, random=False):
                if plus_starts is not None:
                    s, e = plus_starts[s], plus_starts[e]
                if (s, e, what) not in seen:
                    found.append((s, e, f"{what} (+ as a space)"))
        found.sort()
        return found

    def _find(self, text: str, random: bool = True) -> list[Span]:
        spans = shape_spans(text, random)
        names = self._names
        spans += [(start, end, names[rule]) for start, end, rule in self._scanner.hits(text)]
        if "=" in text or ":" in text:
            spans += pair_spans(text, self.is_secret_key)
        if "-" in text and has_flag(ascii_bytes(text)):
            spans += flag_spans(text, self.is_secret_key)
        return spans

    def redact(self, value: Any, key: str | None = None) -> Any:
        """A redacted copy of a JSON-like value (dicts, lists, strings, scalars).

        A value under a secret ``key`` is masked whole, whatever its type.
        """
        if key is not None and self.is_secret_key(key):
            return value if value is None else self._mask
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, Mapping):
            return {
                (self.redact_text(k) if isinstance(k, str) else k): self.redact(
                    v, k if isinstance(k, str) else None
                )
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self.redact(v) for v in value]
        return value


def builtin_rules() -> tuple[Rule, ...]:
    """The built-in token rules (see the docs' list of secret rules)."""
    return RULES


@functools.lru_cache(maxsize=16)
def _scanner(table: tuple[Rule, ...], pure: bool) -> ScannerLike:
    return new_scanner(table)


def scanner_for(table: tuple[Rule, ...]) -> ScannerLike:
    """The scanner of a rule table, compiled once per distinct table (Redactors share
    it): the compiled core when it is installed, else the reference
    (:mod:`asgi_audit.record.engine`)."""
    return _scanner(table, bool(os.environ.get(PURE_VARIABLE)))


def _words(words: Iterable[str]) -> Iterable[str]:
    # A single string is one word, not a list of letters.
    return (words,) if isinstance(words, str) else words


def _join(word: str) -> str:
    return "".join(key_words(word))
