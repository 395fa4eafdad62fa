"""Self-identifying tokens: a documented prefix or structure, recognisable without a keyword.

Each row is ``(provider, format name, template, where the format is documented)``; the
template language is in :mod:`tests.secret_corpus.generate`. Sources are the providers'
own pages where they publish the format, GitHub's list of secret-scanning partner
patterns, and the public rule lists of gitleaks and trufflehog (as lists of what exists
and what it looks like).
"""

from __future__ import annotations

from typing import Final

from .generate import GITHUB_PATTERNS as GH
from .generate import Format
from .generate import gitleaks as gl
from .generate import trufflehog as th

__all__ = ("TOKENS",)

AWS_IDS: Final = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-prefixes"
AWS_KEYS: Final = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html"
GITHUB: Final = "https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/"
GITLAB: Final = "https://docs.gitlab.com/ee/security/tokens/#token-prefixes"
SLACK: Final = "https://api.slack.com/authentication/token-types"
STRIPE: Final = "https://docs.stripe.com/keys"
GOOGLE: Final = "https://cloud.google.com/docs/authentication/api-keys"
HF: Final = "https://huggingface.co/docs/hub/security-tokens"
DYNATRACE: Final = (
    "https://docs.dynatrace.com/docs/dynatrace-api/basics/dynatrace-api-authentication"
)
DOCKER: Final = "https://docs.docker.com/security/for-developers/access-tokens/"
TWILIO: Final = "https://www.twilio.com/docs/iam/api-keys"
DATABRICKS: Final = "https://docs.databricks.com/en/dev-tools/auth/pat.html"
SHOPIFY: Final = "https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens"
SQUARE: Final = "https://developer.squareup.com/docs/build-basics/access-tokens"
ONEPASSWORD: Final = "https://support.1password.com/secret-key-security/"
AGE: Final = "https://age-encryption.org/v1"
CLOUDFLARE_CA: Final = "https://developers.cloudflare.com/fundamentals/api/get-started/ca-keys/"
TAILSCALE: Final = "https://tailscale.com/kb/1085/auth-keys"
VAULT: Final = "https://developer.hashicorp.com/vault/docs/concepts/tokens#token-prefixes"
DEEPSEEK: Final = "https://api-docs.deepseek.com/"
ATLASSIAN: Final = "https://support.atlassian.com/bitbucket-cloud/docs/app-passwords/"

Row = tuple[str, str, str, str]


def _family(family: str, rows: list[Row]) -> tuple[Format, ...]:
    return tuple(Format(p, n, family, s, template=t) for p, n, t, s in rows)


