"""Which engine runs: the compiled core when it is installed, else the reference.

PURE: no event loop, no file. The one import beyond the standard library is of
the optional compiled module ``asgi_audit_native`` (the ``asgi-audit-native``
distribution, built from ``native/``), at each :func:`new_scanner` call.

:func:`new_scanner` returns a :class:`NativeScanner` when that module imports,
its ``ENGINE`` is :data:`ENGINE` (the version of the semantics it implements)
and the environment variable ``ASGI_AUDIT_PURE`` is unset or empty; otherwise
the reference :class:`~asgi_audit.record.scanner.Scanner`. Both give the same
hits and the same masked text for every input; the compiled core is faster and
scans without the GIL.

:func:`redaction_core` gives the core's whole redaction of a string (the shapes,
the rules, the pairs and flags, the percent-decoded view, the mask) for a
:class:`NativeScanner`'s table; :class:`~asgi_audit.record.redaction.Redactor` uses
it for ASCII text and the reference for the rest.

:func:`seal_core` gives the core's sealing of lines for one key and label, when
the core's ``SEAL`` is :data:`SEAL` (the version of the sealing format) and
``ASGI_AUDIT_PURE`` is unset or empty; :class:`~asgi_audit.proof.integrity.Chain`
uses it for :meth:`~asgi_audit.proof.integrity.Chain.seal` and
:meth:`~asgi_audit.proof.integrity.Chain.seal_many`, and the reference without it.

The reference checks the rule table first, so a table is refused alike either
way. Two cases stay with the reference: a table the compiled core refuses
although the reference accepts it (a pattern the two regex engines could read
differently, ``\\xff`` or ``a{1, 3}``: the core's stricter check says which),
and, per call, a text or mask that UTF-8 cannot encode (a lone surrogate).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import Final, Protocol

from .scanner import Hit, Rule, Scanner

__all__ = (
    "ENGINE",
    "SEAL",
    "NativeScanner",
    "RedactionCore",
    "ScannerLike",
    "SealCore",
    "compiled_module",
    "native_available",
    "new_scanner",
    "redaction_core",
    "seal_core",
)

#: The version of the scanning semantics this package expects of the compiled core.
ENGINE: Final = 2
#: The version of the sealing format this package expects of the compiled core.
SEAL: Final = 1
#: Set to a non-empty value, :func:`new_scanner` always returns the reference
#: (and :func:`seal_core` None).
PURE_VARIABLE: Final = "ASGI_AUDIT_PURE"
_MODULE: Final = "asgi_audit_native"


class ScannerLike(Protocol):
    """What the reference :class:`~asgi_audit.record.scanner.Scanner` and
    :class:`NativeScanner` both offer."""

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rule table, in order; a hit's ``rule`` indexes it."""
        ...

    def hits(self, text: str) -> list[Hit]:
        """Every secret in ``text``, sorted by span then rule."""
        ...

    def mask(self, text: str, mask: str) -> str:
        """``text`` with every secret replaced by ``mask`` (spans merged first)."""
        ...


class _Compiled(Protocol):
    """``asgi_audit_native.Scanner``."""

    def hits(self, text: str) -> list[tuple[int, int, int]]: ...

    def mask(self, text: str, mask: str) -> str: ...


class RedactionCore(Protocol):
    """``asgi_audit_native.Redactor``: one string's whole redaction, for ASCII text."""

    def redact(self, text: str) -> str | None:
        """``text`` masked, or None when it holds no secret; ValueError when ``text``
        is not ASCII or only the reference can decide."""
        ...

    def spans(self, text: str) -> list[tuple[int, int]] | None:
        """The merged spans that :meth:`redact` masks; None where only the reference
        can decide."""
        ...

    def is_secret_key(self, key: str) -> bool:
        """Whether a value under ``key`` (ASCII) is masked whole."""
        ...


