"""Which scanner asgi_audit.record.engine picks, with or without the compiled core.

These run without ``asgi_audit_native``: a stand-in module takes its place where a
test needs one (tests/test_native_scanner.py runs the real one).
"""

from __future__ import annotations

import os
import sys
import types

import pytest

from asgi_audit.record import engine
from asgi_audit.record.redaction import Redactor
from asgi_audit.record.scanner import Hit, Rule, Scanner

TABLE = [
    Rule("github-pat", "ghp_[A-Za-z0-9]{8}", ("ghp_",), 2.0, True),
    Rule("pair", "key=(?P<secret>[a-z0-9]{3,8})", ("key=",), 0.0, True),
]
TEXT = "x ghp_aB3dE5gH key=hunter2 é"


class StandInScanner:
    """Behaves as asgi_audit_native.Scanner: the reference underneath, offsets as
    tuples, and UnicodeEncodeError for a str that UTF-8 cannot encode."""

    def __init__(self, rules: list[tuple[str, list[str], float, bool]]) -> None:
        for pattern, _, _, _ in rules:
            if "refused-by-the-core" in pattern:  # a compiled core of another version
                raise ValueError(f"pattern {pattern!r}: not accepted here")
        self.reference = Scanner(
            [Rule(f"r{i}", p, tuple(k), e, b) for i, (p, k, e, b) in enumerate(rules)]
        )
        self.calls = 0

    def hits(self, text: str) -> list[tuple[int, int, int]]:
        self.calls += 1
        text.encode()
        return [(hit.start, hit.end, hit.rule) for hit in self.reference.hits(text)]

    def mask(self, text: str, mask: str) -> str:
        self.calls += 1
        text.encode()
        mask.encode()
        return self.reference.mask(text, mask)


def stand_in(engine_version: object = 2) -> types.ModuleType:
    module = types.ModuleType("asgi_audit_native")
    module.ENGINE = engine_version  # type: ignore[attr-defined]
    module.Scanner = StandInScanner  # type: ignore[attr-defined]
    return module


@pytest.fixture
def no_pure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(engine.PURE_VARIABLE, raising=False)


def test_asgi_audit_pure_gives_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asgi_audit_native", stand_in())
    monkeypatch.setenv("ASGI_AUDIT_PURE", "1")
    scanner = engine.new_scanner(TABLE)
    assert type(scanner) is Scanner
    assert scanner.rules == tuple(TABLE)
    assert engine.native_available()  # installed, only not used


@pytest.mark.usefixtures("no_pure")
def test_an_empty_asgi_audit_pure_does_not_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asgi_audit_native", stand_in())
    monkeypatch.setenv("ASGI_AUDIT_PURE", "")
    assert isinstance(engine.new_scanner(TABLE), engine.NativeScanner)


@pytest.mark.usefixtures("no_pure")
def test_without_the_compiled_module_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asgi_audit_native", None)  # import raises ImportError
    assert engine.native_available() is False
    assert type(engine.new_scanner(TABLE)) is Scanner


@pytest.mark.usefixtures("no_pure")
@pytest.mark.parametrize("version", [0, 1, 3, None, "2"])
def test_a_compiled_module_of_other_semantics_is_not_used(
    monkeypatch: pytest.MonkeyPatch, version: object
) -> None:
    monkeypatch.setitem(sys.modules, "asgi_audit_native", stand_in(version))
    assert engine.native_available() is False
    assert type(engine.new_scanner(TABLE)) is Scanner


class StandInSealer:
    """Stands for asgi_audit_native.Sealer: records what it was made with."""

    def __init__(self, key: bytes | None, prefix: bytes) -> None:
        self.made = (key, prefix)


@pytest.mark.usefixtures("no_pure")
@pytest.mark.parametrize(("engine_version", "seal", "used"), [(2, 1, True), (2, None, False),
    (2, 2, False), (2, "1", False), (1, 1, False)])  # fmt: skip