_CLOUD: list[Row] = [
    ("Amazon Web Services", "access key id", "AKIA{{b32u:16}}", AWS_IDS),
    ("Amazon Web Services", "temporary access key id", "ASIA{{b32u:16}}", AWS_IDS),
    ("Amazon Web Services", "secret access key, bare", "{{b64slash:40}}", AWS_KEYS),
    ("Google Cloud", "API key", "AIza{{b64url:35}}", GOOGLE),
    ("Google Cloud", "OAuth client secret", "GOCSPX-{{b64url:28}}", GH),
    ("Google Cloud", "OAuth access token", "ya29.{{b64url:150}}", GH),
    ("Google Cloud", "OAuth refresh token", "1//0{{b64url:99}}", GH),
    ("Firebase", "Cloud Messaging server key", "AAAA{{b64url:7}}:APA91b{{b64url:134}}", GH),
    (
        "Microsoft Azure",
        "Entra ID client secret",
        "{{azpre:3}}{{digits:1}}Q~{{azsec:34}}",
        gl("azure-ad-client-secret"),
    ),
    ("Alibaba Cloud", "AccessKey ID", "LTAI{{alnum:20}}", gl("alibaba-access-key-id")),
    ("Tencent Cloud", "SecretId", "AKID{{alnum:32}}", GH),
    ("Yandex Cloud", "API key", "AQVN{{b64url:36}}", gl("yandex-api-key")),
    ("Yandex Cloud", "IAM token", "t1.{{b64url:48}}.{{b64url:86}}", gl("yandex-access-token")),
    ("Scaleway", "access key", "SCW{{alnumupper:17}}", GH),
    ("DigitalOcean", "personal access token", "dop_v1_{{hex:64}}", gl("digitalocean-pat")),
    ("DigitalOcean", "OAuth access token", "doo_v1_{{hex:64}}", gl("digitalocean-access-token")),
    ("DigitalOcean", "refresh token", "dor_v1_{{hex:64}}", gl("digitalocean-refresh-token")),
    ("Heroku", "API key (v2)", "HRKU-AA{{b64url:58}}", gl("heroku-api-key-v2")),
    ("Fly.io", "access token", "fo1_{{b64url:43}}", gl("flyio-access-token")),
    ("Fly.io", "macaroon token", "fm2_{{b64:140}}", gl("flyio-access-token")),
    ("Cloudflare", "Origin CA key", "v1.0-{{hex:24}}-{{hex:146}}", CLOUDFLARE_CA),
    ("Scalingo", "API token", "tk-us-{{b64url:48}}", gl("scalingo-api-token")),
    ("Tailscale", "auth key", "tskey-auth-k{{alnum:10}}CNTRL-{{alnum:33}}", TAILSCALE),
    ("Tailscale", "API access token", "tskey-api-k{{alnum:10}}CNTRL-{{alnum:33}}", TAILSCALE),
    ("HashiCorp Vault", "service token", "hvs.{{b64url:95}}", VAULT),
    ("HashiCorp Vault", "batch token", "hvb.{{b64url:150}}", VAULT),
    ("HashiCorp Vault", "legacy service token", "s.{{alnum:24}}", VAULT),
    (
        "HashiCorp Terraform Cloud",
        "user API token",
        "{{alnum:14}}.atlasv1.{{b64url:67}}",
        gl("hashicorp-tf-api-token"),
    ),
    ("Pulumi", "access token", "pul-{{hex:40}}", gl("pulumi-api-token")),
    ("Doppler", "personal token", "dp.pt.{{alnum:43}}", gl("doppler-api-token")),
    ("Doppler", "service token", "dp.st.prd.{{alnum:43}}", GH),
    ("1Password", "secret key", "A3-{{op1}}", ONEPASSWORD),
    (
        "1Password",
        "service account token",
        "ops_eyJ{{b64:260}}",
        gl("1password-service-account-token"),
    ),
    ("age", "secret key", "AGE-SECRET-KEY-1{{bech32:58}}", AGE),
    ("OpenShift", "user token", "sha256~{{b64url:43}}", gl("openshift-user-token")),
    ("Netlify", "personal access token", "nfp_{{alnum:36}}", GH),
]

_DATA: list[Row] = [
    ("Supabase", "personal access token", "sbp_{{hex:40}}", th("supabasetoken")),
    ("PlanetScale", "service token", "pscale_tkn_{{b64url:43}}", gl("planetscale-api-token")),
    ("PlanetScale", "password", "pscale_pw_{{b64url:43}}", gl("planetscale-password")),
    ("PlanetScale", "OAuth token", "pscale_oauth_{{b64url:43}}", gl("planetscale-oauth-token")),
    (
        "ClickHouse Cloud",
        "API secret key",
        "4b1d{{alnum:38}}",
        gl("clickhouse-cloud-api-secret-key"),
    ),
    ("Databricks", "personal access token", "dapi{{hex:32}}", DATABRICKS),
    ("Airtable", "personal access token", "pat{{alnum:14}}.{{hex:64}}", GH),
    ("Notion", "integration token", "ntn_{{digits:11}}{{alnum:35}}", gl("notion-api-token")),
    ("Notion", "legacy integration token", "secret_{{alnum:43}}", GH),
]

