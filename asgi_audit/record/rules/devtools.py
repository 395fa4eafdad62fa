"""Developer tools: frameworks' keys, CI and testing clouds, code quality, package
hosts, developer platforms and data services.

Written from each provider's published key formats. The prefixed ones stand alone
(Django's ``django-insecure-``, crates.io's ``cio``, Deno Deploy's ``ddp_``, WakaTime's
``waka_``, CAST AI's ``castai_v1_``, ClickHouse Cloud's ``4b1d``, Adobe's ``p8e-``);
the others are masked only a few words after the provider's name (:func:`near`).
"""

from __future__ import annotations

from typing import Final

from ..scanner import Rule
from ._forms import ALNUM, HEX, UUID, near, token

__all__ = ("RULES",)

_HEX40 = f"{HEX}{{40}}"
_HEX64 = f"{HEX}{{64}}"

#: (name, provider, the provider's words, the secret's shape, the entropy floor)
_NEAR: Final[tuple[tuple[str, str, tuple[str, ...], str, float], ...]] = (
    # --- Code quality and coverage ---
    (
        "codeclimate-reporter-id",
        "Code Climate",
        ("codeclimate", "code_climate", "cc_test_reporter"),
        _HEX64,
        3.0,
    ),
    ("codacy-api-token", "Codacy", ("codacy",), f"{ALNUM}{{20}}", 3.0),
    ("coveralls-repo-token", "Coveralls", ("coveralls",), f"{ALNUM}{{32,37}}", 3.0),
    ("sonarqube-token", "SonarSource", ("sonar",), _HEX40, 3.0),
    # --- Testing clouds ---
    ("browserstack-access-key", "BrowserStack", ("browserstack",), f"{ALNUM}{{20}}", 3.0),
    ("saucelabs-access-key", "Sauce Labs", ("sauce",), UUID, 3.0),
    ("lambdatest-access-key", "LambdaTest", ("lambdatest",), f"{ALNUM}{{50}}", 3.5),
    ("cypress-record-key", "Cypress", ("cypress",), UUID, 3.0),
    ("percy-token", "Percy", ("percy",), _HEX64, 3.0),
    # --- CI/CD ---
    ("droneci-token", "Drone", ("droneci", "drone_token", "drone-token"), f"{ALNUM}{{32}}", 3.0),
    ("bitrise-token", "Bitrise", ("bitrise",), "[A-Za-z0-9_-]{86}", 3.5),
    (
        "expo-access-token",
        "Expo",
        ("expo_token", "expo-token", "expo_access"),
        "[A-Za-z0-9_-]{40}",
        3.5,
    ),
    # --- Chat for developers, comment widgets ---
    ("gitter-token", "Gitter", ("gitter",), _HEX40, 3.0),
    ("gitalk-client-secret", "Gitalk", ("gitalk",), _HEX40, 3.0),
    # --- Package hosts ---
    ("cloudsmith-api-key", "Cloudsmith", ("cloudsmith",), _HEX40, 3.0),
    ("packagecloud-token", "packagecloud", ("packagecloud",), f"{HEX}{{48}}", 3.0),
    ("gemfury-token", "Gemfury", ("gemfury", "fury_token"), "[A-Za-z0-9_-]{20}", 3.0),
    # --- Data services ---
    ("aiven-api-token", "Aiven", ("aiven",), "[A-Za-z0-9/+=]{372}", 4.0),
    ("split-api-key", "Split", ("split.io", "splitio"), "[a-z0-9]{36}", 3.0),
)

RULES: Final[tuple[Rule, ...]] = (
    # Django's development SECRET_KEY: the prefix and 50 characters of its alphabet.
    token(
        "django-insecure-secret-key",
        "Django",
        "django-insecure-[a-z0-9!@#$%^&*(\\-_=+)]{50}",
        "django-insecure-",
    ),
    token("crates-io-api-token", "crates.io", f"cio{ALNUM}{{32}}", "cio", entropy=3.5),
    token("deno-deploy-token", "Deno", f"dd[pw]_{ALNUM}{{36}}", "ddp_", "ddw_"),
    token("wakatime-api-key", "WakaTime", f"waka_{UUID}", "waka_"),
    token("castai-api-key", "CAST AI", "castai_v1_[a-z0-9]{64}_[a-z0-9]{8}", "castai_v1_"),
    token("clickhouse-cloud-secret", "ClickHouse", f"4b1d{ALNUM}{{38}}", "4b1d", entropy=3.0),
    token("adobe-client-secret", "Adobe", f"p8e-{ALNUM}{{32}}", "p8e-", entropy=3.0),
    *(near(name, who, words, secret, entropy=floor) for name, who, words, secret, floor in _NEAR),
)
