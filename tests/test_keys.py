"""Weak deployment keys are refused, by the Auditor and by ``asgi-audit verify``.

The rule (see :mod:`asgi_audit.proof.keycheck`): at least 32 bytes (a string's
UTF-8 bytes are the key, nothing is decoded), no pattern repeated from start to
end, at least 6 different bytes. It is checked at the boundary, with real
Auditors writing real files and the real command in a subprocess.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_audit import Auditor
from asgi_audit.auditor import KEY_ENV
from asgi_audit.proof.keycheck import _period

#: The shortest key accepted: exactly 32 bytes, random-looking hex.
SHORTEST: Final = "4f1c9a7e2b8d6035c1e9f7a2b4d80c6e"
#: 23 characters, 32 UTF-8 bytes: counted in bytes, so accepted.
NON_ASCII: Final = "Prüfschlüssel-äöü-ÄÖÜ-ß"
HINT: Final = 'make one with: python -c "import secrets; print(secrets.token_hex(32))"'
DEADLINE: Final = 60.0  # a bound on a hang, never an assertion


def test_the_boundary_keys_are_what_they_claim() -> None:
    assert len(SHORTEST.encode()) == 32
    assert len(NON_ASCII) < 32 == len(NON_ASCII.encode())


# (key, the message after "<source> is ")
REFUSED: Final = [
    pytest.param(SHORTEST[:-1], "too short: 31 bytes", id="longest-refused-31-bytes"),
    pytest.param("k", "too short: 1 byte", id="one-character"),
    pytest.param("", "too short: 0 bytes", id="empty-option"),
    pytest.param(NON_ASCII[:-1], "too short: 30 bytes", id="30-utf8-bytes-of-22-characters"),
    pytest.param("a" * 64, "too weak: it repeats a pattern of 1 byte", id="64-times-a"),
    pytest.param("ab" * 32, "too weak: it repeats a pattern of 2 bytes", id="ab-repeated"),
    pytest.param(
        "password" * 4 + "pass", "too weak: it repeats a pattern of 8 bytes", id="password-x4.5"
    ),
    pytest.param(
        "0123456789abcdef" * 2, "too weak: it repeats a pattern of 16 bytes", id="hex-run-twice"
    ),
    pytest.param(
        "a" * 40 + "bcde",
        "too weak: only 5 different bytes (an audit key needs at least 6)",
        id="5-values",
    ),
]


@pytest.mark.parametrize(("key", "problem"), REFUSED)
def test_auditor_refuses_a_weak_key_option_saying_why_and_how_to_make_one(
    key: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    for candidate in (key, key.encode()):
        with pytest.raises(ValueError, match=r"^Auditor") as caught:
            Auditor(log_dir=tmp_path / "logs", key=candidate)
        message = str(caught.value)
        assert message.startswith(f"Auditor(key=...) is {problem}")
        assert message.endswith(HINT)
        if len(key) >= 8:
            assert key not in message
    assert not (tmp_path / "logs").exists()  # refused before anything was made


@pytest.mark.parametrize(("key", "problem"), [p for p in REFUSED if p.id != "empty-option"])
def test_auditor_refuses_a_weak_asgi_audit_key(
    key: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, key)
    with pytest.raises(ValueError, match=r"^\$ASGI_AUDIT_KEY") as caught:
        Auditor(log_dir=tmp_path / "logs")
    assert str(caught.value) == (
        f"$ASGI_AUDIT_KEY is {problem}"
        + (
            "; an audit key needs at least 32 bytes (a string's UTF-8 bytes are the key)"
            if "short" in problem
            else ""
        )
        + f"; {HINT}"
    )


def write_and_verify(
    log_dir: Path, key: str | bytes, env_key: str
) -> subprocess.CompletedProcess[str]:
    async def write() -> None:
        async with Auditor(log_dir=log_dir, key=key, self_audit=False, fsync="never") as auditor:
            await auditor.login_attempt("failed", user_id="ann", ip_address="198.51.100.1")

    asyncio.run(write())
    return verify(log_dir, env_key)


def verify(log_dir: Path, env_key: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    env["ARCHIVE_KEY"] = env_key
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "asgi_audit",
            "verify",
            str(log_dir),
            "--key-env",
            "ARCHIVE_KEY",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=DEADLINE,
        check=False,
    )


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(SHORTEST, id="shortest-32-bytes"),
        pytest.param(NON_ASCII, id="32-utf8-bytes-of-23-characters"),
        pytest.param("a" * 27 + "bcdef", id="6-values-not-repeating"),
        pytest.param(os.urandom(32).hex(), id="token-hex-32"),
    ],
)
def test_acceptable_keys_seal_and_verify_through_the_real_command(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    done = write_and_verify(tmp_path / "logs", key, key)
    assert (done.returncode, done.stderr) == (0, ""), done.stdout
    last = done.stdout.splitlines()[-1]
    assert last.startswith("OK: 1 stream, 1 line in 1 file, "), done.stdout
    assert last.endswith(" ledger records, every chain holds (hmac-sha256, static key)")


def test_a_string_key_is_its_utf8_bytes_so_either_form_seals_the_same_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    done = write_and_verify(tmp_path / "logs", NON_ASCII.encode(), NON_ASCII)
    assert (done.returncode, done.stderr) == (0, ""), done.stdout


@pytest.mark.parametrize(("key", "problem"), [p for p in REFUSED if p.id != "empty-option"])
def test_verify_refuses_a_weak_key_with_status_2_and_one_line(
    key: str, problem: str, tmp_path: Path
) -> None:
    (tmp_path / "logs").mkdir()
    done = verify(tmp_path / "logs", key)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(f"asgi-audit: $ARCHIVE_KEY is {problem}")
    assert done.stderr.endswith(f"; {HINT}\n")
    assert done.stderr.count("\n") == 1
    if len(key) >= 8:
        assert key not in done.stderr


def brute_period(key: bytes) -> int | None:
    """The definition itself: the shortest p <= len // 2 with key[i] == key[i + p]."""
    for p in range(1, len(key) // 2 + 1):
        if all(key[i] == key[i + p] for i in range(len(key) - p)):
            return p
    return None


@given(
    pattern=st.binary(min_size=1, max_size=12),
    repeats=st.integers(min_value=1, max_value=8),
    tail=st.binary(max_size=6),
    alphabet=st.sampled_from([b"ab", b"abc", b"\x00\xff", bytes(range(256))]),
)
def test_property_the_pattern_check_agrees_with_its_definition(
    pattern: bytes, repeats: int, tail: bytes, alphabet: bytes
) -> None:
    # Small alphabets make near-repeats (aab aab aac) that the prefix function
    # must walk back through; the cut-off tail makes partial last repeats.
    def fold(data: bytes) -> bytes:
        return bytes(alphabet[b % len(alphabet)] for b in data)

    key = fold(pattern) * repeats + fold(tail)
    assert _period(key) == brute_period(key), key