_SOURCE: list[Row] = [
    ("GitHub", "personal access token (classic)", "ghp_{{alnum:36}}", GITHUB),
    ("GitHub", "OAuth access token", "gho_{{alnum:36}}", GITHUB),
    ("GitHub", "user-to-server token", "ghu_{{alnum:36}}", GITHUB),
    ("GitHub", "server-to-server token", "ghs_{{alnum:36}}", GITHUB),
    ("GitHub", "refresh token", "ghr_{{alnum:36}}", GITHUB),
    ("GitHub", "fine-grained personal access token", "github_pat_{{alnum:22}}_{{alnum:59}}", GH),
    ("GitLab", "personal access token", "glpat-{{b64url:20}}", GITLAB),
    ("GitLab", "deploy token", "gldt-{{b64url:20}}", GITLAB),
    ("GitLab", "runner authentication token", "glrt-{{b64url:20}}", GITLAB),
    ("GitLab", "runner registration token", "GR1348941{{b64url:20}}", GITLAB),
    ("GitLab", "pipeline trigger token", "glptt-{{hex:40}}", GITLAB),
    ("GitLab", "CI/CD job token", "glcbt-{{alnum:2}}_{{b64url:20}}", GITLAB),
    ("GitLab", "feed token", "glft-{{b64url:20}}", GITLAB),
    ("GitLab", "incoming mail token", "glimt-{{b64url:25}}", GITLAB),
    ("GitLab", "agent for Kubernetes token", "glagent-{{b64url:50}}", GITLAB),
    ("GitLab", "OAuth application secret", "gloas-{{b64url:64}}", GITLAB),
    ("GitLab", "SCIM token", "glsoat-{{b64url:20}}", GITLAB),
    ("GitLab", "feature flag client token", "glffct-{{b64url:20}}", GITLAB),
    ("GitLab", "session cookie", "_gitlab_session={{alnumlower:32}}", gl("gitlab-session-cookie")),
    ("Bitbucket", "app password", "ATBB{{alnum:32}}", ATLASSIAN),
    ("Atlassian", "API token", "ATATT3{{b64url:186}}", gl("atlassian-api-token")),
    ("Sourcegraph", "access token", "sgp_{{hex:16}}_{{hex:40}}", gl("sourcegraph-access-token")),
]

_BUILD: list[Row] = [
    ("CircleCI", "personal API token", "CCIPAT_{{alnum:22}}_{{hex:40}}", GH),
    ("Buildkite", "API access token", "bkua_{{hex:40}}", GH),
    ("SonarQube", "user token", "squ_{{hex:40}}", GH),
    ("SonarQube", "project analysis token", "sqp_{{hex:40}}", GH),
    ("Docker", "personal access token", "dckr_pat_{{b64url:27}}", DOCKER),
    ("Docker", "organization access token", "dckr_oat_{{b64url:32}}", DOCKER),
    ("JFrog", "API key", "AKCp{{alnum:69}}", gl("artifactory-api-key")),
    ("JFrog", "reference token", "cmVmdGtuOjAxOj{{alnum:50}}", gl("artifactory-reference-token")),
    ("Octopus Deploy", "API key", "API-{{alnumupper:26}}", gl("octopus-deploy-api-key")),
    ("RubyGems", "API key", "rubygems_{{hex:48}}", gl("rubygems-api-token")),
    ("npm", "granular access token", "npm_{{alnum:36}}", gl("npm-access-token")),
    ("PyPI", "upload token", "pypi-AgEIcHlwaS5vcmc{{b64url:150}}", gl("pypi-upload-token")),
    ("NuGet", "API key", "oy2{{alnumlower:43}}", th("nugetapikey")),
    ("Clojars", "deploy token", "CLOJARS_{{alnumlower:60}}", gl("clojars-api-token")),
    ("Postman", "API key", "PMAK-{{hex:24}}-{{hex:34}}", gl("postman-api-token")),
    ("Prefect", "API key", "pnu_{{alnum:36}}", gl("prefect-api-token")),
    ("ReadMe", "API key", "rdme_{{alnumlower:70}}", gl("readme-api-token")),
    ("Linear", "API key", "lin_api_{{alnum:40}}", gl("linear-api-key")),
    ("Figma", "personal access token", "figd_{{b64url:40}}", GH),
    ("Contentful", "personal access token", "CFPAT-{{b64url:43}}", GH),
    ("Frame.io", "developer token", "fio-u-{{b64url:64}}", gl("frameio-api-token")),
    ("Harness", "personal access token", "pat.{{b64url:22}}.{{alnum:24}}.{{alnum:20}}", GH),
    ("Infracost", "API key", "ico-{{alnum:32}}", gl("infracost-api-token")),
    ("Intra42", "client secret", "s-s4t2ud-{{hex:64}}", gl("intra42-client-secret")),
    ("MaxMind", "license key", "{{alnum:6}}_{{alnum:29}}_mmk", gl("maxmind-license-key")),
    (
        "SettleMint",
        "personal access token",
        "sm_pat_{{alnum:16}}",
        gl("settlemint-personal-access-token"),
    ),
    ("Adafruit IO", "key", "aio_{{alnum:28}}", GH),
    ("Adobe", "OAuth client secret", "p8e-{{alnum:32}}", gl("adobe-client-secret")),
    ("Defined Networking", "API token", "dnkey-{{b64url:26}}-{{b64url:52}}", GH),
    (
        "Authress",
        "service client access key",
        "sc_{{alnumlower:12}}.{{alnumlower:5}}.acc_{{alnumlower:20}}.{{b64url:64}}",
        gl("authress-service-client-access-key"),
    ),
    ("Typeform", "personal access token", "tfp_{{b64url:44}}_{{alnum:14}}", GH),
    ("HubSpot", "private app access token", "pat-na1-{{uuid}}", GH),
    ("Mapbox", "secret access token", "sk.eyJ1Ijoi{{alnum:40}}.{{b64url:22}}", GH),
]

