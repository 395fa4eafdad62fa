"""The data of the redaction corpus: fake secrets in public formats, and look-alikes.

Every secret here was made for this file from the public format (random characters of
the right alphabet and length, Luhn-valid card numbers computed, PEM bodies from a
seeded generator); none is a real credential.

A :class:`Secret` carries three things:

* ``text``: how it shows up in free text, self-identifying (``password=...``,
  ``Authorization: Bearer ...``, a bare ``ghp_...`` token, a PEM block);
* ``value``: the bare credential, as it would sit under a secret key or header;
* ``needles``: the random parts that must never reach a file. Prefixes shared by
  the format (``ghp_``, ``AKIA``, ``-----BEGIN``, a JWT header) are not needles,
  so a redactor may keep them.
"""

from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass
from typing import Final

from asgi_audit.record.events import Uuid7Generator


@dataclass(frozen=True, slots=True)
class Secret:
    """One fake secret of the corpus."""

    name: str
    fmt: str
    text: str
    value: str
    needles: tuple[str, ...]


def _s(name: str, fmt: str, text: str, value: str, *needles: str) -> Secret:
    return Secret(name=name, fmt=fmt, text=text, value=value, needles=needles or (value,))


def luhn_valid(digits: str) -> bool:
    """The Luhn check, written here independently of the library."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# --------------------------------------------------------------------------- PEM

_PEM_RNG_SEED: Final = 20261128


def _wrap(b64: str, width: int) -> list[str]:
    return [b64[i : i + width] for i in range(0, len(b64), width)]


def _pem(label: str, der_prefix: bytes, total: int, seed: int, width: int = 64) -> Secret:
    rng = random.Random(_PEM_RNG_SEED + seed)
    der = der_prefix + rng.randbytes(total - len(der_prefix))
    lines = _wrap(base64.b64encode(der).decode("ascii"), width)
    block = "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])
    # The first line holds the fixed DER/openssh header; the rest is random.
    needles = tuple(line for line in lines[1:] if len(line) >= 16)
    name = "pem_" + (label.split()[0].lower() if label != "PRIVATE KEY" else "pkcs8")
    return Secret(name=name, fmt="pem_private_key", text=block, value=block, needles=needles)


_RSA_PKCS1: Final = bytes.fromhex("308204a40201000282010100")
_EC_SEC1: Final = bytes.fromhex("307702010104")
_PKCS8_RSA: Final = bytes.fromhex(
    "308204bd020100300d06092a864886f70d0101010500048204a7308204a3020100"
)
_OPENSSH: Final = (
    b"openssh-key-v1\x00"
    + b"\x00\x00\x00\x04none\x00\x00\x00\x04none\x00\x00\x00\x00\x00\x00\x00\x01"
    + b"\x00\x00\x00\x33\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"
)

PEM_RSA: Final = _pem("RSA PRIVATE KEY", _RSA_PKCS1, 1192, 1)
PEM_EC: Final = _pem("EC PRIVATE KEY", _EC_SEC1, 121, 2)
PEM_OPENSSH: Final = _pem("OPENSSH PRIVATE KEY", _OPENSSH, 300, 3, width=70)
PEM_PKCS8: Final = _pem("PRIVATE KEY", _PKCS8_RSA, 1217, 4)
# The same kind of block as it sits in an env var or a JSON config: one line with
# literal backslash-n separators.
_PEM_ESCAPED_BODY: Final = _wrap(
    base64.b64encode(random.Random(_PEM_RNG_SEED + 5).randbytes(138)).decode("ascii"), 64
)
PEM_ESCAPED: Final = Secret(
    name="pem_escaped_one_line",
    fmt="pem_private_key",
    text=(
        "PRIVATE_KEY=-----BEGIN PRIVATE KEY-----\\n"
        + "\\n".join(_PEM_ESCAPED_BODY)
        + "\\n-----END PRIVATE KEY-----\\n"
    ),
    value=(
        "-----BEGIN PRIVATE KEY-----\\n"
        + "\\n".join(_PEM_ESCAPED_BODY)
        + "\\n-----END PRIVATE KEY-----\\n"
    ),
    needles=tuple(line for line in _PEM_ESCAPED_BODY if len(line) >= 16),
)

# --------------------------------------------------------------------------- JWT

_JWT_HS256: Final = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJ1c2VyXzg4MTIiLCJuYW1lIjoiQWxpY2UgRXhhbXBsZSIsImlhdCI6MTc2NzIyNTYwMCwiZXhwIjoxNzY3MjI5MjAwfQ"
    ".CAksLWQfBxoqtKxUDf_ec_sn5QxAv8sg-z6XrxJUqJE"
)
_JWT_RS256_SIG: Final = (
    "1F0KANuC2oukEAmmvM-GCAljC2Hc2TdeCm-3XdtrZvzVUw9M1GUUjAICtuh9kVBZGCkWcjIWYKI-KzzV9gch_VYN"
    "sEflsIQUCK2EVdevmiR2qcUNEsRitlcqn7B63CLkoiF-y51z7MIRBjCUUq-RqSRzYsRfE2Uj997kuok-0ZOkG29P"
    "SqUd6kM_WzgcHxzukKbc8mx3A1E6z7Z5PM90eMRg_m693spZoCcg7ckUJkXm28DK-x0G51dHrwPx1tTLc_BltlYb"
    "0hDZBypLW76mFrG-Qau-VhKrYkzhXvWq7vxhekWFUpZxaVE-pW4AHtIaXXWB6VmyI4UDuf9aQUtsEg"
)
_JWT_RS256: Final = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImstMjAyNi0wMSJ9"
    ".eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5jb20vIiwic3ViIjoiYXV0aDB8NjVmMWMyYTllNGIwZDciLCJh"
    "dWQiOiJhcGk6Ly9iaWxsaW5nIiwic2NvcGUiOiJyZWFkOmludm9pY2VzIHdyaXRlOmludm9pY2VzIiwiaWF0Ijox"
    "NzY3MjI1NjAwLCJleHAiOjE3NjczMTIwMDB9"
    "." + _JWT_RS256_SIG
)
_JWT_ID_TOKEN: Final = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjFlOWdkazcifQ"
    ".eyJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUuY29tIiwic3ViIjoiMjQ4Mjg5NzYxMDAxIiwiYXVkIjoiczZCaGRS"
    "a3F0MyIsIm5vbmNlIjoibi0wUzZfV3pBMk1qIiwiZXhwIjoxNzY3MjI5MjAwLCJpYXQiOjE3NjcyMjU2MDB9"
    ".rHQjEmBqn9Jre0OLykYNnspA10Qql2rvx4FsD00jwlB0Sym4NzpgvPKsDjn_wMkHxcp6CilPcoKrWHcipR2iAjzLvDNA"
)


def _jwt_sig(jwt: str) -> str:
    return jwt.rsplit(".", 1)[1]


# ---------------------------------------------------------------------- Basic, Digest

_BASIC_1: Final = base64.b64encode(b"alice@example.com:W1nter-Sunset-42!").decode("ascii")
_BASIC_2: Final = base64.b64encode(b"svc-deploy:vPml80HRq-1tpH9R9qXObPbK").decode("ascii")
_DIGEST_RESPONSE: Final = "2923aab4399851ed242641702da682c4"
_DIGEST: Final = (
    'Digest username="alice", realm="api@example.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",'
    ' uri="/v1/reports", qop=auth, nc=00000001, cnonce="0a4f113b",'
    f' response="{_DIGEST_RESPONSE}", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)

# --------------------------------------------------------------------------- cards

_VISA_1: Final = "4179328767045810"
_VISA_2: Final = "4227907074446035"
_MC_1: Final = "5313841107204206"
_MC_2: Final = "2221482409522462"
_AMEX_1: Final = "376202276892427"
_AMEX_2: Final = "342450131154068"


def _card(name: str, digits: str, shown: str) -> Secret:
    assert shown.replace(" ", "").replace("-", "") == digits
    return Secret(
        name=name,
        fmt="card_number",
        text=f"card {shown} exp 09/29",
        value=shown,
        needles=(shown,),
    )


# ------------------------------------------------------------------------ the corpus

_OPAQUE_1: Final = "0NhkrJiMmMURFfOsKOyameZUCYA0GJPoaKUM4xs7"
_OPAQUE_2: Final = "AgW15nHI3H6kORuDHbdqJaJ7Xb3R7JLTlIYCXeQ3"
_OPAQUE_3: Final = "cPpnfkQOJMJLvI_sox2XYd91yv0Rn2Ze"
_YA29: Final = (
    "ya29.a0sEL4VyRFkeZoKIJXzdtD_T4EF1NT3Iv4aKdASah-e38E-AnU27PnjJpqtwrjvwqJGY5croGqPdRmxo8RlXhy9"
    "vugEANE6tMlkG1GJxQezX0t5ApbV_GlNQpFLVLGBQTMmnXcNDhvnARZjz_4BF4LbH"
)
_REFRESH: Final = (
    "1//0gXe19U-1iPMe5sRXfkJ8DusuQRgOWW7H7RBYDZ7ADz8UxSD4x6IEH8psq2UEODWcVnacpECJ2AL1cbZOHAfgvn"
    "ijnoHr_BifsFXCj"
)
_AZURE_SECRET: Final = "vOB8Q~QG4cHM4GWw4~owBL.tVCrIDdhSydWYtjK5"
_AWS_SECRET_1: Final = "Es4ed8QtlT/cI4Dp7HrYFOhTHS+HOkKNW2WE81P0"
_AWS_SECRET_2: Final = "iin1BsKTXOphb6xUqS+dT/TiVdNRdG/npEWmxvf3"
_SESSION_1: Final = "wJA32EppdryS2HNTB8NP3MIz82hXmZbsdbLZG06TdsY"
_SESSION_2: Final = "s%3AvF9k2LmQ8xRz4TpW7nYb3HcJ.Qp0Xr5ZuLw2VnT8yKb4MdA6sEgH1jCfR9tUo3iNxBzc"
_SESSION_2_NEEDLES: Final = (
    "vF9k2LmQ8xRz4TpW7nYb3HcJ",
    "Qp0Xr5ZuLw2VnT8yKb4MdA6sEgH1jCfR9tUo3iNxBzc",
)
_REMEMBER: Final = "rt_9Hq2WkXz7LpV4mN8bR3sT6yJ1cF5dG0aE"

SECRETS: Final[list[Secret]] = [
    # -- key=value / key: value with a secret key, passphrases in quotes
    _s("password_eq", "kv_password", "password=Xk7#mQ2!vR9@pL4z", "Xk7#mQ2!vR9@pL4z"),
    _s("passwd_eq", "kv_password", "passwd=hunter2-Blue-Orbit-77", "hunter2-Blue-Orbit-77"),
    _s("pwd_colon", "kv_password", "pwd: Zp4!qWx8Lm", "Zp4!qWx8Lm"),
    _s(
        "password_passphrase_dq",
        "kv_password",
        'password="correct horse battery staple"',
        "correct horse battery staple",
    ),
    _s(
        "password_passphrase_sq",
        "kv_password",
        "password='purple monkey dishwasher 42'",
        "purple monkey dishwasher 42",
    ),
    _s("password_upper", "kv_password", "PASSWORD=S3cr3tValue!2024", "S3cr3tValue!2024"),
    _s("db_password_spaced", "kv_password", 'db_password = "m9Vq2Lr8Tz"', "m9Vq2Lr8Tz"),
    _s(
        "passphrase_colon",
        "kv_password",
        'passphrase: "tangerine lobster violin 1987"',
        "tangerine lobster violin 1987",
    ),
    # -- JSON inside a string
    _s("json_password", "json_password", '{"password": "Gq7$wErT9pLm"}', "Gq7$wErT9pLm"),
    _s(
        "json_password_passphrase",
        "json_password",
        '{"user":"bob","password":"k3yb0ard cat 99","remember":true}',
        "k3yb0ard cat 99",
    ),
    _s(
        "json_password_escaped",
        "json_password",
        '{\\"user\\": \\"carol\\", \\"password\\": \\"Fz8!mK2@qL5w\\"}',
        "Fz8!mK2@qL5w",
    ),
    # -- query strings and form bodies
    _s(
        "query_access_token",
        "query_pair",
        f"a=1&access_token={_YA29}&b=2",
        _YA29,
        _YA29[len("ya29.a0") :],
    ),
    _s(
        "form_client_secret",
        "query_pair",
        f"grant_type=client_credentials&client_id=3f2b8c1e&client_secret={_AZURE_SECRET}",
        _AZURE_SECRET,
    ),
    _s(
        "form_refresh_token",
        "query_pair",
        f"grant_type=refresh_token&refresh_token={_REFRESH}",
        _REFRESH,
        _REFRESH[len("1//0g") :],
    ),
    _s(
        "query_id_token",
        "query_pair",
        f"state=af0ifjsldkj&id_token={_JWT_ID_TOKEN}",
        _JWT_ID_TOKEN,
        _jwt_sig(_JWT_ID_TOKEN),
    ),
    _s("query_api_key", "query_pair", f"q=books&api_key={_OPAQUE_1}&page=2", _OPAQUE_1),
    _s("query_apikey", "query_pair", f"apikey={_OPAQUE_2}&format=json", _OPAQUE_2),
    _s("query_x_api_key", "query_pair", f"x-api-key={_OPAQUE_3}", _OPAQUE_3),
    _s(
        "form_password_plus",
        "query_pair",
        "grant_type=password&username=alice&password=blue+horse+staple+88&scope=openid",
        "blue+horse+staple+88",
    ),
    # -- Authorization schemes
    _s(
        "bearer_opaque",
        "bearer",
        "Authorization: Bearer 9f8Kd2LmQx7RtVb4NcJp1ZsWyE6HgA3uTo5iKq0D",
        "9f8Kd2LmQx7RtVb4NcJp1ZsWyE6HgA3uTo5iKq0D",
    ),
    _s(
        "bearer_lower",
        "bearer",
        "authorization: bearer mF3xQ9LpZ2wK7vN4bR8sT1yH6cJ0dG5a",
        "mF3xQ9LpZ2wK7vN4bR8sT1yH6cJ0dG5a",
    ),
    _s(
        "bearer_upper",
        "bearer",
        "AUTHORIZATION: BEARER Qz7Wx2Kp9LmV4tNb8RcY3sHf6JgD1aE5",
        "Qz7Wx2Kp9LmV4tNb8RcY3sHf6JgD1aE5",
    ),
    _s("bearer_jwt", "bearer", f"Bearer {_JWT_HS256}", _JWT_HS256, _jwt_sig(_JWT_HS256)),
    _s("basic_header", "basic", f"Authorization: Basic {_BASIC_1}", _BASIC_1),
    _s("basic_lower_curl", "basic", f'curl -H "authorization: basic {_BASIC_2}" ...', _BASIC_2),
    _s("digest_header", "digest", f"Authorization: {_DIGEST}", _DIGEST, _DIGEST_RESPONSE),
    # -- JWTs
    _s("jwt_hs256", "jwt", _JWT_HS256, _JWT_HS256, _jwt_sig(_JWT_HS256)),
    _s("jwt_rs256", "jwt", _JWT_RS256, _JWT_RS256, _JWT_RS256_SIG),
    _s(
        "jwt_in_sentence",
        "jwt",
        f"restored the session from {_JWT_ID_TOKEN} after the redirect",
        _JWT_ID_TOKEN,
        _jwt_sig(_JWT_ID_TOKEN),
    ),
    # -- URL credentials
    _s(
        "url_https",
        "url_credentials",
        "https://deploy:Gh7pQ2xZ9wLk@git.example.com/org/repo.git",
        "https://deploy:Gh7pQ2xZ9wLk@git.example.com/org/repo.git",
        "Gh7pQ2xZ9wLk",
    ),
    _s(
        "url_postgres",
        "url_credentials",
        "postgres://app_user:pG5xY8zQ2wLm@db:5432/billing",
        "postgres://app_user:pG5xY8zQ2wLm@db:5432/billing",
        "pG5xY8zQ2wLm",
    ),
    _s(
        "url_redis_no_user",
        "url_credentials",
        "redis://:r3d1sP4ssw0rdXy@cache.internal:6379/0",
        "redis://:r3d1sP4ssw0rdXy@cache.internal:6379/0",
        "r3d1sP4ssw0rdXy",
    ),
    _s(
        "url_mongodb_srv",
        "url_credentials",
        "mongodb+srv://admin:M0ng0Pa55w0rd9@cluster0.ab1cd.mongodb.net/test?retryWrites=true",
        "mongodb+srv://admin:M0ng0Pa55w0rd9@cluster0.ab1cd.mongodb.net/test?retryWrites=true",
        "M0ng0Pa55w0rd9",
    ),
    _s(
        "url_amqp",
        "url_credentials",
        "amqp://guest:Rabb1tMQpass7x@mq:5672/",
        "amqp://guest:Rabb1tMQpass7x@mq:5672/",
        "Rabb1tMQpass7x",
    ),
    # -- PEM private keys
    PEM_RSA,
    PEM_EC,
    PEM_OPENSSH,
    PEM_PKCS8,
    PEM_ESCAPED,
    # -- AWS
    _s(
        "aws_akia",
        "aws_access_key_id",
        "AKIAHUQJ3SLPX9AGJGPI",
        "AKIAHUQJ3SLPX9AGJGPI",
        "HUQJ3SLPX9AGJGPI",
    ),
    _s(
        "aws_asia",
        "aws_access_key_id",
        "ASIAJ4J7CEZELP8TF2GR",
        "ASIAJ4J7CEZELP8TF2GR",
        "J4J7CEZELP8TF2GR",
    ),
    _s("aws_secret_bare", "aws_secret_access_key", _AWS_SECRET_1, _AWS_SECRET_1),
    _s(
        "aws_secret_env",
        "aws_secret_access_key",
        f"export AWS_SECRET_ACCESS_KEY={_AWS_SECRET_2}",
        _AWS_SECRET_2,
    ),
    # -- GitHub, GitLab
    _s(
        "github_ghp",
        "github_token",
        "ghp_y8CQ4BzKT7XvoEzXQZKhNvbuYpzdyN6P3YgR",
        "ghp_y8CQ4BzKT7XvoEzXQZKhNvbuYpzdyN6P3YgR",
        "y8CQ4BzKT7XvoEzXQZKhNvbuYpzdyN6P3YgR",
    ),
    _s(
        "github_gho",
        "github_token",
        "gho_DAYEu0L5up3514ZqXyrsdMmfWKtmJKglMleT",
        "gho_DAYEu0L5up3514ZqXyrsdMmfWKtmJKglMleT",
        "DAYEu0L5up3514ZqXyrsdMmfWKtmJKglMleT",
    ),
    _s(
        "github_ghu",
        "github_token",
        "ghu_1P0E0lvRFgYAFvnrTLHUb8vTCj0HT3MtHKdT",
        "ghu_1P0E0lvRFgYAFvnrTLHUb8vTCj0HT3MtHKdT",
        "1P0E0lvRFgYAFvnrTLHUb8vTCj0HT3MtHKdT",
    ),
    _s(
        "github_ghs",
        "github_token",
        "ghs_OQCP71MMYrwKbE2Nx7QPWZGhwoySQS3mgFti",
        "ghs_OQCP71MMYrwKbE2Nx7QPWZGhwoySQS3mgFti",
        "OQCP71MMYrwKbE2Nx7QPWZGhwoySQS3mgFti",
    ),
    _s(
        "github_ghr",
        "github_token",
        "ghr_ceZMebusBWYwvk2E66dOCU5VRRDSuPogHHKf",
        "ghr_ceZMebusBWYwvk2E66dOCU5VRRDSuPogHHKf",
        "ceZMebusBWYwvk2E66dOCU5VRRDSuPogHHKf",
    ),
    _s(
        "github_pat",
        "github_token",
        "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",
        "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",
        "gTSC3mhPcO5ASd05fphyr1",
        "Lm6NToqlPn3HCi8uxrC5lBQnucMIkr9BtRvTEzvsfEKnUyIa5YJUq8uAMlh",
    ),
    _s(
        "gitlab_glpat",
        "gitlab_token",
        "glpat-hMOc9TBMF6QqGdAmaDFp",
        "glpat-hMOc9TBMF6QqGdAmaDFp",
        "hMOc9TBMF6QqGdAmaDFp",
    ),
    # -- Slack
    _s(
        "slack_xoxb",
        "slack_token",
        "xoxb-039779119155-2881587047818-blRwpIAIUJh7ocYjDPZY8EgJ",
        "xoxb-039779119155-2881587047818-blRwpIAIUJh7ocYjDPZY8EgJ",
        "blRwpIAIUJh7ocYjDPZY8EgJ",
    ),
    _s(
        "slack_xoxp",
        "slack_token",
        "xoxp-805351731316-147524975778-0901102997563-8f4c6831f679b647689b36818d5eb287",
        "xoxp-805351731316-147524975778-0901102997563-8f4c6831f679b647689b36818d5eb287",
        "8f4c6831f679b647689b36818d5eb287",
    ),
    _s(
        "slack_xoxa",
        "slack_token",
        "xoxa-2-873406872689-840165648368-4073451626618-d3827cea44552e1e8c9de9a679be0b22",
        "xoxa-2-873406872689-840165648368-4073451626618-d3827cea44552e1e8c9de9a679be0b22",
        "d3827cea44552e1e8c9de9a679be0b22",
    ),
    _s(
        "slack_webhook",
        "slack_webhook",
        "https://hooks.slack.com/services/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",
        "https://hooks.slack.com/services/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",
        "WseyvNlCyQ0btUkbUebN4EWk",
    ),
    # -- Stripe
    _s(
        "stripe_sk_live",
        "stripe_key",
        "sk_live_79LWmIsQP7ctqKAdCFQz6X5t",
        "sk_live_79LWmIsQP7ctqKAdCFQz6X5t",
        "79LWmIsQP7ctqKAdCFQz6X5t",
    ),
    _s(
        "stripe_rk_live",
        "stripe_key",
        "rk_live_gwRmJRotejDSh1vM3gCRrPaV",
        "rk_live_gwRmJRotejDSh1vM3gCRrPaV",
        "gwRmJRotejDSh1vM3gCRrPaV",
    ),
    _s(
        "stripe_sk_test",
        "stripe_key",
        "sk_test_YeucaIzac8MdKBP2osh95Oj6quyrkvzy5LkdgOJRvQNrvwrJJeVl9cd7zWVwsIL2lhTEGx2HGxIlL7tv2SdvO6XWUeoJvKRtTAH",
        "sk_test_YeucaIzac8MdKBP2osh95Oj6quyrkvzy5LkdgOJRvQNrvwrJJeVl9cd7zWVwsIL2lhTEGx2HGxIlL7tv2SdvO6XWUeoJvKRtTAH",
        "YeucaIzac8MdKBP2osh95Oj6quyrkvzy5LkdgOJRvQNrvwrJJeVl9cd7zWVwsIL2lhTEGx2HGxIlL7tv2SdvO6XWUeoJvKRtTAH",
    ),
    # -- Google, OpenAI-style, Anthropic-style, npm, SendGrid
    _s(
        "google_aiza",
        "google_api_key",
        "AIzaRRcLfd9ep42OjaoxNLkIwO2wnMkC2pAOEAj",
        "AIzaRRcLfd9ep42OjaoxNLkIwO2wnMkC2pAOEAj",
        "RRcLfd9ep42OjaoxNLkIwO2wnMkC2pAOEAj",
    ),
    _s(
        "google_aiza_in_url",
        "google_api_key",
        "https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key=AIzafBhuShrx5ofPF0ZDk2VL5tRk0mZktPs26D9",
        "AIzafBhuShrx5ofPF0ZDk2VL5tRk0mZktPs26D9",
        "fBhuShrx5ofPF0ZDk2VL5tRk0mZktPs26D9",
    ),
    _s(
        "openai_sk",
        "openai_key",
        "sk-FMEOvEUI0MBH0qSMulqUwGJulsX5HPmRiQ2xFgRIFXIGjMm1",
        "sk-FMEOvEUI0MBH0qSMulqUwGJulsX5HPmRiQ2xFgRIFXIGjMm1",
        "FMEOvEUI0MBH0qSMulqUwGJulsX5HPmRiQ2xFgRIFXIGjMm1",
    ),
    _s(
        "openai_sk_proj",
        "openai_key",
        "sk-proj-vMzMHwmlI_sFSZFCRb5fEGeUQWBs0cGeIisFTpa-oROOW_HEBdvadAo3ETnTBkDrllAvO66IG8"
        "T3BlbkFJZNXZcVNYlnbOyAXh6yZAnBG6xcSxPzxjbyCpmGUWFXRuJBPeHZ4jeBRkOUm1untpS1V7_UPvBm",
        "sk-proj-vMzMHwmlI_sFSZFCRb5fEGeUQWBs0cGeIisFTpa-oROOW_HEBdvadAo3ETnTBkDrllAvO66IG8"
        "T3BlbkFJZNXZcVNYlnbOyAXh6yZAnBG6xcSxPzxjbyCpmGUWFXRuJBPeHZ4jeBRkOUm1untpS1V7_UPvBm",
        "vMzMHwmlI_sFSZFCRb5fEGeUQWBs0cGeIisFTpa-oROOW_HEBdvadAo3ETnTBkDrllAvO66IG8",
        "ZNXZcVNYlnbOyAXh6yZAnBG6xcSxPzxjbyCpmGUWFXRuJBPeHZ4jeBRkOUm1untpS1V7_UPvBm",
    ),
    _s(
        "anthropic_sk_ant",
        "anthropic_key",
        "sk-ant-api03-rEr5-tFkHopG9DkdUYYiGuiEnPNpCi6GKPoVK_PRAUvze0xjuJbFmjFBPAWzF13AIv07mUz98J32"
        "AybO2YHkxyy9ZqhvqAA",
        "sk-ant-api03-rEr5-tFkHopG9DkdUYYiGuiEnPNpCi6GKPoVK_PRAUvze0xjuJbFmjFBPAWzF13AIv07mUz98J32"
        "AybO2YHkxyy9ZqhvqAA",
        "rEr5-tFkHopG9DkdUYYiGuiEnPNpCi6GKPoVK_PRAUvze0xjuJbFmjFBPAWzF13AIv07mUz98J32AybO2YHkxyy9Zqhvq",
    ),
    _s(
        "npm_token",
        "npm_token",
        "//registry.npmjs.org/:_authToken=npm_jXvSfmpTTFvhOYyZciCLL9rICDApMbu2Kpw3",
        "npm_jXvSfmpTTFvhOYyZciCLL9rICDApMbu2Kpw3",
        "jXvSfmpTTFvhOYyZciCLL9rICDApMbu2Kpw3",
    ),
    _s(
        "sendgrid_key",
        "sendgrid_key",
        "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",
        "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",
        "K9ESmBWCjrCCQhrLH-Dzno",
        "LlhTx42YcF8DhAYL5I8OFq4tJnAGI93dvJt5jL3PV2",
    ),
    # -- long random base64 / base64url / hex (not a digest length)
    _s(
        "base64_32_bytes",
        "base64_random",
        "XUeu5xwpXLwiypW6iXKH60aVnSYc8DP1h92iapW5wgI=",
        "XUeu5xwpXLwiypW6iXKH60aVnSYc8DP1h92iapW5wgI=",
        "XUeu5xwpXLwiypW6iXKH60aVnSYc8DP1h92iapW5wgI",
    ),
    _s(
        "base64_48_bytes",
        "base64_random",
        "PGR8QYw7kaiMdlQWuwnxFUCAWS4t2ySMXyNQbbQsYRScYNhJUsBO67n1vDxuDSRQ",
        "PGR8QYw7kaiMdlQWuwnxFUCAWS4t2ySMXyNQbbQsYRScYNhJUsBO67n1vDxuDSRQ",
    ),
    _s(
        "base64url_32_bytes",
        "base64_random",
        "9cIJVr0LjTShWNWZJOh5LMM2i5OCIrxHW-E8F0GzygM",
        "9cIJVr0LjTShWNWZJOh5LMM2i5OCIrxHW-E8F0GzygM",
    ),
    _s(
        "hex_48",
        "hex_random",
        "f49cb4305dc4ab16a58c705d9267f447854681bec36bdc1b",
        "f49cb4305dc4ab16a58c705d9267f447854681bec36bdc1b",
    ),
    _s(
        "hex_56",
        "hex_random",
        "cd0453cc9d84ec1f502f17c2fce024c1099726e7d8d470c755a30f78",
        "cd0453cc9d84ec1f502f17c2fce024c1099726e7d8d470c755a30f78",
    ),
    _s(
        "hex_80",
        "hex_random",
        "8f5523d2031f0cf1f30051132b78dac88f832b91a8380e677062de23e688529ba841e9a0e8aca790",
        "8f5523d2031f0cf1f30051132b78dac88f832b91a8380e677062de23e688529ba841e9a0e8aca790",
    ),
    # -- card numbers that pass Luhn
    _card("card_visa_plain", _VISA_1, _VISA_1),
    _card("card_visa_spaces", _VISA_2, " ".join(_VISA_2[i : i + 4] for i in range(0, 16, 4))),
    _card("card_mastercard_dashes", _MC_1, "-".join(_MC_1[i : i + 4] for i in range(0, 16, 4))),
    _card("card_mastercard_2series", _MC_2, _MC_2),
    _card("card_amex_spaces", _AMEX_1, f"{_AMEX_1[:4]} {_AMEX_1[4:10]} {_AMEX_1[10:]}"),
    _card("card_amex_plain", _AMEX_2, _AMEX_2),
    # -- cookies
    _s("cookie_session", "cookie", f"Cookie: session={_SESSION_1}; theme=dark", _SESSION_1),
    _s(
        "set_cookie_sessionid",
        "cookie",
        f"Set-Cookie: connect.sid={_SESSION_2}; Path=/; HttpOnly; Secure; SameSite=Lax",
        _SESSION_2,
        *_SESSION_2_NEEDLES,
    ),
    _s(
        "cookie_remember_second",
        "cookie",
        f"Cookie: theme=dark; lang=en; remember_token={_REMEMBER}",
        _REMEMBER,
    ),
    # -- stack traces
    _s(
        "traceback_call_kwargs",
        "stack_trace",
        "Traceback (most recent call last):\n"
        '  File "/app/billing/db.py", line 42, in connect\n'
        '    conn = psycopg.connect(host="db", user="billing", password="Vx8!kQ2#pLz7Tw")\n'
        "psycopg.OperationalError: connection failed",
        "Vx8!kQ2#pLz7Tw",
    ),
    _s(
        "traceback_locals_repr",
        "stack_trace",
        "Traceback (most recent call last):\n"
        '  File "/app/auth/views.py", line 88, in login\n'
        "    verify(creds)\n"
        "ValueError: bad credentials {'user': 'alice', 'password': 'Qw3rty!Zx9Lm#2'}",
        "Qw3rty!Zx9Lm#2",
    ),
    # -- command lines
    _s(
        "cli_password_flag",
        "cli_flag",
        "mysqldump --user root --password S3cr3tCl1Pass billing",
        "S3cr3tCl1Pass",
    ),
    _s(
        "cli_token_flag",
        "cli_flag",
        "vault login --token hvs.CAESIJ3kx9Qm2LpV7tNb4RcY8sHf6JgD1aE5 -method=token",
        "hvs.CAESIJ3kx9Qm2LpV7tNb4RcY8sHf6JgD1aE5",
        "CAESIJ3kx9Qm2LpV7tNb4RcY8sHf6JgD1aE5",
    ),
]

FORMATS: Final[list[str]] = sorted({s.fmt for s in SECRETS})
SECRETS_BY_FORMAT: Final[dict[str, list[Secret]]] = {
    fmt: [s for s in SECRETS if s.fmt == fmt] for fmt in FORMATS
}
CARDS: Final[list[str]] = [_VISA_1, _VISA_2, _MC_1, _MC_2, _AMEX_1, _AMEX_2]

# ------------------------------------------------------------------------ look-alikes

_T0: Final = 1_795_862_170_013_657_000
_SHA256_IMAGE: Final = hashlib.sha256(b"ghcr.io/acme/api:2.4.1").hexdigest()

#: Ordinary values that look a little like secrets; none may be masked.
LOOKALIKES: Final[list[tuple[str, str]]] = [
    ("path_home", "/home/alice/projects/asgi_audit/tests/test_redaction_corpus.py"),
    ("path_postgres", "/var/lib/postgresql/15/main/base/16384/2619"),
    ("path_camel_digits", "/srv/Reports/QuarterlyReport2024Q3Final/summary.txt"),
    (
        "path_camel_deep",
        "/opt/BuildArtifacts/Release2025R1Candidate3/WindowsInstaller64Bit/setup.msi",
    ),
    ("path_windows", "C:\\Users\\alice\\AppData\\Local\\Programs\\Python\\Python311\\python.exe"),
    ("path_s3", "s3://acme-reports/2024/Q3/QuarterlyReport2024Q3Final.pdf"),
    ("uuid_v4", "3f2b8c1e-9d4a-4e7b-8f6c-2a1d5e9b7c30"),
    ("uuid_v4_upper", "3F2B8C1E-9D4A-4E7B-8F6C-2A1D5E9B7C30"),
    ("uuid_v7", "01928f3a-7b2c-7d4e-9f10-3a5b6c7d8e9f"),
    ("event_id_of_the_library", Uuid7Generator().new(_T0)),
    ("request_id_hex32", "9f1c2b3a4d5e4f708192a3b4c5d6e7f8"),
    ("md5_hex", hashlib.md5(b"asgi_audit", usedforsecurity=False).hexdigest()),
    ("sha1_hex", hashlib.sha1(b"asgi_audit", usedforsecurity=False).hexdigest()),
    ("sha256_hex", hashlib.sha256(b"asgi_audit").hexdigest()),
    ("sha512_hex", hashlib.sha512(b"asgi_audit").hexdigest()),
    ("git_commit", "e83c5163316f89bfbde7d9ab23ca2e25604af290"),
    ("git_commit_short", "e83c516"),
    ("docker_digest", f"sha256:{_SHA256_IMAGE}"),
    ("docker_image_ref", f"ghcr.io/acme/api@sha256:{_SHA256_IMAGE}"),
    ("word_tokenizer", "tokenizer"),
    ("token_count_text", "token_count=12"),
    ("word_author", "author"),
    ("word_keyboard", "keyboard"),
    ("password_policy_url", "password_policy_url=https://example.com/policy"),
    ("passwordless_sentence", "passwordless login enabled"),
    ("word_secretary", "secretary"),
    ("password_length_text", "password_length=12"),
    ("session_count_text", "session_count: 3"),
    ("token_type_text", "token_type=Bearer"),
    ("iso_timestamp", "2026-11-28T10:36:10.013657+00:00"),
    ("iso_timestamp_z", "2025-01-31T23:59:59Z"),
    ("http_date", "Tue, 15 Nov 1994 08:12:31 GMT"),
    ("semver", "1.2.3"),
    ("semver_prerelease", "2.0.0-rc.1+build.5"),
    ("base64_hello", "aGVsbG8="),
    ("base64_world", "d29ybGQ="),
    ("python_module_path", "asgi_audit.record.redaction.Redactor.redact_text"),
    ("java_class", "com.example.billing.InvoiceServiceImpl$Builder"),
    ("go_module", "github.com/acme/widgets/v2/internal/store"),
    ("url_with_query", "https://example.com/items?page=2&sort=desc"),
    ("email", "alice.smith+audit@example.co.uk"),
    ("ipv6", "2001:db8:85a3::8a2e:370:7334"),
    ("ipv4_port", "192.168.1.100:8443"),
    ("luhn_failing_16_digits", "4532015112830367"),
    ("phone", "+1 (415) 555-0132"),
    (
        "sentence_report",
        "The quarterly report was generated successfully and uploaded to the shared drive "
        "for review by the finance team before the end of the month.",
    ),
    (
        "sentence_two_factor",
        "Users who enable two-factor authentication are asked for a one-time code after "
        "they sign in with their usual username and a strong, unique passphrase.",
    ),
    ("sentence_basic_word", "Basic configuration is described in the getting started guide."),
    ("k8s_pod", "api-7d9f8b6c5d-x2k4p"),
    ("css_hex_color", "#1e90ff"),
    ("css_rgba", "rgba(30, 144, 255, 0.5)"),
    ("camel_identifier", "getUserAccountSettingsForTenant"),
    ("camel_identifier_digits", "parseHttp2ResponseHeadersV3"),
    ("mime_type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
]

#: Keys that look like secret words but are not; their values stay readable.
LOOKALIKE_KEYS: Final[dict[str, object]] = {
    "tokenizer": "cl100k_base",
    "token_count": 12,
    "author": "Alice Example",
    "keyboard": "us-intl",
    "password_policy_url": "https://example.com/policy",
    "token_type": "Bearer",
    "secretary": "Bob Builder",
    "passwordless": True,
    "session_count": 3,
    "password_length": 12,
    "authored_at": "2026-11-28T10:36:10Z",
}
