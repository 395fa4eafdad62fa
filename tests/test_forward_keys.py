"""Forward-secure keys, in process: the schedule, the epochs, the key forms and their files.

Known answers are computed here with ``hmac``/``hashlib`` and ``cryptography``'s Ed25519
directly (an implementation independent of asgi_audit's composition), and pinned as hex
literals; ``verify_signature`` is checked against RFC 8032's test vectors. Hypothesis
states the properties: the schedule is deterministic and composes, every epoch's keys
differ, a signature verifies with its own epoch's public key only, and a verifier never
raises. Every malformed key file is refused with an exact message that holds no secret.
The files on disk are in tests/test_keyfiles.py, the command in tests/test_cli_keys.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import math
from collections.abc import Callable, Iterator
from typing import Any, Final

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_audit.proof import forward
from asgi_audit.proof.forward import (
    MAX_EPOCH,
    Deployment,
    KeyFormatError,
    NoSeedError,
    SealingState,
    VerificationKey,
    evolve,
    line_key,
    public_key,
    seed_at,
    sign,
    signing_key,
    verify_signature,
)
from asgi_audit.proof.keyformat import MAX_KEY_FILE_BYTES

S0: Final = bytes(range(32))
#: Computed once with hmac.new(S, b"asgi_audit evolve", sha256) and friends.
S1_HEX: Final = "fafacbac6aef778b97103237367cf1790ddf4362dcd07163d4542d9cd8609d89"
S2_HEX: Final = "ef6c08527768f17c915a99ba01091c495482b4d76e16306b742559c66ca02124"
K0_HEX: Final = "031d83fd3443b4a8b1ac02927faf6a23f47d994d479e144e4db59c9bea51ce8a"
K2_HEX: Final = "346ebf42a3cd0633bcc86c8e0aaa0acabf5e7e78cc6651b6be0f97b5b761b989"
SIGN_SEED0_HEX: Final = "d3b19140499c3704ac2419a49ab97bba0b764bc71f4dca2dc466233ab95b0be9"
PK0_HEX: Final = "b2012e0fb3e277d5d462818de2e840d66610341fc7f61c436c144991dc2b82b0"
PK2_HEX: Final = "a25f068dbec694df4ef3c9b2d133f40d8e9b369d2997a44c3583c2dd96fb613f"
MESSAGE: Final = b"asgi_audit test message"
SIG0_HEX: Final = (
    "7573eb6f22e813eee96672783470f55d7ec310e752fa5ea064a4383e66b67c20"
    "c7509378fdfdabb81cc23b57b6b272a9df74fad94b685da018595726e9a35e06"
)
DEPLOYMENT_ID: Final = "0123456789abcdef"
#: sha256(pk_0 || b"0123456789abcdef")[:16 hex]
KEY_ID: Final = "9918bbe50fbd7231"
PSEUDONYM: Final = bytes(range(100, 132))
ORIGIN: Final = 1_700_000_000
DEPLOYMENT: Final = Deployment(DEPLOYMENT_ID, ORIGIN, 900)
#: RFC 8032 section 7.1, TEST 1 and TEST 2: (public key, message, signature).
RFC8032: Final = (
    (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
        "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e"
        "458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
)

EPOCH_SECONDS: Final = "epoch_seconds must be a whole number from 60 to 604800"

seeds = st.binary(min_size=32, max_size=32)


def mac(key: bytes, label: bytes) -> bytes:
    """The test's own HMAC-SHA256."""
    return hmac.new(key, label, hashlib.sha256).digest()


def seed_of(seed: bytes, epoch: int) -> bytes:
    """The test's own schedule: evolve ``epoch`` times."""
    for _ in range(epoch):
        seed = mac(seed, b"asgi_audit evolve")
    return seed


def public_of(seed: bytes) -> bytes:
    """The test's own pk_i: cryptography's Ed25519 on the HMAC private seed."""
    private = Ed25519PrivateKey.from_private_bytes(mac(seed, b"asgi_audit sign"))
    return private.public_key().public_bytes_raw()


@contextlib.contextmanager
def refused(kind: type[Exception], message: str) -> Iterator[None]:
    """Expect ``kind`` with exactly ``message``."""
    with pytest.raises(kind) as caught:
        yield
    assert str(caught.value) == message


def secrets_in(text: str, *secrets: bytes) -> list[str]:
    """The pieces of ``secrets`` (hex either case, a third of it, repr) found in ``text``."""
    found = []
    for secret in secrets:
        for piece in (secret.hex(), secret.hex().upper(), secret.hex()[:22], repr(secret)):
            if piece in text:
                found.append(piece)
    return found


# --- the schedule: known answers --------------------------------------------------------