_OBSERVABILITY: list[Row] = [
    ("Dynatrace", "API token", "dt0c01.{{alnumupper:24}}.{{alnumupper:64}}", DYNATRACE),
    ("Grafana", "Cloud API token", "glc_eyJvIjoi{{alnum:100}}", gl("grafana-cloud-api-token")),
    ("Grafana", "service account token", "glsa_{{alnum:32}}_{{hex:8}}", GH),
    ("Grafana", "API key (legacy)", "eyJrIjoi{{alnum:80}}", gl("grafana-api-key")),
    ("New Relic", "user API key", "NRAK-{{alnumupper:27}}", GH),
    ("New Relic", "insert key", "NRII-{{b64url:32}}", GH),
    ("New Relic", "browser API token", "NRJS-{{hex:19}}", GH),
    ("Sentry", "user auth token", "sntryu_{{hex:64}}", gl("sentry-user-token")),
]

_AI: list[Row] = [
    ("OpenAI", "API key (legacy)", "sk-{{alnum:20}}T3BlbkFJ{{alnum:20}}", gl("openai-api-key")),
    (
        "OpenAI",
        "project API key",
        "sk-proj-{{b64url:74}}T3BlbkFJ{{b64url:74}}",
        gl("openai-api-key"),
    ),
    (
        "OpenAI",
        "service account key",
        "sk-svcacct-{{b64url:58}}T3BlbkFJ{{b64url:58}}",
        gl("openai-api-key"),
    ),
    ("OpenAI", "admin key", "sk-admin-{{b64url:58}}T3BlbkFJ{{b64url:58}}", gl("openai-api-key")),
    ("Anthropic", "API key", "sk-ant-api03-{{b64url:93}}AA", gl("anthropic-api-key")),
    ("Anthropic", "admin key", "sk-ant-admin01-{{b64url:93}}AA", gl("anthropic-admin-api-key")),
    ("Hugging Face", "user access token", "hf_{{alpha:34}}", HF),
    ("Hugging Face", "organization API token", "api_org_{{alpha:34}}", HF),
    ("Groq", "API key", "gsk_{{alnum:52}}", GH),
    ("xAI", "API key", "xai-{{alnum:80}}", GH),
    ("Perplexity", "API key", "pplx-{{alnum:48}}", gl("perplexity-api-key")),
    ("Replicate", "API token", "r8_{{alnum:37}}", GH),
    ("OpenRouter", "API key", "sk-or-v1-{{hex:64}}", GH),
    ("DeepSeek", "API key", "sk-{{hex:32}}", DEEPSEEK),
    ("LangSmith", "personal access token", "lsv2_pt_{{hex:32}}_{{hex:10}}", th("langsmith")),
    ("LangSmith", "service key", "lsv2_sk_{{hex:32}}_{{hex:10}}", th("langsmith")),
]

