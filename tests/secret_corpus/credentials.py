"""Credentials that are not one token: key blocks, signed tokens, files that hold them.

PEM and OpenPGP blocks, PuTTY key files, JSON Web Tokens, Basic credentials, Docker and
Kubernetes files, a Google service account key, a Bitcoin key, an Azure SAS URL and card
numbers: what the template language cannot say, built by functions. A block's needles
are its random lines (the fixed start of a DER structure is not one); a JWT's needle is
its signature; a card's, its number.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Callable
from typing import Final
from urllib.parse import quote

from .generate import ALNUM, B64, B64URL, DIGITS, HEX, Format, Sample, random_chars

__all__ = ("CREDENTIALS", "luhn_valid")

PEM_RFC: Final = "RFC 7468, Textual Encodings of PKIX, PKCS, and CMS Structures"
OPENSSH: Final = "https://man.openbsd.org/ssh-keygen.1 (PROTOCOL.key: openssh-key-v1)"
OPENPGP: Final = "RFC 4880, section 6.2 (ASCII armor)"
PUTTY: Final = "https://the.earth.li/~sgtatham/putty/0.78/htmldoc/AppendixC.html"
JWT_RFC: Final = "RFC 7519, JSON Web Token"
BASIC_RFC: Final = "RFC 7617, The 'Basic' HTTP Authentication Scheme"
GCP_SA: Final = "https://cloud.google.com/iam/docs/keys-create-delete (JSON key file)"
DOCKER_CONFIG: Final = "https://docs.docker.com/reference/cli/docker/login/ (config.json auths)"
K8S_SECRET: Final = "https://kubernetes.io/docs/concepts/configuration/secret/"
KUBECONFIG: Final = (
    "https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/"
)
WIF: Final = "https://en.bitcoin.it/wiki/Wallet_import_format"
CARDS: Final = "ISO/IEC 7812 (issuer identification numbers, Luhn check digit)"
AZ_SAS: Final = "https://learn.microsoft.com/en-us/rest/api/storageservices/create-service-sas"


def luhn_valid(digits: str) -> bool:
    """The Luhn check over a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _pem(label: str, lead: str, size: int, width: int = 64) -> Callable[[random.Random], Sample]:
    """A PEM block: a DER-like ``lead`` (the fixed start of that structure) then random."""

    def make(rng: random.Random) -> Sample:
        body = lead + random_chars(rng, B64, size - len(lead))
        lines = [body[i : i + width] for i in range(0, len(body), width)]
        needles = [lines[0][len(lead) :], *lines[1:]]
        text = f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"
        return Sample(text, tuple(n for n in needles if len(n) >= 8))

    return make


def _pgp(rng: random.Random) -> Sample:
    body = "lQOYBG" + random_chars(rng, B64, 1290)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    checksum = "=" + random_chars(rng, B64, 4)
    text = "\n".join(
        [
            "-----BEGIN PGP PRIVATE KEY BLOCK-----",
            "",
            *lines,
            checksum,
            "-----END PGP PRIVATE KEY BLOCK-----",
        ]
    )
    needles = [lines[0][6:], *lines[1:]]
    return Sample(text, tuple(n for n in needles if len(n) >= 8))


def _putty(rng: random.Random) -> Sample:
    private = "AAAAI" + random_chars(rng, B64, 43)
    text = "\n".join(
        [
            "PuTTY-User-Key-File-3: ssh-ed25519",
            "Encryption: none",
            "Comment: deploy@build-07",
            "Public-Lines: 2",
            "AAAAC3NzaC1lZDI1NTE5AAAAI" + random_chars(rng, B64, 43),
            "Private-Lines: 1",
            private,
            "Private-MAC: " + random_chars(rng, HEX, 64),
        ]
    )
    return Sample(text, (private[5:],))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(alg: str, signature_chars: int, prefix: str = "") -> Callable[[random.Random], Sample]:
    def make(rng: random.Random) -> Sample:
        header = _b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
        iat = 1_767_225_600 + rng.randrange(10_000_000)
        claims = {
            "sub": f"user-{rng.randrange(10**6):06d}",
            "iat": iat,
            "exp": iat + 3600,
            "jti": random_chars(rng, HEX, 16),
        }
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = random_chars(rng, B64URL, signature_chars)
        return Sample(f"{prefix}{header}.{payload}.{signature}", (signature,))

    return make