def test_the_labels_are_the_specs() -> None:
    assert forward.EVOLVE_LABEL == b"asgi_audit evolve"
    assert forward.LINE_LABEL == b"asgi_audit line"
    assert forward.SIGN_LABEL == b"asgi_audit sign"
    assert forward.SEED_BYTES == 32
    assert (forward.MIN_EPOCH_SECONDS, forward.MAX_EPOCH_SECONDS) == (60, 604800)
    assert MAX_EPOCH == 67_108_864


def test_evolve_is_hmac_sha256_of_the_evolve_label() -> None:
    assert evolve(S0) == mac(S0, b"asgi_audit evolve")
    assert evolve(S0).hex() == S1_HEX
    assert evolve(bytes.fromhex(S1_HEX)).hex() == S2_HEX
    assert evolve(bytearray(S0)).hex() == S1_HEX


def test_seed_at_evolves_from_one_epoch_to_another() -> None:
    assert seed_at(S0, 0, 0) == S0
    assert seed_at(S0, 0, 1).hex() == S1_HEX
    assert seed_at(S0, 0, 2).hex() == S2_HEX
    assert seed_at(bytes.fromhex(S1_HEX), 1, 2).hex() == S2_HEX
    assert seed_at(bytes.fromhex(S1_HEX), 7, 8).hex() == S2_HEX  # only the distance counts
    assert seed_at(S0, 5, 5) == S0
    assert seed_at(S0, 0, 300) == seed_of(S0, 300)


def test_line_key_and_signing_key_are_hmacs_of_their_labels() -> None:
    assert line_key(S0) == mac(S0, b"asgi_audit line")
    assert line_key(S0).hex() == K0_HEX
    assert line_key(bytes.fromhex(S2_HEX)).hex() == K2_HEX
    assert signing_key(S0).private_bytes_raw().hex() == SIGN_SEED0_HEX
    assert signing_key(S0).private_bytes_raw() == mac(S0, b"asgi_audit sign")


def test_public_key_is_the_ed25519_key_of_the_sign_seed() -> None:
    assert public_key(S0).hex() == PK0_HEX
    assert public_key(S0) == public_of(S0)
    assert public_key(bytes.fromhex(S2_HEX)).hex() == PK2_HEX
    assert public_key(bytes.fromhex(S2_HEX)) == public_of(seed_of(S0, 2))


def test_sign_is_deterministic_ed25519() -> None:
    assert sign(S0, MESSAGE).hex() == SIG0_HEX
    private = Ed25519PrivateKey.from_private_bytes(mac(S0, b"asgi_audit sign"))
    assert sign(S0, MESSAGE) == private.sign(MESSAGE)
    assert verify_signature(bytes.fromhex(PK0_HEX), MESSAGE, bytes.fromhex(SIG0_HEX)) is True


@pytest.mark.parametrize(("public", "message", "signature"), RFC8032)
def test_verify_signature_accepts_rfc_8032_vectors_and_nothing_near_them(
    public: str, message: str, signature: str
) -> None:
    pk, msg, sig = bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature)
    assert verify_signature(pk, msg, sig) is True
    assert verify_signature(bytearray(pk), memoryview(msg), bytearray(sig)) is True
    assert verify_signature(pk, msg + b"\x00", sig) is False
    for i in (0, 31, 32, 63):
        flipped = bytearray(sig)
        flipped[i] ^= 1
        assert verify_signature(pk, msg, bytes(flipped)) is False
    other = bytearray(pk)
    other[0] ^= 1
    assert verify_signature(bytes(other), msg, sig) is False