_MESSAGING: list[Row] = [
    ("Slack", "bot token", "xoxb-{{digits:12}}-{{digits:13}}-{{alnum:24}}", SLACK),
    ("Slack", "user token", "xoxp-{{digits:12}}-{{digits:12}}-{{digits:13}}-{{hex:32}}", SLACK),
    ("Slack", "app-level token", "xapp-1-A{{alnumupper:10}}-{{digits:13}}-{{hex:64}}", SLACK),
    ("Slack", "configuration token", "xoxe.xoxp-1-{{alnumupper:164}}", SLACK),
    ("Slack", "configuration refresh token", "xoxe-1-{{alnumupper:146}}", SLACK),
    (
        "Slack",
        "incoming webhook URL",
        "https://hooks.slack.com/services/T{{alnumupper:10}}/B{{alnumupper:10}}/{{alnum:24}}",
        SLACK,
    ),
    ("Discord", "bot token", "MT{{b64url:24}}.{{b64url:6}}.{{b64url:38}}", GH),
    (
        "Discord",
        "webhook URL",
        "https://discord.com/api/webhooks/{{_digits:19}}/{{b64url:68}}",
        GH,
    ),
    (
        "Microsoft Teams",
        "incoming webhook URL",
        "https://contoso.webhook.office.com/webhookb2/{{_uuid}}@{{_uuid}}"
        "/IncomingWebhook/{{hex:32}}/{{uuid}}",
        gl("microsoft-teams-webhook"),
    ),
    ("Twilio", "API key SID", "SK{{hex:32}}", TWILIO),
    ("SendGrid", "API key", "SG.{{b64url:22}}.{{b64url:43}}", gl("sendgrid-api-token")),
    ("Mailgun", "private API key", "key-{{hex:32}}", gl("mailgun-private-api-token")),
    ("Mailchimp", "API key", "{{hex:32}}-us{{digits:2}}", gl("mailchimp-api-key")),
    ("Mandrill", "API key", "md-{{b64url:22}}", GH),
    (
        "Brevo (Sendinblue)",
        "API key",
        "xkeysib-{{hex:64}}-{{alnum:16}}",
        gl("sendinblue-api-token"),
    ),
]

_PAYMENTS: list[Row] = [
    ("Stripe", "live secret key", "sk_live_{{alnum:99}}", STRIPE),
    ("Stripe", "live restricted key", "rk_live_{{alnum:99}}", STRIPE),
    ("Stripe", "test secret key", "sk_test_{{alnum:99}}", STRIPE),
    ("Stripe", "webhook signing secret", "whsec_{{alnum:32}}", STRIPE),
    ("Square", "access token", "EAAA{{b64url:60}}", SQUARE),
    ("Square", "legacy access token", "sq0atp-{{b64url:22}}", SQUARE),
    ("Square", "OAuth application secret", "sq0csp-{{b64url:43}}", GH),
    ("Shopify", "admin API access token", "shpat_{{hex:32}}", SHOPIFY),
    ("Shopify", "custom app access token", "shpca_{{hex:32}}", SHOPIFY),
    ("Shopify", "private app access token", "shppa_{{hex:32}}", SHOPIFY),
    ("Shopify", "shared secret", "shpss_{{hex:32}}", SHOPIFY),
    (
        "PayPal Braintree",
        "access token",
        "access_token$production${{alnumlower:16}}${{hex:32}}",
        GH,
    ),
    ("Paystack", "live secret key", "sk_live_{{hex:40}}", GH),
    ("Flutterwave", "live secret key", "FLWSECK-{{hex:32}}-X", gl("flutterwave-secret-key")),
    ("Plaid", "production access token", "access-production-{{uuid}}", gl("plaid-api-token")),
    ("WooCommerce", "consumer secret", "cs_{{hex:40}}", GH),
    ("Duffel", "live access token", "duffel_live_{{b64url:43}}", gl("duffel-api-token")),
    ("EasyPost", "production API key", "EZAK{{alnum:54}}", gl("easypost-api-token")),
    ("Shippo", "live API token", "shippo_live_{{hex:40}}", gl("shippo-api-token")),
    ("Meta (Facebook)", "page access token", "EAAC{{alnum:150}}", gl("facebook-page-access-token")),
    (
        "X (Twitter)",
        "app bearer token",
        "AAAAAAAAAAAAAAAAAAAAA{{alnum:30}}%3D{{alnum:50}}",
        gl("twitter-bearer-token"),
    ),
]