class SealCore(Protocol):
    """``asgi_audit_native.Sealer``: one stream's sealing under one key and label.

    The tree is a :class:`~asgi_audit.proof.merkle.Frontier`'s state passed in,
    its ``size`` and its list of subtree roots, which each call updates in place
    (the caller adds the lines sealed to the size).
    """

    def seal(
        self, previous: bytes, size: int, hashes: list[bytes], line: bytes
    ) -> tuple[bytes, bytes]:
        """``(sealed line, MAC)`` of ``line`` chained to ``previous``."""
        ...

    def seal_many(
        self, previous: bytes, size: int, hashes: list[bytes], lines: list[bytes]
    ) -> tuple[list[bytes], bytes]:
        """``(sealed lines, last MAC)`` of ``lines`` in order, without the GIL."""
        ...


class NativeScanner:
    """The compiled core behind the reference's interface.

    A text (or mask) that the core refuses because UTF-8 cannot encode it is
    scanned by the reference instead.
    """

    __slots__ = ("_compiled", "_reference", "rules")

    def __init__(self, reference: Scanner, compiled: _Compiled) -> None:
        self._reference = reference
        self._compiled = compiled
        self.rules: tuple[Rule, ...] = reference.rules

    def hits(self, text: str) -> list[Hit]:
        """Every secret in ``text``, sorted by span then rule."""
        try:
            found = self._compiled.hits(text)
        except UnicodeEncodeError:
            return self._reference.hits(text)
        return [Hit(start, end, rule) for start, end, rule in found]

    def mask(self, text: str, mask: str) -> str:
        """``text`` with every secret replaced by ``mask`` (spans merged first)."""
        try:
            return self._compiled.mask(text, mask)
        except UnicodeEncodeError:
            return self._reference.mask(text, mask)


def _native_module() -> ModuleType | None:
    """The compiled module, if it imports and implements :data:`ENGINE`."""
    try:
        module = importlib.import_module(_MODULE)
    except ImportError:
        return None
    return module if getattr(module, "ENGINE", None) == ENGINE else None


def compiled_module() -> ModuleType | None:
    """The compiled module when it is installed, implements :data:`ENGINE` and
    ``ASGI_AUDIT_PURE`` is unset or empty; else None."""
    return None if os.environ.get(PURE_VARIABLE) else _native_module()


def native_available() -> bool:
    """Whether the compiled core is installed and implements :data:`ENGINE`
    (whatever ``ASGI_AUDIT_PURE`` says)."""
    return _native_module() is not None


def new_scanner(rules: Sequence[Rule]) -> ScannerLike:
    """A scanner over ``rules``: the compiled core when it can serve, else the
    reference (see the module).

    Raises:
        ValueError: the reference refuses the table (a pattern outside the
            subset, a keyword that is not lower-case ASCII).
    """
    reference = Scanner(rules)
    module = None if os.environ.get(PURE_VARIABLE) else _native_module()
    if module is None:
        return reference
    table = [
        (rule.pattern, list(rule.keywords), float(rule.entropy), bool(rule.boundary))
        for rule in reference.rules
    ]
    try:
        compiled: _Compiled = module.Scanner(table)
    except ValueError:
        return reference
    return NativeScanner(reference, compiled)


def redaction_core(scanner: ScannerLike, words: Iterable[str], mask: str) -> RedactionCore | None:
    """The compiled core's redaction over ``scanner``'s table, the secret ``words``
    (joined, lower-case) and ``mask``; None when ``scanner`` is the reference or
    the core cannot take the words or the mask (a lone surrogate)."""
    module = _native_module()
    redactor = getattr(module, "Redactor", None)
    if redactor is None or not isinstance(scanner, NativeScanner):
        return None
    try:
        core: RedactionCore = redactor(scanner._compiled, sorted(words), mask)
    except UnicodeEncodeError:
        return None
    return core


def seal_core(key: bytes | None, prefix: bytes) -> SealCore | None:
    """The compiled core's sealing with ``key`` (None or empty: SHA-256) and the
    MAC field's ``prefix`` (``,"mac":"<label>:``); None when ``ASGI_AUDIT_PURE``
    is set or the core is absent, of another :data:`ENGINE` or without sealing
    of version :data:`SEAL`."""
    module = None if os.environ.get(PURE_VARIABLE) else _native_module()
    if module is None or getattr(module, "SEAL", None) != SEAL:
        return None
    core: SealCore = module.Sealer(key or None, prefix)
    return core