@pytest.mark.parametrize(
    ("public", "message", "signature"),
    [
        (b"", b"", b""),
        (b"\x00" * 31, MESSAGE, bytes(64)),
        (b"\x00" * 33, MESSAGE, bytes(64)),
        (bytes.fromhex(PK0_HEX), MESSAGE, bytes.fromhex(SIG0_HEX)[:63]),
        (bytes.fromhex(PK0_HEX), MESSAGE, bytes.fromhex(SIG0_HEX) + b"\x00"),
        (PK0_HEX, MESSAGE, bytes.fromhex(SIG0_HEX)),
        (bytes.fromhex(PK0_HEX), MESSAGE.decode(), bytes.fromhex(SIG0_HEX)),
        (bytes.fromhex(PK0_HEX), MESSAGE, SIG0_HEX),
        (None, None, None),
        (b"\xff" * 32, MESSAGE, b"\xff" * 64),
    ],
)
def test_verify_signature_says_false_to_malformed_input(
    public: Any, message: Any, signature: Any
) -> None:
    assert verify_signature(public, message, signature) is False


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: evolve(S0[:31]), "seed must be 32 bytes"),
        (lambda: evolve(S0 + b"\x00"), "seed must be 32 bytes"),
        (lambda: line_key(b""), "seed must be 32 bytes"),
        (lambda: public_key("00" * 32), "seed must be 32 bytes"),  # type: ignore[arg-type]
        (lambda: seed_at(S0, 5, 4), "a seed only moves forward: epoch 4 is before 5"),
        (
            lambda: seed_at(S0, -1, 4),
            "from_epoch must be a whole number from 0 to 67108864, got -1",
        ),
        (
            lambda: seed_at(S0, 0, True),
            "to_epoch must be a whole number from 0 to 67108864, got True",
        ),
        (
            lambda: seed_at(S0, 0, 1.0),  # type: ignore[arg-type]
            "to_epoch must be a whole number from 0 to 67108864, got 1.0",
        ),
        (
            lambda: seed_at(S0, 0, MAX_EPOCH + 1),
            "to_epoch must be a whole number from 0 to 67108864, got 67108865",
        ),
    ],
)
def test_the_schedule_refuses_what_it_cannot_mean(call: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - the message is checked whole
        call()
    assert str(caught.value) == message
    assert secrets_in(str(caught.value), S0) == []


# --- the schedule: properties -----------------------------------------------------------


@given(seeds)
def test_evolve_is_deterministic_and_moves(seed: bytes) -> None:
    assert evolve(seed) == evolve(bytes(seed)) == evolve(bytearray(seed))
    assert evolve(seed) == mac(seed, b"asgi_audit evolve")
    assert evolve(seed) != seed
    assert len(evolve(seed)) == 32


@given(seeds, st.integers(0, 40), st.integers(0, 40))
def test_seed_at_composes(seed: bytes, a: int, b: int) -> None:
    assert seed_at(seed, 0, a + b) == seed_at(seed_at(seed, 0, a), a, a + b)
    assert seed_at(seed, 0, a + b) == seed_of(seed, a + b)


@settings(max_examples=25)
@given(seeds, st.integers(0, 12), st.integers(1, 12))
def test_keys_of_different_epochs_differ(seed: bytes, i: int, gap: int) -> None:
    si, sj = seed_at(seed, 0, i), seed_at(seed, 0, i + gap)
    assert si != sj
    assert line_key(si) != line_key(sj)
    assert public_key(si) != public_key(sj)
    assert len({si, line_key(si), mac(si, b"asgi_audit sign"), public_key(si)}) == 4


@settings(max_examples=20)
@given(seeds, st.integers(0, 3), st.binary(max_size=200))
def test_a_signature_of_epoch_i_verifies_with_pk_i_only(
    seed: bytes, i: int, message: bytes
) -> None:
    signature = sign(seed_at(seed, 0, i), message)
    assert len(signature) == 64
    for j in range(4):
        assert verify_signature(public_key(seed_at(seed, 0, j)), message, signature) is (i == j)
    assert verify_signature(public_key(seed_at(seed, 0, i)), message + b"x", signature) is False


@given(st.binary(max_size=80), st.binary(max_size=80), st.binary(max_size=80))
def test_verify_signature_never_raises_on_arbitrary_bytes(
    public: bytes, message: bytes, signature: bytes
) -> None:
    valid = verify_signature(public, message, signature)
    assert isinstance(valid, bool)
    if (len(public), len(signature)) != (32, 64):
        assert valid is False


@given(
    st.binary(min_size=32, max_size=32),
    st.binary(max_size=64),
    st.binary(min_size=64, max_size=64),
)
def test_verify_signature_never_raises_on_well_sized_garbage(
    public: bytes, message: bytes, signature: bytes
) -> None:
    # Garbage of the right sizes may even verify: OpenSSL's Ed25519 accepts a public key
    # of small order (all zeros, with a signature of zeros, verifies every message).
    # Which public keys are believed is the ledger's business: see verify_signature.
    assert isinstance(verify_signature(public, message, signature), bool)


def test_a_public_key_of_small_order_is_the_caller_s_to_refuse() -> None:
    # Documents what the docstring of verify_signature warns about.
    assert verify_signature(bytes(32), b"any message", bytes(64)) is True
    assert verify_signature(bytes(32), b"another", bytes(64)) is True


# --- epochs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "epoch"),
    [
        (ORIGIN, 0),
        (ORIGIN + 899.999, 0),
        (ORIGIN + 900, 1),
        (ORIGIN + 900 * 7 + 0.5, 7),
        (ORIGIN - 0.001, 0),
        (ORIGIN - 10 * 900, 0),
        (0, 0),
        (ORIGIN + 900 * 1000 - 1, 999),
        (float(ORIGIN + 900 * 1000), 1000),
    ],
)
def test_epoch_at_is_the_floor_never_below_zero(moment: float, epoch: int) -> None:
    assert DEPLOYMENT.epoch_at(moment) == epoch
    assert type(DEPLOYMENT.epoch_at(moment)) is int


