"""Ordinary values that must stay readable: what real logs and documentation are made of.

Identifiers (UUIDs without a key word, git SHAs, digests, trace ids, pod names), paths,
times, URLs without credentials, versions, user agents, SQL, tracebacks, addresses, MIME
types, HTML, and plain English that mentions tokens, passwords, secrets and keys.
Random-looking ones (ids, digests) come from a seeded RNG, like the secrets.
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .generate import DIGITS, HEX, LOWER, random_chars

__all__ = ("Ordinary", "ordinary_values")


@dataclass(frozen=True, slots=True)
class Ordinary:
    kind: str
    value: str


PATHS: Final = (
    "/var/log/nginx/access.log",
    "/etc/nginx/conf.d/default.conf",
    "/home/alice/projects/report/build/index.html",
    "/srv/reports/2026/q3/summary.md",
    "/usr/lib/python3.12/site-packages/starlette/routing.py",
    "/opt/app/releases/20260301T101500Z/current",
    "./node_modules/.bin/eslint",
    "../fixtures/users.json",
    "~/.config/gcloud/configurations/config_default",
    "C:\\Users\\alice\\AppData\\Local\\Temp\\setup.log",
    "/tmp/pytest-of-ci/pytest-12/test_upload0/input.csv",
    "/data/warehouse/events/year=2026/month=03/day=02/part-00000.parquet",
    "s3://acme-analytics/exports/2026-03-02/orders.csv.gz",
    "gs://acme-ml/datasets/v3/train.jsonl",
    "/api/v1/users/12345/orders",
    "/static/js/main.4f3a9c1b.chunk.js",
    "/assets/fonts/Inter-Variable.woff2",
    "src/asgi_app/routes/password_reset.py",
    "docs/how-to/rotate-api-keys.md",
    "tests/fixtures/secret_scanner/README.md",
    "/etc/ssl/certs/ca-certificates.crt",
    "/proc/self/status",
    "/var/lib/postgresql/16/main/pg_wal",
    "/Users/bob/Library/Caches/pip/http/a/b/c",
    "app/templates/emails/password_changed.html",
)

TIMES: Final = (
    "2026-03-02T10:15:01Z",
    "2026-03-02T10:15:01.112Z",
    "2026-03-02T10:15:01.112345+00:00",
    "2026-03-02T11:15:01+01:00",
    "2026-03-02",
    "20260302T101501Z",
    "Mon, 02 Mar 2026 10:15:01 GMT",
    "02/Mar/2026:10:15:01 +0000",
    "P1DT2H30M",
    "1772446501",
    "1772446501112",
    "10:15:01.112",
)

URLS: Final = (
    "https://example.com/",
    "https://example.com/search?page=2&sort=desc",
    "https://api.example.com/v1/orders?limit=50&offset=100&status=shipped",
    "https://docs.python.org/3/library/secrets.html#module-secrets",
    "https://github.com/encode/starlette/blob/master/starlette/middleware/base.py",
    "https://en.wikipedia.org/wiki/Password_strength",
    "https://www.rfc-editor.org/rfc/rfc6750#section-2.1",
    "http://localhost:8000/docs#/default/login_login_post",
    "https://cdn.example.net/img/logo@2x.png?v=3",
    "https://accounts.example.com/reset-password?step=2&lang=en",
    "https://shop.example.com/cart?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
    "https://maps.example.com/@52.3676,4.9041,14z",
    "https://example.com/api/keys/help",
    "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",
    "https://files.pythonhosted.org/packages/source/r/requests/requests-2.32.3.tar.gz",
    "ws://127.0.0.1:8000/ws/chat?room=general",
    "mailto:support@example.com?subject=Password%20reset",
    "https://example.com/callback?code_challenge_method=S256&response_type=code",
    "https://console.cloud.google.com/apis/credentials?project=acme-prod",
    "https://portal.azure.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade",
)

VERSIONS: Final = (
    "1.2.3", "v2.0.0-rc.1", "0.54.0", "3.12.4", "2024.10.1", "1.0.0+build.20260302",
    "5.15.0-101-generic", "17.0.11+9", "v20.11.1", "2.31.0.windows.1", "1.26.3-alpine",
    "10.0.19045.4046",
)  # fmt: skip

RANGES: Final = (
    "^1.2.3", "~2.4", ">=3.10,<4", "1.x || >=2.5.0", ">= 1.26.0, < 2", "~=2.31",
    "==4.2.*", "^0.0.1-beta.2",
)  # fmt: skip

USER_AGENTS: Final = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0"
    " Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.3 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "curl/8.5.0",
    "python-httpx/0.27.0",
    "python-requests/2.31.0",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "kube-probe/1.29",
    "ELB-HealthChecker/2.0",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "PostmanRuntime/7.36.3",
)

SQL: Final = (
    "SELECT id, email FROM users WHERE created_at > now() - interval '7 days'",
    "UPDATE users SET password_hash = $1, password_changed_at = now() WHERE id = $2",
    "INSERT INTO api_keys (id, owner_id, prefix, created_at) VALUES ($1, $2, $3, $4)",
    "DELETE FROM sessions WHERE expires_at < now()",
    "SELECT count(*) FROM tokens WHERE revoked = false",
    "CREATE INDEX CONCURRENTLY idx_orders_customer ON orders (customer_id)",
    "ALTER TABLE accounts ADD COLUMN secret_question text",
    "BEGIN; SELECT pg_advisory_xact_lock(42); COMMIT;",
    "WITH recent AS (SELECT * FROM events ORDER BY ts DESC LIMIT 100) SELECT * FROM recent",
    "SELECT key, value FROM settings WHERE key LIKE 'feature.%'",
)

TRACEBACKS: Final = (
    'Traceback (most recent call last):\n  File "/app/main.py", line 42, in handler\n'
    "    user = await repo.get(user_id)\nKeyError: 'user_id'",
    'Traceback (most recent call last):\n  File "/app/auth.py", line 88, in login\n'
    "    raise InvalidCredentials()\nauth.errors.InvalidCredentials: invalid username or password",
    'Traceback (most recent call last):\n  File "/usr/lib/python3.12/json/decoder.py", line 355,'
    " in raw_decode\njson.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)",
    'File "/app/tokens.py", line 17, in refresh\n    return client.refresh(token_id)\n'
    "TimeoutError: refresh took longer than 5.0 s",
    'java.lang.NullPointerException: Cannot invoke "String.length()"\n'
    "\tat com.acme.auth.TokenService.validate(TokenService.java:57)",
)

EMAILS: Final = (
    "alice@example.com", "bob.smith+alerts@example.org", "noreply@accounts.example.com",
    "security@example.net", "first.last@sub.example.co.uk", "ops-team@example.io",
    "password-reset@example.com", "token.bot@example.dev",
)  # fmt: skip

ADDRESSES: Final = (
    "127.0.0.1", "10.0.12.7", "192.168.1.100", "203.0.113.42", "198.51.100.7:8443",
    "::1", "2001:db8::8a2e:370:7334", "fe80::1ff:fe23:4567:890a", "2001:db8:85a3::/48",
    "10.0.0.0/8", "[2001:db8::1]:443", "00:1a:2b:3c:4d:5e",
)  # fmt: skip

MIME: Final = (
    "application/json", "text/html; charset=utf-8", "multipart/form-data; boundary=----x1",
    "application/x-www-form-urlencoded", "image/svg+xml", "application/vnd.api+json",
    "text/event-stream", "application/octet-stream",
)  # fmt: skip

HTML: Final = (
    '<a href="/account/password">Change password</a>',
    '<input type="password" name="password" autocomplete="current-password">',
    '<meta name="csrf-param" content="authenticity_token">',
    '<script src="/static/app.js" defer></script>',
    '<div class="alert alert-warning">Your session has expired.</div>',
    '<label for="api-key">API key</label>',
    '<button type="submit" class="btn btn-primary">Generate new token</button>',
    '<link rel="stylesheet" href="/css/site.css?v=12">',
)

SENTENCES: Final = (
    "Reset your password using the link we sent to your email.",
    "Your password must be at least 12 characters long.",
    "The password you entered is incorrect.",
    "Password changed successfully.",
    "Forgot your password?",
    "max_tokens=256",
    "max_tokens=4096 temperature=0.2 top_p=0.9",
    "prompt_tokens=812 completion_tokens=144 total_tokens=956",
    "The model ran out of tokens before finishing the answer.",
    "Invalid or expired token, please sign in again.",
    "Token refresh failed: upstream returned 503.",
    "Rotate your API keys every 90 days.",
    "API key created for project analytics.",
    "Keep your secret key out of source control.",
    "The secret santa draw is on Friday.",
    "Press any key to continue.",
    "Primary key violation on table orders.",
    "The key to the server room is at the front desk.",
    "Use the keyboard shortcut Ctrl+K to search.",
    "Secrets are stored in the vault, not in the repository.",
    "Authentication failed for user alice.",
    "Session expired after 30 minutes of inactivity.",
    "token_type=Bearer expires_in=3600",
    "Tokenizer loaded with a vocabulary of 50257 tokens.",
    "Two-factor authentication is enabled for this account.",
    "The password policy requires one digit and one symbol.",
    "Enter the six-digit code from your authenticator app.",
    "No credentials were found in the environment.",
    "OPENAI_API_KEY is not set; skipping the integration tests.",
    "Set GITHUB_TOKEN in the repository secrets before running the workflow.",
    "Key rotation completed for 3 of 3 signing keys.",
    "The secretary will send the agenda tomorrow.",
    "Our author guidelines are on the wiki.",
    "The quarterly report is in QuarterlyReport2024Q3Final.pdf.",
    "Deployment 1f3c9e2 rolled out to 12 of 12 pods.",
    "Request timed out after 30 s; retrying (attempt 2 of 5).",
)

MISC: Final = (
    "arn:aws:iam::123456789012:role/deploy-role",
    "arn:aws:s3:::acme-analytics/exports/*",
    "projects/acme-prod/locations/europe-west4/keyRings/app/cryptoKeys/db",
    "HTTP/1.1 401 Unauthorized",
    "HTTP/2 200",
    "GET /api/v1/items?page=3 HTTP/1.1",
    "0 3 * * 1-5",
    "#1e90ff",
    "rgb(30, 144, 255)",
    "EUR 1,234.56",
    "ORD-2026-000123",
    "INV-2026-03-0042",
    "+1 (555) 010-0199",
    "ISBN 978-0-13-468599-1",
    "QuarterlyReport2024Q3Final",
    "customer_lifetime_value_v2",
    "getUserPasswordResetTokenExpiry",
    "feature.new_checkout.enabled=true",
    "LOG_LEVEL=debug",
    "replicas: 3",
    "status=shipped carrier=DHL weight_kg=2.4",
    "kubectl rollout restart deployment/api -n prod",
    "docker run --rm -p 8000:8000 acme/api:1.4.2",
    "git commit -m 'Rotate keys doc: fix typo'",
    "pip install 'uvicorn[standard]>=0.30'",
    "npm install --save-dev typescript@5.4",
    "SELECT 1",
    '{"level":"info","msg":"request finished","status":200,"duration_ms":12.5}',
    'level=warn msg="slow query" duration=1.2s table=orders',
    "Bearer",
    "Basic",
    "password",
    "token",
    "secret",
    "api_key",
    "********",
    "[REDACTED]",
    "N/A",
    "true",
    "null",
)

_TEXTS_FOR_BASE64: Final = (
    "hello world",
    "The quick brown fox jumps over the lazy dog",
    '{"user":"alice","role":"viewer"}',
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit",
    "id,name,city\n1,Ann,Oslo\n2,Bo,Lund\n",
    "<svg xmlns='http://www.w3.org/2000/svg'/>",
    "GET /index.html HTTP/1.1",
    "Meeting notes for March 2, 2026",
    "no secrets here, just a sentence",
)


def _fixed() -> list[Ordinary]:
    groups: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("path", PATHS),
        ("time", TIMES),
        ("url", URLS),
        ("version", VERSIONS),
        ("version range", RANGES),
        ("user agent", USER_AGENTS),
        ("sql", SQL),
        ("traceback", TRACEBACKS),
        ("email", EMAILS),
        ("address", ADDRESSES),
        ("mime type", MIME),
        ("html", HTML),
        ("sentence", SENTENCES),
        ("misc", MISC),
    )
    values = [Ordinary(kind, v) for kind, vs in groups for v in vs]
    values += [
        Ordinary("base64 of text", base64.b64encode(t.encode()).decode()) for t in _TEXTS_FOR_BASE64
    ]
    return values


def _pod(rng: random.Random) -> str:
    app = rng.choice(["api", "worker", "web", "billing-sync", "auth-gateway", "redis-exporter"])
    hash_part = random_chars(rng, "bcdfghjklmnpqrstvwxz2456789", 10)
    return f"{app}-{hash_part}-{random_chars(rng, 'bcdfghjklmnpqrstvwxz2456789', 5)}"


def _generated(rng: random.Random) -> list[Ordinary]:
    out: list[Ordinary] = []

    def add(kind: str, n: int, make: Callable[[], str]) -> None:
        out.extend(Ordinary(kind, make()) for _ in range(n))

    add("uuid", 16, lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    add("uuid, upper case", 4, lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper())
    add("uuid, no dashes", 4, lambda: uuid.UUID(int=rng.getrandbits(128), version=4).hex)
    add("git sha", 10, lambda: random_chars(rng, HEX, 40))
    add("short git sha", 10, lambda: random_chars(rng, HEX, rng.randint(7, 12)))
    add("labelled digest", 8, lambda: "sha256:" + random_chars(rng, HEX, 64))
    add("labelled digest", 2, lambda: "sha1:" + random_chars(rng, HEX, 40))
    add("labelled digest", 2, lambda: "md5:" + random_chars(rng, HEX, 32))
    add(
        "subresource integrity",
        3,
        lambda: "sha384-" + base64.b64encode(rng.randbytes(48)).decode(),
    )
    add("npm integrity", 3, lambda: "sha512-" + base64.b64encode(rng.randbytes(64)).decode())
    add(
        "traceparent",
        8,
        lambda: f"00-{random_chars(rng, HEX, 32)}-{random_chars(rng, HEX, 16)}-01",
    )
    add("request id", 8, lambda: random_chars(rng, HEX, 32))
    add("aws request id", 3, lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    add("cloudflare ray id", 3, lambda: random_chars(rng, HEX, 16) + "-AMS")
    add("kubernetes pod", 10, lambda: _pod(rng))
    add(
        "image with digest",
        6,
        lambda: (
            rng.choice(
                ["ghcr.io/acme/api", "docker.io/library/postgres", "quay.io/prometheus/node"]
            )
            + f":{rng.randint(1, 16)}.{rng.randint(0, 9)}@sha256:"
            + random_chars(rng, HEX, 64)
        ),
    )
    add("order number", 4, lambda: "ORD-" + random_chars(rng, DIGITS, 10))
    add("ulid-like id", 4, lambda: "01" + random_chars(rng, "0123456789ABCDEFGHJKMNPQRSTVWXYZ", 24))
    add(
        "slug",
        4,
        lambda: (
            "-".join(
                rng.choice(["blue", "quick", "river", "lamp", "orbit", "delta"]) for _ in range(3)
            )
            + "-"
            + random_chars(rng, LOWER, 4)
        ),
    )
    add(
        "session-less cache key",
        3,
        lambda: "cache:user:" + random_chars(rng, DIGITS, 6) + ":profile",
    )
    add(
        "s3 object",
        3,
        lambda: f"s3://acme-uploads/{random_chars(rng, HEX, 8)}/{rng.choice(['a.png', 'b.pdf'])}",
    )
    add("build number", 3, lambda: f"build-{rng.randint(1000, 9999)}-main")
    add(
        "base64 of an id",
        2,
        lambda: base64.b64encode(f"order:{rng.randint(10**5, 10**6)}".encode()).decode(),
    )
    add("css hash class", 3, lambda: "css-" + random_chars(rng, LOWER + DIGITS, 6))
    return out


def ordinary_values(seed: int) -> list[Ordinary]:
    """Every ordinary value: the fixed ones and the seeded random ones."""
    return _fixed() + _generated(random.Random(f"{seed}:ordinary"))