def _password(rng: random.Random, size: int = 20) -> str:
    chars = [rng.choice(ALNUM[10:36]), rng.choice(ALNUM[36:]), rng.choice(DIGITS), "!"]
    chars += [rng.choice(ALNUM + "!*^@#-_.") for _ in range(size - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)


def _basic(prefix: str) -> Callable[[random.Random], Sample]:
    def make(rng: random.Random) -> Sample:
        user = rng.choice(["deploy", "svc-backup", "grafana", "ci-runner", "admin"])
        token = base64.b64encode(f"{user}:{_password(rng)}".encode()).decode()
        return Sample(f"{prefix}{token}", (token,))

    return make


def _gcp_service_account(rng: random.Random) -> Sample:
    pem = _pem("PRIVATE KEY", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", 1624)(rng)
    project = f"acme-prod-{rng.randrange(1000, 9999)}"
    document = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": random_chars(rng, HEX, 40),
        "private_key": pem.text + "\n",
        "client_email": f"deployer@{project}.iam.gserviceaccount.com",
        "client_id": random_chars(rng, DIGITS, 21),
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return Sample(json.dumps(document, indent=2), pem.needles)


def _docker_config(rng: random.Random) -> Sample:
    auth = base64.b64encode(f"ci:{_password(rng)}".encode()).decode()
    text = json.dumps({"auths": {"registry.example.com": {"auth": auth}}}, indent=2)
    return Sample(text, (auth,))


def _k8s_secret(rng: random.Random) -> Sample:
    password = base64.b64encode(_password(rng, 24).encode()).decode()
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db-credentials\ntype: Opaque\n"
        f"data:\n  username: YXBw\n  password: {password}\n"
    )
    return Sample(text, (password,))


def _kubeconfig(rng: random.Random) -> Sample:
    key = _pem("EC PRIVATE KEY", "MHcCAQEEI", 164)(rng)
    data = base64.b64encode(key.text.encode()).decode()
    text = (
        "users:\n- name: ci-deployer\n  user:\n"
        f"    client-certificate-data: LS0tLS1CRUdJTi{random_chars(rng, B64, 60)}\n"
        f"    client-key-data: {data}\n"
    )
    # The first 40 bytes (the BEGIN line and the DER start) and the END line encode fixed
    # text, the same in every key (and in the certificate's data): not needles.
    return Sample(text, (data[56:-44],))


def _base58check(payload: bytes) -> str:
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n, out = int.from_bytes(data, "big"), ""
    while n:
        n, r = divmod(n, 58)
        out = alphabet[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _wif(rng: random.Random) -> Sample:
    key = _base58check(b"\x80" + rng.randbytes(32) + b"\x01")
    return Sample(key, (key,))


def _card(first: str, length: int, groups: tuple[int, ...]) -> Callable[[random.Random], Sample]:
    def make(rng: random.Random) -> Sample:
        body = first + random_chars(rng, DIGITS, length - len(first) - 1)
        check = next(d for d in DIGITS if luhn_valid(body + d))
        number, parts, i = body + check, [], 0
        for size in groups:
            parts.append(number[i : i + size])
            i += size
        text = " ".join(parts)
        return Sample(text, (text,))

    return make


def _sas(rng: random.Random) -> Sample:
    signature = quote(random_chars(rng, B64, 43) + "=", safe="")
    text = (
        "https://contosodata.blob.core.windows.net/exports/q3.csv?sv=2022-11-02&ss=b&srt=o&sp=r"
        f"&se=2026-12-31T23:59:59Z&spr=https&sig={signature}"
    )
    return Sample(text, (signature.removesuffix("%3D"),))


#: Made formats whose secret is only a credential by its keyword (``Basic``, ``auth``, ...).
_KEYWORDED: Final = frozenset(
    {
        "Authorization header",
        "proxy credentials",
        "config.json auth",
        "Secret manifest",
        "kubeconfig client key",
        "storage SAS URL",
    }
)

Maker = Callable[[random.Random], Sample]


def _made(family: str, rows: list[tuple[str, str, Maker, str]]) -> tuple[Format, ...]:
    return tuple(Format(p, n, family, s, context=n in _KEYWORDED, maker=m) for p, n, m, s in rows)


_KEYS: list[tuple[str, str, Maker, str]] = [
    (
        "OpenSSL",
        "RSA private key (PKCS #1)",
        _pem("RSA PRIVATE KEY", "MIIEowIBAAKCAQEA", 1588),
        PEM_RFC,
    ),
    ("OpenSSL", "EC private key (SEC 1)", _pem("EC PRIVATE KEY", "MHcCAQEEI", 164), PEM_RFC),
    (
        "OpenSSL",
        "private key (PKCS #8)",
        _pem("PRIVATE KEY", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", 1624),
        PEM_RFC,
    ),
    (
        "OpenSSL",
        "encrypted private key (PKCS #8)",
        _pem("ENCRYPTED PRIVATE KEY", "MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQww", 1760),
        PEM_RFC,
    ),
    ("OpenSSL", "DSA private key", _pem("DSA PRIVATE KEY", "MIIBuwIBAAKBgQ", 600), PEM_RFC),
    (
        "OpenSSH",
        "private key",
        _pem("OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAA", 400, 70),
        OPENSSH,
    ),
    ("OpenPGP", "private key block", _pgp, OPENPGP),
    ("PuTTY", "private key file (PPK 3)", _putty, PUTTY),
    ("Google Cloud", "service account key file", _gcp_service_account, GCP_SA),
    ("JSON Web Token", "HS256 token", _jwt("HS256", 43), JWT_RFC),
    (
        "JSON Web Token",
        "RS256 bearer header",
        _jwt("RS256", 342, "Authorization: Bearer "),
        JWT_RFC,
    ),
    ("Kubernetes", "service account token", _jwt("RS256", 342), K8S_SECRET),
    (
        "HTTP Basic authentication",
        "Authorization header",
        _basic("Authorization: Basic "),
        BASIC_RFC,
    ),
    (
        "HTTP Basic authentication",
        "proxy credentials",
        _basic("Proxy-Authorization: basic "),
        BASIC_RFC,
    ),
    ("Docker", "config.json auth", _docker_config, DOCKER_CONFIG),
    ("Kubernetes", "Secret manifest", _k8s_secret, K8S_SECRET),
    ("Kubernetes", "kubeconfig client key", _kubeconfig, KUBECONFIG),
    ("Bitcoin", "WIF private key", _wif, WIF),
    ("Microsoft Azure", "storage SAS URL", _sas, AZ_SAS),
]

_CARDS: list[tuple[str, str, Maker, str]] = [
    ("Visa", "card number", _card("4", 16, (4, 4, 4, 4)), CARDS),
    ("Mastercard", "card number", _card("51", 16, (16,)), CARDS),
    ("American Express", "card number", _card("37", 15, (4, 6, 5)), CARDS),
]

CREDENTIALS: Final[tuple[Format, ...]] = (
    *_made("keys and signed tokens", _KEYS),
    *_made("payment cards", _CARDS),
)