def test_epoch_start_is_origin_plus_whole_epochs() -> None:
    assert DEPLOYMENT.epoch_start(0) == 1_700_000_000.0
    assert DEPLOYMENT.epoch_start(3) == 1_700_002_700.0
    assert type(DEPLOYMENT.epoch_start(3)) is float
    with refused(ValueError, "epoch must be a whole number from 0 to 67108864, got -1"):
        DEPLOYMENT.epoch_start(-1)


@given(st.floats(0, 2e9, allow_nan=False), st.integers(60, 604800), st.integers(0, 2_000_000_000))
def test_a_moment_lies_in_its_epoch(moment: float, seconds: int, origin: int) -> None:
    d = Deployment(DEPLOYMENT_ID, origin, seconds)
    epoch = d.epoch_at(moment)
    assert epoch >= 0
    if moment >= origin:
        assert d.epoch_start(epoch) <= moment < d.epoch_start(epoch + 1)
    else:
        assert epoch == 0


@pytest.mark.parametrize(
    ("moment", "message"),
    [
        (math.nan, "a moment must be finite, got nan"),
        (math.inf, "a moment must be finite, got inf"),
        (-math.inf, "a moment must be finite, got -inf"),
        (True, "a moment must be a number of seconds, got True"),
        ("1700000000", "a moment must be a number of seconds, got '1700000000'"),
        (None, "a moment must be a number of seconds, got None"),
        (ORIGIN + 900 * (MAX_EPOCH + 1), "62097978500 is past the last epoch (67108864)"),
    ],
)
def test_epoch_at_refuses_what_is_not_a_moment(moment: Any, message: str) -> None:
    with refused(ValueError, message):
        DEPLOYMENT.epoch_at(moment)
    assert DEPLOYMENT.epoch_at(ORIGIN + 900 * MAX_EPOCH) == MAX_EPOCH


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("0123456789ABCDEF", ORIGIN, 900), "deployment must be 16 lowercase hex digits"),
        (("0123456789abcde", ORIGIN, 900), "deployment must be 16 lowercase hex digits"),
        (("0123456789abcdef0", ORIGIN, 900), "deployment must be 16 lowercase hex digits"),
        (("0123456789abcdeg", ORIGIN, 900), "deployment must be 16 lowercase hex digits"),
        ((0x0123456789ABCDEF, ORIGIN, 900), "deployment must be 16 lowercase hex digits"),
        ((DEPLOYMENT_ID, -1, 900), "origin must be whole unix seconds from 0 to 8589934592"),
        ((DEPLOYMENT_ID, 2**33 + 1, 900), "origin must be whole unix seconds from 0 to 8589934592"),
        ((DEPLOYMENT_ID, 1.5, 900), "origin must be whole unix seconds from 0 to 8589934592"),
        ((DEPLOYMENT_ID, True, 900), "origin must be whole unix seconds from 0 to 8589934592"),
        ((DEPLOYMENT_ID, ORIGIN, 59), f"{EPOCH_SECONDS}, got 59"),
        ((DEPLOYMENT_ID, ORIGIN, 604801), f"{EPOCH_SECONDS}, got 604801"),
        ((DEPLOYMENT_ID, ORIGIN, 900.0), f"{EPOCH_SECONDS}, got 900.0"),
        ((DEPLOYMENT_ID, ORIGIN, True), f"{EPOCH_SECONDS}, got True"),
    ],
)  # fmt: skip
def test_a_deployment_is_checked(args: tuple[Any, Any, Any], message: str) -> None:
    with refused(ValueError, message):
        Deployment(*args)


def test_the_bounds_of_a_deployment_are_accepted() -> None:
    assert Deployment(DEPLOYMENT_ID, 0, 60).epoch_seconds == 60
    assert Deployment("ffffffffffffffff", 2**33, 604800).origin == 2**33


# --- the verification key ---------------------------------------------------------------


def test_the_secret_verification_key_derives_every_epoch() -> None:
    key = VerificationKey.from_seed(DEPLOYMENT, S0)
    assert key.public_key.hex() == PK0_HEX
    assert key.seed == S0
    assert key.is_secret is True
    assert key.key_id == KEY_ID
    assert (
        key.key_id == hashlib.sha256(bytes.fromhex(PK0_HEX) + b"0123456789abcdef").hexdigest()[:16]
    )
    assert key.seed_at(2).hex() == S2_HEX
    assert key.line_key_at(0).hex() == K0_HEX
    assert key.line_key_at(2).hex() == K2_HEX
    assert key.public_key_at(0).hex() == PK0_HEX
    assert key.public_key_at(2).hex() == PK2_HEX