#: Formats added with the rules of the web APIs, business tools and developer tools.
_MORE: list[tuple[str, Row]] = [
    ("cloud", ("AWS AppSync", "GraphQL API key", "da2-{{alnumlower:26}}", th("awsappsync"))),
    ("cloud", ("CAST AI", "API key", "castai_v1_{{alnumlower:64}}_{{alnumlower:8}}", th("castai"))),
    (
        "build and packages",
        ("crates.io", "API token", "cio{{alnum:32}}", "https://crates.io/settings/tokens"),
    ),
    (
        "build and packages",
        (
            "Deno Deploy",
            "personal access token",
            "ddp_{{alnum:36}}",
            "https://docs.deno.com/deploy/",
        ),
    ),
    (
        "build and packages",
        ("WakaTime", "API key", "waka_{{uuid}}", "https://wakatime.com/developers"),
    ),
    ("build and packages", ("Teamwork", "API token", "tkn.v1_{{alnum:71}}=", th("teamworkcrm"))),
    ("build and packages", ("Ubidots", "API token", "BBFF-{{alnum:30}}", th("ubidots"))),
    (
        "observability",
        ("New Relic", "REST API key", "NRRA-{{hex:42}}", th("newrelicpersonalapikey")),
    ),
    (
        "observability",
        ("Pixie", "API key", "px-api-{{uuid}}", "https://docs.px.dev/reference/admin/api-keys/"),
    ),
    (
        "observability",
        (
            "Pixie",
            "deploy key",
            "px-dep-{{uuid}}",
            "https://docs.px.dev/reference/admin/deploy-keys/",
        ),
    ),
    ("ai", ("Firecrawl", "API key", "fc-{{hex:32}}", "https://docs.firecrawl.dev/")),
    ("ai", ("Jina AI", "API key", "jina_{{hex:32}}{{b64url:28}}", "https://jina.ai/")),
    ("ai", ("Apify", "API token", "apify_api_{{alnum:36}}", th("apify"))),
    ("ai", ("Tavily", "API key", "tvly-{{alnum:32}}", "https://docs.tavily.com/")),
    ("ai", ("Cerebras", "API key", "csk-{{alnumlower:48}}", "https://inference-docs.cerebras.ai/")),
    (
        "messaging",
        (
            "Slack",
            "legacy bot token, two parts",
            "xoxb-{{digits:12}}-{{alnum:24}}",
            gl("slack-legacy-bot-token"),
        ),
    ),
    (
        "messaging",
        (
            "PubNub",
            "secret key",
            "sec-c-{{b64:48}}",
            "https://www.pubnub.com/docs/general/basics/access-keys",
        ),
    ),
    (
        "messaging",
        ("MailerSend", "API token", "mlsn.{{hex:64}}", "https://developers.mailersend.com/"),
    ),
    (
        "payments and commerce",
        (
            "Braintree",
            "tokenization key",
            "production_{{alnumlower:8}}_{{alnumlower:16}}",
            "https://developer.paypal.com/braintree/docs/guides/authorization/tokenization-key",
        ),
    ),
    ("payments and commerce", ("Razorpay", "live key id", "rzp_live_{{alnum:14}}", th("razorpay"))),
    (
        "payments and commerce",
        ("CoinGecko", "API key", "CG-{{alnum:24}}", "https://docs.coingecko.com/"),
    ),
    (
        "messaging",
        (
            "Twitch",
            "stream key",
            "live_{{digits:9}}_{{alnum:30}}",
            "https://help.twitch.tv/s/article/twitch-stream-key-faq",
        ),
    ),
    (
        "application secrets",
        (
            "Django",
            "development SECRET_KEY",
            "django-insecure-{{alnumlower:49}}x",
            "https://docs.djangoproject.com/en/stable/ref/settings/#secret-key",
        ),
    ),
]

TOKENS: Final[tuple[Format, ...]] = (
    *_family("cloud", _CLOUD),
    *_family("data", _DATA),
    *_family("source control", _SOURCE),
    *_family("build and packages", _BUILD),
    *_family("observability", _OBSERVABILITY),
    *_family("ai", _AI),
    *_family("messaging", _MESSAGING),
    *_family("payments and commerce", _PAYMENTS),
    *(f for family, row in _MORE for f in _family(family, [row])),
)
