"""Source hosting, package registries, CI/CD, infrastructure and secret managers.

Written from each provider's published token formats (GitHub's and GitLab's token
prefixes, the registries' API key formats).
"""

from __future__ import annotations

from typing import Final

from ..scanner import Rule
from ._forms import ALNUM, HEX, UUID, keyed, token

__all__ = ("RULES",)

RULES: Final[tuple[Rule, ...]] = (
    # --- GitHub ---
    token("github-pat", "GitHub", f"ghp_{ALNUM}{{36}}", "ghp_"),
    token("github-oauth-token", "GitHub", f"gho_{ALNUM}{{36}}", "gho_"),
    token("github-app-token", "GitHub", f"gh[us]_{ALNUM}{{36}}", "ghu_", "ghs_"),
    token("github-refresh-token", "GitHub", f"ghr_{ALNUM}{{36,76}}", "ghr_"),
    token(
        "github-fine-grained-pat",
        "GitHub",
        f"github_pat_{ALNUM}{{22}}_{ALNUM}{{59}}",
        "github_pat_",
    ),
    # --- GitLab ---
    token("gitlab-pat", "GitLab", "glpat-[A-Za-z0-9_.-]{20,100}", "glpat-"),
    token("gitlab-deploy-token", "GitLab", "gldt-[A-Za-z0-9_.-]{20,100}", "gldt-"),
    token("gitlab-runner-token", "GitLab", "glrt-[A-Za-z0-9_.-]{20,100}", "glrt-"),
    token(
        "gitlab-runner-registration-token",
        "GitLab",
        "GR1348941[A-Za-z0-9_-]{20,40}",
        "gr1348941",
    ),
    token("gitlab-trigger-token", "GitLab", f"glptt-{HEX}{{40}}", "glptt-"),
    token("gitlab-ci-job-token", "GitLab", "glcbt-[A-Za-z0-9_.-]{20,100}", "glcbt-"),
    token("gitlab-feed-token", "GitLab", "glft-[A-Za-z0-9_.-]{20,100}", "glft-"),
    token("gitlab-incoming-mail-token", "GitLab", "glimt-[A-Za-z0-9_.-]{25,100}", "glimt-"),
    token("gitlab-agent-token", "GitLab", "glagent-[A-Za-z0-9_.-]{50,120}", "glagent-"),
    token("gitlab-oauth-app-secret", "GitLab", "gloas-[A-Za-z0-9_-]{64}", "gloas-"),
    token("gitlab-scim-token", "GitLab", "glsoat-[A-Za-z0-9_.-]{20,100}", "glsoat-"),
    token(
        "gitlab-feature-flags-token",
        "GitLab",
        "glffct-[A-Za-z0-9_.-]{20,100}",
        "glffct-",
    ),
    token(
        "gitlab-session-cookie",
        "GitLab",
        f"_gitlab_session=(?P<secret>{HEX}{{32}})",
        "_gitlab_session=",
        boundary=False,
    ),
    # --- Bitbucket ---
    token("bitbucket-app-password", "Bitbucket", "ATBB[A-Za-z0-9_=.-]{28,40}", "atbb", entropy=3.5),
    token(
        "bitbucket-access-token",
        "Bitbucket",
        "ATCTT3xFfGN0[A-Za-z0-9_=-]{150,220}",
        "atctt3xffgn0",
    ),
    # --- Package registries ---
    token("npm-access-token", "npm", f"npm_{ALNUM}{{36}}", "npm_"),
    keyed("npm-legacy-token", "npm", ("_authtoken", "npm"), UUID),
    keyed("npmrc-auth", "npm", ("_auth",), "[A-Za-z0-9+/]{8,400}={0,2}", entropy=3.0),
    token(
        "pypi-upload-token",
        "PyPI",
        "pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,1000}",
        "pypi-age",
    ),
    token("rubygems-api-key", "RubyGems", f"rubygems_{HEX}{{48}}", "rubygems_"),
    token("nuget-api-key", "NuGet", "oy2[a-z0-9]{43}", "oy2"),
    token("dockerhub-pat", "Docker", "dckr_pat_[A-Za-z0-9_-]{27,40}", "dckr_pat_"),
    token("dockerhub-org-token", "Docker", "dckr_oat_[A-Za-z0-9_-]{27,40}", "dckr_oat_"),
    token(
        "docker-config-auth",
        "Docker",
        '"auth"[ \\t]{0,4}:[ \\t]{0,4}"(?P<secret>[A-Za-z0-9+/]{8,1024}={0,2})"',
        '"auth"',
        boundary=False,
    ),
    token(
        "docker-login-password",
        "Docker",
        "(?i:docker)[ \\t]{1,4}login[ \\t!#-~]{0,256}[ \\t](?:-p|--password)[ \\t=]{1,4}"
        "[\"']?(?P<secret>[!#-&(-~]{1,128})",
        "docker",
    ),
    token("huggingface-token", "Hugging Face", f"hf_{ALNUM}{{34}}", "hf_"),
    token("huggingface-org-token", "Hugging Face", f"api_org_{ALNUM}{{34}}", "api_org_"),
    token("jfrog-api-key", "JFrog", f"AKCp{ALNUM}{{69}}", "akcp"),
    token("jfrog-reference-token", "JFrog", f"cmVmdGtu{ALNUM}{{56}}", "cmvmdgtu"),
    token("clojars-token", "Clojars", "CLOJARS_[a-z0-9]{60}", "clojars_"),
    token(
        "packagist-token",
        "Private Packagist",
        "packagist_[a-z]{3}_[A-Za-z0-9]{40,80}",
        "packagist_",
    ),
    # --- Infrastructure as code, secret managers ---
    token("pulumi-access-token", "Pulumi", f"pul-{HEX}{{40}}", "pul-"),
    token(
        "terraform-cloud-token",
        "HashiCorp",
        f"{ALNUM}{{14}}\\.atlasv1\\.[A-Za-z0-9_=-]{{60,70}}",
        "atlasv1",
    ),
    token("vault-service-token", "HashiCorp", "hvs\\.[A-Za-z0-9_-]{24,256}", "hvs."),
    token("vault-batch-token", "HashiCorp", "hvb\\.[A-Za-z0-9_-]{24,512}", "hvb."),
    token("vault-recovery-token", "HashiCorp", "hvr\\.[A-Za-z0-9_-]{24,256}", "hvr."),
    # Bare: "s." and 24 random characters standing alone (entropy keeps words out).
    token("vault-legacy-token-bare", "HashiCorp", f"s\\.{ALNUM}{{24}}", "s.", entropy=3.5),
    keyed(
        "vault-legacy-token",
        "HashiCorp",
        ("vault_token", "vault-token", "x-vault-token"),
        f"s\\.{ALNUM}{{24}}",
    ),
    token(
        "doppler-token",
        "Doppler",
        "dp\\.(?:pt|st|ct|sa|scim|audit)\\.(?:[a-z0-9_-]{1,35}\\.)?[A-Za-z0-9]{40,44}",
        "dp.pt.",
        "dp.st.",
        "dp.ct.",
        "dp.sa.",
        "dp.scim.",
        "dp.audit.",
    ),
    token(
        "infisical-service-token",
        "Infisical",
        f"st\\.{UUID}\\.{HEX}{{32}}\\.{HEX}{{32}}",
        "st.",
    ),
    token("octopus-api-key", "Octopus Deploy", "API-[A-Z0-9]{26,32}", "api-", entropy=3.0),
    # --- CI/CD and code quality ---
    token(
        "circleci-token",
        "CircleCI",
        f"CCI(?:PAT|PRJ)_{ALNUM}{{22}}_{HEX}{{40}}",
        "ccipat_",
        "cciprj_",
    ),
    keyed("circleci-legacy-token", "CircleCI", ("circleci", "circle_token"), f"{HEX}{{40}}"),
    keyed("travis-ci-token", "Travis CI", ("travis",), "[A-Za-z0-9_-]{22}", entropy=3.0),
    token("buildkite-token", "Buildkite", f"bkua_{HEX}{{40}}", "bkua_"),
    keyed("codecov-token", "Codecov", ("codecov",), UUID),
    token("sonar-token", "SonarSource", f"sq[pua]_{HEX}{{40}}", "sqp_", "squ_", "sqa_"),
    keyed("snyk-token", "Snyk", ("snyk",), UUID),
    token("postman-api-key", "Postman", f"PMAK-{HEX}{{24}}-{HEX}{{34}}", "pmak-"),
    token(
        "sourcegraph-token",
        "Sourcegraph",
        f"sgp_(?:(?:{HEX}{{16}}|local)_)?{HEX}{{40}}",
        "sgp_",
    ),
    keyed("gitea-token", "Gitea", ("gitea",), f"{HEX}{{40}}"),
    keyed("jenkins-api-token", "Jenkins", ("jenkins",), f"{HEX}{{32,34}}"),
    token(
        "teamcity-token",
        "JetBrains TeamCity",
        "eyJ0eXAiOiAiVENWMiJ9\\.[A-Za-z0-9_-]{30,60}\\.[A-Za-z0-9_-]{40,60}",
        "eyj0exaioiaivenwmij9",
    ),
    token(
        "harness-token",
        "Harness",
        f"(?:pat|sat)\\.[A-Za-z0-9_-]{{22}}\\.{ALNUM}{{24}}\\.{ALNUM}{{20}}",
        "pat.",
        "sat.",
    ),
    token("prefect-api-key", "Prefect", f"pnu_{ALNUM}{{36}}", "pnu_"),
    token("readme-api-key", "ReadMe", "rdme_[a-z0-9]{70}", "rdme_"),
    token("infracost-api-key", "Infracost", f"ico-{ALNUM}{{32}}", "ico-"),
    token("scalingo-token", "Scalingo", "tk-us-[A-Za-z0-9_-]{48}", "tk-us-"),
    token(
        "kubernetes-client-key-data",
        "Kubernetes",
        "client-key-data:[ \\t]{0,4}[\"']?(?P<secret>[A-Za-z0-9+/]{64,16384}={0,2})",
        "client-key-data:",
        boundary=False,
    ),
)