def test_the_public_form_has_pk0_only() -> None:
    key = VerificationKey.from_seed(DEPLOYMENT, S0).public()
    assert key.seed is None
    assert key.is_secret is False
    assert key.key_id == KEY_ID
    assert key.public_key_at(0).hex() == PK0_HEX
    assert key.public() == key
    calls: list[Callable[[], bytes]] = [
        lambda: key.line_key_at(1),
        lambda: key.public_key_at(1),
        lambda: key.seed_at(0),
    ]
    for call in calls:
        with refused(
            NoSeedError,
            f"the public verification key {KEY_ID} holds no seed: it cannot derive the keys "
            "of an epoch (the ledger's key records certify the public keys)",
        ):
            call()


def test_the_derived_seeds_are_right_in_any_order() -> None:
    key = VerificationKey.from_seed(DEPLOYMENT, S0)
    expected = {0: S0}
    for epoch in (5, 3, 2048, 1025, 3000, 2047, 0, 1024, 3001, 1):
        expected.setdefault(epoch, seed_of(S0, epoch))
        assert key.seed_at(epoch) == expected[epoch], epoch
        assert key.line_key_at(epoch) == mac(expected[epoch], b"asgi_audit line")
    assert set(key._cache) == {0, 1024, 2048, 1}


def test_a_verification_key_is_checked() -> None:
    pk0 = bytes.fromhex(PK0_HEX)
    with refused(ValueError, "public_key is not the public key of the seed"):
        VerificationKey(DEPLOYMENT, bytes.fromhex(PK2_HEX), S0)
    with refused(ValueError, "public_key must be 32 bytes"):
        VerificationKey(DEPLOYMENT, pk0[:31])
    with refused(ValueError, "seed must be 32 bytes"):
        VerificationKey(DEPLOYMENT, pk0, bytearray(S0))  # type: ignore[arg-type]
    with refused(ValueError, "seed must be 32 bytes"):
        VerificationKey.from_seed(DEPLOYMENT, S0[:16])
    with refused(ValueError, "deployment must be a Deployment"):
        VerificationKey(DEPLOYMENT_ID, pk0)  # type: ignore[arg-type]


def test_no_repr_shows_a_seed() -> None:
    key = VerificationKey.from_seed(DEPLOYMENT, S0)
    state = SealingState(DEPLOYMENT, 0, S0, PSEUDONYM, "/srv/logs")
    assert secrets_in(repr(key), S0) == []
    assert secrets_in(repr(state), S0, PSEUDONYM) == []
    assert repr(state) == (
        "SealingState(deployment='0123456789abcdef', epoch=0, log_dir='/srv/logs')"
    )


# --- verification key files -------------------------------------------------------------

SECRET_FILE: Final = (
    "{\n"
    '  "format": "asgi-audit-verification-key/1",\n'
    '  "deployment": "0123456789abcdef",\n'
    '  "origin": 1700000000,\n'
    '  "epoch_seconds": 900,\n'
    f'  "public_key": "{PK0_HEX}",\n'
    f'  "seed": "{S0.hex()}"\n'
    "}\n"
)
PUBLIC_FILE: Final = (
    "{\n"
    '  "format": "asgi-audit-verification-key/public/1",\n'
    '  "deployment": "0123456789abcdef",\n'
    '  "origin": 1700000000,\n'
    '  "epoch_seconds": 900,\n'
    f'  "public_key": "{PK0_HEX}"\n'
    "}\n"
)


def test_the_verification_key_files_are_exactly_these() -> None:
    key = VerificationKey.from_seed(DEPLOYMENT, S0)
    assert key.to_json() == SECRET_FILE.encode()
    assert key.public().to_json() == PUBLIC_FILE.encode()
    assert VerificationKey.from_json(SECRET_FILE) == key
    assert VerificationKey.from_json(SECRET_FILE.encode()) == key
    assert VerificationKey.from_json(PUBLIC_FILE) == key.public()
    assert VerificationKey.from_json(SECRET_FILE).seed == S0
    assert VerificationKey.from_json(PUBLIC_FILE).seed is None


@given(
    seeds,
    st.text("0123456789abcdef", min_size=16, max_size=16),
    st.integers(0, 2**33),
    st.integers(60, 604800),
)
def test_verification_keys_round_trip(seed: bytes, name: str, origin: int, seconds: int) -> None:
    key = VerificationKey.from_seed(Deployment(name, origin, seconds), seed)
    assert VerificationKey.from_json(key.to_json()) == key
    assert VerificationKey.from_json(key.public().to_json()) == key.public()
    assert json.loads(key.to_json())["seed"] == seed.hex()
    assert "seed" not in json.loads(key.public().to_json())


def secret_fields(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SECRET_FILE)
    for name, value in changes.items():
        if value is ...:
            del data[name]
        else:
            data[name] = value
    return data


