"""End-to-end: secrets of the outside corpus sent over real HTTP to a real uvicorn server.

A sample of 40 single-line fake secrets from ``tests/secret_corpus`` goes, one request
each, into the request path (``/api/v1/keys/<secret>/rotate``, percent-encoded as a
client sends it), the query string (``?token=<secret>``, and ``?q=<secret>`` under a key
that names nothing), an ``X-Note`` header and the
``User-Agent`` header of a FastAPI app whose middleware records the query and
``X-Note``. Each request carries its own ``X-Request-ID``, so its ``api_access`` line in
``api-audit.jsonl`` is found after the server stopped; a line leaks when an 8-character
fragment of the secret's random part is in it (as written, JSON-unescaped or
percent-decoded).
"""

from __future__ import annotations

import json
import random
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import httpx
import pytest

from tests.apps import LOG_DIR_ENV
from tests.apps.options import FASTAPI_APP, OPTIONS_ENV
from tests.secret_corpus.formats import SEED, Secret, samples
from tests.secret_corpus.measure import leaked_fragment
from tests.servers import run_server

pytestmark = pytest.mark.e2e

SAMPLE_SIZE: Final = 40
OPTIONS: Final = {"record_query": True, "record_headers": ["x-note"]}
EXTRA_ARGS: Final = ("--factory", "--no-proxy-headers")
CLIENT_TIMEOUT: Final = httpx.Timeout(10.0)  # a bound on a hang, not an assertion


@dataclass(frozen=True, slots=True)
class Sent:
    """One request and what its line in ``api-audit.jsonl`` showed."""

    request_id: str
    where: str
    secret: Secret
    status: int
    whole: bool = False
    fragment: str | None = None


def corpus_sample() -> list[Secret]:
    """40 single-line secrets, drawn with the corpus's seed from every family."""
    pool = [s for s in samples(SEED) if s.sample.single_line]
    return random.Random(f"{SEED}:e2e").sample(pool, SAMPLE_SIZE)


def _requests(secret: Secret) -> Iterator[tuple[str, str, dict[str, Any]]]:
    text = secret.sample.text
    if secret.sample.token_like:
        yield "path", f"/api/v1/keys/{quote(text, safe='')}/rotate", {}
    yield "query-token", "/items/1", {"params": {"token": text, "page": "2"}}
    yield "query-value", "/items/1", {"params": {"q": text, "page": "2"}}
    yield "x-note", "/items/2", {"headers": {"X-Note": text}}
    yield "user-agent", "/items/3", {"headers": {"User-Agent": text}}


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Sent], str]:
    root = tmp_path_factory.mktemp("corpus-e2e")
    log_dir = root / "logs"
    env = {
        LOG_DIR_ENV: str(log_dir),
        OPTIONS_ENV: json.dumps(OPTIONS),
        # A module fixture runs before the suite's per-test key directory is set.
        "XDG_STATE_HOME": str(root / "state"),
        "ASGI_AUDIT_KEY_DIR": str(root / "keys"),
    }
    requests: list[Sent] = []
    with run_server(FASTAPI_APP, env, extra_args=EXTRA_ARGS) as server:
        with httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT) as client:
            for i, secret in enumerate(corpus_sample()):
                for where, path, kwargs in _requests(secret):
                    request_id = f"corpus-e2e-{i:03d}-{where}"
                    headers = {"X-Request-ID": request_id, **kwargs.pop("headers", {})}
                    response = client.get(path, headers=headers, **kwargs)
                    requests.append(Sent(request_id, where, secret, response.status_code))
        returncode = server.stop(signal.SIGTERM)
        stderr = server.stderr
    assert returncode in (0, -signal.SIGTERM), stderr
    return _judge(log_dir / "api-audit.jsonl", requests), stderr


def _judge(path: Path, requests: list[Sent]) -> list[Sent]:
    lines: dict[str, tuple[str, dict[str, Any]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if isinstance(event, dict) and "encoding_error" not in event:
            lines[str(event.get("request_id"))] = (line, event)
    judged = []
    for sent in requests:
        if sent.request_id not in lines:
            judged.append(sent)
            continue
        line, event = lines[sent.request_id]
        fragment = leaked_fragment(line, event, sent.secret.sample.needles)
        judged.append(Sent(sent.request_id, sent.where, sent.secret, sent.status, True, fragment))
    return judged


def summary(results: list[Sent]) -> str:
    planted = Counter(s.where for s in results)
    leaked = Counter(s.where for s in results if s.fragment)
    out = [f"{where}: {leaked[where]} of {n} leaked" for where, n in sorted(planted.items())]
    out += [
        f"  [{s.where}] {s.secret.label}: fragment {s.fragment!r}" for s in results if s.fragment
    ][:40]
    return "\n".join(out)


def test_every_request_with_a_secret_is_recorded_whole(sent: tuple[list[Sent], str]) -> None:
    results, stderr = sent
    assert len(results) >= 4 * SAMPLE_SIZE
    assert {s.where for s in results} == {
        "path",
        "query-token",
        "query-value",
        "x-note",
        "user-agent",
    }
    assert [s.request_id for s in results if not s.whole] == [], stderr
    assert {s.status for s in results if s.where != "path"} == {200}
    assert {s.status for s in results if s.where == "path"} == {404}


def test_no_fragment_of_a_secret_sent_over_http_reaches_the_file(
    sent: tuple[list[Sent], str],
) -> None:
    results, _ = sent
    assert [s for s in results if s.fragment] == [], summary(results)