def test_sealing_uses_the_core_only_of_its_engine_and_its_sealing_format(
    monkeypatch: pytest.MonkeyPatch, engine_version: object, seal: object, used: bool
) -> None:
    module = stand_in(engine_version)
    if seal is not None:
        module.SEAL = seal  # type: ignore[attr-defined]
    module.Sealer = StandInSealer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "asgi_audit_native", module)
    core = engine.seal_core(b"", b',"mac":"sha256:')
    assert (core is not None) is used
    if used:
        assert getattr(core, "made", None) == (None, b',"mac":"sha256:')  # empty: no key
    monkeypatch.setenv("ASGI_AUDIT_PURE", "1")
    assert engine.seal_core(b"k", b"") is None


@pytest.mark.usefixtures("no_pure")
def test_sealing_without_the_compiled_module_is_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "asgi_audit_native", None)
    assert engine.seal_core(b"k", b"") is None


@pytest.mark.usefixtures("no_pure")
def test_the_wrapper_gives_the_references_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asgi_audit_native", stand_in())
    scanner = engine.new_scanner(TABLE)
    assert isinstance(scanner, engine.NativeScanner)
    reference = Scanner(TABLE)
    assert scanner.rules == reference.rules
    hits = scanner.hits(TEXT)
    assert hits == reference.hits(TEXT) == [Hit(2, 14, 0), Hit(19, 26, 1)]
    assert all(type(hit) is Hit for hit in hits)
    assert scanner.mask(TEXT, "*") == reference.mask(TEXT, "*") == "x * key=* é"


@pytest.mark.usefixtures("no_pure")
def test_a_lone_surrogate_falls_back_to_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asgi_audit_native", stand_in())
    scanner = engine.new_scanner(TABLE)
    assert isinstance(scanner, engine.NativeScanner)
    reference = Scanner(TABLE)
    text = "ghp_aB3dE5gH \ud800 key=abc"
    assert scanner.hits(text) == reference.hits(text) == [Hit(0, 12, 0), Hit(19, 22, 1)]
    assert scanner.mask(text, "*") == reference.mask(text, "*") == "* \ud800 key=*"
    assert scanner.mask(TEXT, "\udfff") == reference.mask(TEXT, "\udfff")


@pytest.mark.usefixtures("no_pure")
def test_a_table_only_the_compiled_core_refuses_stays_with_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "asgi_audit_native", stand_in())
    table = [*TABLE, Rule("odd", "refused-by-the-core", (), 0.0, False)]
    assert type(engine.new_scanner(table)) is Scanner


@pytest.mark.usefixtures("no_pure")
def test_a_table_the_reference_refuses_is_refused_either_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = [Rule("unbounded", "a+", ())]
    monkeypatch.setitem(sys.modules, "asgi_audit_native", stand_in())
    with pytest.raises(ValueError, match="unbounded"):
        engine.new_scanner(bad)
    monkeypatch.setenv("ASGI_AUDIT_PURE", "1")
    with pytest.raises(ValueError, match="unbounded"):
        engine.new_scanner(bad)


def test_both_scanners_are_scanner_like() -> None:
    def use(scanner: engine.ScannerLike) -> str:
        return scanner.mask(TEXT, "#")

    reference = Scanner(TABLE)
    compiled = StandInScanner([(r.pattern, list(r.keywords), r.entropy, r.boundary) for r in TABLE])
    native = engine.NativeScanner(reference, compiled)
    assert use(reference) == use(native) == "x # key=# é"
    assert compiled.calls == 1


@pytest.mark.skipif(
    not os.environ.get("ASGI_AUDIT_REQUIRE_NATIVE"),
    reason="ASGI_AUDIT_REQUIRE_NATIVE is not set (CI sets it where it builds the core)",
)
def test_the_compiled_core_serves_redaction_where_it_is_required() -> None:
    assert engine.native_available(), "asgi_audit_native is not installed or not of ENGINE 2"
    assert not os.environ.get(engine.PURE_VARIABLE)
    assert isinstance(Redactor()._scanner, engine.NativeScanner)