BAD_VERIFICATION_KEYS: Final = [
    (secret_fields(format="asgi-audit-verification-key/2"), "not a verification key file: its format is 'asgi-audit-verification-key/2' (expected 'asgi-audit-verification-key/1' or 'asgi-audit-verification-key/public/1')"),  # noqa: E501
    (secret_fields(format="asgi-audit-sealing-key/1"), "not a verification key file: its format is 'asgi-audit-sealing-key/1' (expected 'asgi-audit-verification-key/1' or 'asgi-audit-verification-key/public/1')"),  # noqa: E501
    (secret_fields(format=S0.hex()), "not a verification key file: its format is unknown (expected 'asgi-audit-verification-key/1' or 'asgi-audit-verification-key/public/1')"),  # noqa: E501
    (secret_fields(format=1), "not a verification key file: its format is unknown (expected 'asgi-audit-verification-key/1' or 'asgi-audit-verification-key/public/1')"),  # noqa: E501
    (secret_fields(format=...), "no 'format' field: not a verification key file (expected 'asgi-audit-verification-key/1' or 'asgi-audit-verification-key/public/1')"),  # noqa: E501
    (secret_fields(seed=S0.hex().upper()), "field 'seed' must be 64 lowercase hex digits"),
    (secret_fields(seed=S0.hex()[:-1] + "g"), "field 'seed' must be 64 lowercase hex digits"),
    (secret_fields(seed=S0.hex()[:62]), "field 'seed' must be 64 lowercase hex digits"),
    (secret_fields(seed=S0.hex() + "00"), "field 'seed' must be 64 lowercase hex digits"),
    (secret_fields(seed=" " + S0.hex()[1:]), "field 'seed' must be 64 lowercase hex digits"),
    (secret_fields(seed=list(S0)), "field 'seed' must be 64 lowercase hex digits"),
    (secret_fields(seed=...), "missing field 'seed'"),
    (secret_fields(seed=seed_of(S0, 1).hex()), "public_key is not the public key of the seed"),
    (secret_fields(public_key=PK0_HEX[:-2]), "field 'public_key' must be 64 lowercase hex digits"),
    (secret_fields(public_key=...), "missing field 'public_key'"),
    (secret_fields(deployment="0123456789ABCDEF"), "deployment must be 16 lowercase hex digits"),
    (secret_fields(deployment=12345), "field 'deployment' must be a string"),
    (secret_fields(origin="1700000000"), "field 'origin' must be a whole number"),
    (secret_fields(origin=1700000000.0), "field 'origin' must be a whole number"),
    (secret_fields(origin=True), "field 'origin' must be a whole number"),
    (secret_fields(origin=-5), "origin must be whole unix seconds from 0 to 8589934592"),
    (secret_fields(epoch_seconds=30), "epoch_seconds must be a whole number from 60 to 604800, got 30"),  # noqa: E501
    (secret_fields(epoch_seconds=...), "missing field 'epoch_seconds'"),
    (secret_fields(key_id=KEY_ID), "unknown field 'key_id' in a asgi-audit-verification-key/1 file"),  # noqa: E501
    (secret_fields(**{S0.hex(): 1}), "unknown field (not shown) in a asgi-audit-verification-key/1 file"),  # noqa: E501
    ({**json.loads(PUBLIC_FILE), "seed": S0.hex()}, "unknown field 'seed' in a asgi-audit-verification-key/public/1 file"),  # noqa: E501
    ([secret_fields()], "not a JSON object: not a verification key file"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "message"), BAD_VERIFICATION_KEYS)
def test_a_malformed_verification_key_is_refused_by_name_without_its_secret(
    data: Any, message: str
) -> None:
    with pytest.raises(KeyFormatError) as caught:
        VerificationKey.from_json(json.dumps(data))
    assert str(caught.value) == message
    assert secrets_in(str(caught.value), S0) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SECRET_FILE[:-3], "not JSON (line 7 column 77): not a verification key file"),
        ("", "not JSON (line 1 column 1): not a verification key file"),
        (SECRET_FILE.replace("1700000000", "NaN"), "NaN is not a value a key file holds"),
        (SECRET_FILE.replace("1700000000", "Infinity"), "Infinity is not a value a key file holds"),
        (
            SECRET_FILE.replace('"origin"', '"seed": "00",\n  "origin"'),
            "field 'seed' appears twice",
        ),
        (" " * (MAX_KEY_FILE_BYTES + 1), "longer than 65536 bytes: not a verification key file"),
    ],
)
def test_a_key_file_that_is_not_one_json_object_is_refused(text: str, message: str) -> None:
    with pytest.raises(KeyFormatError) as caught:
        VerificationKey.from_json(text)
    assert str(caught.value) == message
    assert secrets_in(str(caught.value), S0) == []


