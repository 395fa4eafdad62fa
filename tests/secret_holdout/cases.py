# ruff: noqa: E501
"""The holdout's data: example secrets, context lines and ordinary values, as published.

Every value here was copied, unchanged, from the test fixtures, rule examples or sample
logs of projects that have nothing to do with this one, and each carries the place it
came from (``repository path``). None was written, generated or edited here, and the
redaction rules were never tuned against them: that is what makes this a holdout.

* :data:`SECRETS`: example secrets (fake or revoked test values, as their projects say)
  from the fixtures of trufflehog (detector pattern tests), Nosey Parker and Kingfisher
  (rule examples), gitleaks (rule true positives), secretlint (rule snapshots) and
  detect-secrets (plugin tests). ``prefix`` is the literal part a format begins with
  (``ghp_``, ``xoxb-``), which a redactor may keep; ``parts`` names the secret parts
  explicitly where the value also holds non-secret text (the host of a webhook URL, the
  user of a connection string). What is left, the *needles*, must never reach a file.
* :data:`CONTEXT_LINES`: whole lines from the same fixtures in which a secret sits in its
  context (``export SLACK_TOKEN=...``, a ``curl`` command, a JSON member, a URL with
  credentials), with the secret marked.
* :data:`ORDINARY`: values a redactor must leave alone, from real sample logs and
  documentation: Apache and nginx access logs, OpenStack, HDFS, sshd and ZooKeeper logs
  (loghub), Python tracebacks, ``kubectl`` output, Docker digests, npm integrity
  strings, git SHAs in a changelog, SQL with placeholders, UUIDs, base64 of plain text,
  and the negative examples secret scanners keep to show what is *not* a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = (
    "CONTEXT_LINES",
    "MIN_NEEDLE",
    "ORDINARY",
    "SECRETS",
    "ContextLine",
    "Ordinary",
    "Secret",
)

#: The shortest secret part the holdout plants (the measure looks for 8-character windows).
MIN_NEEDLE: Final = 8


@dataclass(frozen=True, slots=True)
class Secret:
    """One example secret: who issues it, what it is, the string as published, where."""

    provider: str
    format: str
    text: str
    source: str
    prefix: str = ""
    parts: tuple[str, ...] = ()

    @property
    def needles(self) -> tuple[str, ...]:
        """The parts that must never reach a file: ``parts``, or the text after ``prefix``."""
        return self.parts or (self.text[len(self.prefix) :],)


@dataclass(frozen=True, slots=True)
class ContextLine:
    """A whole line as published, with the secret it holds."""

    provider: str
    line: str
    secret: str
    source: str
    prefix: str = ""
    parts: tuple[str, ...] = ()

    @property
    def needles(self) -> tuple[str, ...]:
        return self.parts or (self.secret[len(self.prefix) :],)


@dataclass(frozen=True, slots=True)
class Ordinary:
    """A value from a real log or document that is not a secret."""

    kind: str
    value: str
    source: str


def _trufflehog(detector: str) -> str:
    return f"trufflesecurity/trufflehog pkg/detectors/{detector}/ (detector pattern test)"


def _noseyparker(rule: str) -> str:
    return f"praetorian-inc/noseyparker crates/noseyparker/data/default/builtin/rules/{rule}.yml"


def _kingfisher(rule: str) -> str:
    return f"mongodb/kingfisher crates/kingfisher-rules/data/rules/{rule}.yml"


def _gitleaks(rule: str) -> str:
    return f"gitleaks/gitleaks cmd/generate/config/rules/{rule}.go"


def _secretlint(path: str) -> str:
    return f"secretlint/secretlint packages/@secretlint/{path}"


def _detect_secrets(path: str) -> str:
    return f"Yelp/detect-secrets tests/plugins/{path}"


def _loghub(path: str) -> str:
    return f"logpai/loghub {path}"


def _elastic(path: str) -> str:
    return f"elastic/examples {path}"


def _cpython(path: str) -> str:
    return f"python/cpython {path}"


def _django(path: str) -> str:
    return f"django/django {path}"


def _docker_cli(path: str) -> str:
    return f"docker/cli {path}"


def _kubernetes(path: str) -> str:
    return f"kubernetes/website {path}"


def _vite(path: str) -> str:
    return f"vitejs/vite {path}"


def _gitleaks_action(path: str) -> str:
    return f"gitleaks/gitleaks-action {path}"


_S = Secret
_C = ContextLine
_O = Ordinary

SECRETS: Final[tuple[Secret, ...]] = (
    _S(
        "OpenAI",
        "user API key",
        "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",
        _trufflehog("openai"),
        prefix="sk-",
    ),
    _S(
        "OpenAI",
        "project API key",
        "sk-proj-mpjtr05CFsJqs4TAeKlCT3BlbkFJsh1KtN0SUjTPeJiagE8K",
        _trufflehog("openai"),
        prefix="sk-proj-",
    ),
    _S(
        "OpenAI",
        "project API key (long)",
        "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",
        _trufflehog("openai"),
        prefix="sk-proj-",
    ),
    _S(
        "OpenAI",
        "service account key",
        "sk-svcacct-IUXtc5gIZK-2cBfB-nTgEWbD8mi-fi-gc20oGtq8ve51sET3BlbkFJCg8iQkCVz_nmE_q1dCWlMpemoaoMqHzQ6D-FnWGqlz4C8A",
        _trufflehog("openai"),
        prefix="sk-svcacct-",
    ),
    _S(
        "OpenAI",
        "admin key",
        "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",
        _trufflehog("openai"),
        prefix="sk-admin-",
    ),
    _S("Twilio", "auth token", "daf7b3d34b9787f1212316eea62ba186", _trufflehog("twilio")),
    _S("Todoist", "API token", "qpgv7z8amkp4ln55znaacezm9jy35wcayy6bya2r", _trufflehog("todoist")),
    _S("TimeCamp", "API token", "66mtci6qdo8ccczw48j5lpt2uw", _trufflehog("timecamp")),
    _S(
        "Paystack",
        "secret key",
        "sk_xigrvarm_cJHGpWQwCTHajG2A2o8eC8TQaQGZdoMVhgXUA9Lm",
        _trufflehog("paystack"),
        prefix="sk_",
    ),
    _S(
        "Wrike",
        "permanent access token",
        "eyHrUMIkHqmEhqDBTWcuk5kL.tRiP-uQD9ZZSHfYYzdqRYHgkfiPEplgL1INSyA_c9VgbpVIzvFhVx0vzWzhxv9CdyLTr6FCvmDDrxM5BU0gQdyDGgXosinkyl4Z_7OIbHY08sImeavc-fxQ1OzVo6mqb-bDmxwuVWIE5WXb2bcRRnKotFAa4.pCkZAYDxZd66Yt6fK7HM33G6Rr.ALuDQg2mFdemMy1_WIOh9-0l6b6iP2anAp0CbxpcXlrecGHaMgrgzla41NrfpzWjAKlOwq.hbIKdPLLK0bOvg2m6ETkKdGhfRRHkYAqyYO.EhONITs48Eb21kDH0gc",
        _trufflehog("wrike"),
    ),
    _S(
        "npm",
        "legacy token (UUID)",
        "3aAcac6c-9847-23d9-ce65-917590b81cf0",
        _trufflehog("npmtoken"),
    ),
    _S("Bulbul", "API key", "3kx19qpx748ldb75lsjicbs6ipit6ssm", _trufflehog("bulbul")),
    _S(
        "MuleSoft Anypoint",
        "OAuth2 client secret",
        "ACE9d7E606Df5B4AFD2B35f78A01DC3E",
        _trufflehog("anypointoauth2"),
    ),
    _S(
        "1Password",
        "service account token",
        "ops_eyJzaWduSW5BZGRyZXNzIjoibXkuMXBhc3N3b3JkLmNvbSIsInVzZXJBdXRoIjp7Im1ldGhvZCI6IlNSUGctNDA5NiIsImFsZyI6IlBCRVMyZy1IUzI1NiIsIml0ZXJhdGlvbnMiOjY1MdAwMCwic2FsdCI6InE2dE0tYzNtRDhiNUp2OHh1YVzsUmcifSwiZW1haWwiOiJ5Z3hmcm0zb21oY3NtQDFwYXNzd29yZHNlcnZpY2VhY2NvdW50cy5jb20iLCJzcnBYIjoiM2E5NDdhZmZhMDQ5NTAxZjkxYzk5MGFiY2JiYWRlZjFjMjM5Y2Q3YTMxYmI1MmQyZjUzOTA2Y2UxOTA1OTYwYiIsIm11ayI6eyJhbGciOiJBMjU2R0NNIiwiZXh0Ijp0cnVlLCJrIjoiVVpleERsLVgyUWxpa0VqRjVUUjRoODhOd29ZcHRqSHptQmFTdlNrWGZmZyIsImtleV9vcHMiOlsiZW5jcnlwdCIsImRlY3J5cHQiXSwia3R5Ijoib2N0Iiwia2lkIjoibXAifSwic2VjcmV0S2V5IjoiQTMtNDZGUUVNLUVZS1hTQS1NUU0yUy04U0JSUS01QjZGUC1HS1k2ViIsInRocm90dGxlU2VjcmV0Ijp7InNlZWQiOiJjZmU2ZTU0NGUxZTlmY2NmZjJlYjBhYWZmYTEzNjZlMmE2ZmUwZDVlZGI2ZTUzOTVkZTljZmY0NDY3NDUxOGUxIiwidXVpZCI6IjNVMjRMNVdCNkpFQ0pEQlhJNFZOSTRCUzNRIn0sImRldmljZVV1aWQiOiJqaGVlY3F4cm41YTV6ZzRpMnlkbjRqd3U3dSJ9",
        _gitleaks("1password"),
        prefix="ops_",
    ),
    _S(
        "1Password",
        "secret key (whitepaper)",
        "A3-ASWWYB-798JRYLJVD4-23DC2-86TVM-H43EB",
        _gitleaks("1password"),
        prefix="A3-",
    ),
    _S("AWS", "access key id", "AKIALALEMEL33243OLIB", _gitleaks("aws"), prefix="AKIA"),
    _S(
        "GitHub",
        "server-to-server token (ghs_, long)",
        "ghs_RWGUZ6kS8_Ut7PbtR72k2miJwwYtxkpe8mOpT8feAWYZcwz43PxBVGCNATnycaQV9VUlPJe1uST5Xen7d3uZ5lilVlEVvT9AbxnhURdT3OzPtCvXydIrvE4LrDO",
        _trufflehog("github"),
        prefix="ghs_",
    ),
    _S(
        "GitLab", "personal access token (legacy 20)", "oXCt4JT2wf1_WlZl2OVG", _trufflehog("gitlab")
    ),
    _S(
        "Slack",
        "bot token",
        "xoxb-65677559833-9613778673399u",
        _trufflehog("slack"),
        prefix="xoxb-",
    ),
    _S(
        "Slack",
        "user token",
        "xoxp-24232636415-0285024315463c",
        _trufflehog("slack"),
        prefix="xoxp-",
    ),
    _S(
        "Slack",
        "workspace access token",
        "xoxa-08532509747-07570405353c",
        _trufflehog("slack"),
        prefix="xoxa-",
    ),
    _S(
        "Slack",
        "workspace refresh token",
        "xoxr-833485595373-24619897332l",
        _trufflehog("slack"),
        prefix="xoxr-",
    ),
    _S("Datadog", "API key", "FKNwdbyfYTmGUm5DK3yHEuK-BBQf0fVG", _trufflehog("datadogtoken")),
    _S(
        "Datadog",
        "application key",
        "iHxNanzZ8vjrmbjXK7NJLrwpGw2czdSh90PKH6VL",
        _trufflehog("datadogtoken"),
    ),
    _S(
        "Shopify",
        "admin API access token",
        "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",
        _trufflehog("shopify"),
        prefix="shpat_",
    ),
    _S(
        "Square",
        "access token",
        "EAAAYmTgYL4kQ-65xyZ4zANgipYVJQFTrb=roK23I=iFebzL4rjYbUg10N6o1l--",
        _trufflehog("square"),
        prefix="EAAA",
    ),
    _S(
        "Mailgun",
        "API key (key- prefix)",
        "key-3ax63njp29jz6fds4gc373sgvjxteol1",
        _trufflehog("mailgun"),
        prefix="key-",
    ),
    _S(
        "Mailgun",
        "API key (hex-hex-hex)",
        "e915b5cdb9a582685d8f3fb1bea0f20f-07bc7b05-f14816a1",
        _trufflehog("mailgun"),
    ),
    _S(
        "Mailgun",
        "basic-auth credentials (base64)",
        "YXBpOmFjZWM0YzA1YjFmMmZjZWJjZmE4ZGE2NDVkYTEwMjMxLTQxM2UzNzNjLTBhYWQzYzM3",
        _trufflehog("mailgun"),
        prefix="YXBpOm",
    ),
    _S(
        "Sentry",
        "organization auth token",
        "sntrys_eyJFAKEiOjE3NDIzNjM1NTIuNTAzMzA5LCJ1cmwiOiJodHRwczovL3NlbnRyeS5pbyIsInJlZ2lvbl91cmwiOiJodHRwczovL3VzLnNlbnRyeS5pbfakem9yZyI6InRydWZmbGUtc2VjdXJpdHktamQifQ==_+zqSnKjs87cicc3FAK08vmZs5cWx9C5EARKHFtW5lqI",
        _trufflehog("sentrytoken"),
        prefix="sntrys_",
    ),
    _S(
        "Airtable",
        "personal access token",
        "patfqpIZBPU6EAt5x.458546d9c77b21f8a98141f2a4039d5626010f19efc16c20d57c4f41d44c8c85",
        _trufflehog("airtablepersonalaccesstoken"),
        prefix="pat",
    ),
    _S(
        "Airtable",
        "personal access token",
        "pat0VXr5I2HcapZE8.da2606afb7d97e936719ec952a4a18b44045e385d4ddf4f38dcc246fb63f0165",
        _trufflehog("airtablepersonalaccesstoken"),
        prefix="pat",
    ),
    _S(
        "Heroku",
        "platform API key (HRKU-)",
        "HRKU-AAlQ1aVoHDujJ9QsDHdHlHO0hbzhoERRSO45ZQusSYHg_____w4_hLrAym_u",
        _trufflehog("heroku"),
        prefix="HRKU-",
    ),
    _S(
        "Heroku",
        "platform API key (HRKU-)",
        "HRKU-AAy9Ppr_HD2pPuTyIiTYInO0hbzhoERRSO93ZQusSYHgaD7_WQ07FnF7L9FX",
        _trufflehog("heroku"),
        prefix="HRKU-",
    ),
    _S(
        "Okta",
        "API token (SSWS)",
        "00JIBRGk12UbkjQaaw4L7VYy9EE8zAEEkIeqGNcSQm",
        _trufflehog("okta"),
        prefix="00",
    ),
    _S("Snyk", "API token (UUID)", "885953dc-2469-443c-983d-5243d2d54116", _trufflehog("snykkey")),
    _S(
        "Grafana",
        "cloud API token (glc_)",
        "glc_eyJF057+C0x9J+QwzC5JXb5uQ/WSzn98X/iIrZXKaA3Hh+lum0XBRcu56qMlW7ZaxXrNt33XoI3CXz7IRPci=",
        _trufflehog("grafana"),
        prefix="glc_",
    ),
    _S(
        "Figma",
        "personal access token (figr_)",
        "figr_EZe7plhYvN92IyiDCjkvTcbNVZsuRVpDcHOwNNP1",
        _trufflehog("figmapersonalaccesstoken"),
        prefix="figr_",
    ),
    _S(
        "Asana",
        "personal access token (new format)",
        "7/9823746598123746/8923746598123456:7f1a3c9be84d2a6c4e7d9c32bf1e7f88",
        _trufflehog("asanapersonalaccesstoken"),
        parts=("7f1a3c9be84d2a6c4e7d9c32bf1e7f88",),
    ),
    _S(
        "Asana",
        "personal access token (old format)",
        "594776654034514343561917591881414702593902454625364993/1724908107002616220416212965:Yv3DoiSFhtsgUwN3AcnXWjK8zabQHKSHBRHpuNKVjz3oCcpyDIdXRm3GL4SUDkTMFoTbRDCHe8tTBHxdtoXItn",
        _trufflehog("asanapersonalaccesstoken"),
        parts=(
            "Yv3DoiSFhtsgUwN3AcnXWjK8zabQHKSHBRHpuNKVjz3oCcpyDIdXRm3GL4SUDkTMFoTbRDCHe8tTBHxdtoXItn",
        ),
    ),
    _S(
        "Discord",
        "bot token (legacy 24.6.27)",
        "oHILWmk3qakMYbqAikD9R0nJ.Vhu0LY.FK1U_2L2Of8Bm5ESbD6Cy4VKu2K",
        _trufflehog("discordbottoken"),
    ),
    _S(
        "Dropbox",
        "short-lived access token (sl.)",
        "sl.B-0SI0a3GFk2Ew81yf9HsWC6_yMSZ41-IBEscOQ_8aDwLevZMCSAvTouU2JyhWUME7-6p8omVz1-5DZ8B_150DTi7MwdtEk5sZWbPHT71STR6Y-0A_vfUNm9VOB5zN1PiLrJneoVliNL",
        _trufflehog("dropbox"),
        prefix="sl.",
    ),
    _S(
        "Atlassian",
        "API token (ATCTT)",
        "ATCTT3xFfGN0GsZNgOGrQSHSnxiJVi00oHlRicyM0yMNuKCBfw6qOHVcCy4Hm89GnclGb_W-1qAkxqCn5XbuyoX54bNhpK5yFKGFR7ocV6FByvL_P9Sb3tFnbUg3T3I3S_RGCBLMSN7Nsa4GJv8JEJ6bzvDmX-oJ8AnrazMU-zZ5hb-u3t2ERew=366BFE3A",
        _trufflehog("atlassian/v2"),
        prefix="ATCTT3",
    ),
    _S(
        "Alchemy",
        "API token (alcht_)",
        "alcht_2Cy8xCLyvrAf7lZKfhQhyCr4RAID9D",
        _trufflehog("alchemy"),
        prefix="alcht_",
    ),
    _S(
        "JFrog Artifactory",
        "API key (AKCp)",
        "AKCp5e2gMx8TtJNDtrsuPq7Jz24Rqjkjf1d1iiy1GuEjmdsY8ghxFGgehZcK3UGNgy5TxHWdE",
        _trufflehog("artifactory"),
        prefix="AKCp",
    ),
    _S(
        "JFrog Artifactory",
        "reference token",
        "cmVmdGtuOjAxOjE3ODA1NTFAKEM6S2J2MGswemNzZzhaRnFlVUFAKEk3amlLcGZg",
        _trufflehog("artifactory"),
        prefix="cmVmdGtuOjAxOj",
    ),
    _S(
        "Algolia",
        "admin API key",
        "BsDaN7ZU7kFiUX5CpN8CUf3nkMaSeZYn",
        _trufflehog("algoliaadminkey"),
    ),
    _S(
        "Algolia",
        "DocSearch app id:key",
        "0VJ9I1WV78:4AYm3wz7nfnX7Bqtw5e5Qo3Z5vfBe0eS",
        _trufflehog("algoliaadminkey"),
        parts=("4AYm3wz7nfnX7Bqtw5e5Qo3Z5vfBe0eS",),
    ),
    _S(
        "Aha!",
        "API key",
        "b2fb683b321da0f90aa23decc45c74a8578f2eb4390af155d3277e53362a8b45",
        _trufflehog("aha"),
    ),
    _S(
        "CAST AI",
        "API key",
        "castai_v1_2cb5a70064f60ba2f5507bcbb02938a5a0483bf2a9742d08c5c274c827c9f6ea_aaabbbb5",
        _trufflehog("castai"),
        prefix="castai_v1_",
    ),
    _S(
        "AllSports",
        "API key",
        "cq73u5azj3p3shfvzz3lw1typfqu6uduq7bophtq4veta7cnvd4s5htkb8lgk4vr",
        _trufflehog("allsports"),
    ),
    _S(
        "Alibaba Cloud",
        "AccessKey secret",
        "CwgR2UwgaWd7hgUdQkwFnK9vvEeO4R",
        _trufflehog("alibaba"),
    ),
    _S(
        "Alibaba Cloud",
        "AccessKey ID",
        "LTAIXgRPqwF1DhBf6Q1uZ5DrM",
        _trufflehog("alibaba"),
        prefix="LTAI",
    ),
    _S(
        "Ambee",
        "API key",
        "eccb41cc2d4dab96b748ed040e9b308161279820447ef4553ba6e6d20ecb9962",
        _trufflehog("ambee"),
    ),
    _S("Amadeus", "API key", "ttdveNai3Gj6Zrjvgz4fyBEWRLARCG6a", _trufflehog("amadeus")),
    _S("Amadeus", "API secret", "9wqrSr2qveaqgQns", _trufflehog("amadeus")),
    _S("AirVisual", "API key", "qscgyygcsq-wdvvok7slklklaasnd8afafxd", _trufflehog("airvisual")),
    _S(
        "Aiven",
        "API token",
        "IGhXNR6g7rogABp/H2iDQu7TgkXpvn9KnwzJfeh+8p7M=JVsI2QoQ38mmQHt450bQC4wBOGFhV+9QT2KGWSMfTOxTUrUXygaLlwsXo/RBxKXyOdh=/L8EGGrqG6=qbd0UzDAfc0xeAfXd30RGj+Ypsrrvdda=ZPa32BBID5r2ClfJSbgpfWIpVC1b5vlqCdy5LIWABZJzjBC5VweqZ04XFaCh+15NuSQ4E0KdGwPdkrfxxjY20I1wDvlKxzxL7dfCly3KVlQv7KBEFSLaLRNRocPYToUXqU4yAXKvXf03K=k1mahpxFUp94c35k/n055LVs=xbyL6AKdW=sCCa1AFIYKBDMBprTsZ6Al7DHx=XA6qLNWYxS7",
        _trufflehog("aiven"),
    ),
    _S(
        "Cloudinary",
        "API secret (in cloudinary:// URL)",
        "V-fwwRhcp3VrRPAqaFkLq3rpa60",
        _trufflehog("cloudinary"),
    ),
    _S(
        "AI21 Studio", "API key (UUID)", "90cd6930-a9ae-4f15-8da0-dc1bbcd814b9", _kingfisher("ai21")
    ),
    _S(
        "Airbyte",
        "application client secret",
        "4f7Qa2mZ9xL3vR8kN1sD6wC5hJ0pByTu",
        _kingfisher("airbyte"),
    ),
    _S("Agora", "app certificate", "397a3af3db1950bdbd84f4e4ec18ebef", _kingfisher("agora")),
    _S(
        "Stripe",
        "live secret key",
        "sk_live_dhhfUUyfrAace5dBAZ10JrAD",
        _noseyparker("stripe"),
        prefix="sk_live_",
    ),
    _S(
        "Stripe",
        "test secret key",
        "sk_test_nxOdTTuEace5Ajbh3svpG32m",
        _noseyparker("stripe"),
        prefix="sk_test_",
    ),
    _S(
        "Slack",
        "bot token",
        "xoxb-893582989554-899326518131-JRHeVv1o9Cf99fwDpuortR2D",
        _noseyparker("slack"),
        prefix="xoxb-",
    ),
    _S(
        "Slack",
        "bot token",
        "xoxb-262541194339-1293084920079-Z21cXgXdDdZDABIcrdG3D9OF",
        _noseyparker("slack"),
        prefix="xoxb-",
    ),
    _S(
        "Slack",
        "user token",
        "xoxp-513768634356-513201028496-513937500594-185e196ace562dd6443b5d29b1d817c2",
        _noseyparker("slack"),
        prefix="xoxp-",
    ),
    _S(
        "Slack",
        "app-level token",
        "xapp-083452001657-ShAYwge/87H4lC3j7lZ48pAL",
        _noseyparker("slack"),
        prefix="xapp-",
    ),
    _S(
        "Slack",
        "legacy bot token",
        "xoxb-153445930147-Tjy11gGxUW6Cf99YOYwtzG0K",
        _noseyparker("slack"),
        prefix="xoxb-",
    ),
    _S(
        "Slack",
        "incoming webhook URL",
        "https://hooks.slack.com/services/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",
        _noseyparker("slack"),
        parts=("nzk0zace5iLKP35eWcfKE7JA",),
    ),
    _S(
        "Google",
        "OAuth client secret (GOCSPX-)",
        "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",
        _noseyparker("google"),
        prefix="GOCSPX-",
    ),
    _S(
        "Google",
        "OAuth client secret (unprefixed)",
        "fnhqAakzWrX-mtFQ4PRdMoy0",
        _noseyparker("google"),
    ),
    _S(
        "Google",
        "OAuth access token (ya29.)",
        "ya29.A0ARrdaM--PV_87ebjywDJpXKb77NBFJl16meVUapYdfNv6W6ZzCu947fNaPaRjbDbOIIcp6f49cMaX5ndK9TAFnKwlVqz3nrK9nLKqgyDIhYsIq47smcAIZkK56SWPx3X3DwAFqRu2UPojpd2upWwo-3uJrod",
        _noseyparker("google"),
        prefix="ya29.",
    ),
    _S(
        "Google",
        "OAuth refresh token (1//)",
        "1//039xWRt8YaYa3CgYIARAAGAMSNwF-L9Iru9FyuTrDSa7lkSceggPho83kJt2J29Ga91EhT1C6XV1vmo6bQS9puL_R2t8FIwR3gek",
        _noseyparker("google"),
        prefix="1//",
    ),
    _S(
        "Google",
        "API key (AIza)",
        "AIzaSyB4sU8lU15bR_87qNb7eUVQN72_vv8mpbU",
        _noseyparker("google"),
        prefix="AIza",
    ),
    _S(
        "Google",
        "API key (AIza)",
        "AIzaSyBnAoO3VNVUco4MXf4enYCVBg6ZnpY49N-",
        _noseyparker("google"),
        prefix="AIza",
    ),
    _S(
        "Azure",
        "storage account key",
        "6jqh42QQjWWBwoPGGR/Jr0PZjhBMZVbHm/gkhEfHvOj8aV6+oI8ed6ZAAwB5a6993WqyQDiuJJB0QpseJwqYxw==",
        _noseyparker("azure"),
    ),
    _S(
        "Azure",
        "IoT Hub shared access key",
        "S8ii67l3Gd1Ba69az78iP9UksewzhjvUfh1DIuDs30w=",
        _noseyparker("azure"),
    ),
    _S(
        "Azure",
        "App Configuration secret",
        "GcoEA53t7GLRNJ910M46IrbHO/Vg0tt4HujRdsaCoTY=",
        _noseyparker("azure"),
    ),
    _S(
        "Azure DevOps",
        "personal access token",
        "zpczok4kqgnw5prpfy3ehiylbqvgbjfkdiqkejsxqamy7qbkep7q",
        _noseyparker("azure"),
    ),
    _S(
        "Azure DevOps",
        "personal access token",
        "58oo4mvqr2tpw7b4w3loeckwfu5o6nw3sihfckvlwoxgqimlddza",
        _noseyparker("azure"),
    ),
    _S("AWS", "secret access key", "0qk+o7XctJMmG6ydO8537c9+TofLJU1K0PiVBXSg", _noseyparker("aws")),
    _S("AWS", "secret access key", "IwJz1SHMccAKUKuskdVoHFfkre73BTyF80nRmcWc", _noseyparker("aws")),
    _S("AWS", "access key id", "AKIAIDQJ6PTGDFFWYX7A", _noseyparker("aws"), prefix="AKIA"),
    _S(
        "AWS",
        "MWS auth token",
        "amzn.mws.dab428a1-ed97-fd8d-e045-950d712f6f58",
        _noseyparker("aws"),
        prefix="amzn.mws.",
    ),
    _S(
        "AWS",
        "AppSync API key",
        "da2-nmaqhbb63zabjactesiydcfuvu",
        _noseyparker("aws"),
        prefix="da2-",
    ),
    _S(
        "AWS",
        "STS session token (JWT, MinIO)",
        "eyJhbGciOiJIUzUxMi53InR5cCI6IkpXVCJ9.eyJhY2Nlc3NLZXkiOiJJMDhCQ1gySkpWNDVFRDFET0M5SiIsImFjciI6Ij53LCJhdWQiOiJhY2NvdW50IiwiYXV0aF90aW1lIjowLCJhenAiOiJtaW5pbyIsImVtYWlsIjoiYWlkYW4uY29wZUBnbWFpbC5jb20iLCJlbWFpbF92ZXJpZmllZCI6ZmFsc2UsImV4cCI6MTU4MDUwMDIzOCwiZmFtaWx5X25hbWUiOiJDb3BlIiwiZ2l2ZW5fbmFtZSI6IkFpZGFuIENvcGUiLCJpYXQiOjE1ODA0OTk5MzgsImlzcyI6Imh0dHBzOi8vYXV0aHN0Zy5wb3BkYXRhLmJjLmNhL2F1dGgvcmVhbG1zL3NhbXBsZSIsImp0aSI6IjU5ZTM5ODAxLWQxMmUtNDVhYS04NmQzLWVhMmNmZDU0NmE2MiIsIm1pbmlvX3BvbGljeSI6ImRhdGFzZXRfMV9ybyIsIm5hbWUiOiJBaWRhbiBDb3BlIENvcGUiLCJuYmYiOjAsInByZWZlcnJlZF91c2VybmFtZSI6ImFjb3BlLTk5LXQwNSIsInJlYWxtX2FjY2VzcyI6eyJyb2xlcyI6WyJvZmZsaW5lX2FjY2VzcyIsInVtYV9hdXRob3JpemF0aW9uIl19LCJyZXNvdXJjZV9hY2Nlc3MiOnsiYWNjb3VudCI6eyJyb2xlcyI6WyJtYW5hZ2UtYWNjb3VudCIsIm1hbmFnZS1hY2NvdW50LWxpbmtzIiwidmlldy1wcm9maWxlIl19fSwic2NvcGUiOiJwcm9maWxlIGVtYWlsIiwic2Vzc2lvbl9zdGF0ZSI6IjcxYjczZWJjLThlMzMtNGMyMi04NmE2LWI0MzhhNDM4ZmI2MiIsInN1YiI6IjVkOTBlOTgzLTA1NDItNDYyYS1hZWIwLWYxZWVmNjcwYzdlNSIsInR5cCI6IkJlYXJlciJ9.J-a9PORJToz7MUrnPQlOywcqtVMNkXy53Gedp_V4PW-Gbf1_BAMjwuw_X7fKRd6hkNfEn43CKKju7muzi_d1Ig",
        _noseyparker("aws"),
        prefix="eyJhbGciOiJIUzUxMi53InR5cCI6IkpXVCJ9.",
    ),
    _S(
        "GitHub",
        "personal access token (ghp_)",
        "ghp_XIxB7KMNdAr3zqWtQqhE94qglHqOzn1D1stg",
        _noseyparker("github"),
        prefix="ghp_",
    ),
    _S(
        "GitHub",
        "personal access token (ghp_)",
        "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",
        _noseyparker("github"),
        prefix="ghp_",
    ),
    _S(
        "GitHub",
        "OAuth access token (gho_)",
        "gho_fq75OMU7UVbS9pTZmoCCzJT6TM5d1w099FgG",
        _noseyparker("github"),
        prefix="gho_",
    ),
    _S(
        "GitHub",
        "user-to-server token (ghu_)",
        "ghu_16C7e42F292c69C2E7C10c838347Ae178B4a",
        _noseyparker("github"),
        prefix="ghu_",
    ),
    _S(
        "GitHub",
        "refresh token (ghr_)",
        "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c3CE1ccbF66C46812d16D5B1A9Dc86A1498",
        _noseyparker("github"),
        prefix="ghr_",
    ),
    _S(
        "GitHub",
        "OAuth app client secret (40 hex)",
        "37d02377a3e9d849e18704c3ec883f9c5787d857",
        _noseyparker("github"),
    ),
    _S(
        "GitHub",
        "fine-grained personal access token",
        "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",
        _noseyparker("github"),
        prefix="github_pat_",
    ),
    _S(
        "GitLab",
        "runner registration token",
        "GR1348941_iAgdMy7a3NhZaa5oNoH",
        _noseyparker("gitlab"),
        prefix="GR1348941",
    ),
    _S(
        "GitLab",
        "personal access token (glpat-)",
        "glpat-tFrjFXD7soVU2fqxuDMh",
        _noseyparker("gitlab"),
        prefix="glpat-",
    ),
    _S(
        "GitLab",
        "pipeline trigger token",
        "glptt-0d66598d696a02da33fb65e2a041f607c68ea50d",
        _noseyparker("gitlab"),
        prefix="glptt-",
    ),
    _S(
        "Hugging Face",
        "user access token",
        "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",
        _noseyparker("huggingface"),
        prefix="hf_",
    ),
    _S(
        "SendGrid",
        "API key",
        "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",
        _noseyparker("sendgrid"),
        prefix="SG.",
    ),
    _S(
        "SendGrid",
        "API key",
        "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",
        _noseyparker("sendgrid"),
        prefix="SG.",
    ),
    _S(
        "Twilio",
        "API key SID (SK)",
        "SK9b4cc552783500ace5414a1ed3e9fd1a",
        _noseyparker("twilio"),
        prefix="SK",
    ),
    _S("Twilio", "API key secret", "l6LUelKF2BUtMLace5oShZSmRppadYqI", _noseyparker("twilio")),
    _S("Mailchimp", "API key", "bd3777708aecfee66c5335f62a6246a4-us13", _noseyparker("mailchimp")),
    _S(
        "npm",
        "granular access token (npm_)",
        "npm_TCllNwh2WLQlMWVhybM1iQrsTj6rMQ0BOh6d",
        _noseyparker("npm"),
        prefix="npm_",
    ),
    _S(
        "OpenAI",
        "API key (legacy sk-)",
        "sk-mxIt5s1tyfCJyIKHwrqOT4BlbkFJT3VVmv6VdSwB7XXIq1TO",
        _noseyparker("openai"),
        prefix="sk-",
    ),
    _S(
        "PyPI",
        "upload token (macaroon)",
        "pypi-AgEIcHlwaS5vcmcCJDkwNzYwNzU1LWMwOTUtNGNkOC1iYjQzLTU3OWNhZjI1NDQ1MwACJXsicGVybWCf99lvbnMiOiAidXNlciIsICJ2ZXJzaW9uIjogMX0AAAYgSpW5PAywXvchMUQnkF5H6-SolJysfUvIWopMsxE4hCM",
        _noseyparker("pypi"),
        prefix="pypi-AgEIcHlwaS5vcmc",
    ),
    _S(
        "RubyGems",
        "API key",
        "rubygems_b9ce70c306b3a2e248679fbbbd66723d408d3c8c5f00566c",
        _noseyparker("rubygems"),
        prefix="rubygems_",
    ),
    _S(
        "NuGet",
        "API key (oy2)",
        "oy2dgb333j35kjjybcf99yzxo7hjyloera4anxn4ivcvle",
        _noseyparker("nuget"),
        prefix="oy2",
    ),
    _S(
        "Docker Hub",
        "personal access token",
        "dckr_pat_hc8VxYclixyTr2rDFsa2rqzkP3Y",
        _noseyparker("dockerhub"),
        prefix="dckr_pat_",
    ),
    _S(
        "Databricks",
        "personal access token",
        "dapif21ee53d2b3648c2a1ed38953312a203",
        _noseyparker("databricks"),
        prefix="dapi",
    ),
    _S(
        "DigitalOcean",
        "application access token (doo_v1_)",
        "doo_v1_c46dde8bd620fcc382e70d5d43be6eebb141fa2452e8f8fa882433377898ebf2",
        _noseyparker("digitalocean"),
        prefix="doo_v1_",
    ),
    _S(
        "DigitalOcean",
        "personal access token (dop_v1_)",
        "dop_v1_ef0e04edc13918192246e0c90f0735c7f4db7a5a036a857e48d6cc98f1c9576b",
        _noseyparker("digitalocean"),
        prefix="dop_v1_",
    ),
    _S(
        "DigitalOcean",
        "refresh token (dor_v1_)",
        "dor_v1_d6ce5b93104521c47be0b580e9296454ef4a319b02b5513469f0ec71d99af2e2",
        _noseyparker("digitalocean"),
        prefix="dor_v1_",
    ),
    _S(
        "Doppler",
        "personal token (dp.pt.)",
        "dp.pt.bAqhcVzrhy5cRHkOlNTc0Ve6w5NUDCpcutm8vGE9myi",
        _noseyparker("doppler"),
        prefix="dp.pt.",
    ),
    _S(
        "Dynatrace",
        "API token (dt0c01.)",
        "dt0c01.FJEGSO2NBAXCOEA7WOSKOA2G.GGMUK6GJDH2TWLNKQT6F68FH22252VXP2F3QAMBUVUDV5TSYYHAWZVVFCUQLF2UA",
        _noseyparker("dynatrace"),
        prefix="dt0c01.",
    ),
    _S(
        "Facebook",
        "app secret (32 hex)",
        "0278fc1adf6dc1d82a156f306ce2c5cc",
        _noseyparker("facebook"),
    ),
    _S(
        "Facebook",
        "user access token (EAAC)",
        "EAACEdEose0cBAD5XZCz5JXYvqyeJzcSvFZC42toHiWyfjhcZCMZBZCpE3uRJnEBsrhUEMRK1wWs6SsdiDCaCI1mYwyoNuMix2XZCpvsKbZB9TumtZBlcLeIpl4pa931Ce9rTinEAhtyVVZAAZAX4NmfpBUqWtzCRC0fX5GZBn7ZC28mPKAZDZD",
        _noseyparker("facebook"),
        prefix="EAACEdEose0cBA",
    ),
    _S(
        "Grafana",
        "API key (eyJrIjoi)",
        "eyJrIjoiWHZiSWd5NzdCYUZnNUtibE8obUpESmE2bzJYNDRIc1UiLCJuIjoibXlrZXkiLCJpZCI7MX1",
        _noseyparker("grafana"),
        prefix="eyJrIjoi",
    ),
    _S(
        "Grafana",
        "service account token (glsa_)",
        "glsa_HOruNAb7SOiCdshU7algkrq7FDsNSLAa_55e2f8be",
        _noseyparker("grafana"),
        prefix="glsa_",
    ),
    _S(
        "HashiCorp Vault",
        "service token (hvs.)",
        "hvs.JGbZZaCkOSgsZ56uhGlTK2zyC1j2mwhy0VLp4",
        _noseyparker("hashicorp"),
        prefix="hvs.",
    ),
    _S(
        "HashiCorp Vault",
        "service token (legacy s.)",
        "s.Z4bTMtngfLeQ18AqVoBBkUAOD1",
        _noseyparker("hashicorp"),
        prefix="s.",
    ),
    _S(
        "JWT",
        "signed JSON Web Token",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJsb2dnZWRJbkFzIjoiYWRtaW4iLCJpYXQiOjE0MjI3Nzk2Mzh9.gzSraSYS8EXBxLN_oWnFSRgCzcmEmMjLiuyu5CSpyHI",
        _noseyparker("jwt"),
        parts=(
            "eyJsb2dnZWRJbkFzIjoiYWRtaW4iLCJpYXQiOjE0MjI3Nzk2Mzh9",
            "gzSraSYS8EXBxLN_oWnFSRgCzcmEmMjLiuyu5CSpyHI",
        ),
    ),
    _S(
        "Microsoft Entra ID",
        "client secret (Q~)",
        "5pX8Q~MmTI8OMBJFVqMlFR4DE3Spz6Qm.xO.Gbf-",
        _noseyparker("generic"),
    ),
    _S("MongoDB", "connection string password", "CPCdZH5k0F6dxQ9V", _noseyparker("mongo")),
    _S(
        "Adafruit IO",
        "API key (aio_)",
        "aio_NrZCb67VvzSaM7fr3nMXrfZ1uMPH",
        _noseyparker("adafruitio"),
        prefix="aio_",
    ),
    _S(
        "Adobe",
        "OAuth client secret (p8e-)",
        "p8e-ibndcvsmAp9ZgPBZ606FSlYIZVlsZ-g5",
        _noseyparker("adobe"),
        prefix="p8e-",
    ),
    _S(
        "age",
        "X25519 secret key",
        "AGE-SECRET-KEY-1HJCRJVK7EE3A5N8CRP8YSEUGZKNW90Y5UR2RGYAS8L279LFP6LCQU5ADNR",
        _noseyparker("age"),
        prefix="AGE-SECRET-KEY-1",
    ),
    _S(
        "Anthropic",
        "API key (sk-ant-api03-)",
        "sk-ant-api03-jSq6OMjv1syXaEUE0bvOckLe_GtCKy8lvZdko3eOJgV8TH-f2iyzRekyZNSby5d9ScikGYuqQhsrxML3X3N3rQ-XwQaQAAA",
        _noseyparker("anthropic"),
        prefix="sk-ant-api03-",
    ),
    _S(
        "Anthropic",
        "API key (sk-ant-api03-)",
        "sk-ant-api03-f-SD8UXTHZuL3dhlRLMzMh7sxOopjFG510MC0B6g5Whzu2gM6gYJrQUduYWWQkG8XvkjeVj-MfYvtzMBF7NXSg-W34tmAAA",
        _noseyparker("anthropic"),
        prefix="sk-ant-api03-",
    ),
    _S(
        "JFrog Artifactory",
        "API key (AKCp)",
        "AKCp8igrDNFerC357m4422e4tmu7xB983QLPxJhKFcSMfoux2RFvp8rc4jC8t9ncdmYCMFD8W",
        _noseyparker("artifactory"),
        prefix="AKCp",
    ),
    _S(
        "Atlassian",
        "cloud API token (ATATT)",
        "ATATT3xFfGF0pogUFVOH0_AjBEA8LJcnOJx_Ki4yl_PYkv-LwEBQQp3r37KZYnKm8IGQ-KKXDxCl7qnzxF7BRF0a3pwEeAuKEo3iLK7bHXNQgZgVBAURy4RnTnYXwyifmYqWlCAW5J7u04BqXA6pSSceOPQewIpy2CQzDe8MRqmqZw-zcpzSRS0=110E6FC6",
        _noseyparker("atlassian"),
        prefix="ATATT3xFfGF0",
    ),
    _S(
        "Auth0",
        "client secret",
        "HgikpUzur6WkE4ol7r2yk_O7wbqd6UWGnFSBE4ByVnGw1cC5_jy_mjWoerv8UXqp",
        _noseyparker("auth0"),
    ),
    _S(
        "Auth0",
        "session secret (AUTH0_SECRET)",
        "2816e32737432c3dec1f5de788696b4efc06e8f833910c8bdef1075b632e4f30",
        _noseyparker("auth0"),
    ),
    _S(
        "Bitbucket",
        "app password (ATBB)",
        "ATBB3g7gLXseCxPjJs1CQNMyEjwf1D12516D",
        _noseyparker("bitbucket"),
        prefix="ATBB",
    ),
    _S("Blynk", "device auth token", "Rps15JICmtRVbFyS_95houlLbm6xIQ2L", _noseyparker("blynk")),
    _S(
        "Blynk",
        "organization access token",
        "eIdWHQqRfFmvP5LDDh-IGxPUzi7I27HthzCPAVmS",
        _noseyparker("blynk"),
    ),
    _S(
        "Blynk",
        "organization client secret",
        "5uC5Y4Mcvdl5rB56rBmxnvB4DZgiIpcyTPbOoEWp",
        _noseyparker("blynk"),
    ),
    _S(
        "Code Climate",
        "test reporter id",
        "945dfb58a832d233a3caeb84e3e6d3be212e8c7abcb48117fce63b9adcb43647",
        _noseyparker("codeclimate"),
    ),
    _S(
        "crates.io",
        "API token (cio)",
        "ciotgp8BGZBlX192iExSQPm0SrUlBunG8zd",
        _noseyparker("crates.io"),
        prefix="cio",
    ),
    _S(
        "Dependency-Track",
        "API key (odt_)",
        "odt_KTJlDq2AGGGlqG4riKdT7p980AW8RlU5",
        _noseyparker("dependency_track"),
        prefix="odt_",
    ),
    _S(
        "Dependency-Track",
        "API key (odt_)",
        "odt_FHxhQGh77JAHHIYpZ818UQ0aYjXIdMIxxgeR",
        _noseyparker("dependency_track"),
        prefix="odt_",
    ),
    _S(
        "Django",
        "SECRET_KEY (django-insecure-)",
        "django-insecure-_du9e^cmago!%(^+=gr@cu@v9-v7ulhbk2s3!w&39w4+n3*k*$",
        _noseyparker("django"),
        prefix="django-insecure-",
    ),
    _S(
        "Figma",
        "personal access token (legacy)",
        "1394-0ca7a5be-8e22-40ee-8c40-778d41ab2313",
        _noseyparker("figma"),
    ),
    _S(
        "Firecrawl",
        "API key (fc-)",
        "fc-7da8b1ca1d2150c496e91440d777fea8",
        _noseyparker("firecrawl"),
        prefix="fc-",
    ),
    _S(
        "Gitalk",
        "GitHub OAuth client secret",
        "9363cb456dda6402cb71d65092490e75c9f11873",
        _noseyparker("gitalk"),
    ),
    _S(
        "Groq",
        "API key (gsk_)",
        "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",
        _noseyparker("groq"),
        prefix="gsk_",
    ),
    _S(
        "Jenkins",
        "API token (34 hex)",
        "11f4274ec59be12eace9a08b08ee13d54b",
        _noseyparker("jenkins"),
    ),
    _S("Jenkins", "crumb", "440561953171ba44ace9740562d172bb", _noseyparker("jenkins")),
    _S(
        "Jina AI",
        "API key (jina_)",
        "jina_c1758c6f49e14ced990ac7776800dc45ShJNTXBCizzwjE6IMFYJ7LD959cG",
        _noseyparker("jina"),
        prefix="jina_",
    ),
    _S(
        "Kagi",
        "API key",
        "AQAAUPJ-iQc.yLFDzC5RRHzPNDThhulREdoG0Bn3PiZMwJ6yqC6uJLE",
        _noseyparker("kagi"),
    ),
    _S("LinkedIn", "client secret", "zt7GeN6IH911xvRj", _noseyparker("linkedin")),
    _S(
        "Mapbox",
        "secret access token (sk.)",
        "sk.eyJ1Ijoic2hlbmdsaWgiLCJhIjCf99ttaWF5bDBsMGNlaDJubGZyMGUwZXNmaCJ9.eI8KXNm5zKZXOKh0c8u9vg",
        _noseyparker("mapbox"),
        prefix="sk.eyJ1Ijoi",
    ),
    _S(
        "Microsoft Teams",
        "incoming webhook URL",
        "https://outlook.office.com/webhook/9da5da9c-4218-4c22-aed6-b5c8baebfff5@2f2b54b7-0141-4ba7-8fcd-ab7d17a60547/IncomingWebhook/1bf66ccbb8e745e791fa6e6de0cf465b/4361420b-8fde-48eb-b62a-0e34fec63f5c",
        _noseyparker("microsoft_teams"),
        parts=("1bf66ccbb8e745e791fa6e6de0cf465b", "4361420b-8fde-48eb-b62a-0e34fec63f5c"),
    ),
    _S(
        "New Relic",
        "license key (NRAL)",
        "033f2f2072ca3f2cb2ec39024fa9e49cd640NRAL",
        _noseyparker("newrelic"),
    ),
    _S(
        "New Relic",
        "license key (40 hex)",
        "0a14254db7a1e9d29c3370dacc798cb65d25c9af",
        _noseyparker("newrelic"),
    ),
    _S(
        "New Relic",
        "user API key (NRAK-)",
        "NRAK-7JCF597RJ492YP6MZWST3HWRNY2",
        _noseyparker("newrelic"),
        prefix="NRAK-",
    ),
    _S(
        "New Relic",
        "admin API key (NRAA-)",
        "NRAA-4780f48c47df5882dbec3fd82c7",
        _noseyparker("newrelic"),
        prefix="NRAA-",
    ),
    _S(
        "New Relic",
        "insights insert key (NRII-)",
        "NRII-3nbcrMjHHs0RrT3GhRNqpd16YVMFHdcI",
        _noseyparker("newrelic"),
        prefix="NRII-",
    ),
    _S(
        "New Relic",
        "insights query key (NRIQ-)",
        "NRIQ-pD-yUGl9Z3ACIJ89V-zGkhMxFJE5O121",
        _noseyparker("newrelic"),
        prefix="NRIQ-",
    ),
    _S(
        "New Relic",
        "REST API key (NRRA-)",
        "NRRA-e270623d47659ff6a48ac5bde6bba223bef47c8c26",
        _noseyparker("newrelic"),
        prefix="NRRA-",
    ),
    _S(
        "Pixie",
        "API key (px-api-)",
        "px-api-c20a3cba-d3c9-45c1-a557-8864040b8f79",
        _noseyparker("newrelic"),
        prefix="px-api-",
    ),
    _S(
        "Pixie",
        "deploy key (px-dep-)",
        "px-dep-f43ae612-dc8a-4049-9553-4af1b0e17620",
        _noseyparker("newrelic"),
        prefix="px-dep-",
    ),
    _S(
        "Okta",
        "API token (SSWS)",
        "004EWTpRQT_HJtG_nL-agxacgzYHjxPcF99kJsFzWg",
        _noseyparker("okta"),
        prefix="00",
    ),
    _S(
        "Particle",
        "access token",
        "38bb7b318cc6898c80317decb34525844bc9db55",
        _noseyparker("particle.io"),
    ),
    _S(
        "Postman",
        "API key (PMAK-)",
        "PMAK-629c73facbc064567cbf6970-f56e8b4cd0bb14d00962f17afc158dc2a2",
        _noseyparker("postman"),
        prefix="PMAK-",
    ),
    _S(
        "Postmark",
        "server API token (UUID)",
        "c2321bd2-5a8f-46f2-b8fb-dbc706bd6923",
        _noseyparker("postmark"),
    ),
    _S(
        "Salesforce",
        "OAuth access token (org!token)",
        "00DE0X0A0M0PeLE!CJoAQOx1GCLf1UIt4UU9y0VOPLUZAYN6I8DsdGEDyHh5cO02egObcAhIDHYiGCfi94c53oFbr4HB.xZfuYRGhvNuxobAAXRe",
        _noseyparker("salesforce"),
        parts=(
            "CJoAQOx1GCLf1UIt4UU9y0VOPLUZAYN6I8DsdGEDyHh5cO02egObcAhIDHYiGCfi94c53oFbr4HB.xZfuYRGhvNuxobAAXRe",
        ),
    ),
    _S(
        "Sauce Labs",
        "access key (UUID)",
        "2397f603-c2c4-4897-a8ca-587ace5dc8dd",
        _noseyparker("sauce"),
    ),
    _S(
        "Segment",
        "public API token (sgp_)",
        "sgp_b8eaD5d9Ae59a15a407bb7C88350bc85dc959EBE8277883d50Bc84dc960eE826",
        _noseyparker("segment"),
        prefix="sgp_",
    ),
    _S(
        "Shopify",
        "app secret (shpss_)",
        "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",
        _noseyparker("shopify"),
        prefix="shpss_",
    ),
    _S(
        "Shopify",
        "public app access token (shpat_)",
        "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",
        _noseyparker("shopify"),
        prefix="shpat_",
    ),
    _S(
        "Shopify",
        "custom app access token (shpca_)",
        "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",
        _noseyparker("shopify"),
        prefix="shpca_",
    ),
    _S(
        "Shopify",
        "legacy private app password (shppa_)",
        "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",
        _noseyparker("shopify"),
        prefix="shppa_",
    ),
    _S(
        "SonarQube",
        "user token (40 hex)",
        "5524bf449ca45fcace54698371466398321f3a82",
        _noseyparker("sonarqube"),
    ),
    _S(
        "Sourcegraph",
        "access token (sgp_)",
        "sgp_fd1b4edb60bf82b8_a70aabf5f685734b19792789feeb73c6393cd02e",
        _noseyparker("sourcegraph"),
        prefix="sgp_",
    ),
    _S(
        "Square",
        "access token (sq0atp-)",
        "sq0atp-qUlZzae8wVMc5P5NZdf5DA",
        _noseyparker("square"),
        prefix="sq0atp-",
    ),
    _S(
        "Square",
        "OAuth secret (sq0csp-)",
        "sq0csp-VQgEphNJFVxfoEtJ1M_2KaCesfzP2_ugNWnlMPwZaZk",
        _noseyparker("square"),
        prefix="sq0csp-",
    ),
    _S(
        "StackHawk",
        "API key (hawk.)",
        "hawk.nHAOHdJjXoNyzAcTDC5M.R2gqQh2aCesrh0yCGB7q",
        _noseyparker("stackhawk"),
        prefix="hawk.",
    ),
    _S(
        "Tavily",
        "API key (tvly-)",
        "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",
        _noseyparker("tavily"),
        prefix="tvly-",
    ),
    _S(
        "Tavily",
        "API key (tvly-)",
        "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",
        _noseyparker("tavily"),
        prefix="tvly-",
    ),
    _S(
        "TeamCity",
        "REST API token (TCV2)",
        "eyJ0eXAiOiAiVENWMiJ9.RkNWLXdXS3M1RVBfencxM4A0WmJzdVlCQzFj.OGY1OWRkNGMtYTUxYS04ZDYwLWFiZGYtZWE5MWFhZWJiODhh",
        _noseyparker("teamcity"),
        prefix="eyJ0eXAiOiAiVENWMiJ9.",
    ),
    _S(
        "Telegram",
        "bot token",
        "4839574813:AAE4A6Rz0CSnIGzeu897OjQnjzsMEG2_uso",
        _noseyparker("telegram"),
        prefix="4839574813:AA",
    ),
    _S("ThingsBoard", "device access token", "354u1g321kcqc1oad3w7", _noseyparker("thingsboard")),
    _S(
        "ThingsBoard",
        "provision device secret",
        "xbzsovaw9ix4qfhi14an",
        _noseyparker("thingsboard"),
    ),
    _S(
        "TrueNAS",
        "API key",
        "8-Lp22ov7halMBLUpG97Wg4y7fibQi3CW19VJiZcCu746zgCs0mdDdTCoOcpgEucgu",
        _noseyparker("truenas"),
        prefix="8-",
    ),
    _S(
        "Twitch",
        "stream key (live_)",
        "live_126031192_tiX3sbwIzL9VmkecdxioBMA1LJ9S4m",
        _noseyparker("twitch"),
        prefix="live_126031192_",
    ),
    _S(
        "Twitter",
        "API secret (consumer secret)",
        "ngHaeaRPKA5BDQNXace3LWA1PvTA1kBGDaAJmc517E",
        _noseyparker("twitter"),
    ),
    _S(
        "WireGuard",
        "private key",
        "AsaFot43bfs1fEWjvtty+rGcjh3rP1H6sug1l3u19ix=",
        _noseyparker("wireguard"),
    ),
    _S(
        "WireGuard",
        "preshared key",
        "uRsfsZ2Ts1rach4Zv3hhwcx6wa5fuIo2u3w7sa+7j81=",
        _noseyparker("wireguard"),
    ),
    _S(
        "Weights & Biases",
        "API key (40 hex, netrc)",
        "7cc938e45e63e9014f88f811be240ba0395c02dd",
        _noseyparker("netrc"),
    ),
    _S(
        "PEM private key",
        "RSA private key block (OpenSSH body)",
        "-----BEGIN RSA PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAlwAAAAdzc2gtcn\nNhAAAAAwEAAQAAAIEAtDSHFO5tfN+jYMJuiNvBaplkSI3eFqKMLOvXyVu+dmSEic6xyKWQ\nqjQiFpXogArvAq2tBxWOq7F+a6rNhDKdICD2amRwDHqKD1bzXVSZ5c1XnpCFsBiQaEyX2i\nqyjScnntFHIpTCVHNxILDxsStocj64YS0C7hfCGVhft/Ts/O0AAAIQJOKnUyTip1MAAAAH\nc3NoLXJzYQAAAIEAtDSHFO5tfN+jYMJuiNvBaplkSI3eFqKMLOvXyVu+dmSEic6xyKWQqj\nQiFpXogArvAq2tBxWOq7F+a6rNhDKdICD2amRwDHqKD1bzXVSZ5c1XnpCFsBiQaEyX2iqy\njScnntFHIpTCVHNxILDxsStocj6Cf99C7hfCGVhft/Ts/O0AAAADAQABAAAAgBcaTN8gGi\nVSPo3fH3CoS8mw1KyAk6JvQG1Z5xZHjsl65YsNVrmUkFFh0aT3nxEbVb0QKwineN0GKmD/\nSs3R91a573gzli7TJPFCHhhBbE7FRC4KQMTc1/UANwFYQVcfZ4n9IVHr3jiWToSY3XbC66\nZcd0sg+d+YRjIxUktuNFHBAAAAQQCOOKbSUJAWzcTDbxImwDCAfBMlEeMAnJrwobL/zxbT\nGhKdnqnomoreFdYL8vOcOlwZG0hUKIA6AM1GsMzp6aCwAAAAQQDmAABpOQnkDy8v8kTDhP\ndW3lAqRGOU4WRWj7WystQv/VjuJpceekhOyhNJBuNHDKZ3IT1agAZHIhhL+webE2S1AAAA\nQQDIk4H1agCohlHUg50PcyKzE/zZ85Gw0ErTmgqIIGd4B1AqUtjwVe1qFoqHuZPtq2cbVF\n1HTHh6GX//J6rKWVJZAAAAGWJsYXJzZW5AYnJhZGZvcmRzLW1icC5sYW4B\n-----END RSA PRIVATE KEY-----",
        _noseyparker("pem"),
        parts=(
            "qyjScnntFHIpTCVHNxILDxsStocj64YS0C7hfCGVhft/Ts/O0AAAIQJOKnUyTip1MAAAAH",
            "c3NoLXJzYQAAAIEAtDSHFO5tfN+jYMJuiNvBaplkSI3eFqKMLOvXyVu+dmSEic6xyKWQqj",
            "QiFpXogArvAq2tBxWOq7F+a6rNhDKdICD2amRwDHqKD1bzXVSZ5c1XnpCFsBiQaEyX2iqy",
            "jScnntFHIpTCVHNxILDxsStocj6Cf99C7hfCGVhft/Ts/O0AAAADAQABAAAAgBcaTN8gGi",
            "VSPo3fH3CoS8mw1KyAk6JvQG1Z5xZHjsl65YsNVrmUkFFh0aT3nxEbVb0QKwineN0GKmD/",
            "Ss3R91a573gzli7TJPFCHhhBbE7FRC4KQMTc1/UANwFYQVcfZ4n9IVHr3jiWToSY3XbC66",
            "Zcd0sg+d+YRjIxUktuNFHBAAAAQQCOOKbSUJAWzcTDbxImwDCAfBMlEeMAnJrwobL/zxbT",
            "GhKdnqnomoreFdYL8vOcOlwZG0hUKIA6AM1GsMzp6aCwAAAAQQDmAABpOQnkDy8v8kTDhP",
            "dW3lAqRGOU4WRWj7WystQv/VjuJpceekhOyhNJBuNHDKZ3IT1agAZHIhhL+webE2S1AAAA",
            "QQDIk4H1agCohlHUg50PcyKzE/zZ85Gw0ErTmgqIIGd4B1AqUtjwVe1qFoqHuZPtq2cbVF",
            "1HTHh6GX//J6rKWVJZAAAAGWJsYXJzZW5AYnJhZGZvcmRzLW1icC5sYW4B",
        ),
    ),
    _S("NASA", "API key", "fWfSMcDzyHfMuH8BW6jiIUBYaj0hKRyKBRTBqgEQ", _noseyparker("nasa")),
    _S(
        "Cloudflare",
        "API token (40)",
        "y3u7gjcxzpboe2hs50hvuewsx10koco3z327z_1i",
        _kingfisher("cloudflare"),
    ),
    _S(
        "Cloudflare",
        "origin CA key (v1.0-)",
        "v1.0-e26de050e02ddeaeef6de8d5ee267df5e78f68666ddd0ee76f22d26a0d20756f-eda77de60e8e76077e162727656787de2005d25e2f6e502e2d067657ed65722eade065275001a0f6f6e521e5e1fd76a6e8d7e2d6da8a2ee01e66e061e22570e2-07f2ede0aed78e82e8d2e620aaef8656d81e762266d7d226a205de7e18e2256a",
        _kingfisher("cloudflare"),
        prefix="v1.0-",
    ),
    _S(
        "CircleCI",
        "personal API token (CCIPAT_)",
        "CCIPAT_FERZRjTN451xnDCy1y9gWn_79fb6ca4d0e5f833612eee17de397a9dca0a9e9f",
        _kingfisher("circleci"),
        prefix="CCIPAT_",
    ),
    _S(
        "CircleCI",
        "project API token (CCIPRJ_)",
        "CCIPRJ_GHFzqc7fRZ2GviZQ7hbdeb_9f54ac82eef4bb69a8fece88199a7414f32d8b36",
        _kingfisher("circleci"),
        prefix="CCIPRJ_",
    ),
    _S(
        "CircleCI",
        "project API token (40 hex)",
        "Ca61263Bf9A4DcEECd00EdAAacb4eaEe74e8682f",
        _kingfisher("circleci"),
    ),
    _S(
        "Buildkite",
        "API access token (bkua_)",
        "bkua_3c7019c2e4b6e76fe2e8bdde7c154e3c1a211743",
        _kingfisher("buildkite"),
        prefix="bkua_",
    ),
    _S("Cohere", "API key", "5fNtU1ytdUcOX3jfvgjlr61EPxBqxOojOklDD6BG", _kingfisher("cohere")),
    _S("Box", "developer token", "DkXZmsjUKizvL2z0WiaLvMBeQ756XCGG", _kingfisher("box")),
    _S(
        "Braintree",
        "tokenization key",
        "sandbox_f252zhq7_hh4cpc39zq4rgjcg",
        _kingfisher("braintree"),
        prefix="sandbox_",
    ),
    _S(
        "ClickUp",
        "personal API token (pk_)",
        "pk_204249739_138RCYNYCVO0GRJ8INODHFRMXN0QSV75",
        _kingfisher("clickup"),
        prefix="pk_204249739_",
    ),
    _S("Coinbase", "access token", "32iAkQCcHHYxXGx20VogBZoj27PC1ouI", _kingfisher("coinbase")),
    _S(
        "Coinbase",
        "CDP API key private key (Ed25519)",
        "ygWq07YCO8UkmC9BE0PDBJNGhiu80yslsMUF9WnjPaIF5DBxb/wljjRuHhfuR/AMPC+kdgtL+mWKq/HOnq/YcQ==",
        _kingfisher("coinbase"),
    ),
    _S(
        "CockroachDB Cloud",
        "service account API key (CCDB1_)",
        "CCDB1_z4m5MjGmTx3O4sK2IxvHIh_zv4Cbt3lNujc7f9TO9cZ1qGU7tyJhxrw01I0rWnZ",
        _kingfisher("cockroachlabs"),
        prefix="CCDB1_",
    ),
    _S(
        "Linear",
        "API key (lin_api_)",
        "lin_api_2thngjik222gkiihzivh242LU7zvkdvdgB14B41S",
        _kingfisher("linear"),
        prefix="lin_api_",
    ),
    _S(
        "Notion",
        "integration token (legacy secret_)",
        "secret_efky1RtWsI0CB1Sn4TRRBLpemW1V11XwPRX3lzUKc5Q",
        _kingfisher("notion"),
        prefix="secret_",
    ),
    _S(
        "Notion",
        "integration token (ntn_)",
        "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",
        _kingfisher("notion"),
        prefix="ntn_",
    ),
    _S(
        "Vercel",
        "personal access token (vcp_)",
        "vcp_35UYJwYZDigYATKhxJUAhPqRhit2Xe3dtiG60LsUTHeklEXDQ94Jafpu",
        _kingfisher("vercel"),
        prefix="vcp_",
    ),
    _S(
        "Vercel",
        "AI Gateway API key (vck_)",
        "vck_2YkmQj1uHqCVNoUx5a9uvRTe81gmAcln5hoRMPWFBU4tulufUf0OzP2K",
        _kingfisher("vercel"),
        prefix="vck_",
    ),
    _S("Vercel", "API token (legacy 24)", "zyMBA1qVEMAf4UNNZtCAbg6u", _kingfisher("vercel")),
    _S(
        "Supabase",
        "management token (sbp_)",
        "sbp_08414cedf15b7d3a53ce954db0b2ec90f4248ba0",
        _kingfisher("supabase"),
        prefix="sbp_",
    ),
    _S(
        "Supabase",
        "project secret key (sb_secret_)",
        "sb_secret_9uM4GhB0STF5R4K3HxQtlg_bzWW6DRj",
        _kingfisher("supabase"),
        prefix="sb_secret_",
    ),
    _S(
        "Pulumi",
        "access token (pul-)",
        "pul-18e13e3eebebeb94eac318d421ca8ecc5ca78d5f",
        _kingfisher("pulumi"),
        prefix="pul-",
    ),
    _S(
        "Apify",
        "API token (apify_api_)",
        "apify_api_NcjXcxEz2XL1irjppyWSHvjghalQOd1LXOHv",
        _kingfisher("apify"),
        prefix="apify_api_",
    ),
    _S(
        "Apify",
        "API token (apify_api_)",
        "apify_api_9uyewBxQUF1EXWdKVc4lNaTSM461Ls4oQouz",
        _kingfisher("apify"),
        prefix="apify_api_",
    ),
    _S(
        "AssemblyAI",
        "API key (32 hex)",
        "fa0ed91518b345468f9df7570f31f18a",
        _kingfisher("assemblyai"),
    ),
    _S("Clarifai", "API key (32 hex)", "29ee853d47364107b9edf5e5ad4374c2", _kingfisher("clarifai")),
    _S(
        "MySQL",
        "connection URL password",
        "mysql://dbuser:compl3xPwd@mysql.server.com:3306/database",
        _secretlint(
            "secretlint-rule-database-connection-string/test/snapshots/ng.secret/input.txt"
        ),
        parts=("compl3xPwd",),
    ),
    _S(
        "MySQL",
        "JDBC URL password",
        "jdbc:mysql://admin:str0ngP4ss@db.company.com:3306/app_db",
        _secretlint(
            "secretlint-rule-database-connection-string/test/snapshots/ng.secret/input.txt"
        ),
        parts=("str0ngP4ss",),
    ),
    _S(
        "PostgreSQL",
        "connection URL password",
        "postgresql://pguser:secur3Pass@postgres.example.com:5432/production_db",
        _secretlint(
            "secretlint-rule-database-connection-string/test/snapshots/ng.secret/input.txt"
        ),
        parts=("secur3Pass",),
    ),
    _S(
        "MongoDB",
        "connection URL password",
        "mongodb://realuser:s3cr3tP4ss@db1.example.net:27017/production",
        _secretlint(
            "secretlint-rule-database-connection-string/test/snapshots/ng.secret/input.txt"
        ),
        parts=("s3cr3tP4ss",),
    ),
    _S(
        "HTTP basic auth",
        "credentials in https URL",
        "https://apiuser:r3alP4ssw0rd@api.production.com/v2",
        _secretlint(
            "secretlint-rule-preset-canary/test/snapshots/secretlint-rule-basicauth/ng.real-credentials/input.txt"
        ),
        parts=("r3alP4ssw0rd",),
    ),
    _S(
        "FTPS",
        "credentials in ftps URL",
        "ftps://deployment:s3cur3K3y2024@files.company.com/uploads",
        _secretlint(
            "secretlint-rule-preset-canary/test/snapshots/secretlint-rule-basicauth/ng.real-credentials/input.txt"
        ),
        parts=("s3cur3K3y2024",),
    ),
    _S(
        "ElevenLabs",
        "API key (sk_ 48 hex)",
        "sk_2a30e5a0d39d5f2c5f6a9d2f95cd016049a6323985479bfd",
        _kingfisher("elevenlabs"),
        prefix="sk_",
    ),
    _S(
        "ElevenLabs",
        "API key (sk_ 48 hex)",
        "sk_da9c0613fdeecfab10b302d6f39a3e371f774feb9eafed56",
        _kingfisher("elevenlabs"),
        prefix="sk_",
    ),
    _S(
        "ngrok",
        "authtoken",
        "2WIRSIHOQyHSVklZnoz2k6bTYdH_0E7z0Ta9QEyR1fZvQ0KU9",
        _trufflehog("ngrok"),
    ),
    _S(
        "ngrok",
        "authtoken",
        "3GuTI5JXfaLtYILkc6N0xopP2V0_89zkDfefiuMv6Hk1z6oYi",
        _trufflehog("ngrok"),
    ),
    _S(
        "LangSmith",
        "personal token (lsv2_pt_)",
        "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",
        _trufflehog("langsmith"),
        prefix="lsv2_pt_",
    ),
    _S(
        "LangSmith",
        "service key (lsv2_sk_)",
        "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",
        _trufflehog("langsmith"),
        prefix="lsv2_sk_",
    ),
    _S(
        "OpenRouter",
        "API key (sk-or-v1-)",
        "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",
        _trufflehog("openrouter"),
        prefix="sk-or-v1-",
    ),
    _S(
        "xAI",
        "API key (xai-)",
        "xai-W5zbfUkzlXedo7qD42AbBLlRSsyJrOW5zbfUkzlXedo7qD42AbBLlRSsyJrOW5zbfUkzlXedo7qD42Ab",
        _trufflehog("xai"),
        prefix="xai-",
    ),
    _S(
        "Railway",
        "API token (UUID)",
        "a52a85d1-33c4-4808-8fa0-c375f3c6013a",
        _trufflehog("railwayapp"),
    ),
    _S(
        "IBM Cloud",
        "IAM API key",
        "ukYEEX38RiGgq1BPf2m-nIeTM_lEGizKKn49RRoC_6fn",
        _detect_secrets("ibm_cloud_iam_test.py"),
    ),
    _S(
        "Azure DevOps",
        "personal access token (52 base32)",
        "qkfon5cdjdekin4qnkgfr2nf367h6yjnnqm5upwqepd3rekl4l5a",
        _trufflehog("azuredevopspersonalaccesstoken"),
    ),
    _S(
        "Docker Hub",
        "personal access token (dckr_pat_)",
        "dckr_pat_dlndn9l2JLhWvbdyP3blEZw_j7d",
        _trufflehog("dockerhub"),
        prefix="dckr_pat_",
    ),
    _S(
        "Docker Hub",
        "organization access token (dckr_oat_)",
        "dckr_oat_7bA9zRt5-JqX3vP0l_MnY8sK2wE-dF6h",
        _trufflehog("dockerhub"),
        prefix="dckr_oat_",
    ),
    _S(
        "Microsoft Entra ID",
        "client secret (Q~)",
        "UVq8Q~7VPj9hIVYQ6QCtmCfUyNOTLoaIsXe8IdwS",
        _trufflehog("azure_entra/serviceprincipal/v1"),
    ),
    _S(
        "Microsoft Entra ID",
        "client secret (Q~)",
        "nfu7Q~XRIzdfTQS4QN_ABnmQKg4dPA10~5lbocIl",
        _trufflehog("azure_entra/serviceprincipal/v2"),
    ),
    _S(
        "Discord",
        "webhook URL",
        "https://discord.com/api/webhooks/1369248176954937405/Q7bFGgbEMoZ-tRHuA4QHk3xTNC7nrrSmTm8IPjFvkp-ChRj4gi2C9lzvJiUcVlnE48X2",
        _trufflehog("discordwebhook"),
        parts=("Q7bFGgbEMoZ-tRHuA4QHk3xTNC7nrrSmTm8IPjFvkp-ChRj4gi2C9lzvJiUcVlnE48X2",),
    ),
    _S(
        "PayPal",
        "OAuth client secret",
        "PDMDWZ3BAwfXHoU.P.pJVUPIYlkJ2jVP-ns2icvSlWeb-_0Qa5",
        _trufflehog("paypaloauth"),
    ),
    _S(
        "NVIDIA",
        "API key (nvapi-)",
        "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",
        _trufflehog("nvapi"),
        prefix="nvapi-",
    ),
    _S(
        "MaxMind",
        "license key (_mmk)",
        "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",
        _gitleaks("maxmind"),
    ),
    _S(
        "ClickHouse Cloud",
        "API secret key (4b1d)",
        "4b1dbRdW3rOcB7xLthrM4BTBGK1qPLkHigpN1bXD6z",
        _gitleaks("clickhouse"),
        prefix="4b1d",
    ),
    _S(
        "Azure Data Factory",
        "self-hosted integration runtime key",
        "IR@40040abc-b2f2-8tyg-ab39-90a490zzzaae@adf-myapp-001@we@uUY/w9WdKTdAWWPDMrEEWdAEZIgeXlrO51GtVUR1/BE=",
        _gitleaks("datafactory"),
        parts=("uUY/w9WdKTdAWWPDMrEEWdAEZIgeXlrO51GtVUR1/BE=",),
    ),
    _S(
        "pyx",
        "user API token (sk-pyx-)",
        "sk-pyx-h7WWBQWdJIFeu4S8H3ys8IGvA5o7KuBFRPCmUquX7xnsXOeqD5Q7BREJR1A69dY2",
        _noseyparker("pyx"),
        prefix="sk-pyx-",
    ),
    _S(
        "pyx",
        "user API token v2 (sk-pyx-2)",
        "sk-pyx-2gvGtWLgUbYcBKgYtjSXNKZyCiUoiBvcXRyxwQxrBEDGWl",
        _noseyparker("pyx"),
        prefix="sk-pyx-2",
    ),
    _S(
        "Airtable",
        "personal access token",
        "patXfsZBLOgxbJqSi.fd6210cfb2e0b2049bd8e7fa0e69f26a3a704412af6fcbd93a097c42507fc893",
        _kingfisher("airtable"),
        prefix="pat",
    ),
    _S(
        "Azure",
        "storage account key",
        "oqb4TdY9T0hphvktd5fJnMiHuQqzVy1jd5sSuOpAbGkaoqTlrHl0BOJN2okcasinVLOJzfDbZo1L+ASt68RAhA==",
        _kingfisher("azurestorage"),
    ),
    _S(
        "Azure",
        "storage account key",
        "B/1EVX2Ui47X09tqU3GI/j+Nko9r5COPm0Hea9tfzitF9MQX9lZZiNO3tYQckWnt+rtlGIWS+sCx+AStkq8ZLg==",
        _kingfisher("azurestorage"),
    ),
)

CONTEXT_LINES: Final[tuple[ContextLine, ...]] = (
    _C(
        "OpenAI",
        "openai.api-key: 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",
        "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",
        _trufflehog("openai"),
        prefix="sk-",
    ),
    _C(
        "Bulbul",
        'url := "https://api.bulbul.com/v1/users?key=3kx19qpx748ldb75lsjicbs6ipit6ssm"',
        "3kx19qpx748ldb75lsjicbs6ipit6ssm",
        _trufflehog("bulbul"),
    ),
    _C(
        "1Password",
        "PYTEST_SVC_ACCT_TOKEN=ops_eyJzaWduSW5BZGRyZXNzIjoiemFjaC1hbmQtbGVhbm5lLjFwYXNzd29yZC5jb20iLCJ1c2VyQXV0aCI6eyJtZXRob2QiOiJTUlBnLTQwOTYiLCJhbGciOiJQQkVLMmctSFMyNTYiLCJpdGVyYXRpb25zIjo2NTAwMDAsInNhbHQiOiJlYUZRQmNVemJyTHhnM2d4bHFQLVVBIn0sImVtYWlsIjoiMm9iNGRpeDdiNTdrYUAxcGFzc3dvcmRzZXJ2aWNlYWNjb3VudHMuY29tIiwic3JwWCI6ImVmZDY4YjNhZTkwMmRjZjRiMzEzYjE5MjYwZmY0OGUzMjU2ZDlhOGNkM2JmMmY3YzI2YzU1ZWJkNjZlZGU4NWEiLCJtdWsiOnsiYWxnIjoiQTI1NkdDTSIsImV4dCI6dHJ1ZSwiayI6IlMwaGE0SDhqbEhRblJCWmxvYnBmR1BneERmbS1pRGNkZWY0bFdYU0VSbmMiLCJrZXlfb3BzIjpbImRlY3J5cHQiLCJlbmNyeXB0Il0sImt0eSI6Im9jdCIsImtpZCI6Im1wIn0sInNlY3JldEtleSI6IkEzLUdHOUVRNi1LUzQ0QVctQU5QVkYtUkdQTDktQlNKUTMtR1NHR0giLCJ0aHJvdHRsZVNlY3JldCI6eyJzZWVkIjoiN2I0OTMxMmJiOTlkZTFiNjU5ODZkYzIzOWU4YWNmZWMxMTU0M2E2OGQxYmYwMjZmZTgzMjg3NWYxNmJlOWY2NiIsInV1aWQiOiJDV1RHQ0hMNlNWRkdSTlg0SzNENUJVSDZDSSJ9LCJkZXZpY2VVdWlkIjoiMnFld3JpaGtqbmt1Zmh6ZGdmZ2hnNmM1cGUifQ",
        "ops_eyJzaWduSW5BZGRyZXNzIjoiemFjaC1hbmQtbGVhbm5lLjFwYXNzd29yZC5jb20iLCJ1c2VyQXV0aCI6eyJtZXRob2QiOiJTUlBnLTQwOTYiLCJhbGciOiJQQkVLMmctSFMyNTYiLCJpdGVyYXRpb25zIjo2NTAwMDAsInNhbHQiOiJlYUZRQmNVemJyTHhnM2d4bHFQLVVBIn0sImVtYWlsIjoiMm9iNGRpeDdiNTdrYUAxcGFzc3dvcmRzZXJ2aWNlYWNjb3VudHMuY29tIiwic3JwWCI6ImVmZDY4YjNhZTkwMmRjZjRiMzEzYjE5MjYwZmY0OGUzMjU2ZDlhOGNkM2JmMmY3YzI2YzU1ZWJkNjZlZGU4NWEiLCJtdWsiOnsiYWxnIjoiQTI1NkdDTSIsImV4dCI6dHJ1ZSwiayI6IlMwaGE0SDhqbEhRblJCWmxvYnBmR1BneERmbS1pRGNkZWY0bFdYU0VSbmMiLCJrZXlfb3BzIjpbImRlY3J5cHQiLCJlbmNyeXB0Il0sImt0eSI6Im9jdCIsImtpZCI6Im1wIn0sInNlY3JldEtleSI6IkEzLUdHOUVRNi1LUzQ0QVctQU5QVkYtUkdQTDktQlNKUTMtR1NHR0giLCJ0aHJvdHRsZVNlY3JldCI6eyJzZWVkIjoiN2I0OTMxMmJiOTlkZTFiNjU5ODZkYzIzOWU4YWNmZWMxMTU0M2E2OGQxYmYwMjZmZTgzMjg3NWYxNmJlOWY2NiIsInV1aWQiOiJDV1RHQ0hMNlNWRkdSTlg0SzNENUJVSDZDSSJ9LCJkZXZpY2VVdWlkIjoiMnFld3JpaGtqbmt1Zmh6ZGdmZ2hnNmM1cGUifQ",
        _gitleaks("1password"),
        prefix="ops_",
    ),
    _C(
        "Twilio",
        "twilio token - 'daf7b3d34b9787f1212316eea62ba186'",
        "daf7b3d34b9787f1212316eea62ba186",
        _trufflehog("twilio"),
    ),
    _C(
        "GitHub",
        '"github_secret": "ghs_RWGUZ6kS8_Ut7PbtR72k2miJwwYtxkpe8mOpT8feAWYZcwz43PxBVGCNATnycaQV9VUlPJe1uST5Xen7d3uZ5lilVlEVvT9AbxnhURdT3OzPtCvXydIrvE4LrDO"',
        "ghs_RWGUZ6kS8_Ut7PbtR72k2miJwwYtxkpe8mOpT8feAWYZcwz43PxBVGCNATnycaQV9VUlPJe1uST5Xen7d3uZ5lilVlEVvT9AbxnhURdT3OzPtCvXydIrvE4LrDO",
        _trufflehog("github"),
        prefix="ghs_",
    ),
    _C(
        "GitLab",
        '"gitlab_secret": "oXCt4JT2wf1_WlZl2OVG"',
        "oXCt4JT2wf1_WlZl2OVG",
        _trufflehog("gitlab"),
    ),
    _C(
        "Slack",
        "slack token - 'xoxb-65677559833-9613778673399u'",
        "xoxb-65677559833-9613778673399u",
        _trufflehog("slack"),
        prefix="xoxb-",
    ),
    _C(
        "Datadog",
        'dd_api_secret: "FKNwdbyfYTmGUm5DK3yHEuK-BBQf0fVG"',
        "FKNwdbyfYTmGUm5DK3yHEuK-BBQf0fVG",
        _trufflehog("datadogtoken"),
    ),
    _C(
        "Wrike",
        "wrike token = 'eyHrUMIkHqmEhqDBTWcuk5kL.tRiP-uQD9ZZSHfYYzdqRYHgkfiPEplgL1INSyA_c9VgbpVIzvFhVx0vzWzhxv9CdyLTr6FCvmDDrxM5BU0gQdyDGgXosinkyl4Z_7OIbHY08sImeavc-fxQ1OzVo6mqb-bDmxwuVWIE5WXb2bcRRnKotFAa4.pCkZAYDxZd66Yt6fK7HM33G6Rr.ALuDQg2mFdemMy1_WIOh9-0l6b6iP2anAp0CbxpcXlrecGHaMgrgzla41NrfpzWjAKlOwq.hbIKdPLLK0bOvg2m6ETkKdGhfRRHkYAqyYO.EhONITs48Eb21kDH0gc'",
        "eyHrUMIkHqmEhqDBTWcuk5kL.tRiP-uQD9ZZSHfYYzdqRYHgkfiPEplgL1INSyA_c9VgbpVIzvFhVx0vzWzhxv9CdyLTr6FCvmDDrxM5BU0gQdyDGgXosinkyl4Z_7OIbHY08sImeavc-fxQ1OzVo6mqb-bDmxwuVWIE5WXb2bcRRnKotFAa4.pCkZAYDxZd66Yt6fK7HM33G6Rr.ALuDQg2mFdemMy1_WIOh9-0l6b6iP2anAp0CbxpcXlrecGHaMgrgzla41NrfpzWjAKlOwq.hbIKdPLLK0bOvg2m6ETkKdGhfRRHkYAqyYO.EhONITs48Eb21kDH0gc",
        _trufflehog("wrike"),
    ),
    _C(
        "Mailgun",
        "      - Basic YXBpOmFjZWM0YzA1YjFmMmZjZWJjZmE4ZGE2NDVkYTEwMjMxLTQxM2UzNzNjLTBhYWQzYzM3",
        "YXBpOmFjZWM0YzA1YjFmMmZjZWJjZmE4ZGE2NDVkYTEwMjMxLTQxM2UzNzNjLTBhYWQzYzM3",
        _trufflehog("mailgun"),
        prefix="YXBpOm",
    ),
    _C(
        "Shopify",
        "shopify token - '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'",
        "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",
        _trufflehog("shopify"),
        prefix="shpat_",
    ),
    _C(
        "Square",
        "square token = 'EAAAYmTgYL4kQ-65xyZ4zANgipYVJQFTrb=roK23I=iFebzL4rjYbUg10N6o1l--'",
        "EAAAYmTgYL4kQ-65xyZ4zANgipYVJQFTrb=roK23I=iFebzL4rjYbUg10N6o1l--",
        _trufflehog("square"),
        prefix="EAAA",
    ),
    _C(
        "Sentry",
        "sentry_token := sntrys_eyJFAKEiOjE3NDIzNjM1NTIuNTAzMzA5LCJ1cmwiOiJodHRwczovL3NlbnRyeS5pbyIsInJlZ2lvbl91cmwiOiJodHRwczovL3VzLnNlbnRyeS5pbfakem9yZyI6InRydWZmbGUtc2VjdXJpdHktamQifQ==_+zqSnKjs87cicc3FAK08vmZs5cWx9C5EARKHFtW5lqI",
        "sntrys_eyJFAKEiOjE3NDIzNjM1NTIuNTAzMzA5LCJ1cmwiOiJodHRwczovL3NlbnRyeS5pbyIsInJlZ2lvbl91cmwiOiJodHRwczovL3VzLnNlbnRyeS5pbfakem9yZyI6InRydWZmbGUtc2VjdXJpdHktamQifQ==_+zqSnKjs87cicc3FAK08vmZs5cWx9C5EARKHFtW5lqI",
        _trufflehog("sentrytoken"),
        prefix="sntrys_",
    ),
    _C(
        "Airtable",
        "[DEBUG] Using Key=patfqpIZBPU6EAt5x.458546d9c77b21f8a98141f2a4039d5626010f19efc16c20d57c4f41d44c8c85",
        "patfqpIZBPU6EAt5x.458546d9c77b21f8a98141f2a4039d5626010f19efc16c20d57c4f41d44c8c85",
        _trufflehog("airtablepersonalaccesstoken"),
        prefix="pat",
    ),
    _C(
        "Heroku",
        '"secret1": "HRKU-AAlQ1aVoHDujJ9QsDHdHlHO0hbzhoERRSO45ZQusSYHg_____w4_hLrAym_u",',
        "HRKU-AAlQ1aVoHDujJ9QsDHdHlHO0hbzhoERRSO45ZQusSYHg_____w4_hLrAym_u",
        _trufflehog("heroku"),
        prefix="HRKU-",
    ),
    _C(
        "Okta",
        "okta token - '00JIBRGk12UbkjQaaw4L7VYy9EE8zAEEkIeqGNcSQm'",
        "00JIBRGk12UbkjQaaw4L7VYy9EE8zAEEkIeqGNcSQm",
        _trufflehog("okta"),
        prefix="00",
    ),
    _C(
        "Snyk",
        "set SNYK_API_TOKEN=885953dc-2469-443c-983d-5243d2d54116",
        "885953dc-2469-443c-983d-5243d2d54116",
        _trufflehog("snykkey"),
    ),
    _C(
        "Grafana",
        '"grafana_secret": "glc_eyJF057+C0x9J+QwzC5JXb5uQ/WSzn98X/iIrZXKaA3Hh+lum0XBRcu56qMlW7ZaxXrNt33XoI3CXz7IRPci="',
        "glc_eyJF057+C0x9J+QwzC5JXb5uQ/WSzn98X/iIrZXKaA3Hh+lum0XBRcu56qMlW7ZaxXrNt33XoI3CXz7IRPci=",
        _trufflehog("grafana"),
        prefix="glc_",
    ),
    _C(
        "Figma",
        '"figma_secret": "figr_EZe7plhYvN92IyiDCjkvTcbNVZsuRVpDcHOwNNP1"',
        "figr_EZe7plhYvN92IyiDCjkvTcbNVZsuRVpDcHOwNNP1",
        _trufflehog("figmapersonalaccesstoken"),
        prefix="figr_",
    ),
    _C(
        "Asana",
        "[DEBUG] Using new format asana Key=7/9823746598123746/8923746598123456:7f1a3c9be84d2a6c4e7d9c32bf1e7f88",
        "7f1a3c9be84d2a6c4e7d9c32bf1e7f88",
        _trufflehog("asanapersonalaccesstoken"),
    ),
    _C(
        "Discord",
        'discord_bot_token = "oHILWmk3qakMYbqAikD9R0nJ.Vhu0LY.FK1U_2L2Of8Bm5ESbD6Cy4VKu2K"',
        "oHILWmk3qakMYbqAikD9R0nJ.Vhu0LY.FK1U_2L2Of8Bm5ESbD6Cy4VKu2K",
        _trufflehog("discordbottoken"),
    ),
    _C(
        "Dropbox",
        "dropbox_access_token = 'sl.u.AFTdsdpAiWY_giz5n5am9X7M01K4MeXwxOxhJAJGilJ4bj4uFlUxrA4XV96JOnBXf92I_rjBbpmM6kNELLAfe1Mte1IHkYYIPOyqbciOJECMUoyFOBl9GxjJN9_FjTjjBIBQR_lPskThzIfI0IXSIKSLc7fH9hP-2jwbxYdyZTBOwPJ9y3cuClJbbR-A3rejwAL3on0RSTxoSYcDezHlW0SvR7TAwEcuqqIqpJA6_cxyhG-jfMAh4kr4AS_kghKHrzDR_WeyoC5Ju8ev4o6Y9I_rcj787hS_JuBGZcEZ9yI9mYb4l0jwU84tb3HF7aza4XqhSTEhgfBNrTvPJ-YNhrS59KZKG7vVkTOqpyQBiaGHXrA4SFUA_PhbLA9y9r8f1XRR-VLwYavzMb6TtZjSRh5TdPO1g70u7SEzoAz5uWwXX6y-L5HocLCprsbzGypmSYT0lO3N4r2aqsjCuzxsEODOXBex2qofkk5fOSuu5XewElxQxacYZYyB3xBKC_TJ-EWhm44xDsmE1u-Ymeo3CQVJZFbqD_csb5SaUpuRv1-Jn2lkiNirq9jyTZyfnJbruMpdsVzfDxh84ArR-prFtOKR04GV_R6izGdkXZM47WVKJn8TaCJlmfLwc68NW6VgiR_EVxBTQ5Mou0OLo61KTj3PqoObhrRIz5C4-GDbWY4AFW3Ht_RlEtuinyDFNu1i_0dxWW_DMt9u0iwNeRXD5YPBOAD9uia90G-ohlbwtzPSsvnFcebE_6tEIuTosoKtMd8F88ZVwViAPkaV_hVAohOWbAvgCAoS_kfWWqY4kLRojor2DRDLgR3JcuRsapgyqNuT7hbbxFMYPYCnb9GHz3teyolFL0bIfHPgHA_y7AEQknXJskl2farR_waPI3i3l2Xsn7Pm7sPplSrBbuiRj6ZFWGk3heZ05InkgfXoRDal018XWGlUMV6tf7GYbGXccRhqMbsRUZmDcJfffRPZI0Vxxohcl6LHF3ydGGEOb-wsdyAU1IgKt6t1Fq3PUljJg0c0sFIiztffjuOQY5igJC1ts6S5_W34v4u95ydRMnCj08MCviUQUYAXp4ykVoiHydJVOq2LkOcjcTxgPuLyghGLoBYYA9Yb4XpgWyfB0XhCbeDHuoQhaaHToHTBzvsm1cXwZFQDKb69Xdq3yIHyFI6GUyoEZXEok0clHbM1TCS9cacoM4Go2Pw9cWpUgTSq3q_7-9bClx9ky8m-74Vi_dzUhu9c_MIuETCy4SQEffYxvFNVAdbuCeGVYngOQ5DyXCJq1V-SB8v52eNG1KLIfHtn'",
        "sl.u.AFTdsdpAiWY_giz5n5am9X7M01K4MeXwxOxhJAJGilJ4bj4uFlUxrA4XV96JOnBXf92I_rjBbpmM6kNELLAfe1Mte1IHkYYIPOyqbciOJECMUoyFOBl9GxjJN9_FjTjjBIBQR_lPskThzIfI0IXSIKSLc7fH9hP-2jwbxYdyZTBOwPJ9y3cuClJbbR-A3rejwAL3on0RSTxoSYcDezHlW0SvR7TAwEcuqqIqpJA6_cxyhG-jfMAh4kr4AS_kghKHrzDR_WeyoC5Ju8ev4o6Y9I_rcj787hS_JuBGZcEZ9yI9mYb4l0jwU84tb3HF7aza4XqhSTEhgfBNrTvPJ-YNhrS59KZKG7vVkTOqpyQBiaGHXrA4SFUA_PhbLA9y9r8f1XRR-VLwYavzMb6TtZjSRh5TdPO1g70u7SEzoAz5uWwXX6y-L5HocLCprsbzGypmSYT0lO3N4r2aqsjCuzxsEODOXBex2qofkk5fOSuu5XewElxQxacYZYyB3xBKC_TJ-EWhm44xDsmE1u-Ymeo3CQVJZFbqD_csb5SaUpuRv1-Jn2lkiNirq9jyTZyfnJbruMpdsVzfDxh84ArR-prFtOKR04GV_R6izGdkXZM47WVKJn8TaCJlmfLwc68NW6VgiR_EVxBTQ5Mou0OLo61KTj3PqoObhrRIz5C4-GDbWY4AFW3Ht_RlEtuinyDFNu1i_0dxWW_DMt9u0iwNeRXD5YPBOAD9uia90G-ohlbwtzPSsvnFcebE_6tEIuTosoKtMd8F88ZVwViAPkaV_hVAohOWbAvgCAoS_kfWWqY4kLRojor2DRDLgR3JcuRsapgyqNuT7hbbxFMYPYCnb9GHz3teyolFL0bIfHPgHA_y7AEQknXJskl2farR_waPI3i3l2Xsn7Pm7sPplSrBbuiRj6ZFWGk3heZ05InkgfXoRDal018XWGlUMV6tf7GYbGXccRhqMbsRUZmDcJfffRPZI0Vxxohcl6LHF3ydGGEOb-wsdyAU1IgKt6t1Fq3PUljJg0c0sFIiztffjuOQY5igJC1ts6S5_W34v4u95ydRMnCj08MCviUQUYAXp4ykVoiHydJVOq2LkOcjcTxgPuLyghGLoBYYA9Yb4XpgWyfB0XhCbeDHuoQhaaHToHTBzvsm1cXwZFQDKb69Xdq3yIHyFI6GUyoEZXEok0clHbM1TCS9cacoM4Go2Pw9cWpUgTSq3q_7-9bClx9ky8m-74Vi_dzUhu9c_MIuETCy4SQEffYxvFNVAdbuCeGVYngOQ5DyXCJq1V-SB8v52eNG1KLIfHtn",
        _trufflehog("dropbox"),
        prefix="sl.",
    ),
    _C(
        "Alchemy",
        "[DEBUG] Using Key=alcht_2Cy8xCLyvrAf7lZKfhQhyCr4RAID9D",
        "alcht_2Cy8xCLyvrAf7lZKfhQhyCr4RAID9D",
        _trufflehog("alchemy"),
        prefix="alcht_",
    ),
    _C(
        "JFrog Artifactory",
        "[DEBUG] Using Key=AKCp5e2gMx8TtJNDtrsuPq7Jz24Rqjkjf1d1iiy1GuEjmdsY8ghxFGgehZcK3UGNgy5TxHWdE",
        "AKCp5e2gMx8TtJNDtrsuPq7Jz24Rqjkjf1d1iiy1GuEjmdsY8ghxFGgehZcK3UGNgy5TxHWdE",
        _trufflehog("artifactory"),
        prefix="AKCp",
    ),
    _C(
        "Algolia",
        "[DEBUG] Using Key=BsDaN7ZU7kFiUX5CpN8CUf3nkMaSeZYn",
        "BsDaN7ZU7kFiUX5CpN8CUf3nkMaSeZYn",
        _trufflehog("algoliaadminkey"),
    ),
    _C(
        "Aha!",
        "[DEBUG] Using Key=b2fb683b321da0f90aa23decc45c74a8578f2eb4390af155d3277e53362a8b45",
        "b2fb683b321da0f90aa23decc45c74a8578f2eb4390af155d3277e53362a8b45",
        _trufflehog("aha"),
    ),
    _C(
        "CAST AI",
        "[DEBUG] Using castai Key=castai_v1_2cb5a70064f60ba2f5507bcbb02938a5a0483bf2a9742d08c5c274c827c9f6ea_aaabbccc",
        "castai_v1_2cb5a70064f60ba2f5507bcbb02938a5a0483bf2a9742d08c5c274c827c9f6ea_aaabbccc",
        _trufflehog("castai"),
        prefix="castai_v1_",
    ),
    _C(
        "AllSports",
        "[DEBUG] Using Key=cq73u5azj3p3shfvzz3lw1typfqu6uduq7bophtq4veta7cnvd4s5htkb8lgk4vr",
        "cq73u5azj3p3shfvzz3lw1typfqu6uduq7bophtq4veta7cnvd4s5htkb8lgk4vr",
        _trufflehog("allsports"),
    ),
    _C(
        "Alibaba Cloud",
        "[DEBUG] Using Key=CwgR2UwgaWd7hgUdQkwFnK9vvEeO4R",
        "CwgR2UwgaWd7hgUdQkwFnK9vvEeO4R",
        _trufflehog("alibaba"),
    ),
    _C(
        "Ambee",
        "[DEBUG] Using Key=eccb41cc2d4dab96b748ed040e9b308161279820447ef4553ba6e6d20ecb9962",
        "eccb41cc2d4dab96b748ed040e9b308161279820447ef4553ba6e6d20ecb9962",
        _trufflehog("ambee"),
    ),
    _C(
        "Amadeus",
        "[DEBUG] Using amadeus Secret=9wqrSr2qveaqgQns",
        "9wqrSr2qveaqgQns",
        _trufflehog("amadeus"),
    ),
    _C(
        "AirVisual",
        "<secret>{airvisual AQAAABAAA rtcbsxiee3d5au8ik14g-8iqrsu8thl1pku8}</secret>",
        "rtcbsxiee3d5au8ik14g-8iqrsu8thl1pku8",
        _trufflehog("airvisual"),
    ),
    _C(
        "Cloudinary",
        "[DEBUG] Using url=cloudinary://715268876851676:V-fwwRhcp3VrRPAqaFkLq3rpa60@fakwfpoaj",
        "V-fwwRhcp3VrRPAqaFkLq3rpa60",
        _trufflehog("cloudinary"),
    ),
    _C(
        "AI21 Studio",
        "ai21_key: befa7ec1-1129-4713-8e92-bb53d1a4f632",
        "befa7ec1-1129-4713-8e92-bb53d1a4f632",
        _kingfisher("ai21"),
    ),
    _C(
        "Airbyte",
        'airbyte client_secret: "9Xr4Km7Qv2Nd8Ws1Lc6Hj3ByTuEfGqM5"',
        "9Xr4Km7Qv2Nd8Ws1Lc6Hj3ByTuEfGqM5",
        _kingfisher("airbyte"),
    ),
    _C(
        "Agora",
        'agora.app_secret = "127a3af3db1950b8dbd4fe440c28ebef"',
        "127a3af3db1950b8dbd4fe440c28ebef",
        _kingfisher("agora"),
    ),
    _C(
        "Stripe",
        'var stripe = require("stripe")("sk_live_qdyFazIVmace52bThiOzbEVT");',
        "sk_live_qdyFazIVmace52bThiOzbEVT",
        _noseyparker("stripe"),
        prefix="sk_live_",
    ),
    _C(
        "Google",
        'const CLIENTSECRET = "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"',
        "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",
        _noseyparker("google"),
        prefix="GOCSPX-",
    ),
    _C(
        "Azure",
        "AzureWebJobsStorage=DefaultEndpointsProtocol=https;AccountName=hanatour9833;AccountKey=6jqh42QQjWWBwoPGGR/Jr0PZjhBMZVbHm/gkhEfHvOj8aV6+oI8ed6ZAAwB5a6993WqyQDiuJJB0QpseJwqYxw==;EndpointSuffix=core.windows.net",
        "6jqh42QQjWWBwoPGGR/Jr0PZjhBMZVbHm/gkhEfHvOj8aV6+oI8ed6ZAAwB5a6993WqyQDiuJJB0QpseJwqYxw==",
        _noseyparker("azure"),
    ),
    _C(
        "Azure DevOps",
        'var personalAccessToken = "zpczok4kqgnw5prpfy3ehiylbqvgbjfkdiqkejsxqamy7qbkep7q";  // Provide a value or retrieve it from configuration',
        "zpczok4kqgnw5prpfy3ehiylbqvgbjfkdiqkejsxqamy7qbkep7q",
        _noseyparker("azure"),
    ),
    _C(
        "AWS",
        'export AWS_SECRET_ACCESS_KEY="0qk+o7XctJMmG6ydO8537c9+TofLJU1K0PiVBXSg"',
        "0qk+o7XctJMmG6ydO8537c9+TofLJU1K0PiVBXSg",
        _noseyparker("aws"),
    ),
    _C(
        "Hugging Face",
        'HF_TOKEN:"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"',
        "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",
        _noseyparker("huggingface"),
        prefix="hf_",
    ),
    _C(
        "SendGrid",
        "var sendgrid = require('sendgrid')('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');",
        "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",
        _noseyparker("sendgrid"),
        prefix="SG.",
    ),
    _C(
        "Mailchimp",
        "MAILCHIMP_API='bd3777708aecfee66c5335f62a6246a4-us13'",
        "bd3777708aecfee66c5335f62a6246a4-us13",
        _noseyparker("mailchimp"),
    ),
    _C(
        "npm",
        '-export NPM_TOKEN="007e65c7-635d-4d54-8294-f360cb8e2e3f"',
        "007e65c7-635d-4d54-8294-f360cb8e2e3f",
        _noseyparker("npm"),
    ),
    _C(
        "PyPI",
        "password: pypi-AgEIcHlwaS5vcmcCJGExMDIxZjRhLTFhZDMtNDc4YS1iOWNmLWQwCf99OTIwZjFjNwACSHsicGVybWlzc2lvbnMiOiB7InByb2plY3RzIjogWyJkamFuZ28tY2hhbm5lbHMtanNvbnJwYyJdfSwgInZlcnNpb24iOiAxfQAABiBZg48cIBQt7HckwM4G3q-462xphsLbm7IZvjqMS4jvQw",
        "pypi-AgEIcHlwaS5vcmcCJGExMDIxZjRhLTFhZDMtNDc4YS1iOWNmLWQwCf99OTIwZjFjNwACSHsicGVybWlzc2lvbnMiOiB7InByb2plY3RzIjogWyJkamFuZ28tY2hhbm5lbHMtanNvbnJwYyJdfSwgInZlcnNpb24iOiAxfQAABiBZg48cIBQt7HckwM4G3q-462xphsLbm7IZvjqMS4jvQw",
        _noseyparker("pypi"),
        prefix="pypi-AgEIcHlwaS5vcmc",
    ),
    _C(
        "RubyGems",
        "$ curl -H 'Authorization:rubygems_b9ce70c306b3a2e248679fbbbd66723d408d3c8c5f00566c' \\",
        "rubygems_b9ce70c306b3a2e248679fbbbd66723d408d3c8c5f00566c",
        _noseyparker("rubygems"),
        prefix="rubygems_",
    ),
    _C(
        "NuGet",
        'find . -name "*.nupkg"|xargs -I {} dotnet nuget push "{}"  --api-key  oy2l53fxd7xcf99dnyrqewssedgopshuticofclpespbyi  -s https://api.nuget.org/v3/index.json --skip-duplicate',
        "oy2l53fxd7xcf99dnyrqewssedgopshuticofclpespbyi",
        _noseyparker("nuget"),
        prefix="oy2",
    ),
    _C(
        "Docker Hub",
        "docker login -u gemesa -p dckr_pat_tkzBYxjNNC3R_Yg6jd_O-G8FbrJ",
        "dckr_pat_tkzBYxjNNC3R_Yg6jd_O-G8FbrJ",
        _noseyparker("dockerhub"),
        prefix="dckr_pat_",
    ),
    _C(
        "Databricks",
        "DATABRICKS_TOKEN: 'dapicd295a7be286969133e18a58e4afe7bd-3'",
        "dapicd295a7be286969133e18a58e4afe7bd-3",
        _noseyparker("databricks"),
        prefix="dapi",
    ),
    _C(
        "DigitalOcean",
        'curl -X GET -H "Content-Type: application/json" -H "Authorization: Bearer doo_v1_c46dde8bd620fcc382e70d5d43be6eebb141fa2452e8f8fa882433377898ebf2" "https://api.digitalocean.com/v2/cdn/endpoints"',
        "doo_v1_c46dde8bd620fcc382e70d5d43be6eebb141fa2452e8f8fa882433377898ebf2",
        _noseyparker("digitalocean"),
        prefix="doo_v1_",
    ),
    _C(
        "Dynatrace",
        "      paasToken: dt0c01.QS7G6CAS5G64DLXFMEDEJ2O7.XVJQTFD2H7XG45V5RTDGA78GAI5W44MFTLZTUOMH4JEXPAV6NSEHUNGAYPIZGEIV",
        "dt0c01.QS7G6CAS5G64DLXFMEDEJ2O7.XVJQTFD2H7XG45V5RTDGA78GAI5W44MFTLZTUOMH4JEXPAV6NSEHUNGAYPIZGEIV",
        _noseyparker("dynatrace"),
        prefix="dt0c01.",
    ),
    _C(
        "Facebook",
        '   # config.facebook.key = "34cebc81c056a21bc66e212f947d73ec"',
        "34cebc81c056a21bc66e212f947d73ec",
        _noseyparker("facebook"),
    ),
    _C(
        "HashiCorp Vault",
        'VAULT_CLIENT_TOKEN="s.Z4bTMtngfLeQ18AqVoBBkUAOD1"',
        "s.Z4bTMtngfLeQ18AqVoBBkUAOD1",
        _noseyparker("hashicorp"),
        prefix="s.",
    ),
    _C(
        "JWT",
        "NUCLEAR_SERVICES_ANON_KEY=eyJhbGciOiJIUzI1NiIsEnR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZSIsInJlZiI6InFqcnVqc2lzY2Nzdnl2am5xdG5xIiwicm9sZSI6ImEub24iLCJpYXQiOjE2NTY1OTY0NjEsImV4cCI6MTk3MjE3MjQ2MX0.WQWcwBAQFNE259f2o8ruFln_UMLTFEnEaUD7KHrs9Aw",
        "eyJhbGciOiJIUzI1NiIsEnR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZSIsInJlZiI6InFqcnVqc2lzY2Nzdnl2am5xdG5xIiwicm9sZSI6ImEub24iLCJpYXQiOjE2NTY1OTY0NjEsImV4cCI6MTk3MjE3MjQ2MX0.WQWcwBAQFNE259f2o8ruFln_UMLTFEnEaUD7KHrs9Aw",
        _noseyparker("jwt"),
        prefix="eyJhbGciOiJIUzI1NiIsEnR5cCI6IkpXVCJ9.",
    ),
    _C(
        "generic",
        '    private static String CLIENT_SECRET = "6fb1cff7690db9ac066cadbbde8e3c078efdabcf";',
        "6fb1cff7690db9ac066cadbbde8e3c078efdabcf",
        _noseyparker("generic"),
    ),
    _C(
        "HTTP Basic auth",
        "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        _noseyparker("http"),
    ),
    _C(
        "PostgreSQL",
        '"REDSHIFT": "postgres://spot_app:Pseg2020@calling-mr-bones.c0qsadyxbf4k.us-east-1.redshift.amazonaws.com:5439/datalakespotprod",',
        "Pseg2020",
        _noseyparker("postgres"),
    ),
    _C(
        "MongoDB",
        '      uri: "mongodb+srv://servicelogin:CPCdZH5k0F6dxQ9V@example-prince.mongodb.net/?retryWrites=true&w=majority"',
        "CPCdZH5k0F6dxQ9V",
        _noseyparker("mongo"),
    ),
    _C(
        "Adafruit IO",
        '#define IO_KEY       "aio_NrZCb67VvzSaM7fr3nMXrfZ1uMPH"',
        "aio_NrZCb67VvzSaM7fr3nMXrfZ1uMPH",
        _noseyparker("adafruitio"),
        prefix="aio_",
    ),
    _C(
        "Adobe",
        '    "client_secret": "p8e-ibndcvsmAp9ZgPBZ606FSlYIZVlsZ-g5"',
        "p8e-ibndcvsmAp9ZgPBZ606FSlYIZVlsZ-g5",
        _noseyparker("adobe"),
        prefix="p8e-",
    ),
    _C(
        "Atlassian",
        'JIRA_API_TOKEN="ATATT3xFfGF0xYT7HPCi5lokFfZWNkl0R1xi9BpiieoCRoG3Dn64p6PHPNO-J0-xpcxCZ2GgfV37TfLYSqwT0fQddokHukUVKaxaTqEvQiDM6zbsr2u4ME8Nlp8cTwIvw92CRaD6_U1Awmr3pQFAgIsli5clBlZoRsollYlRztAtrIQ-qDiyUg4=D46B4967"',
        "ATATT3xFfGF0xYT7HPCi5lokFfZWNkl0R1xi9BpiieoCRoG3Dn64p6PHPNO-J0-xpcxCZ2GgfV37TfLYSqwT0fQddokHukUVKaxaTqEvQiDM6zbsr2u4ME8Nlp8cTwIvw92CRaD6_U1Awmr3pQFAgIsli5clBlZoRsollYlRztAtrIQ-qDiyUg4=D46B4967",
        _noseyparker("atlassian"),
        prefix="ATATT3xFfGF0",
    ),
    _C(
        "Auth0",
        "AUTH0_CLIENT_SECRET='LTYtNGq_4Y48dX5-w7Q96_eBGMcBL1Ic-H62xFcQKn1lg9rmRZQAFw-FHzEQhJuz'",
        "LTYtNGq_4Y48dX5-w7Q96_eBGMcBL1Ic-H62xFcQKn1lg9rmRZQAFw-FHzEQhJuz",
        _noseyparker("auth0"),
    ),
    _C(
        "Bitbucket",
        "git ls-remote https://gemesa:ATBB3g7gLXseCxPjJs1CQNMyEjwf1D12516D@bitbucket.org/***/***",
        "ATBB3g7gLXseCxPjJs1CQNMyEjwf1D12516D",
        _noseyparker("bitbucket"),
        prefix="ATBB",
    ),
    _C(
        "Blynk",
        'curl "https://blynk.cloud/external/api/get?token=Rps15JICmtRVbFyS_95houlLbm6xIQ2L&V1"',
        "Rps15JICmtRVbFyS_95houlLbm6xIQ2L",
        _noseyparker("blynk"),
    ),
    _C(
        "Code Climate",
        " - RAILS_ENV=test CODECLIMATE_REPO_TOKEN=d37a8b9e09642cb73cfcf4e1284815fc3d6a55a7714110187ac59856ae4ab5ad",
        "d37a8b9e09642cb73cfcf4e1284815fc3d6a55a7714110187ac59856ae4ab5ad",
        _noseyparker("codeclimate"),
    ),
    _C(
        "crates.io",
        "Bearer: ciotgp8BGZBlX192iExSQPm0SrUlBunG8zd",
        "ciotgp8BGZBlX192iExSQPm0SrUlBunG8zd",
        _noseyparker("crates.io"),
        prefix="cio",
    ),
    _C(
        "Django",
        "SECRET_KEY = 'django-insecure-_du9e^cmago!%(^+=gr@cu@v9-v7ulhbk2s3!w&39w4+n3*k*$'",
        "django-insecure-_du9e^cmago!%(^+=gr@cu@v9-v7ulhbk2s3!w&39w4+n3*k*$",
        _noseyparker("django"),
        prefix="django-insecure-",
    ),
    _C(
        "Firecrawl",
        'app = FirecrawlApp(api_key="fc-7da8b1ca1d2150c496e91440d777fea8")',
        "fc-7da8b1ca1d2150c496e91440d777fea8",
        _noseyparker("firecrawl"),
        prefix="fc-",
    ),
    _C(
        "Gitalk",
        "  clientSecret:'9363cb456dda6402cb71d65092490e75c9f11873',",
        "9363cb456dda6402cb71d65092490e75c9f11873",
        _noseyparker("gitalk"),
    ),
    _C(
        "Groq",
        'client = OpenAI(base_url="https://api.groq.com/openai/v1/", api_key="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")',
        "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",
        _noseyparker("groq"),
        prefix="gsk_",
    ),
    _C(
        "Jenkins",
        "jenkins_passwd = '11811f784531053132519844d047186074'   # Dev Token",
        "11811f784531053132519844d047186074",
        _noseyparker("jenkins"),
    ),
    _C(
        "Jina AI",
        "JINA_KEY = os.getenv('JINA_KEY','jina_c1758c6f49e14ced990ac7776800dc45ShJNTXBCizzwjE6IMFYJ7LD959cG')",
        "jina_c1758c6f49e14ced990ac7776800dc45ShJNTXBCizzwjE6IMFYJ7LD959cG",
        _noseyparker("jina"),
        prefix="jina_",
    ),
    _C(
        "Kagi",
        "KAGI_API_KEY='AQAAUPJ-iQc.yLFDzC5RRHzPNDThhulREdoG0Bn3PiZMwJ6yqC6uJLE'",
        "AQAAUPJ-iQc.yLFDzC5RRHzPNDThhulREdoG0Bn3PiZMwJ6yqC6uJLE",
        _noseyparker("kagi"),
    ),
    _C(
        "LinkedIn",
        'LINKEDIN_SECRET = "zt7GeN6IH911xvRj"',
        "zt7GeN6IH911xvRj",
        _noseyparker("linkedin"),
    ),
    _C(
        "Mapbox",
        "export MAPBOX_SECRET_TOKEN=sk.eyJ1IjoiY2FwcGVsYWVyZSIsImEicf99c1BaTkZnIn0.P4lD1eHeSEx7AsBq1zbJ4g",
        "sk.eyJ1IjoiY2FwcGVsYWVyZSIsImEicf99c1BaTkZnIn0.P4lD1eHeSEx7AsBq1zbJ4g",
        _noseyparker("mapbox"),
        prefix="sk.eyJ1Ijoi",
    ),
    _C(
        "Microsoft Teams",
        'curl -H "Content-Type: application/json" -d "{\\"text\\": \\"Debut du script deploy.sh \\"}" https://outlook.office.com/webhook/555aa7fc-ea71-4fb7-ae9e-755caa4404ed@72f988bf-86f1-41af-91ab-2d7cd011db47/IncomingWebhook/16085df23e564bb9076842605ede3af2/51dab674-ad95-4f0a-8964-8bdefc25b6d9',
        "16085df23e564bb9076842605ede3af2",
        _noseyparker("microsoft_teams"),
    ),
    _C(
        "New Relic",
        "license_key: 033f2f2072ca3f2cb2ec39024fa9e49cd640NRAL",
        "033f2f2072ca3f2cb2ec39024fa9e49cd640NRAL",
        _noseyparker("newrelic"),
    ),
    _C(
        "Pixie",
        "MW_PX_DEPLOY_KEY=px-dep-f43ae612-dc8a-4049-9553-4af1b0e17620 MW_PX_API_KEY=px-api-c20a3cba-d3c9-45c1-a557-8864040b8f79",
        "px-api-c20a3cba-d3c9-45c1-a557-8864040b8f79",
        _noseyparker("newrelic"),
        prefix="px-api-",
    ),
    _C(
        "Particle",
        'curl "https://api.particle.io/v1/devices/events?access_token=38bb7b318cc6898c80317decb34525844bc9db55"',
        "38bb7b318cc6898c80317decb34525844bc9db55",
        _noseyparker("particle.io"),
    ),
    _C(
        "Postman",
        "// ('x-api-key', 'PMAK-629c73facbc064567cbf6970-f56e8b4cd0bb14d00962f17afc158dc2a2')",
        "PMAK-629c73facbc064567cbf6970-f56e8b4cd0bb14d00962f17afc158dc2a2",
        _noseyparker("postman"),
        prefix="PMAK-",
    ),
    _C(
        "Postmark",
        'postmark: "f59dffd2-83ea-47c7-ba8f-95e053a6d0ae",',
        "f59dffd2-83ea-47c7-ba8f-95e053a6d0ae",
        _noseyparker("postmark"),
    ),
    _C(
        "Sauce Labs",
        "- SAUCE_ACCESS_KEY=2397f603-c2c4-4897-a8ca-587ace5dc8dd",
        "2397f603-c2c4-4897-a8ca-587ace5dc8dd",
        _noseyparker("sauce"),
    ),
    _C(
        "Segment",
        '"token": "sgp_b8eaD5d9Ae59a15a407bb7C88350bc85dc959EBE8277883d50Bc84dc960eE826"',
        "sgp_b8eaD5d9Ae59a15a407bb7C88350bc85dc959EBE8277883d50Bc84dc960eE826",
        _noseyparker("segment"),
        prefix="sgp_",
    ),
    _C(
        "SonarQube",
        "sonar.host.url=https://sonarcloud.io -Dsonar.login=5524bf449ca45fcace54698371466398321f3a82",
        "5524bf449ca45fcace54698371466398321f3a82",
        _noseyparker("sonarqube"),
    ),
    _C(
        "Sourcegraph",
        "  access token sgp_local_b70acbf2f685734c19791789fdeb73c6393dd02a",
        "sgp_local_b70acbf2f685734c19791789fdeb73c6393dd02a",
        _noseyparker("sourcegraph"),
        prefix="sgp_local_",
    ),
    _C(
        "StackHawk",
        'HAWK_API_KEY="hawk.nHAOHdJjXoNyzAcTDC5M.R2gqQh2aCesrh0yCGB7q"',
        "hawk.nHAOHdJjXoNyzAcTDC5M.R2gqQh2aCesrh0yCGB7q",
        _noseyparker("stackhawk"),
        prefix="hawk.",
    ),
    _C(
        "TeamCity",
        '<add key="ClearTextPassword" value="eyJ0eXAiOiAiVENWMiJ9.RkNWLXdXS3M1RVBfencxM4A0WmJzdVlCQzFj.OGY1OWRkNGMtYTUxYS04ZDYwLWFiZGYtZWE5MWFhZWJiODhh" />',
        "eyJ0eXAiOiAiVENWMiJ9.RkNWLXdXS3M1RVBfencxM4A0WmJzdVlCQzFj.OGY1OWRkNGMtYTUxYS04ZDYwLWFiZGYtZWE5MWFhZWJiODhh",
        _noseyparker("teamcity"),
        prefix="eyJ0eXAiOiAiVENWMiJ9.",
    ),
    _C(
        "Telegram",
        "4839574813:AAFD39kkdpWt3ywyRZergyOLMaJhac61qc",
        "4839574813:AAFD39kkdpWt3ywyRZergyOLMaJhac61qc",
        _noseyparker("telegram"),
        prefix="4839574813:AA",
    ),
    _C(
        "ThingsBoard",
        "https://thingsboard.cloud/api/v1/354u1g321kcqc1oad3w7/telemetry",
        "354u1g321kcqc1oad3w7",
        _noseyparker("thingsboard"),
    ),
    _C(
        "TrueNAS",
        '{"id":"677d9914-f598-f497-e77e-2a3aadbb822e", "msg":"method", "method":"auth.login_with_api_key", "params" : ["9-hTSZDBPyg0PjRZvWb8omoxJ7X2gAjRGmiPKql9ENGIUP9OPtEAzz5f6g9YIMVbZT"]}',
        "9-hTSZDBPyg0PjRZvWb8omoxJ7X2gAjRGmiPKql9ENGIUP9OPtEAzz5f6g9YIMVbZT",
        _noseyparker("truenas"),
    ),
    _C(
        "Twitch",
        "STREAM_KEY=live_126031192_RJVJxpxq8Q1X1Qdc9SwwTvpXonANmi",
        "live_126031192_RJVJxpxq8Q1X1Qdc9SwwTvpXonANmi",
        _noseyparker("twitch"),
        prefix="live_126031192_",
    ),
    _C(
        "Twitter",
        "# TWITTER_API_SECRET = 'ngHaeaRPKA5BDQNXace3LWA1PvTA1kBGDaAJmc517E'",
        "ngHaeaRPKA5BDQNXace3LWA1PvTA1kBGDaAJmc517E",
        _noseyparker("twitter"),
    ),
    _C(
        "WireGuard",
        "PrivateKey = AsaFot43bfs1fEWjvtty+rGcjh3rP1H6sug1l3u19ix=",
        "AsaFot43bfs1fEWjvtty+rGcjh3rP1H6sug1l3u19ix=",
        _noseyparker("wireguard"),
    ),
    _C(
        "Weights & Biases",
        "  password 7cc938e45e63e9014f88f811be240ba0395c02dd",
        "7cc938e45e63e9014f88f811be240ba0395c02dd",
        _noseyparker("netrc"),
    ),
    _C(
        "PEM private key",
        '"-----BEGIN RSA PRIVATE KEY-----\\r\\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAlwAAAAdzc2gtcn\\r\\nNhAAAAAwEAAQAAAIEAtDSHFO5tfN+jYMJuiNvBaplkSI3eFqKMLOvXyVu+dmSEic6xyKWQ\\r\\nqjQiFpXogArvAq2tBxWOq7F+a6rNhDKdICD2amRwDHqKD1bzXVSZ5c1XnpCFsBiQaEyX2i\\r\\nqyjScnntFHIpTCVHNxILDxsStocj64YS0C7hfCGVhft/Ts/O0AAAIQJOKnUyTip1MAAAAH\\r\\nc3NoLXJzYQAAAIEAtDSHFO5tfN+jYMJuiNvBaplkSI3eFqKMLOvXyVu+dmSEic6xyKWQqj\\r\\nQiFpXogArvAq2tBxWOq7F+a6rNhDKdICD2amRwDHqKD1bzXVSZ5c1XnpCFsBiQaEyX2iqy\\r\\njScnntFHIpTCVHNxILDxsStocj6Cf99C7hfCGVhft/Ts/O0AAAADAQABAAAAgBcaTN8gGi\\r\\nVSPo3fH3CoS8mw1KyAk6JvQG1Z5xZHjsl65YsNVrmUkFFh0aT3nxEbVb0QKwineN0GKmD/\\r\\nSs3R91a573gzli7TJPFCHhhBbE7FRC4KQMTc1/UANwFYQVcfZ4n9IVHr3jiWToSY3XbC66\\r\\nZcd0sg+d+YRjIxUktuNFHBAAAAQQCOOKbSUJAWzcTDbxImwDCAfBMlEeMAnJrwobL/zxbT\\r\\nGhKdnqnomoreFdYL8vOcOlwZG0hUKIA6AM1GsMzp6aCwAAAAQQDmAABpOQnkDy8v8kTDhP\\r\\ndW3lAqRGOU4WRWj7WystQv/VjuJpceekhOyhNJBuNHDKZ3IT1agAZHIhhL+webE2S1AAAA\\r\\nQQDIk4H1agCohlHUg50PcyKzE/zZ85Gw0ErTmgqIIGd4B1AqUtjwVe1qFoqHuZPtq2cbVF\\r\\n1HTHh6GX//J6rKWVJZAAAAGWJsYXJzZW5AYnJhZGZvcmRzLW1icC5sYW4B\\r\\n-----END RSA PRIVATE KEY-----"',
        "qjQiFpXogArvAq2tBxWOq7F+a6rNhDKdICD2amRwDHqKD1bzXVSZ5c1XnpCFsBiQaEyX2i",
        _noseyparker("pem"),
    ),
    _C(
        "ODBC",
        '<add name="DevQATrucks" connectionString="Server=hookupsqlqa1\\gpkqa; Database=YogurtDelay: User Id=kmwulfliq; password= sK!g2Ex_=jJ6Gx5v" providerName="System.Data.SqlClient" />',
        "sK!g2Ex_=jJ6Gx5v",
        _noseyparker("odbc"),
    ),
    _C(
        "VMware vSphere",
        "Connect-VIServer -Server 192.168.1.51 -User administrator@vSphere.local -Password VMware1!",
        "VMware1!",
        _noseyparker("vmware"),
    ),
    _C(
        "NASA",
        "get('https://api.nasa.gov/planetary/earth/imagery?api_key=fWfSMcDzyHfMuH8BW6jiIUBYaj0hKRyKBRTBqgEQ')",
        "fWfSMcDzyHfMuH8BW6jiIUBYaj0hKRyKBRTBqgEQ",
        _noseyparker("nasa"),
    ),
    _C(
        "Cloudflare",
        "CLOUDFLARE_API_TOKEN: '0pf-j25nxkrkhp8t62qh6k4921ptv09ozq9k0kva'",
        "0pf-j25nxkrkhp8t62qh6k4921ptv09ozq9k0kva",
        _kingfisher("cloudflare"),
    ),
)

ORDINARY: Final[tuple[Ordinary, ...]] = (
    _O("aws_arn", "arn:aws:iam::123456789012:user/Development/product_1234/*", _noseyparker("aws")),
    _O(
        "aws_arn",
        'alerts: "arn:aws:sns:us-west-2:123456789023:CloudwatchMetricAlarm"',
        _noseyparker("aws"),
    ),
    _O(
        "aws_arn",
        '"KeyId": "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",',
        _noseyparker("aws"),
    ),
    _O(
        "aws_arn",
        'Arn: "arn:aws:kms:us-east-2:324320755747:key/54348bc1-6e3b-4cda-8b18-c6033ca7d328",',
        _noseyparker("aws"),
    ),
    _O("aws_arn", "arn:aws:s3:::my_corporate_bucket/Development/*", _noseyparker("aws")),
    _O("s3_path", "http://s3-us-east-2.amazonaws.com/example-bucket", _noseyparker("aws")),
    _O("s3_path", "example-bucket.s3.amazonaws.com", _noseyparker("aws")),
    _O(
        "gcs_path", "https://storage.googleapis.com/bucket_name/object_name", _noseyparker("google")
    ),
    _O("uuid_in_context", 'KeyId: "54348bc1-6e3b-4cda-8b18-c6033ca7d328",', _noseyparker("aws")),
    _O("aws_account_id", "aws_account_id=891511536143", _noseyparker("aws")),
    _O("github_client_id", "GITHUB_CLIENT_ID=ac58d6da7d7a84c039b7", _noseyparker("github")),
    _O(
        "public_key",
        "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj",
        _noseyparker("age"),
    ),
    _O(
        "public_key",
        "# public key: age1epzmwwzw8n09slh0c7z1z52x43nnga7lkksx3qrh07tqz5v7lcys45428t",
        _noseyparker("age"),
    ),
    _O("timestamp_comment", "# created: 2022-09-26T21:55:47-05:00", _noseyparker("age")),
    _O(
        "auth0_client_id",
        "AUTH0_CLIENT_ID='oCloQt7XYc1HFas3gSBtYAcekWY25MlF'",
        _noseyparker("auth0"),
    ),
    _O(
        "url",
        "AUTH0_ISSUER_BASE_URL='https://dev-3a44tw2sa77x73tx.us.auth0.com'",
        _noseyparker("auth0"),
    ),
    _O("linkedin_client_id", 'LINKEDIN_KEY = "77yg7tx91p4lag"', _noseyparker("linkedin")),
    _O(
        "npm_lockfile_sha1",
        "sonarqube-reporter-1.2.4.tgz#3b335d612137949d2f21fcc6c8c8164db7603227",
        _noseyparker("sonarqube"),
    ),
    _O(
        "npm_lockfile_sha1",
        "sonarqube-scanner/-/sonarqube-scanner-2.5.0.tgz#ff704cbddf355d38a52c5e9479d6bb5c1ff28eac",
        _noseyparker("sonarqube"),
    ),
    _O("hostname", "store.handsomestranger.myshopify.com", _noseyparker("shopify")),
    _O(
        "square_app_id",
        "    var applicationId = 'sq0idp-r34HdSnJVWaCesH3dnJrGA';",
        _noseyparker("square"),
    ),
    _O("config_line", "Address = 10.200.200.3/32", _noseyparker("wireguard")),
    _O("config_line", "AllowedIPs = 0.0.0.0/0, ::/0", _noseyparker("wireguard")),
    _O("url", "https://ejcvydfyxzmbtfbfstnq.supabase.co", _kingfisher("supabase")),
    _O(
        "uuid_in_context",
        "ClientID - 9794fe8b-1ff6-4cf6-b28c-72c8fb124942",
        _trufflehog("azure_entra/serviceprincipal/v2"),
    ),
    _O(
        "path_with_uuid",
        "Creating 'Contributor' role assignment under scope '/subscriptions/52cc768e-b7a8-473a-adcc-68779a7d7bae'",
        _trufflehog("azure_entra/serviceprincipal/v1"),
    ),
    _O("hostname", "mystorageaccount.blob.core.windows.net", _kingfisher("azurestorage")),
    _O("env_line", "REACT_APP_AUTH_USERNAME=bowie", _noseyparker("react")),
    _O(
        "openstack_log",
        'nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-38101a0b-2096-447d-96ea-a692162415ae 113d3a99c3da401fbd62cc2caa5b96d2 54fadb412c4e40cdbaed9335e4c35a9e - - -] 10.11.10.1 "GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail HTTP/1.1" status: 200 len: 1893 time: 0.2477829',
        _loghub("OpenStack/OpenStack_2k.log"),
    ),
    _O(
        "openstack_log",
        "nova-compute.log.1.2017-05-16_13:55:31 2017-05-16 00:00:04.500 2931 INFO nova.compute.manager [req-3ea4052c-895d-4b64-9e2d-04d64c4d94ab - - - - -] [instance: b9000564-fe1a-409b-b8cc-1e88b294cd1d] VM Started (Lifecycle Event)",
        _loghub("OpenStack/OpenStack_2k.log"),
    ),
    _O(
        "openstack_log",
        "nova-compute.log.1.2017-05-16_13:55:31 2017-05-16 00:00:05.185 2931 INFO nova.virt.libvirt.imagecache [req-addc1839-2ed5-4778-b57e-5854eb7b8b09 - - - - -] image 0673dd71-34c5-4fbb-86c4-40623fbe45b4 at (/var/lib/nova/instances/_base/a489c868f0c37da93b76227c91bb03908ac0e742): checking",
        _loghub("OpenStack/OpenStack_2k.log"),
    ),
    _O(
        "openstack_log",
        "nova-compute.log.1.2017-05-16_13:55:31 2017-05-16 00:00:05.367 2931 INFO nova.virt.libvirt.imagecache [req-addc1839-2ed5-4778-b57e-5854eb7b8b09 - - - - -] Active base files: /var/lib/nova/instances/_base/a489c868f0c37da93b76227c91bb03908ac0e742",
        _loghub("OpenStack/OpenStack_2k.log"),
    ),
    _O(
        "openstack_log",
        "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:10.279 25743 INFO nova.api.openstack.compute.server_external_events [req-ab451068-9756-4ad9-9d18-5ceaa6424627 f7b8d1f1d4d44643b07fa10ca7d021fb e9746973ac574c6b8a9e8857f56a7608 - - -] Creating event network-vif-plugged:e3871ffd-5cd5-4287-bddd-3529f7b59515 for instance b9000564-fe1a-409b-b8cc-1e88b294cd1d",
        _loghub("OpenStack/OpenStack_2k.log"),
    ),
    _O(
        "openstack_log",
        'nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:10.285 25743 INFO nova.osapi_compute.wsgi.server [req-ab451068-9756-4ad9-9d18-5ceaa6424627 f7b8d1f1d4d44643b07fa10ca7d021fb e9746973ac574c6b8a9e8857f56a7608 - - -] 10.11.10.1 "POST /v2/e9746973ac574c6b8a9e8857f56a7608/os-server-external-events HTTP/1.1" status: 200 len: 380 time: 0.0913219',
        _loghub("OpenStack/OpenStack_2k.log"),
    ),
    _O(
        "openstack_log",
        "nova-compute.log.1.2017-05-16_13:55:31 2017-05-16 00:00:14.266 2931 INFO nova.compute.resource_tracker [req-addc1839-2ed5-4778-b57e-5854eb7b8b09 - - - - -] Final resource view: name=cp-1.slowvm1.tcloud-pg0.utah.cloudlab.us phys_ram=64172MB used_ram=2560MB phys_disk=15GB used_disk=20GB total_vcpus=16 used_vcpus=1 pci_stats=[]",
        _loghub("OpenStack/OpenStack_2k.log"),
    ),
    _O(
        "openstack_log",
        'nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:16.795 25783 INFO nova.metadata.wsgi.server [req-b40b44ea-c721-4bc4-b1cd-bb238982ede4 - - - - -] 10.11.21.122,10.11.10.1 "GET /openstack/2012-08-10/meta_data.json HTTP/1.1" status: 200 len: 264 time: 0.2451560',
        _loghub("OpenStack/OpenStack_2k.log"),
    ),
    _O(
        "openstack_log",
        'nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:17.504 25746 INFO nova.osapi_compute.wsgi.server [req-c53a921a-16c7-422e-8c9d-c922a720d047 113d3a99c3da401fbd62cc2caa5b96d2 54fadb412c4e40cdbaed9335e4c35a9e - - -] 10.11.10.1 "DELETE /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/b9000564-fe1a-409b-b8cc-1e88b294cd1d HTTP/1.1" status: 204 len: 203 time: 0.2534380',
        _loghub("OpenStack/OpenStack_2k.log"),
    ),
    _O(
        "openstack_log",
        "nova-compute.log.1.2017-05-16_13:55:31 2017-05-16 00:00:18.450 2931 INFO nova.virt.libvirt.driver [req-c53a921a-16c7-422e-8c9d-c922a720d047 113d3a99c3da401fbd62cc2caa5b96d2 54fadb412c4e40cdbaed9335e4c35a9e - - -] [instance: b9000564-fe1a-409b-b8cc-1e88b294cd1d] Deleting instance files /var/lib/nova/instances/b9000564-fe1a-409b-b8cc-1e88b294cd1d_del",
        _loghub("OpenStack/OpenStack_2k.log"),
    ),
    _O(
        "url_path_with_uuid",
        "/v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/b9000564-fe1a-409b-b8cc-1e88b294cd1d",
        _loghub("OpenStack/OpenStack_2k.log"),
    ),
    _O(
        "request_id",
        "req-38101a0b-2096-447d-96ea-a692162415ae",
        _loghub("OpenStack/OpenStack_2k.log"),
    ),
    _O(
        "sha1_path",
        "/var/lib/nova/instances/_base/a489c868f0c37da93b76227c91bb03908ac0e742",
        _loghub("OpenStack/OpenStack_2k.log"),
    ),
    _O(
        "apache_error_log",
        "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
        _loghub("Apache/Apache_2k.log"),
    ),
    _O(
        "apache_error_log",
        "[Sun Dec 04 04:51:08 2005] [notice] jk2_init() Found child 6725 in scoreboard slot 10",
        _loghub("Apache/Apache_2k.log"),
    ),
    _O(
        "apache_error_log",
        "[Sun Dec 04 05:15:09 2005] [error] [client 222.166.160.184] Directory index forbidden by rule: /var/www/html/",
        _loghub("Apache/Apache_2k.log"),
    ),
    _O(
        "access_log",
        '83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"',
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "access_log",
        '83.149.9.216 - - [17/May/2015:10:05:24 +0000] "GET /presentations/logstash-monitorama-2013/images/1983_delorean_dmc-12-pic-38289.jpeg HTTP/1.1" 200 220562 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"',
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "access_log",
        '24.236.252.67 - - [17/May/2015:10:05:40 +0000] "GET /favicon.ico HTTP/1.1" 200 3638 "-" "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:26.0) Gecko/20100101 Firefox/26.0"',
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "access_log",
        '93.114.45.13 - - [17/May/2015:10:05:14 +0000] "GET /articles/dynamic-dns-with-dhcp/ HTTP/1.1" 200 18848 "http://www.google.ro/url?sa=t&rct=j&q=&esrc=s&source=web&cd=2&ved=0CCwQFjAB&url=http%3A%2F%2Fwww.semicomplete.com%2Farticles%2Fdynamic-dns-with-dhcp%2F&ei=W88AU4n9HOq60QXbv4GwBg&usg=AFQjCNEF1X4Rs52UYQyLiySTQxa97ozM4g&bvm=bv.61535280,d.d2k" "Mozilla/5.0 (X11; Linux x86_64; rv:25.0) Gecko/20100101 Firefox/25.0"',
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "access_log",
        '66.249.73.135 - - [17/May/2015:10:05:40 +0000] "GET /blog/tags/ipv6 HTTP/1.1" 200 12251 "-" "Mozilla/5.0 (iPhone; CPU iPhone OS 6_0 like Mac OS X) AppleWebKit/536.26 (KHTML, like Gecko) Version/6.0 Mobile/10A5376e Safari/8536.25 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"',
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "access_log",
        '50.16.19.13 - - [17/May/2015:10:05:10 +0000] "GET /blog/tags/puppet?flav=rss20 HTTP/1.1" 200 14872 "http://www.semicomplete.com/blog/tags/puppet?flav=rss20" "Tiny Tiny RSS/1.11 (http://tt-rss.org/)"',
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "access_log",
        '110.136.166.128 - - [17/May/2015:10:05:35 +0000] "GET /projects/xdotool/ HTTP/1.1" 200 12292 "http://www.google.com/url?sa=t&rct=j&q=&esrc=s&source=web&cd=5&cad=rja&sqi=2&ved=0CFYQFjAE&url=http%3A%2F%2Fwww.semicomplete.com%2Fprojects%2Fxdotool%2F&ei=6cwAU_bRHo6urAeI0YD4Ag&usg=AFQjCNE3V_aCf3-gfNcbS924S6jZ6FqffA&bvm=bv.61535280,d.bmk" "Mozilla/5.0 (Windows NT 6.2; WOW64; rv:28.0) Gecko/20100101 Firefox/28.0"',
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "access_log",
        '46.105.14.53 - - [17/May/2015:10:05:03 +0000] "GET /blog/tags/puppet?flav=rss20 HTTP/1.1" 200 14872 "-" "UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/"',
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "access_log",
        '50.150.204.184 - - [17/May/2015:10:05:46 +0000] "GET /images/googledotcom.png HTTP/1.1" 200 65748 "http://www.google.com/search?q=https//:google.com&source=lnms&tbm=isch&sa=X&ei=4-r8UvDrKZOgkQe7x4CICw&ved=0CAkQ_AUoAA&biw=320&bih=441" "Mozilla/5.0 (Linux; U; Android 4.0.4; en-us; LG-MS770 Build/IMM76I) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30"',
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "access_log",
        '207.241.237.225 - - [17/May/2015:10:05:58 +0000] "GET /blog/tags/examples HTTP/1.0" 200 9208 "http://www.semicomplete.com/blog/tags/C" "Mozilla/5.0 (compatible; archive.org_bot +http://www.archive.org/details/archive.org_bot)"',
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "access_log",
        '200.49.190.100 - - [17/May/2015:10:05:38 +0000] "GET /blog/tags/web HTTP/1.1" 200 44019 "-" "QS304 Profile/MIDP-2.0 Configuration/CLDC-1.1"',
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "access_log",
        '66.249.73.185 - - [17/May/2015:10:05:22 +0000] "GET /doc/index.html?org/elasticsearch/action/search/SearchResponse.html HTTP/1.1" 404 294 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"',
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "access_log",
        '91.177.205.119 - - [17/May/2015:10:05:22 +0000] "GET /blog/geekery/xvfb-firefox.html HTTP/1.1" 200 10975 "http://en.wikipedia.org/wiki/Xvfb" "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; WOW64; Trident/6.0)"',
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "user_agent",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36",
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "user_agent",
        "Mozilla/5.0 (Linux; U; Android 4.0.4; en-us; LG-MS770 Build/IMM76I) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "user_agent",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 6_0 like Mac OS X) AppleWebKit/536.26 (KHTML, like Gecko) Version/6.0 Mobile/10A5376e Safari/8536.25 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "referer_url",
        "http://www.google.ro/url?sa=t&rct=j&q=&esrc=s&source=web&cd=2&ved=0CCwQFjAB&url=http%3A%2F%2Fwww.semicomplete.com%2Farticles%2Fdynamic-dns-with-dhcp%2F&ei=W88AU4n9HOq60QXbv4GwBg&usg=AFQjCNEF1X4Rs52UYQyLiySTQxa97ozM4g&bvm=bv.61535280,d.d2k",
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "request_path",
        "/presentations/logstash-monitorama-2013/images/1983_delorean_dmc-12-pic-38289.jpeg",
        _elastic("Common Data Formats/apache_logs/apache_logs"),
    ),
    _O(
        "sshd_log",
        "Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
        _loghub("OpenSSH/OpenSSH_2k.log"),
    ),
    _O(
        "sshd_log",
        "Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186 ",
        _loghub("OpenSSH/OpenSSH_2k.log"),
    ),
    _O(
        "sshd_log",
        "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
        _loghub("OpenSSH/OpenSSH_2k.log"),
    ),
    _O(
        "sshd_log",
        "Dec 10 07:07:38 LabSZ sshd[24206]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=ec2-52-80-34-196.cn-north-1.compute.amazonaws.com.cn ",
        _loghub("OpenSSH/OpenSSH_2k.log"),
    ),
    _O(
        "sshd_log",
        "Dec 10 07:07:45 LabSZ sshd[24206]: Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]",
        _loghub("OpenSSH/OpenSSH_2k.log"),
    ),
    _O(
        "sshd_log",
        "Dec 10 07:13:56 LabSZ sshd[24227]: message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]",
        _loghub("OpenSSH/OpenSSH_2k.log"),
    ),
    _O(
        "sshd_log",
        "Dec 10 07:13:56 LabSZ sshd[24227]: PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.36.59.76.dynamic-dsl-ip.omantel.net.om  user=root",
        _loghub("OpenSSH/OpenSSH_2k.log"),
    ),
    _O(
        "sshd_log",
        "Dec 10 07:34:33 LabSZ sshd[24301]: Did not receive identification string from 123.235.32.19",
        _loghub("OpenSSH/OpenSSH_2k.log"),
    ),
    _O(
        "hdfs_log",
        "081109 203807 222 INFO dfs.DataNode$PacketResponder: PacketResponder 0 for block blk_-6952295868487656571 terminating",
        _loghub("HDFS/HDFS_2k.log"),
    ),
    _O(
        "hdfs_log",
        "081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.251.73.220:50010 is added to blk_7128370237687728475 size 67108864",
        _loghub("HDFS/HDFS_2k.log"),
    ),
    _O(
        "hdfs_log",
        "081109 204815 653 INFO dfs.DataNode$DataXceiver: Receiving block blk_5792489080791696128 src: /10.251.30.6:33145 dest: /10.251.30.6:50010",
        _loghub("HDFS/HDFS_2k.log"),
    ),
    _O(
        "hdfs_log",
        "081109 205035 28 INFO dfs.FSNamesystem: BLOCK* NameSystem.allocateBlock: /user/root/rand/_temporary/_task_200811092030_0001_m_000590_0/part-00590. blk_-1727475099218615100",
        _loghub("HDFS/HDFS_2k.log"),
    ),
    _O(
        "hdfs_log",
        "081109 213837 19 INFO dfs.FSDataset: Deleting block blk_1781953582842324563 file /mnt/hadoop/dfs/data/current/subdir5/blk_1781953582842324563",
        _loghub("HDFS/HDFS_2k.log"),
    ),
    _O(
        "hdfs_log",
        "081109 214043 2561 WARN dfs.DataNode$DataXceiver: 10.251.30.85:50010:Got exception while serving blk_-2918118818249673980 to /10.251.90.64:",
        _loghub("HDFS/HDFS_2k.log"),
    ),
    _O(
        "python_traceback",
        'Traceback (most recent call last):\n  File "<stdin>", line 1, in ?\nZeroDivisionError: integer division or modulo by zero',
        _cpython("Doc/tutorial/errors.rst"),
    ),
    _O(
        "python_traceback",
        "Traceback (most recent call last):\n  File \"<stdin>\", line 1, in ?\nNameError: name 'spam' is not defined",
        _cpython("Doc/tutorial/errors.rst"),
    ),
    _O(
        "python_traceback",
        "Traceback (most recent call last):\n  File \"<stdin>\", line 1, in ?\nTypeError: cannot concatenate 'str' and 'int' objects",
        _cpython("Doc/tutorial/errors.rst"),
    ),
    _O(
        "python_traceback",
        "Traceback (most recent call last):\n  File \"<stdin>\", line 1, in ?\n  File \"<stdin>\", line 3, in divide\nTypeError: unsupported operand type(s) for /: 'str' and 'str'",
        _cpython("Doc/tutorial/errors.rst"),
    ),
    _O(
        "python_traceback",
        "Traceback (most recent call last):\n  File \"<stdin>\", line 1, in ?\n__main__.MyError: 'oops!'",
        _cpython("Doc/tutorial/errors.rst"),
    ),
    _O(
        "python_traceback",
        "  File \"<stdin>\", line 1, in ?\n    while True print 'Hello world'\n                   ^\nSyntaxError: invalid syntax",
        _cpython("Doc/tutorial/errors.rst"),
    ),
    _O(
        "exception_message",
        "TypeError: unsupported operand type(s) for /: 'str' and 'str'",
        _cpython("Doc/tutorial/errors.rst"),
    ),
    _O(
        "docker_digest",
        "localhost:5000/test/busybox        <none>              sha256:cbbf2f9a99b47fc460d422812b6a5adff7dfee951d8fa2e4a98caa0382cfbdbf   4986bf8c1536        9 weeks ago         2.43 MB",
        _docker_cli("docs/reference/commandline/image_ls.md"),
    ),
    _O(
        "docker_digest",
        "sha256:77af4d6b9913e693e8d0b4b294fa62ade6054e6b2f1ffb617ac955dd63fb0182",
        _docker_cli("docs/reference/commandline/image_ls.md"),
    ),
    _O(
        "docker_digest",
        "committest                    latest              sha256:b6fa739cedf5ea12a620a439402b6004d057da800f91c7524b5086a5e4749c9f   19 hours ago        1.089 GB",
        _docker_cli("docs/reference/commandline/image_ls.md"),
    ),
    _O(
        "docker_digest",
        "tryout                        latest              sha256:2629d1fa0b81b222fca63371ca16cbf6a0772d07759ff80e8d1369b926940074   23 hours ago        131.5 MB",
        _docker_cli("docs/reference/commandline/image_ls.md"),
    ),
    _O(
        "docker_digest",
        "localhost:5000/test/busybox@sha256:cbbf2f9a99b47fc460d422812b6a5adff7dfee951d8fa2e4a98caa0382cfbdbf",
        _docker_cli("docs/reference/commandline/image_ls.md"),
    ),
    _O(
        "docker_image_id",
        "postgres                  9.3.5               746b819f315e        4 days ago          213.4 MB",
        _docker_cli("docs/reference/commandline/image_ls.md"),
    ),
    _O(
        "docker_image_id",
        "busybox             musl                733eb3059dce        5 weeks ago         1.21 MB",
        _docker_cli("docs/reference/commandline/image_ls.md"),
    ),
    _O(
        "shell_command",
        '$ docker rmi $(docker images -f "dangling=true" -q)',
        _docker_cli("docs/reference/commandline/image_ls.md"),
    ),
    _O(
        "k8s_pod_name",
        "nginx-deployment-1564180365-khku8",
        _kubernetes("content/en/docs/concepts/workloads/controllers/deployment.md"),
    ),
    _O(
        "k8s_pod_line",
        "nginx-deployment-1564180365-nacti   1/1       Running   0          14s",
        _kubernetes("content/en/docs/concepts/workloads/controllers/deployment.md"),
    ),
    _O(
        "k8s_pod_line",
        "nginx-deployment-3066724191-08mng   0/1       ImagePullBackOff   0          6s",
        _kubernetes("content/en/docs/concepts/workloads/controllers/deployment.md"),
    ),
    _O(
        "k8s_replicaset_line",
        "nginx-deployment-2035384211   0         0         0       36s",
        _kubernetes("content/en/docs/concepts/workloads/controllers/deployment.md"),
    ),
    _O(
        "k8s_event",
        "Normal  ScalingReplicaSet  24s   deployment-controller  Scaled up replica set nginx-deployment-1564180365 to 1",
        _kubernetes("content/en/docs/concepts/workloads/controllers/deployment.md"),
    ),
    _O(
        "k8s_command",
        "kubectl set image deployment.v1.apps/nginx-deployment nginx=nginx:1.16.1",
        _kubernetes("content/en/docs/concepts/workloads/controllers/deployment.md"),
    ),
    _O(
        "k8s_describe",
        "CreationTimestamp:      Thu, 30 Nov 2017 10:56:25 +0000",
        _kubernetes("content/en/docs/concepts/workloads/controllers/deployment.md"),
    ),
    _O(
        "k8s_describe",
        "NewReplicaSet:   nginx-deployment-1564180365 (3/3 replicas created)",
        _kubernetes("content/en/docs/concepts/workloads/controllers/deployment.md"),
    ),
    _O(
        "k8s_describe",
        "Annotations:            deployment.kubernetes.io/revision=2",
        _kubernetes("content/en/docs/concepts/workloads/controllers/deployment.md"),
    ),
    _O(
        "k8s_status",
        "Waiting for rollout to finish: 2 out of 3 new replicas have been updated...",
        _kubernetes("content/en/docs/concepts/workloads/controllers/deployment.md"),
    ),
    _O(
        "sql_placeholder",
        "SELECT * FROM myapp_person WHERE last_name = %s",
        _django("docs/topics/db/sql.txt"),
    ),
    _O(
        "sql_placeholder",
        'cursor.execute("UPDATE bar SET foo = 1 WHERE baz = %s", [self.baz])',
        _django("docs/topics/db/sql.txt"),
    ),
    _O(
        "sql_placeholder",
        "cursor.execute(\"SELECT foo FROM bar WHERE baz = '30%%' AND id = %s\", [self.id])",
        _django("docs/topics/db/sql.txt"),
    ),
    _O(
        "sql_placeholder",
        "Person.objects.raw('SELECT id, first_name, last_name, birth_date FROM myapp_person')",
        _django("docs/topics/db/sql.txt"),
    ),
    _O(
        "sql_placeholder",
        "SELECT *, age(birth_date) AS age FROM myapp_person",
        _django("docs/topics/db/sql.txt"),
    ),
    _O(
        "sql_placeholder",
        'cursor.execute("SELECT id, parent_id FROM test LIMIT 2");',
        _django("docs/topics/db/sql.txt"),
    ),
    _O(
        "python_repr",
        "[{'parent_id': None, 'id': 54360982L}, {'parent_id': None, 'id': 54360880L}]",
        _django("docs/topics/db/sql.txt"),
    ),
    _O(
        "npm_integrity",
        '"integrity": "sha512-hXJCSrkwfA46Vd9Z3q4cpEpHB1rL5NG04+/rbqW9d3+CSvtB1tYe8UTpAlixa1vj0m/ULglfEK2UKxMGxCxv5A==",',
        _gitleaks_action("package-lock.json"),
    ),
    _O(
        "npm_integrity",
        "sha512-2aZDDa3zrrZbP5ZYg159sNoLRb61nQ7awl5pSvIq5Qpj81vwDzdMRKzkWJGJuwVvWpvZKx7vspJALyvaaIQyug==",
        _gitleaks_action("package-lock.json"),
    ),
    _O(
        "npm_integrity",
        "sha512-+NYs2QeMWy+GWFOEm9xnn6HCDp0l7QBD7ml8zLUmJ+93Q5NF0NocErnwkTkXVFNiX3/fpC6afS8Dhb/gz7R7eg==",
        _gitleaks_action("package-lock.json"),
    ),
    _O(
        "npm_integrity",
        '"integrity": "sha512-Nk59rMDoJaV+mHCOJPXuvB1zIbomlKS0dmSIqPGxd0enAXBnOfn4VWF+CGtRCwXZG9Epa54tZA7VIRlJDS8A6g==",',
        _gitleaks_action("package-lock.json"),
    ),
    _O(
        "npm_integrity",
        "sha512-d6xOpEDfsi2CZVlPQzGeux8XMwLT9hssAsaPYExaQMuYskwb+x1x7J371tWlbBdWHroy99KnVB6qIkUbs5X3UQ==",
        _gitleaks_action("package-lock.json"),
    ),
    _O(
        "npm_integrity",
        "sha512-AEYxH93jGFPn/a2iVAwW87VuUIkR1FVUKB77NwMF7nBTDkDrrT/Hpt/IrCJ0QXhW27jTBDcf5ZY7w6RiqTMw2Q==",
        _gitleaks_action("package-lock.json"),
    ),
    _O(
        "npm_integrity",
        '"integrity": "sha512-BzBZJobMoDyjJsPRMLNHvqHycTGrT8R/dtcTx9qUFcqwSRfGVK9A/cZ7Nx38UQydT9usZGbaDCN75QRNjezSAA==",',
        _gitleaks_action("package-lock.json"),
    ),
    _O(
        "npm_integrity",
        "sha512-7RKRKuA4xTjMhY+eG3jthb3hlZCsOwg3rztWh75Xc+ShDWOfDDATWbeZpAHBNRpm4Tv9WgBMOy1zEJYXG6NJ7Q==",
        _gitleaks_action("package-lock.json"),
    ),
    _O(
        "npm_resolved_url",
        '"resolved": "https://registry.npmjs.org/@azure/core-tracing/-/core-tracing-1.0.0-preview.13.tgz",',
        _gitleaks_action("package-lock.json"),
    ),
    _O("version_string", '"version": "1.0.0-preview.13",', _gitleaks_action("package-lock.json")),
    _O(
        "npm_dependency",
        '"string-width-cjs": "npm:string-width@^4.2.0",',
        _gitleaks_action("package-lock.json"),
    ),
    _O(
        "git_sha_context",
        "* **hmr:** prevent SSR from setting `isSelfAccepting` to false ([#5377](https://github.com/vitejs/vite/issues/5377)) ([37e5617](https://github.com/vitejs/vite/commit/37e561755030e87383897af3ea28b9a08e8c2773))",
        _vite("packages/vite/CHANGELOG.md"),
    ),
    _O(
        "git_sha_context",
        "* move package.json cache into ResolvedConfig ([#5388](https://github.com/vitejs/vite/issues/5388)) ([650b56e](https://github.com/vitejs/vite/commit/650b56e0414d772294817bc2dc399e70563ed699))",
        _vite("packages/vite/CHANGELOG.md"),
    ),
    _O(
        "git_commit_url",
        "https://github.com/vitejs/vite/commit/1425a162e768f569e5d9a3929e31ed5f421a5ca2",
        _vite("packages/vite/CHANGELOG.md"),
    ),
    _O("git_sha", "01f9b16a8bdfa182890924ac00207fe54496b99f", _vite("packages/vite/CHANGELOG.md")),
    _O("git_sha", "b937ea4cb1642a76d7a650802c0db2fede338474", _vite("packages/vite/CHANGELOG.md")),
    _O(
        "git_sha_context",
        "* **ssr:** prefer CJS but still allow ESM entries ([#5662](https://github.com/vitejs/vite/issues/5662)) ([72d8925](https://github.com/vitejs/vite/commit/72d8925f79a8983ae131df06a627ee020aab71f8))",
        _vite("packages/vite/CHANGELOG.md"),
    ),
    _O(
        "git_compare_url",
        "https://github.com/vitejs/vite/compare/v2.7.0-beta.7...v2.7.0-beta.8",
        _vite("packages/vite/CHANGELOG.md"),
    ),
    _O(
        "changelog_heading",
        "# [2.7.0-beta.8](https://github.com/vitejs/vite/compare/v2.7.0-beta.7...v2.7.0-beta.8) (2021-11-19)",
        _vite("packages/vite/CHANGELOG.md"),
    ),
    _O(
        "git_sha_context",
        "* avoid unnecessary  pre-bundling warning ([b586098](https://github.com/vitejs/vite/commit/b58609829262255d73363229584a2341bc4f568d))",
        _vite("packages/vite/CHANGELOG.md"),
    ),
    _O(
        "git_sha_context",
        "* **deps:** bump postcss-load-config to 3.1.0 ([#5277](https://github.com/vitejs/vite/issues/5277)) ([b7e8a5c](https://github.com/vitejs/vite/commit/b7e8a5c0423570789f8c5476ac42e39ce8c2a009))",
        _vite("packages/vite/CHANGELOG.md"),
    ),
    _O("version_string", "2.7.0-beta.8", _vite("packages/vite/CHANGELOG.md")),
    _O("po_translation", 'msgstr "Näytä asiakirjamallikansio."', _gitleaks("aws")),
    _O("uppercase_words", "TODAYINASIAASACKOFRICEFELLOVER", _gitleaks("aws")),
    _O(
        "code_identifier",
        "    dapiDataGetTopLongShortPositionRatio (params?: {}): Promise<implicitReturnType>;",
        _noseyparker("databricks"),
    ),
    _O(
        "jwt_looking_url",
        "View the latest results [here](https://heyo.powerbi.com/view?r=eyJrIjoiYTZjMTk3YjEtMzQ4Yi00NTI5LTg6ZDItNmUyMGRlOTkwMGRlIiwidCI5IjcyZjk4OGJmLTg3ZjEtNDFhZi06MWFiLTJkN2NkMDExZGI0NyIsImMiOjV9&pageName=ReportSection9567390a89a2d30b0eda).",
        _noseyparker("grafana"),
    ),
    _O(
        "avatar_url",
        "https://avatars3.githubusercontent.com/u/20071182?s=460&u=df311dec2adab597c9b1727638a5385eac7ceadb&v=4",
        _trufflehog("github"),
    ),
    _O("env_assignment", "USERNAME=donjuan", _noseyparker("generic")),
    _O(
        "php_echo",
        "echo 'password = '.$p['config']['daemon_password'].\"\\n\";",
        _noseyparker("generic"),
    ),
    _O(
        "ui_labels",
        'usernameLabel:"Username or email:",passwordLabel:"Password:",rememberMeLabel:"Remember me:"',
        _noseyparker("generic"),
    ),
    _O(
        "arn_policy",
        'IAMUserChangePassword = "arn:aws:iam::aws:policy/IAMUserChangePassword"',
        _noseyparker("generic"),
    ),
    _O("css_selector", 'this.addPassword = "#add-password";', _noseyparker("generic")),
    _O("env_reference", 'export PGPASSWORD="$gdcapi_db_password"', _noseyparker("generic")),
    _O(
        "docs_path",
        '"/en/enterprise/3.0/authentication/keeping-your-account-and-data-secure/creating-a-strong-password":"/en/enterprise-server@3.0/auth"',
        _noseyparker("generic"),
    ),
    _O(
        "code_line",
        'sb.append("MasterUserPassword: " + getMasterUserPassword() + ",");',
        _noseyparker("generic"),
    ),
    _O(
        "kubectl_get_pods_cmd",
        "kubectl get pods",
        _kubernetes("content/en/docs/concepts/workloads/controllers/deployment.md"),
    ),
    _O(
        "zookeeper_log",
        "2015-07-29 19:24:36,927 - WARN  [RecvWorker:188978561024:QuorumCnxManager$RecvWorker@762] - Connection broken for id 188978561024, my id = 1, error = ",
        _loghub("Zookeeper/Zookeeper_2k.log"),
    ),
    _O(
        "zookeeper_log",
        "2015-07-29 19:25:03,857 - INFO  [/10.10.34.11:3888:QuorumCnxManager$Listener@493] - Received connection request /10.10.34.13:59016",
        _loghub("Zookeeper/Zookeeper_2k.log"),
    ),
    _O(
        "zookeeper_log",
        "2015-07-29 19:24:50,374 - WARN  [SendWorker:188978561024:QuorumCnxManager$SendWorker@688] - Send worker leaving thread",
        _loghub("Zookeeper/Zookeeper_2k.log"),
    ),
    _O(
        "zookeeper_log",
        "2015-07-29 19:24:23,578 - WARN  [SendWorker:188978561024:QuorumCnxManager$SendWorker@679] - Interrupted while waiting for message on queue",
        _loghub("Zookeeper/Zookeeper_2k.log"),
    ),
    _O("timestamp", "2015-07-29 19:25:37,062", _loghub("Zookeeper/Zookeeper_2k.log")),
    _O(
        "uuid_repr",
        "UUID('a8098c1a-f86e-11da-bd1a-00112444be1e')",
        _cpython("Doc/library/uuid.rst"),
    ),
    _O("uuid", "16fd2706-8baf-433b-82eb-8c7fada847da", _cpython("Doc/library/uuid.rst")),
    _O(
        "uuid_repr",
        "UUID('886313e1-3b8a-5372-9b90-0c9aee199e5d')",
        _cpython("Doc/library/uuid.rst"),
    ),
    _O(
        "uuid_repr",
        "UUID('6fa459ea-ee8a-3ca4-894e-db77e160355e')",
        _cpython("Doc/library/uuid.rst"),
    ),
    _O("base64_text", "ZGF0YSB0byBiZSBlbmNvZGVk", _cpython("Doc/library/base64.rst")),
    _O(
        "base64_repr",
        ">>> encoded = base64.b64encode(b'data to be encoded')\n>>> encoded\nb'ZGF0YSB0byBiZSBlbmNvZGVk'",
        _cpython("Doc/library/base64.rst"),
    ),
    _O(
        "iso_timestamp_xml",
        "<creationDate>2023-05-18T14:32:10Z</creationDate>",
        _trufflehog("amadeus"),
    ),
    _O("log_header", "Date: 2025-02-04 14:32:10 UTC", _trufflehog("anthropic")),
    _O("log_header", "Server: api-secure-03.internal", _trufflehog("anthropic")),
    _O("xml_config", "<scope>GLOBAL</scope>", _trufflehog("amadeus")),
    _O("log_line", "[INFO] Response received: 200 OK", _trufflehog("amadeus")),
)