def test_a_key_file_that_is_not_utf8_is_refused() -> None:
    with refused(KeyFormatError, "not UTF-8 text: not a verification key file"):
        VerificationKey.from_json(b"\xff" + SECRET_FILE.encode())
    assert VerificationKey.from_json(SECRET_FILE.encode()).key_id == KEY_ID


# --- the sealing state ------------------------------------------------------------------


def new_state(epoch: int = 0, seed: bytes = S0, **changes: Any) -> SealingState:
    fields: dict[str, Any] = {
        "deployment": DEPLOYMENT,
        "pseudonym_key": PSEUDONYM,
        "log_dir": "/srv/app/logs",
        "genesis": None,
        **changes,
    }
    return SealingState(
        fields["deployment"], epoch, seed, fields["pseudonym_key"], fields["log_dir"],
        fields["genesis"],
    )  # fmt: skip


def test_the_sealing_state_uses_its_epochs_keys() -> None:
    state = new_state()
    assert state.epoch == 0
    assert state.line_key().hex() == K0_HEX
    assert state.public_key().hex() == PK0_HEX
    assert state.sign(MESSAGE).hex() == SIG0_HEX
    assert state.pseudonym_key == PSEUDONYM
    assert state.log_dir == "/srv/app/logs"
    assert state.genesis is None


def test_advancing_overwrites_the_old_seed_in_place() -> None:
    state = new_state()
    buffer = state._seed
    assert bytes(buffer) == S0
    state.advance_to(2)
    assert state._seed is buffer
    assert bytes(buffer).hex() == S2_HEX
    assert S0 not in bytes(buffer)
    assert bytes.fromhex(S1_HEX) not in bytes(buffer)
    assert state.epoch == 2
    assert state.line_key().hex() == K2_HEX
    assert state.public_key().hex() == PK2_HEX
    state.advance_to(2)
    assert bytes(buffer).hex() == S2_HEX


def test_the_caller_s_buffer_is_copied_not_kept() -> None:
    mine = bytearray(S0)
    state = SealingState(DEPLOYMENT, 0, mine, PSEUDONYM, "/srv/app/logs")
    assert state._seed is not mine
    state.advance_to(1)
    assert mine == S0


def test_the_sealing_state_never_goes_back() -> None:
    state = new_state(epoch=5, seed=seed_of(S0, 5))
    with refused(ValueError, "the sealing key is at epoch 5: it cannot go back to 4"):
        state.advance_to(4)
    assert state.epoch == 5
    assert bytes(state._seed) == seed_of(S0, 5)
    with refused(ValueError, "epoch must be a whole number from 0 to 67108864, got 67108865"):
        state.advance_to(MAX_EPOCH + 1)


def test_erase_zeroes_the_seed() -> None:
    state = new_state()
    buffer = state._seed
    state.erase()
    assert buffer == bytes(32)


def test_a_copy_has_its_own_buffer() -> None:
    state = new_state(genesis="ab" * 32)
    twin = state.copy()
    assert twin._seed is not state._seed
    twin.advance_to(3)
    assert state.epoch == 0
    assert bytes(state._seed) == S0
    assert (twin.deployment, twin.pseudonym_key, twin.log_dir, twin.genesis) == (
        DEPLOYMENT,
        PSEUDONYM,
        "/srv/app/logs",
        "ab" * 32,
    )


def test_agrees_with_is_the_same_key_at_another_epoch() -> None:
    state = new_state()
    later = new_state(epoch=7, seed=seed_of(S0, 7))
    assert state.agrees_with(later) is True
    assert later.agrees_with(state) is True
    assert state.agrees_with(new_state()) is True
    assert bytes(state._seed) == S0  # the check worked on a copy
    assert state.agrees_with(new_state(epoch=7, seed=seed_of(S0, 6))) is False
    assert state.agrees_with(new_state(seed=bytes(32))) is False
    assert state.agrees_with(new_state(pseudonym_key=bytes(32))) is False
    assert state.agrees_with(new_state(log_dir="/srv/other")) is False
    other = Deployment("fedcba9876543210", ORIGIN, 900)
    assert state.agrees_with(new_state(deployment=other)) is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seed": S0[:31]}, "seed must be 32 bytes"),
        ({"pseudonym_key": PSEUDONYM[:31]}, "pseudonym_key must be 32 bytes"),
        ({"pseudonym_key": bytearray(PSEUDONYM)}, "pseudonym_key must be 32 bytes"),
        ({"log_dir": "logs/security"}, "log_dir must be an absolute path"),
        ({"log_dir": "/srv/\0logs"}, "log_dir must be an absolute path"),
        ({"genesis": "AB" * 32}, "genesis must be 64 lowercase hex digits or None"),
        ({"genesis": "ab" * 31}, "genesis must be 64 lowercase hex digits or None"),
        ({"genesis": b"ab" * 32}, "genesis must be 64 lowercase hex digits or None"),
        ({"deployment": DEPLOYMENT_ID}, "deployment must be a Deployment"),
        ({"epoch": -1}, "epoch must be a whole number from 0 to 67108864, got -1"),
    ],
)
def test_a_sealing_state_is_checked(changes: dict[str, Any], message: str) -> None:
    seed = changes.pop("seed", S0)
    epoch = changes.pop("epoch", 0)
    with refused(ValueError, message):
        new_state(epoch=epoch, seed=seed, **changes)


def sealing_file(epoch: int, seed: bytes, genesis: str | None) -> str:
    return (
        "{\n"
        '  "format": "asgi-audit-sealing-key/1",\n'
        '  "deployment": "0123456789abcdef",\n'
        '  "origin": 1700000000,\n'
        '  "epoch_seconds": 900,\n'
        f'  "epoch": {epoch},\n'
        f'  "seed": "{seed.hex()}",\n'
        f'  "pseudonym_key": "{PSEUDONYM.hex()}",\n'
        '  "log_dir": "/srv/app/logs",\n'
        f'  "genesis": {json.dumps(genesis)}\n'
        "}\n"
    )


def test_the_sealing_key_file_is_exactly_this() -> None:
    state = new_state()
    assert state.to_json() == sealing_file(0, S0, None).encode()
    state.advance_to(2)
    state.genesis = "cd" * 32
    assert state.to_json() == sealing_file(2, seed_of(S0, 2), "cd" * 32).encode()
    back = SealingState.from_json(state.to_json())
    assert (back.epoch, bytes(back._seed), back.genesis) == (2, seed_of(S0, 2), "cd" * 32)
    assert back.agrees_with(state)


@given(seeds, seeds, st.integers(0, 10_000), st.none() | st.binary(min_size=32, max_size=32))
def test_sealing_states_round_trip(
    seed: bytes, pseudonym: bytes, epoch: int, genesis: bytes | None
) -> None:
    hexed = None if genesis is None else genesis.hex()
    state = SealingState(DEPLOYMENT, epoch, seed, pseudonym, "/var/log/app", hexed)
    back = SealingState.from_json(state.to_json())
    assert back.to_json() == state.to_json()
    assert back.agrees_with(state)
    assert (back.epoch, back.genesis) == (epoch, hexed)


def sealing_fields(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(sealing_file(3, seed_of(S0, 3), None))
    for name, value in changes.items():
        if value is ...:
            del data[name]
        else:
            data[name] = value
    return data


S3: Final = seed_of(S0, 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (sealing_fields(format="asgi-audit-verification-key/1"), "not a sealing key file: its format is 'asgi-audit-verification-key/1' (expected 'asgi-audit-sealing-key/1')"),  # noqa: E501
        (sealing_fields(seed=S3.hex()[:63]), "field 'seed' must be 64 lowercase hex digits"),
        (sealing_fields(seed=S3.hex().upper()), "field 'seed' must be 64 lowercase hex digits"),
        (sealing_fields(pseudonym_key=PSEUDONYM.hex()[2:]), "field 'pseudonym_key' must be 64 lowercase hex digits"),  # noqa: E501
        (sealing_fields(pseudonym_key=...), "missing field 'pseudonym_key'"),
        (sealing_fields(genesis=...), "missing field 'genesis'"),
        (sealing_fields(genesis="AB" * 32), "field 'genesis' must be 64 lowercase hex digits"),
        (sealing_fields(genesis=""), "field 'genesis' must be 64 lowercase hex digits"),
        (sealing_fields(epoch=-1), "epoch must be a whole number from 0 to 67108864, got -1"),
        (sealing_fields(epoch=MAX_EPOCH + 1), "epoch must be a whole number from 0 to 67108864, got 67108865"),  # noqa: E501
        (sealing_fields(epoch=False), "field 'epoch' must be a whole number"),
        (sealing_fields(epoch="3"), "field 'epoch' must be a whole number"),
        (sealing_fields(log_dir="logs"), "log_dir must be an absolute path"),
        (sealing_fields(log_dir=None), "field 'log_dir' must be a string"),
        (sealing_fields(extra=1), "unknown field 'extra' in a asgi-audit-sealing-key/1 file"),
        (sealing_fields(**{PSEUDONYM.hex(): S3.hex()}), "unknown field (not shown) in a asgi-audit-sealing-key/1 file"),  # noqa: E501
    ],
)  # fmt: skip
def test_a_malformed_sealing_key_is_refused_by_name_without_its_secrets(
    data: dict[str, Any], message: str
) -> None:
    with pytest.raises(KeyFormatError) as caught:
        SealingState.from_json(json.dumps(data))
    assert str(caught.value) == message
    assert secrets_in(str(caught.value), S3, PSEUDONYM) == []
