"""Examples for the rule table: for every rule, strings of the format it describes, with a
random body (a seeded ``random.Random``: the same strings on every run; none is a real
secret), and values that no rule may touch.

An :class:`Example` is the text written into a log (``HEROKU_API_KEY=<uuid>``) and the
part of it that must not survive the mask (the UUID); for a token, both are the token.
"""

from __future__ import annotations

import base64
import random
import string
from typing import Final, NamedTuple

__all__ = ("EXAMPLES", "ORDINARY", "Example")


class Example(NamedTuple):
    text: str
    secret: str


_RNG: Final = random.Random(0x5EC2E75)

HEX: Final = "0123456789abcdef"
UHEX: Final = "0123456789ABCDEF"
DIGITS: Final = string.digits
LETTERS: Final = string.ascii_letters
ALNUM: Final = string.ascii_letters + string.digits
UPPER: Final = string.ascii_uppercase + string.digits
LOWER: Final = string.ascii_lowercase + string.digits
B64: Final = ALNUM + "+/"
B64URL: Final = ALNUM + "-_"
BASE32: Final = string.ascii_lowercase + "234567"
BECH32: Final = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


def r(chars: str, n: int) -> str:
    """``n`` characters drawn from ``chars``."""
    return "".join(_RNG.choice(chars) for _ in range(n))


def one(chars: str) -> str:
    return _RNG.choice(chars)


def uuid() -> str:
    return f"{r(HEX, 8)}-{r(HEX, 4)}-4{r(HEX, 3)}-{one('89ab')}{r(HEX, 3)}-{r(HEX, 12)}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def password(n: int = 16) -> str:
    """A password with a digit in it, of letters, digits and ``!#%*-_``."""
    return r(LETTERS, n // 2) + one(DIGITS) + r(ALNUM + "!#%*-_", n - n // 2 - 1)


def tok(*tokens: str) -> tuple[Example, ...]:
    return tuple(Example(t, t) for t in tokens)


def kv(key: str, value: str, sep: str = "=") -> Example:
    return Example(f"{key}{sep}{value}", value)


def around(before: str, secret: str, after: str = "") -> Example:
    return Example(f"{before}{secret}{after}", secret)


def _sas_sig() -> str:
    raw = b64(_RNG.randbytes(32))
    return raw.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")


def _pem(kind: str, lines: int, newline: str = "\n") -> Example:
    body = newline.join(r(B64, 64) for _ in range(lines)) + newline + r(B64, 40) + "=="
    head, tail = f"-----BEGIN {kind}-----", f"-----END {kind}-----"
    return Example(f"{head}{newline}{body}{newline}{tail}", body)


def _azure(signature: str, before: int, chars: str = B64) -> str:
    return r(chars, before) + signature + r(chars, 5) + one("AQgw") + "=="


def _cask(tail: str) -> str:
    return (
        r(ALNUM, 52)
        + "JQQJ9"
        + one("9DH")
        + r(ALNUM, 1)
        + one("ABCDEFGHIJKL")
        + r(ALNUM, 16)
        + tail
    )


_CLOUD: Final[dict[str, tuple[Example, ...]]] = {
    "aws-access-key-id": tok("AKIA" + r(UPPER, 16), "ASIA" + r(UPPER, 16)),
    "aws-secret-access-key": (
        kv("AWS_SECRET_ACCESS_KEY", r(B64, 40)),
        around('{"SecretAccessKey": "', r(B64, 40), '"}'),
    ),
    "aws-session-token": (kv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzE" + r(B64, 300)),),
    "aws-bedrock-api-key": tok("ABSK" + r(B64, 120)),
    "aws-signature": (around("?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=", r(HEX, 64)),),
    "amazon-mws-auth-token": tok("amzn.mws." + uuid()),
    "gcp-api-key": tok("AIza" + r(B64URL, 35)),
    "gcp-oauth-client-secret": tok("GOCSPX-" + r(B64URL, 28)),
    "gcp-oauth-access-token": tok("ya29." + r(B64URL, 150)),
    "gcp-oauth-refresh-token": tok("1//0" + r(B64URL, 100)),
    "firebase-cloud-messaging-key": tok("AAAA" + r(B64URL, 7) + ":APA91b" + r(B64URL, 134)),
    "azure-entra-client-secret": tok(r(ALNUM, 3) + one("78") + "Q~" + r(ALNUM + "_~.-", 34)),
    "azure-storage-account-key": (
        around(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=",
            r(B64, 86) + "==",
            ";EndpointSuffix=core.windows.net",
        ),
    ),
    "azure-storage-identifiable-key": tok(_azure("+ASt", 76)),
    "azure-cosmosdb-identifiable-key": tok(_azure("ACDb", 76)),
    "azure-batch-identifiable-key": tok(_azure("+ABa", 76)),
    "azure-apim-identifiable-key": tok(_azure("APIM", 76)),
    "azure-ml-identifiable-key": tok(_azure("+AMC", 76)),
    "azure-function-identifiable-key": tok(_azure("AzFu", 44, B64URL)),
    "azure-search-identifiable-key": tok(r(ALNUM, 42) + "AzSe" + one("ABCD") + r(ALNUM, 5)),
    "azure-messaging-identifiable-key": tok(
        r(B64, 33) + "+ASb" + one("ABCDEFGHIJKLMNOP") + r(B64, 5) + "=",
        r(B64, 33) + "AIoT" + one("ABCDEFGHIJKLMNOP") + r(B64, 5) + "=",
    ),
    "azure-container-registry-key": tok(r(B64, 42) + "+ACR" + one("ABCD") + r(B64, 5)),
    "azure-common-annotated-key": tok(_cask(one(LETTERS) + r(ALNUM, 7))),
    "azure-shared-access-key": (
        around(
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=",
            r(B64, 43) + "=",
        ),
    ),
    "azure-sas-signature": (
        around("https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&sp=r&sig=", _sas_sig()),
    ),
    "azure-container-registry-password": (kv("ACR_PASSWORD", r(B64, 32)),),
    "azure-openai-key": (kv("AZURE_OPENAI_API_KEY", r(HEX, 32)),),
    "azure-devops-pat": tok(_cask("AZDO" + r(ALNUM, 4))),
    "azure-devops-legacy-pat": (kv("AZURE_DEVOPS_PAT", r(BASE32, 52)),),
    "azure-devops-legacy-pat-bare": tok(r(BASE32, 52)),
    "alibaba-access-key-id": tok("LTAI" + r(ALNUM, 20)),
    "alibaba-access-key-secret": (kv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", r(ALNUM, 30)),),
    "ibm-cloud-api-key": (kv("IBM_CLOUD_API_KEY", r(B64URL, 44)),),
    "oracle-cloud-auth-token": (kv("OCI_AUTH_TOKEN", r(ALNUM + "(){}<>:;.#_-", 20)),),
    "digitalocean-pat": tok("dop_v1_" + r(HEX, 64)),
    "digitalocean-oauth-token": tok("doo_v1_" + r(HEX, 64)),
    "digitalocean-refresh-token": tok("dor_v1_" + r(HEX, 64)),
    "linode-token": (kv("LINODE_TOKEN", r(HEX, 64)),),
    "scaleway-access-key": tok("SCW" + r(UPPER, 17)),
    "scaleway-secret-key": (kv("SCW_SECRET_KEY", uuid()),),
    "vultr-api-key": (kv("VULTR_API_KEY", r(UPPER, 36)),),
    "hetzner-api-token": (kv("HCLOUD_TOKEN", r(ALNUM, 64)),),
    "ovh-application-secret": (kv("OVH_APPLICATION_SECRET", r(ALNUM, 32)),),
    "tencent-secret-id": tok("AKID" + r(ALNUM, 32)),
    "tencent-secret-key": (kv("TENCENTCLOUD_SECRET_KEY", r(ALNUM, 32)),),
    "huawei-secret-key": (kv("HUAWEICLOUD_SDK_SK", r(ALNUM, 40)),),
    "backblaze-application-key": (kv("B2_APPLICATION_KEY", "K005" + r(B64, 27)),),
    "fastly-api-token": (kv("FASTLY_API_TOKEN", r(B64URL, 32)),),
    "akamai-edgegrid-token": tok("akab-" + r(LOWER, 16) + "-" + r(LOWER, 16)),
    "heroku-api-key": (kv("HEROKU_API_KEY", uuid()), kv("heroku_token", uuid(), ": ")),
    "heroku-prefixed-token": tok("HRKU-" + r(B64URL, 60), "HRKU-" + uuid()),
    "render-api-key": tok("rnd_" + r(ALNUM, 32)),
    "railway-token": (kv("RAILWAY_TOKEN", uuid()),),
    "flyio-oauth-token": tok("fo1_" + r(B64URL, 43)),
    "flyio-macaroon-token": (around("FlyV1 ", "fm2_" + r(B64, 200) + ",fm2_" + r(B64, 120)),),
    "vercel-token": tok("vcp_" + r(ALNUM, 24), "vck_" + r(ALNUM, 40)),
    "vercel-legacy-token": (kv("VERCEL_TOKEN", r(ALNUM, 24)),),
    "netlify-pat": tok("nfp_" + r(ALNUM, 36)),
    "netlify-legacy-token": (kv("NETLIFY_AUTH_TOKEN", r(B64URL, 43)),),
    "supabase-pat": tok("sbp_" + r(HEX, 40)),
    "supabase-secret-key": tok("sb_secret_" + r(B64URL, 31)),
    "planetscale-token": tok("pscale_tkn_" + r(B64URL, 43)),
    "planetscale-password": tok("pscale_pw_" + r(B64URL, 43)),
    "planetscale-oauth-token": tok("pscale_oauth_" + r(B64URL, 43)),
    "neon-api-key": tok("napi_" + r(LOWER, 64)),
    "mongodb-atlas-private-key": (kv("MONGODB_ATLAS_PRIVATE_KEY", uuid()),),
    "upstash-token": (kv("UPSTASH_REDIS_REST_TOKEN", "A" + r(B64URL, 60)),),
    "openshift-token": tok("sha256~" + r(B64URL, 43)),
    "tailscale-key": tok("tskey-auth-" + r(ALNUM, 11) + "CNTRL-" + r(ALNUM, 33)),
    "defined-networking-key": tok("dnkey-" + r(LOWER, 26) + "-" + r(LOWER, 52)),
    "ngrok-authtoken": (kv("NGROK_AUTHTOKEN", r(ALNUM, 27) + "_" + r(ALNUM, 21)),),
    "yandex-api-key": tok("AQVN" + r(B64URL, 36)),
    "yandex-iam-token": tok("t1." + r(B64URL, 60) + "." + r(B64URL, 86)),
}

_CODE: Final[dict[str, tuple[Example, ...]]] = {
    "github-pat": tok("ghp_" + r(ALNUM, 36)),
    "github-oauth-token": tok("gho_" + r(ALNUM, 36)),
    "github-app-token": tok("ghs_" + r(ALNUM, 36), "ghu_" + r(ALNUM, 36)),
    "github-refresh-token": tok("ghr_" + r(ALNUM, 76)),
    "github-fine-grained-pat": tok("github_pat_" + r(ALNUM, 22) + "_" + r(ALNUM, 59)),
    "gitlab-pat": tok("glpat-" + r(B64URL, 20), "glpat-" + r(B64URL, 27) + ".01." + r(ALNUM, 9)),
    "gitlab-deploy-token": tok("gldt-" + r(B64URL, 20)),
    "gitlab-runner-token": tok("glrt-t1_" + r(B64URL, 20)),
    "gitlab-runner-registration-token": tok("GR1348941" + r(B64URL, 20)),
    "gitlab-trigger-token": tok("glptt-" + r(HEX, 40)),
    "gitlab-ci-job-token": tok("glcbt-64_" + r(B64URL, 20)),
    "gitlab-feed-token": tok("glft-" + r(B64URL, 20)),
    "gitlab-incoming-mail-token": tok("glimt-" + r(B64URL, 25)),
    "gitlab-agent-token": tok("glagent-" + r(B64URL, 50)),
    "gitlab-oauth-app-secret": tok("gloas-" + r(HEX, 64)),
    "gitlab-scim-token": tok("glsoat-" + r(B64URL, 20)),
    "gitlab-feature-flags-token": tok("glffct-" + r(B64URL, 20)),
    "gitlab-session-cookie": (around("Cookie: _gitlab_session=", r(HEX, 32)),),
    "bitbucket-app-password": tok("ATBB" + r(ALNUM, 32)),
    "bitbucket-access-token": tok("ATCTT3xFfGN0" + r(B64URL + "=", 180)),
    "npm-access-token": tok("npm_" + r(ALNUM, 36)),
    "npm-legacy-token": (
        around("//registry.npmjs.org/:_authToken=", uuid()),
        kv("NPM_TOKEN", uuid()),
    ),
    "npmrc-auth": (kv("_auth", b64(f"ci:{password()}".encode())),),
    "pypi-upload-token": tok("pypi-AgEIcHlwaS5vcmc" + r(B64URL, 150)),
    "rubygems-api-key": tok("rubygems_" + r(HEX, 48)),
    "nuget-api-key": tok("oy2" + r(LOWER, 43)),
    "dockerhub-pat": tok("dckr_pat_" + r(B64URL, 27)),
    "dockerhub-org-token": tok("dckr_oat_" + r(B64URL, 32)),
    "docker-config-auth": (
        around(
            '{"auths": {"https://index.docker.io/v1/": {"auth": "',
            b64(f"deploy:{password()}".encode()),
            '"}}}',
        ),
    ),
    "docker-login-password": (around("docker login -u deploy -p ", password(20), " reg.example"),),
    "huggingface-token": tok("hf_" + r(LETTERS, 34)),
    "huggingface-org-token": tok("api_org_" + r(LETTERS, 34)),
    "jfrog-api-key": tok("AKCp8" + r(ALNUM, 68)),
    "jfrog-reference-token": tok("cmVmdGtu" + r(ALNUM, 56)),
    "clojars-token": tok("CLOJARS_" + r(LOWER, 60)),
    "packagist-token": tok("packagist_ort_" + r(HEX, 68)),
    "pulumi-access-token": tok("pul-" + r(HEX, 40)),
    "terraform-cloud-token": tok(r(ALNUM, 14) + ".atlasv1." + r(B64URL, 67)),
    "vault-service-token": tok("hvs." + r(B64URL, 24), "hvs.CAESI" + r(B64URL, 90)),
    "vault-batch-token": tok("hvb." + r(B64URL, 138)),
    "vault-recovery-token": tok("hvr." + r(B64URL, 24)),
    "vault-legacy-token-bare": tok("s." + r(ALNUM, 24)),
    "vault-legacy-token": (kv("VAULT_TOKEN", "s." + r(ALNUM, 24)),),
    "doppler-token": tok("dp.pt." + r(ALNUM, 43), "dp.st.dev." + r(ALNUM, 40)),
    "infisical-service-token": tok(f"st.{uuid()}.{r(HEX, 32)}.{r(HEX, 32)}"),
    "octopus-api-key": tok("API-" + r(UPPER, 26)),
    "circleci-token": tok("CCIPAT_" + r(ALNUM, 22) + "_" + r(HEX, 40)),
    "circleci-legacy-token": (kv("CIRCLECI_TOKEN", r(HEX, 40)),),
    "travis-ci-token": (kv("TRAVIS_API_TOKEN", r(B64URL, 22)),),
    "buildkite-token": tok("bkua_" + r(HEX, 40)),
    "codecov-token": (kv("CODECOV_TOKEN", uuid()),),
    "sonar-token": tok("squ_" + r(HEX, 40), "sqp_" + r(HEX, 40)),
    "snyk-token": (kv("SNYK_TOKEN", uuid()),),
    "postman-api-key": tok("PMAK-" + r(HEX, 24) + "-" + r(HEX, 34)),
    "sourcegraph-token": tok("sgp_" + r(HEX, 16) + "_" + r(HEX, 40), "sgp_local_" + r(HEX, 40)),
    "gitea-token": (kv("GITEA_TOKEN", r(HEX, 40)),),
    "jenkins-api-token": (kv("JENKINS_API_TOKEN", "11" + r(HEX, 32)),),
    "teamcity-token": tok("eyJ0eXAiOiAiVENWMiJ9." + r(B64URL, 36) + "." + r(B64URL, 48)),
    "harness-token": tok(f"pat.{r(B64URL, 22)}.{r(ALNUM, 24)}.{r(ALNUM, 20)}"),
    "prefect-api-key": tok("pnu_" + r(ALNUM, 36)),
    "readme-api-key": tok("rdme_" + r(LOWER, 70)),
    "infracost-api-key": tok("ico-" + r(ALNUM, 32)),
    "scalingo-token": tok("tk-us-" + r(B64URL, 48)),
    "kubernetes-client-key-data": (around("    client-key-data: ", b64(_RNG.randbytes(300))),),
}

_MESSAGING: Final[dict[str, tuple[Example, ...]]] = {
    "slack-bot-token": tok(f"xoxb-{r(DIGITS, 12)}-{r(DIGITS, 13)}-{r(ALNUM, 24)}"),
    "slack-user-token": tok(f"xoxp-{r(DIGITS, 12)}-{r(DIGITS, 12)}-{r(DIGITS, 13)}-{r(HEX, 32)}"),
    "slack-app-token": tok(f"xapp-1-A{r(UPPER, 10)}-{r(DIGITS, 13)}-{r(HEX, 64)}"),
    "slack-config-token": tok("xoxe.xoxp-1-" + r(ALNUM, 163)),
    "slack-refresh-token": tok("xoxe-1-" + r(ALNUM, 146)),
    "slack-legacy-token": tok(
        f"xoxs-{r(DIGITS, 12)}-{r(ALNUM, 40)}",
        f"xoxb-{r(DIGITS, 12)}-{r(ALNUM, 24)}",
        f"xoxp-{r(DIGITS, 11)}-{r(DIGITS, 13)}{one(LETTERS)}",
    ),
    "slack-webhook-url": (
        around(
            "https://hooks.slack.com/services/",
            f"T{r(UPPER, 10)}/B{r(UPPER, 10)}/{r(ALNUM, 24)}",
        ),
    ),
    "discord-webhook-url": (
        around(f"https://discord.com/api/webhooks/{r(DIGITS, 18)}/", r(B64URL, 68)),
    ),
    "discord-bot-token": (
        kv("DISCORD_BOT_TOKEN", f"M{r(B64URL, 25)}.{r(B64URL, 6)}.{r(B64URL, 38)}"),
        around("discord bot: ", f"{one('oqz')}{r(B64URL, 23)}.{r(B64URL, 6)}.{r(B64URL, 27)}"),
    ),
    "telegram-bot-token": (
        *tok(r(DIGITS, 10) + ":AA" + r(B64URL, 33), r(DIGITS, 9) + ":AA" + r(B64URL, 32)),
        around("https://api.telegram.org/bot", r(DIGITS, 10) + ":AA" + r(B64URL, 33), "/getMe"),
    ),
    "teams-webhook-url": (
        around(
            "https://contoso.webhook.office.com/webhookb2/",
            f"{uuid()}@{uuid()}/IncomingWebhook/{r(HEX, 32)}/{uuid()}",
        ),
        around(
            "https://outlook.office.com/webhook/",
            f"{uuid()}@{uuid()}/IncomingWebhook/{r(HEX, 32)}/{uuid()}",
        ),
    ),
    "mattermost-token": (kv("MATTERMOST_TOKEN", r(LOWER, 26)),),
    "zulip-api-key": (kv("ZULIP_API_KEY", r(ALNUM, 32)),),
    "google-chat-webhook": (
        around(
            f"https://chat.googleapis.com/v1/spaces/AAAA{r(B64URL, 7)}/messages?key=AIza"
            f"{r(B64URL, 35)}&token=",
            r(B64URL, 43) + "%3D",
        ),
    ),
    "webex-token": (kv("WEBEX_ACCESS_TOKEN", f"{r(B64URL, 64)}_{r(ALNUM, 4)}_{uuid()}"),),
    "zoom-secret": (kv("ZOOM_CLIENT_SECRET", r(ALNUM, 32)),),
    "line-channel-secret": (kv("LINE_CHANNEL_ACCESS_TOKEN", r(B64, 100) + "="),),
    "twilio-api-key-sid": tok("SK" + r(HEX, 32)),
    "twilio-account-sid": tok("AC" + r(HEX, 32)),
    "twilio-auth-token": (
        kv("TWILIO_AUTH_TOKEN", r(HEX, 32)),
        around("twilio token - '", r(HEX, 32), "'"),
    ),
    "vonage-api-secret": (kv("VONAGE_API_SECRET", r(ALNUM, 16)),),
    "plivo-auth-token": (kv("PLIVO_AUTH_TOKEN", r(ALNUM, 40)),),
    "telnyx-api-key": tok("KEY" + r(UPPER, 32) + "_" + r(ALNUM, 22)),
    "messagebird-api-key": (kv("MESSAGEBIRD_API_KEY", r(ALNUM, 25)),),
    "pusher-secret": (kv("PUSHER_APP_SECRET", r(HEX, 20)),),
    "ably-api-key": (kv("ABLY_API_KEY", f"{r(B64URL, 6)}.{r(B64URL, 6)}:{r(B64URL, 43)}"),),
    "pushover-token": (kv("PUSHOVER_TOKEN", r(LOWER, 30)),),
    "onesignal-api-key": (kv("ONESIGNAL_REST_API_KEY", "os_v2_app_" + r(LOWER, 100)),),
    "sendgrid-api-key": tok(f"SG.{r(B64URL, 22)}.{r(B64URL, 43)}"),
    "mailgun-api-key": tok("key-" + r(HEX, 32), "key-" + r(LOWER, 32)),
    "mailgun-private-key": (kv("MAILGUN_API_KEY", f"{r(HEX, 32)}-{r(HEX, 8)}-{r(HEX, 8)}"),),
    "mailgun-signing-key": (kv("MAILGUN_WEBHOOK_SIGNING_KEY", r(HEX, 32)),),
    "mailchimp-api-key": tok(f"{r(HEX, 32)}-us{_RNG.randint(1, 21)}"),
    "mandrill-api-key": tok("md-" + r(B64URL, 22)),
    "postmark-token": (kv("X-Postmark-Server-Token", uuid(), ": "),),
    "mailjet-secret": (kv("MAILJET_SECRET_KEY", r(HEX, 32)),),
    "sparkpost-api-key": (kv("SPARKPOST_API_KEY", r(HEX, 40)),),
    "brevo-api-key": tok(f"xkeysib-{r(HEX, 64)}-{r(ALNUM, 16)}"),
    "resend-api-key": tok(f"re_{r(ALNUM, 8)}_{r(ALNUM, 24)}"),
    "intercom-access-token": tok("dG9rOj" + r(B64, 54) + "="),
    "zendesk-api-token": (kv("ZENDESK_API_TOKEN", r(ALNUM, 40)),),
    "freshdesk-api-key": (kv("FRESHDESK_API_KEY", r(ALNUM, 20)),),
    "hubspot-private-app-token": tok("pat-na1-" + uuid()),
    "hubspot-api-key": (kv("HUBSPOT_API_KEY", uuid()),),
    "facebook-access-token": tok("EAAB" + r(ALNUM, 180)),
    "facebook-app-secret": (kv("FACEBOOK_APP_SECRET", r(HEX, 32)),),
    "twitter-bearer-token": tok("A" * 22 + r(ALNUM, 40) + "%3D" + r(ALNUM, 50)),
    "twitter-api-secret": (kv("TWITTER_API_SECRET", r(ALNUM, 50)),),
    "linkedin-client-secret": (kv("LINKEDIN_CLIENT_SECRET", r(ALNUM, 16)),),
    "reddit-client-secret": (kv("REDDIT_CLIENT_SECRET", r(B64URL, 27)),),
    "spotify-client-secret": (kv("SPOTIFY_CLIENT_SECRET", r(HEX, 32)),),
}

_PAYMENTS: Final[dict[str, tuple[Example, ...]]] = {
    "stripe-secret-key": tok("sk_live_" + r(ALNUM, 99), "sk_test_" + r(ALNUM, 24)),
    "stripe-restricted-key": tok("rk_live_" + r(ALNUM, 99)),
    "stripe-webhook-secret": tok("whsec_" + r(ALNUM, 32)),
    "square-access-token": tok("sq0atp-" + r(B64URL, 22)),
    "square-oauth-secret": tok("sq0csp-" + r(B64URL, 43)),
    "square-eaaa-token": tok("EAAA" + r(B64URL, 60)),
    "braintree-access-token": tok(f"access_token$production${r(LOWER, 16)}${r(HEX, 32)}"),
    "braintree-private-key": (kv("BRAINTREE_PRIVATE_KEY", r(HEX, 32)),),
    "paypal-client-secret": (
        kv("PAYPAL_CLIENT_SECRET", r(B64URL, 80)),
        kv("paypal secret", r(B64URL + ".", 50), " = "),
    ),
    "adyen-api-key": tok("AQE" + r(B64 + "=-", 150)),
    "checkout-secret-key": (kv("CHECKOUT_SECRET_KEY", "sk_" + r(LOWER, 26)),),
    "checkout-sandbox-key": tok("sk_sbox_" + r(LOWER, 26)),
    "authorize-net-transaction-key": (kv("AUTHORIZE_NET_TRANSACTION_KEY", r(ALNUM, 16)),),
    "klarna-api-secret": (kv("KLARNA_API_PASSWORD", "klarna_live_api_" + r(B64URL, 40)),),
    "mollie-api-key": tok("live_" + r(ALNUM, 30)),
    "mollie-access-token": tok("access_" + r(ALNUM, 40)),
    "gocardless-token": (kv("GOCARDLESS_ACCESS_TOKEN", "live_" + r(B64URL, 40)),),
    "paddle-api-key": tok(f"pdl_live_apikey_{r(LOWER, 26)}_{r(ALNUM, 22)}_{r(ALNUM, 3)}"),
    "recurly-api-key": (kv("RECURLY_API_KEY", r(HEX, 32)),),
    "chargebee-api-key": (kv("CHARGEBEE_API_KEY", "live_" + r(ALNUM, 32)),),
    "wise-api-token": (kv("TRANSFERWISE_API_TOKEN", uuid()),),
    "razorpay-key-secret": (kv("RAZORPAY_KEY_SECRET", r(ALNUM, 24)),),
    "flutterwave-secret-key": tok(f"FLWSECK_TEST-{r(HEX, 32)}-X"),
    "paystack-secret-key": tok("sk_live_" + r(HEX, 40)),
    "xendit-secret-key": tok("xnd_production_" + r(ALNUM, 60)),
    "midtrans-server-key": tok("SB-Mid-server-" + r(B64URL, 24)),
    "shopify-access-token": tok("shpat_" + r(HEX, 32)),
    "shopify-shared-secret": tok("shpss_" + r(HEX, 32)),
    "shopify-custom-app-token": tok("shpca_" + r(HEX, 32)),
    "shopify-private-app-token": tok("shppa_" + r(HEX, 32)),
    "plaid-access-token": tok("access-sandbox-" + uuid()),
    "plaid-secret": (kv("PLAID_SECRET", r(HEX, 30)),),
    "coinbase-api-secret": (kv("COINBASE_API_SECRET", r(ALNUM, 32)),),
    "binance-api-secret": (kv("BINANCE_API_SECRET", r(ALNUM, 64)),),
    "kraken-private-key": (kv("KRAKEN_PRIVATE_KEY", b64(_RNG.randbytes(64))),),
    "kucoin-api-secret": (kv("KUCOIN_API_SECRET", uuid()),),
    "alpaca-secret-key": (kv("APCA_API_SECRET_KEY", r(ALNUM, 40)),),
}

_AI_DATA: Final[dict[str, tuple[Example, ...]]] = {
    "openai-api-key": tok(
        "sk-proj-" + r(B64URL, 74) + "T3BlbkFJ" + r(B64URL, 74),
        "sk-" + r(ALNUM, 20) + "T3BlbkFJ" + r(ALNUM, 20),
    ),
    "sk-style-api-key": tok("sk-" + r(HEX, 32), "sk-" + r(B64URL, 40)),
    "openai-legacy-key": tok("sk-" + r(ALNUM, 48)),
    "anthropic-api-key": tok("sk-ant-api03-" + r(B64URL, 93) + "AA"),
    "langsmith-api-key": tok(
        f"lsv2_pt_{r(HEX, 32)}_{r(HEX, 10)}", f"lsv2_sk_{r(HEX, 32)}_{r(HEX, 10)}"
    ),
    "cohere-api-key": (kv("COHERE_API_KEY", r(ALNUM, 40)),),
    "replicate-api-token": tok("r8_" + r(ALNUM, 37)),
    "groq-api-key": tok("gsk_" + r(ALNUM, 52)),
    "mistral-api-key": (kv("MISTRAL_API_KEY", r(ALNUM, 32)),),
    "perplexity-api-key": tok("pplx-" + r(ALNUM, 48)),
    "xai-api-key": tok("xai-" + r(ALNUM, 80)),
    "deepseek-api-key": (kv("DEEPSEEK_API_KEY", "sk-" + r(HEX, 32)),),
    "openrouter-api-key": tok("sk-or-v1-" + r(HEX, 64)),
    "together-api-key": (kv("TOGETHER_API_KEY", r(HEX, 64)),),
    "fireworks-api-key": (kv("FIREWORKS_API_KEY", "fw_" + r(ALNUM, 24)),),
    "stability-api-key": (kv("STABILITY_API_KEY", "sk-" + r(ALNUM, 48)),),
    "assemblyai-api-key": (kv("ASSEMBLYAI_API_KEY", r(HEX, 32)),),
    "elevenlabs-api-key": (kv("xi-api-key", "sk_" + r(HEX, 48), ": "),),
    "deepgram-api-key": (kv("DEEPGRAM_API_KEY", r(HEX, 40)),),
    "nvidia-api-key": tok("nvapi-" + r(B64URL, 64)),
    "langfuse-secret-key": tok("sk-lf-" + uuid()),
    "pinecone-api-key": tok(f"pcsk_{r(ALNUM, 5)}_{r(ALNUM, 64)}"),
    "pinecone-legacy-key": (kv("PINECONE_API_KEY", uuid()),),
    "wandb-api-key": (kv("WANDB_API_KEY", r(HEX, 40)),),
    "databricks-token": tok("dapi" + r(HEX, 32), "dapi" + r(HEX, 32) + "-2"),
    "databricks-oauth-secret": tok("dose" + r(HEX, 32)),
    "snowflake-password": (kv("SNOWFLAKE_PASSWORD", password()),),
    "confluent-api-secret": (kv("CONFLUENT_API_SECRET", r(B64, 64)),),
    "cloudinary-url": (around(f"cloudinary://{r(DIGITS, 15)}:", r(B64URL, 27), "@demo"),),
    "algolia-admin-key": (kv("ALGOLIA_ADMIN_API_KEY", r(HEX, 32)),),
    "mapbox-secret-token": tok(f"sk.eyJ1Ijoi{r(B64URL, 60)}.{r(B64URL, 22)}"),
    "segment-api-token": tok("sgp_" + r(ALNUM, 64)),
    "mixpanel-secret": (kv("MIXPANEL_API_SECRET", r(HEX, 32)),),
    "amplitude-secret": (kv("AMPLITUDE_SECRET_KEY", r(HEX, 32)),),
    "elastic-api-key": (kv("ELASTIC_API_KEY", b64(_RNG.randbytes(45))),),
    "typesense-api-key": (kv("TYPESENSE_API_KEY", r(ALNUM, 32)),),
}

_MONITORING: Final[dict[str, tuple[Example, ...]]] = {
    "datadog-api-key": (kv("DD_API_KEY", r(HEX, 32)), kv("datadog_api_key", r(HEX, 32), ": ")),
    "datadog-app-key": (kv("DD_APP_KEY", r(HEX, 40)),),
    "newrelic-user-api-key": tok("NRAK-" + r(UPPER, 27), "nrak-" + r(LOWER, 27)),
    "newrelic-admin-api-key": tok("NRAA-" + r(HEX, 27)),
    "newrelic-browser-key": tok("NRJS-" + r(HEX, 19)),
    "newrelic-insights-key": tok("NRII-" + r(B64URL, 32)),
    "newrelic-license-key": tok(r(HEX, 36) + "NRAL"),
    "sentry-org-token": tok("sntrys_eyJpYXQiOjE3" + r(B64URL, 150)),
    "sentry-user-token": tok("sntryu_" + r(HEX, 64)),
    "sentry-auth-token": (kv("SENTRY_AUTH_TOKEN", r(HEX, 64)),),
    "rollbar-access-token": (kv("ROLLBAR_ACCESS_TOKEN", r(HEX, 32)),),
    "bugsnag-api-key": (kv("BUGSNAG_API_KEY", r(HEX, 32)),),
    "raygun-api-key": (kv("RAYGUN_API_KEY", r(ALNUM, 22)),),
    "airbrake-api-key": (kv("AIRBRAKE_PROJECT_KEY", r(HEX, 32)),),
    "honeybadger-token": tok("hbp_" + r(ALNUM, 36)),
    "grafana-cloud-token": tok("glc_" + r(B64, 120) + "=="),
    "grafana-service-account-token": tok(f"glsa_{r(ALNUM, 32)}_{r(HEX, 8)}"),
    "grafana-api-key": tok("eyJrIjoi" + r(B64, 70) + "="),
    "dynatrace-token": tok(f"dt0c01.{r(UPPER, 24)}.{r(UPPER, 64)}"),
    "instana-api-token": (kv("INSTANA_API_TOKEN", r(B64URL, 22)),),
    "lightstep-token": (kv("LIGHTSTEP_ACCESS_TOKEN", r(B64, 84)),),
    "honeycomb-key": tok("hcaik_" + r(LOWER, 58)),
    "honeycomb-legacy-key": (kv("HONEYCOMB_API_KEY", r(ALNUM, 22)),),
    "splunk-hec-token": (kv("SPLUNK_HEC_TOKEN", uuid()),),
    "splunk-observability-token": (kv("X-SF-Token", r(B64URL, 22), ": "),),
    "mezmo-ingestion-key": (kv("LOGDNA_INGESTION_KEY", r(HEX, 32)),),
    "loggly-token": (kv("LOGGLY_TOKEN", uuid()),),
    "papertrail-token": (kv("PAPERTRAIL_API_TOKEN", r(ALNUM, 20)),),
    "sumologic-access-id": (kv("SUMO_ACCESS_ID", "su" + r(ALNUM, 12)),),
    "sumologic-access-key": (kv("SUMO_ACCESS_KEY", r(ALNUM, 64)),),
    "coralogix-key": (kv("CORALOGIX_PRIVATE_KEY", "cxtp_" + r(ALNUM, 30)),),
    "axiom-token": tok("xaat-" + uuid()),
    "betterstack-token": (kv("LOGTAIL_SOURCE_TOKEN", r(ALNUM, 24)),),
    "pagerduty-token": (kv("PAGERDUTY_TOKEN", "u+" + r(B64URL, 18)),),
    "opsgenie-api-key": (kv("OPSGENIE_API_KEY", uuid()),),
    "checkly-api-key": (kv("CHECKLY_API_KEY", "cu_" + r(HEX, 32)),),
}

_MISC: Final[dict[str, tuple[Example, ...]]] = {
    "1password-secret-key": tok(
        "-".join(
            ("A3", r(UPPER, 6), r(UPPER, 6), r(UPPER, 5), r(UPPER, 5), r(UPPER, 5), r(UPPER, 5))
        ),
        "-".join(("A3", r(UPPER, 6), r(UPPER, 11), r(UPPER, 5), r(UPPER, 5), r(UPPER, 5))),
    ),
    "1password-service-account-token": tok("ops_eyJ" + r(B64, 300)),
    "age-secret-key": tok("AGE-SECRET-KEY-1" + r(BECH32, 58)),
    "cloudflare-origin-ca-key": tok(
        f"v1.0-{r(HEX, 24)}-{r(HEX, 146)}",
        f"v1.0-{r(HEX, 64)}-{r(HEX, 146)}",
        f"v1.0-{r(HEX, 64)}-{r(HEX, 100)}-{r(HEX, 64)}",
    ),
    "cloudflare-api-token": (kv("CLOUDFLARE_API_TOKEN", r(B64URL, 40)),),
    "cloudflare-global-api-key": (
        kv("CLOUDFLARE_API_KEY", r(HEX, 37)),
        kv("X-Auth-Key", r(HEX, 37), ": "),
    ),
    "okta-api-token": (kv("OKTA_API_TOKEN", "00" + r(B64URL, 40)),),
    "auth0-client-secret": (kv("AUTH0_CLIENT_SECRET", r(B64URL, 64)),),
    "salesforce-access-token": tok(f"00D{r(ALNUM, 15)}!{r(ALNUM + '._', 100)}"),
    "launchdarkly-key": (kv("LAUNCHDARKLY_SDK_KEY", "sdk-" + uuid()),),
    "atlassian-api-token": tok("ATATT3xFfGF0" + r(B64URL + "=", 180)),
    "atlassian-legacy-token": (kv("JIRA_API_TOKEN", r(ALNUM, 24)),),
    "trello-token": tok("ATTA" + r(HEX, 64) + r(UHEX, 8)),
    "trello-api-key": (kv("TRELLO_API_KEY", r(HEX, 32)),),
    "asana-pat": tok(
        f"1/{r(DIGITS, 16)}:{r(HEX, 32)}",
        f"2/{r(DIGITS, 16)}/{r(DIGITS, 16)}:{r(HEX, 32)}",
        f"7/{r(DIGITS, 16)}/{r(DIGITS, 16)}:{r(HEX, 32)}",
    ),
    "linear-api-key": tok("lin_api_" + r(ALNUM, 40)),
    "linear-oauth-token": tok("lin_oauth_" + r(HEX, 64)),
    "notion-integration-secret": tok("secret_" + r(ALNUM, 43)),
    "notion-token": tok("ntn_" + r(DIGITS, 11) + r(ALNUM, 35)),
    "figma-pat": tok("figd_" + r(B64URL, 40)),
    "figma-legacy-token": (
        kv("FIGMA_TOKEN", f"{r(DIGITS, 6)}-{uuid()}"),
        around("figma personal token: ", f"{r(DIGITS, 4)}-{uuid()}"),
    ),
    "clickup-token": tok(f"pk_{r(DIGITS, 8)}_{r(UPPER, 32)}"),
    "todoist-token": (kv("TODOIST_API_TOKEN", r(HEX, 40)), kv("todoist key", r(LOWER, 40), ": ")),
    "airtable-pat": tok(f"pat{r(ALNUM, 14)}.{r(HEX, 64)}"),
    "airtable-api-key": (kv("AIRTABLE_API_KEY", "key" + r(ALNUM, 14)),),
    "dropbox-short-lived-token": tok("sl.u." + r(B64URL, 200), "sl." + r(B64URL, 140)),
    "dropbox-long-lived-token": tok(r(LOWER, 11) + "AAAAAAAAAA" + r(B64URL, 43)),
    "box-client-secret": (kv("BOX_CLIENT_SECRET", r(ALNUM, 32)),),
    "contentful-pat": tok("CFPAT-" + r(B64URL, 43)),
    "sanity-token": (kv("SANITY_API_TOKEN", "sk" + r(ALNUM, 79)),),
    "typeform-token": tok(f"tfp_{r(ALNUM, 44)}_{r(ALNUM, 14)}"),
    "frameio-token": tok("fio-u-" + r(B64URL, 64)),
    "beamer-api-key": tok("b_" + r(B64URL, 44)),
    "twitch-token": (kv("TWITCH_CLIENT_SECRET", r(LOWER, 30)),),
    "easypost-api-key": tok("EZAK" + r(HEX, 54), "EZTK" + r(HEX, 54)),
    "shippo-api-token": tok("shippo_live_" + r(HEX, 40)),
    "duffel-api-token": tok("duffel_test_" + r(B64URL, 43)),
    "lob-api-key": tok("live_" + r(HEX, 35)),
    "shodan-api-key": (kv("SHODAN_API_KEY", r(ALNUM, 32)),),
    "virustotal-api-key": (kv("x-apikey", r(HEX, 64), ": "),),
    "adafruit-io-key": tok("aio_" + r(ALNUM, 28)),
    "intra42-client-secret": tok("s-s4t2ud-" + r(HEX, 64)),
    "defined-networking-token": tok("dnkey-" + r(B64URL, 26) + "-" + r(B64URL, 52)),
    "authress-access-key": tok(
        "sc_" + r(LOWER, 12) + "." + r(LOWER, 5) + ".acc_" + r(LOWER, 20) + "." + r(B64, 64)
    ),
    "settlemint-token": tok("sm_pat_" + r(ALNUM, 16), "sm_aat_" + r(ALNUM, 16)),
    "maxmind-license-key": tok(r(ALNUM, 6) + "_" + r(ALNUM, 29) + "_mmk"),
    "woocommerce-key": tok("ck_" + r(HEX, 40), "cs_" + r(HEX, 40)),
    "sidekiq-enterprise-credentials": (
        kv("BUNDLE_ENTERPRISE__CONTRIBSYS__COM", r(HEX, 8) + ":" + r(HEX, 8)),
    ),
    "sidekiq-enterprise-url": (
        around("https://", r(HEX, 8) + ":" + r(HEX, 8), "@enterprise.contribsys.com/"),
    ),
}

_PUTTY_BODY: Final = "\n".join(r(B64, 64) for _ in range(2)) + "\n" + r(B64, 20) + "="

_CONNECTION: Final[dict[str, tuple[Example, ...]]] = {
    "mongodb-uri-password": (
        around("mongodb+srv://app:", password(), "@cluster0.example.mongodb.net/db"),
    ),
    "postgres-uri-password": (around("postgresql://app:", password(), "@db.internal:5432/app"),),
    "mysql-uri-password": (around("mysql://root:", password(), "@127.0.0.1:3306/app"),),
    "redis-uri-password": (around("redis://:", password(), "@cache:6379/0"),),
    "amqp-uri-password": (around("amqps://guest:", password(), "@mq.internal/vhost"),),
    "snowflake-uri-password": (around("snowflake://analyst:", password(), "@acct-123/db"),),
    "uri-password": (around("https://deploy:", password(), "@git.example.com/repo.git"),),
    "jdbc-password": (
        around("jdbc:mysql://db:3306/app?user=app&password=", password(), "&useSSL=true"),
        around("jdbc:sqlserver://db:1433;databaseName=app;user=app;password=", password(), ";"),
    ),
    "jdbc-oracle-thin-password": (around("jdbc:oracle:thin:scott/", password(), "@db:1521:X"),),
    "odbc-password": (
        around(
            "Server=tcp:db.example.com,1433;Database=app;User ID=app;Password=",
            password(),
            ";Encrypt=True",
        ),
        around("Driver={ODBC Driver 18};Server=db;Uid=app;Pwd=", password(), ";"),
    ),
    "curl-user-password": (
        around("curl -s -u deploy:", password(), " https://api.example.com/v1/items"),
        around("curl --user admin:", password(), " https://api.example.com"),
    ),
    "mysql-cli-password": (around("mysql -h db -u root -p", password(), " app"),),
    "sshpass-password": (around("sshpass -p '", password(), "' ssh deploy@host"),),
    "cli-password-option": (around("app-cli login --password=", password(), " --verbose"),),
    "http-authorization-header": (
        around('curl -H "Authorization: Bearer ', r(B64URL, 40), '" https://api.example.com'),
        around("Authorization: Token ", r(HEX, 40)),
    ),
    "http-bearer-token": (around("bearer ", r(ALNUM, 40)),),
    "http-basic-credentials": (around("Basic ", b64(f"alice:{password()}".encode())),),
    "http-digest-response": (
        around(
            'Authorization: Digest username="alice", realm="api", nonce="'
            + r(HEX, 32)
            + '", uri="/v1/items", response="',
            r(HEX, 32),
            '", opaque="' + r(HEX, 32) + '"',
        ),
    ),
    "session-cookie": (
        around("Cookie: theme=dark; session=", r(B64URL, 43), "; lang=en"),
        around(
            "Set-Cookie: connect.sid=", "s%3A" + r(B64URL, 32) + "." + r(B64URL, 43), "; Path=/"
        ),
    ),
    "pem-private-key": (
        _pem("RSA PRIVATE KEY", 4),
        _pem("PRIVATE KEY", 3, "\\n"),
        _pem("OPENSSH PRIVATE KEY", 5),
    ),
    "putty-private-key": (
        around(
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 3\n",
            _PUTTY_BODY,
            "\nPrivate-MAC: " + r(HEX, 64),
        ),
    ),
    "json-web-token": tok(f"eyJhbGciOiJIUzI1NiJ9.eyJ{r(B64URL, 60)}.{r(B64URL, 43)}"),
}

_GENERIC: Final[dict[str, tuple[Example, ...]]] = {
    "generic-secret": (
        kv("SERVICE_API_KEY", r(ALNUM, 15) + one(DIGITS) + r(ALNUM, 16)),
        around('{"client_secret": "', r(B64URL, 20) + one(DIGITS) + r(B64URL, 10), '"}'),
        around("x-auth-token: ", r(HEX, 40)),
        around("accessToken := '", r(B64, 30) + one(DIGITS) + "=", "'"),
    ),
    "generic-key": (
        around("[DEBUG] Using Key=", r(HEX, 64)),
        around("https://api.example.com/v1/items?key=", r(B64URL, 30) + one(DIGITS), "&page=2"),
        around('{"key": "', r(ALNUM, 39) + one(DIGITS), '"}'),
    ),
    "generic-password-quoted": (
        around('{\\"user\\": \\"carol\\", \\"password\\": \\"', "Fz8!mK2@" + r(ALNUM, 6), '\\"}'),
        around('{"password": "', "correct horse " + r(LETTERS, 6), '"}'),
        around("db_passwd = '", "hunter" + r(LETTERS, 6), "'"),
    ),
    # --- passwords where tools and files put them ---
    "sqlcmd-password": (around("sqlcmd -S db -U sa -P ", password(), ' -Q "SELECT 1"'),),
    "redis-cli-password": (around("redis-cli -h cache -p 6380 -a ", password(), " ping"),),
    "ldap-tool-password": (
        around("ldapsearch -x -D cn=admin,dc=example,dc=org -w ", password(), " -b dc=org"),
    ),
    "htpasswd-batch-password": (around("htpasswd -b /etc/nginx/.htpasswd admin ", password()),),
    "net-use-password": (around("net use Z: \\\\fs\\share /user:CORP\\svc ", password()),),
    "rabbitmqctl-password": (around("rabbitmqctl add_user orders ", password()),),
    "netrc-password": (around("machine api.example.com login deploy password ", password()),),
    "pgpass-line": (around("db.internal:5432:app:app:", password()),),
    "nuget-config-password": (
        around('<add key="ClearTextPassword" value="', password(), '" />'),
        around('<add key=\\"ClearTextPassword\\" value=\\"', password(), '\\" />'),
    ),
    "xml-password-element": (around("<server><password>", password(), "</password></server>"),),
    "sql-password-single-quoted": (
        around("CREATE USER report WITH PASSWORD '", password(), "';"),
        around("ALTER USER 'app'@'%' IDENTIFIED BY '", password(), "';"),
    ),
    "sql-password-double-quoted": (around('CREATE ROLE r LOGIN PASSWORD "', password(), '";'),),
    "generic-password": (
        kv("DB_PASSWORD", "correct-Horse-battery!"),
        around("https://example.com/login?user=alice&password=", "hunter2", "&next=/"),
        kv("smtp_password", "Tr0ub4dor~3", ": "),
    ),
}

# --- formats added with the web APIs, business and developer tools families ------------

#: Values a few words after the provider's name, by rule: the key as written, the value.
_NEAR: Final[dict[str, tuple[str, str]]] = {
    # AI and crawling
    "ai21-api-key": ("AI21_API_KEY", uuid()),
    "clarifai-api-key": ("CLARIFAI_PAT", r(HEX, 32)),
    "serpapi-api-key": ("SERPAPI_API_KEY", r(HEX, 64)),
    "scrapingbee-api-key": ("SCRAPINGBEE_API_KEY", r(UPPER, 80)),
    "scraperapi-api-key": ("SCRAPERAPI_KEY", r(HEX, 32)),
    "zenrows-api-key": ("ZENROWS_API_KEY", r(HEX, 40)),
    # messaging
    "pushbullet-token": ("PUSHBULLET_ACCESS_TOKEN", "o." + r(ALNUM, 32)),
    "sendbird-api-token": ("SENDBIRD_API_TOKEN", r(HEX, 40)),
    "textmagic-api-key": ("TEXTMAGIC_API_KEY", r(ALNUM, 30)),
    "telegram-bot-token-keyed": ("TELEGRAM_BOT_TOKEN", r(DIGITS, 10) + ":" + r(B64URL, 35)),
    # web APIs
    "openweather-api-key": ("OPENWEATHER_API_KEY", r(HEX, 32)),
    "weatherstack-api-key": ("WEATHERSTACK_ACCESS_KEY", r(LOWER, 32)),
    "weatherbit-api-key": ("WEATHERBIT_KEY", r(LOWER, 32)),
    "weatherapi-key": ("WEATHERAPI_KEY", r(HEX, 31)),
    "tomorrowio-api-key": ("TOMORROWIO_API_KEY", r(ALNUM, 32)),
    "accuweather-api-key": ("ACCUWEATHER_API_KEY", r(ALNUM, 32)),
    "visualcrossing-api-key": ("VISUALCROSSING_KEY", r(UPPER, 25)),
    "airvisual-api-key": ("AIRVISUAL_API_KEY", uuid()),
    "ambee-api-key": ("AMBEE_API_KEY", r(HEX, 64)),
    "ipinfo-token": ("IPINFO_TOKEN", r(HEX, 14)),
    "ipstack-api-key": ("IPSTACK_ACCESS_KEY", r(HEX, 32)),
    "ipgeolocation-api-key": ("IPGEOLOCATION_API_KEY", r(HEX, 32)),
    "abuseipdb-api-key": ("ABUSEIPDB_API_KEY", r(HEX, 80)),
    "opencage-api-key": ("OPENCAGE_API_KEY", r(HEX, 32)),
    "geoapify-api-key": ("GEOAPIFY_API_KEY", r(HEX, 32)),
    "positionstack-api-key": ("POSITIONSTACK_KEY", r(HEX, 32)),
    "locationiq-token": ("LOCATIONIQ_TOKEN", "pk." + r(HEX, 32)),
    "tomtom-api-key": ("TOMTOM_API_KEY", r(ALNUM, 32)),
    "here-api-key": ("HERE_API_KEY", r(B64URL, 43)),
    "graphhopper-api-key": ("GRAPHHOPPER_API_KEY", uuid()),
    "finnhub-api-key": ("FINNHUB_API_KEY", r(LOWER, 20)),
    "alphavantage-api-key": ("ALPHAVANTAGE_API_KEY", r(UPPER, 16)),
    "polygon-io-api-key": ("POLYGON_API_KEY", r(ALNUM, 32)),
    "twelvedata-api-key": ("TWELVEDATA_API_KEY", r(LOWER, 32)),
    "tiingo-api-key": ("TIINGO_API_KEY", r(LOWER, 40)),
    "iexcloud-token": ("IEXCLOUD_TOKEN", "sk_" + r(HEX, 32)),
    "financialmodelingprep-api-key": ("FMP_API_KEY", r(ALNUM, 32)),
    "marketstack-api-key": ("MARKETSTACK_ACCESS_KEY", r(HEX, 32)),
    "fixer-api-key": ("FIXER_API_KEY", r(ALNUM, 32)),
    "currencylayer-api-key": ("CURRENCYLAYER_KEY", r(HEX, 32)),
    "openexchangerates-app-id": ("OPENEXCHANGERATES_APP_ID", r(HEX, 32)),
    "exchangerate-api-key": ("EXCHANGERATE_API_KEY", r(HEX, 24)),
    "etherscan-api-key": ("ETHERSCAN_API_KEY", r(UPPER, 34)),
    "infura-api-key": ("INFURA_PROJECT_SECRET", r(HEX, 32)),
    "alchemy-api-key": ("ALCHEMY_API_KEY", r(B64URL, 32)),
    "coinmarketcap-api-key": ("COINMARKETCAP_API_KEY", uuid()),
    "cryptocompare-api-key": ("CRYPTOCOMPARE_API_KEY", r(HEX, 64)),
    "bitfinex-api-key": ("BITFINEX_API_SECRET", r(B64URL, 43)),
    "bittrex-api-key": ("BITTREX_API_SECRET", r(ALNUM, 32)),
    "newsapi-key": ("NEWSAPI_KEY", r(HEX, 32)),
    "nytimes-api-key": ("NYTIMES_API_KEY", r(ALNUM, 32)),
    "tmdb-api-key": ("TMDB_API_KEY", r(HEX, 32)),
    "unsplash-access-key": ("UNSPLASH_ACCESS_KEY", r(B64URL, 43)),
    "pexels-api-key": ("PEXELS_API_KEY", r(ALNUM, 56)),
    "giphy-api-key": ("GIPHY_API_KEY", r(ALNUM, 32)),
    "vimeo-token": ("VIMEO_ACCESS_TOKEN", r(HEX, 32)),
    "strava-client-secret": ("STRAVA_CLIENT_SECRET", r(HEX, 40)),
    "rapidapi-key": ("X-RapidAPI-Key", r(B64URL, 50)),
    "allsports-api-key": ("ALLSPORTS_API_KEY", r(LOWER, 64)),
    "the-odds-api-key": ("THE-ODDS-API_KEY", r(HEX, 32)),
    "amadeus-api-key": ("AMADEUS_CLIENT_ID", r(ALNUM, 32)),
    "amadeus-api-secret": ("AMADEUS_CLIENT_SECRET", r(ALNUM, 16)),
    "aviationstack-api-key": ("AVIATIONSTACK_ACCESS_KEY", r(HEX, 32)),
    "bulbul-api-key": ("BULBUL_API_KEY", r(LOWER, 32)),
    "clearbit-api-key": ("CLEARBIT_KEY", "sk_" + r(HEX, 32)),
    "abstractapi-key": ("ABSTRACTAPI_KEY", r(HEX, 32)),
    "zerobounce-api-key": ("ZEROBOUNCE_API_KEY", r(HEX, 32)),
    "neverbounce-api-key": ("NEVERBOUNCE_API_KEY", "secret_" + r(HEX, 32)),
    "hunter-api-key": ("HUNTER_API_KEY", r(HEX, 40)),
    "censys-api-secret": ("CENSYS_API_SECRET", r(ALNUM, 32)),
    "securitytrails-api-key": ("SECURITYTRAILS_APIKEY", r(ALNUM, 32)),
    "urlscan-api-key": ("URLSCAN_API_KEY", uuid()),
    # business tools
    "aha-api-key": ("AHA_API_KEY", r(HEX, 64)),
    "wrike-token": ("WRIKE_TOKEN", "eyJ" + r(B64URL + ".", 330)),
    "timecamp-api-token": ("TIMECAMP_API_TOKEN", r(LOWER, 26)),
    "toggl-api-token": ("TOGGL_API_TOKEN", r(HEX, 32)),
    "clockify-api-key": ("CLOCKIFY_API_KEY", r(ALNUM, 48)),
    "harvest-token": ("HARVEST_ACCESS_TOKEN", r(DIGITS, 7) + ".pt." + r(B64URL, 86)),
    "everhour-api-key": (
        "EVERHOUR_API_KEY",
        f"{r(HEX, 4)}-{r(HEX, 4)}-{r(HEX, 6)}-{r(HEX, 6)}-{r(HEX, 8)}",
    ),
    "smartsheet-token": ("SMARTSHEET_ACCESS_TOKEN", r(ALNUM, 37)),
    "coda-api-token": ("CODA_API_TOKEN", uuid()),
    "pipedrive-api-token": ("PIPEDRIVE_API_TOKEN", r(HEX, 40)),
    "insightly-api-key": ("INSIGHTLY_API_KEY", uuid()),
    "capsulecrm-token": ("CAPSULECRM_TOKEN", r(B64URL, 64)),
    "activecampaign-api-key": ("ACTIVECAMPAIGN_API_KEY", r(HEX, 72)),
    "convertkit-api-secret": ("CONVERTKIT_API_SECRET", r(ALNUM, 43)),
    "klaviyo-private-key": ("KLAVIYO_PRIVATE_API_KEY", "pk_" + r(ALNUM, 34)),
    "customerio-api-key": ("CUSTOMERIO_API_KEY", r(HEX, 32)),
    "delighted-api-key": ("DELIGHTED_API_KEY", r(ALNUM, 32)),
    "helpscout-api-key": ("HELPSCOUT_APP_SECRET", r(HEX, 32)),
    "pandadoc-api-key": ("PANDADOC_API_KEY", r(HEX, 40)),
    "hellosign-api-key": ("HELLOSIGN_API_KEY", r(HEX, 64)),
    "docusign-integration-key": ("DOCUSIGN_INTEGRATION_KEY", uuid()),
    "jotform-api-key": ("JOTFORM_API_KEY", r(HEX, 32)),
    "eventbrite-token": ("EVENTBRITE_PRIVATE_TOKEN", r(UPPER, 20)),
    "ticketmaster-api-key": ("TICKETMASTER_API_KEY", r(ALNUM, 32)),
    "squarespace-api-key": ("SQUARESPACE_API_KEY", uuid()),
    "webflow-api-token": ("WEBFLOW_API_TOKEN", r(HEX, 64)),
    "storyblok-token": ("STORYBLOK_TOKEN", r(ALNUM, 22) + "tt"),
    "datocms-api-token": ("DATOCMS_API_TOKEN", r(HEX, 30)),
    "buttercms-api-token": ("BUTTERCMS_API_TOKEN", r(HEX, 40)),
    "ghost-admin-api-key": ("GHOST_ADMIN_API_KEY", r(HEX, 24) + ":" + r(HEX, 64)),
    "thingsboard-access-token": ("THINGSBOARD_ACCESS_TOKEN", r(ALNUM, 20)),
    "particle-access-token": ("PARTICLE_ACCESS_TOKEN", r(HEX, 40)),
    "agora-app-certificate": ("AGORA_APP_CERTIFICATE", r(HEX, 32)),
    # developer tools
    "codeclimate-reporter-id": ("CC_TEST_REPORTER_ID", r(HEX, 64)),
    "codacy-api-token": ("CODACY_API_TOKEN", r(ALNUM, 20)),
    "coveralls-repo-token": ("COVERALLS_REPO_TOKEN", r(ALNUM, 33)),
    "sonarqube-token": ("SONAR_TOKEN", r(HEX, 40)),
    "browserstack-access-key": ("BROWSERSTACK_ACCESS_KEY", r(ALNUM, 20)),
    "saucelabs-access-key": ("SAUCE_ACCESS_KEY", uuid()),
    "lambdatest-access-key": ("LAMBDATEST_ACCESS_KEY", r(ALNUM, 50)),
    "cypress-record-key": ("CYPRESS_RECORD_KEY", uuid()),
    "percy-token": ("PERCY_TOKEN", r(HEX, 64)),
    "droneci-token": ("DRONE_TOKEN", r(ALNUM, 32)),
    "bitrise-token": ("BITRISE_TOKEN", r(B64URL, 86)),
    "expo-access-token": ("EXPO_TOKEN", r(B64URL, 40)),
    "gitter-token": ("GITTER_TOKEN", r(HEX, 40)),
    "gitalk-client-secret": ("GITALK_CLIENT_SECRET", r(HEX, 40)),
    "cloudsmith-api-key": ("CLOUDSMITH_API_KEY", r(HEX, 40)),
    "packagecloud-token": ("PACKAGECLOUD_TOKEN", r(HEX, 48)),
    "gemfury-token": ("GEMFURY_TOKEN", r(B64URL, 20)),
    "aiven-api-token": ("AIVEN_TOKEN", r(B64, 372)),
    "split-api-key": ("SPLITIO_API_KEY", r(LOWER, 36)),
}

_ADDED: Final[dict[str, tuple[Example, ...]]] = {
    **{name: (kv(key, value),) for name, (key, value) in _NEAR.items()},
    "elevenlabs-secret-key": tok("sk_" + r(HEX, 48)),
    "cerebras-api-key": tok("csk-" + r(LOWER, 48)),
    "firecrawl-api-key": tok("fc-" + r(HEX, 32)),
    "jina-api-key": tok("jina_" + r(HEX, 32) + r(B64URL, 28)),
    "apify-api-token": tok("apify_api_" + r(ALNUM, 36)),
    "tavily-api-key": tok("tvly-" + r(ALNUM, 32), "tvly-dev-" + r(ALNUM, 32)),
    "aws-appsync-api-key": tok("da2-" + r(LOWER, 26)),
    "braintree-tokenization-key": tok(
        f"sandbox_{r(LOWER, 8)}_{r(LOWER, 16)}", f"production_{r(LOWER, 8)}_{r(LOWER, 16)}"
    ),
    "razorpay-key-id": tok("rzp_live_" + r(ALNUM, 14)),
    "twitch-stream-key": tok(f"live_{r(DIGITS, 9)}_{r(ALNUM, 30)}"),
    "newrelic-rest-api-key": tok("NRRA-" + r(HEX, 42)),
    "pixie-api-key": tok("px-api-" + uuid(), "px-dep-" + uuid()),
    "pubnub-secret-key": tok("sec-c-" + b64(_RNG.randbytes(36))),
    "zapier-webhook-url": (
        around(f"https://hooks.zapier.com/hooks/catch/{r(DIGITS, 7)}/", r(LOWER, 7), "/"),
    ),
    "mailersend-api-token": tok("mlsn." + r(HEX, 64)),
    "coingecko-api-key": tok("CG-" + r(ALNUM, 24)),
    "teamwork-api-token": tok("tkn.v1_" + r(ALNUM, 71) + "="),
    "ubidots-token": tok("BBFF-" + r(ALNUM, 30)),
    "django-insecure-secret-key": tok(
        "django-insecure-" + r(string.ascii_lowercase + DIGITS + "!@#$%^&*(-_=+)", 49) + "x"
    ),
    "crates-io-api-token": tok("cio" + r(ALNUM, 32)),
    "deno-deploy-token": tok("ddp_" + r(ALNUM, 36)),
    "wakatime-api-key": tok("waka_" + uuid()),
    "castai-api-key": tok(f"castai_v1_{r(LOWER, 64)}_{r(LOWER, 8)}"),
    "clickhouse-cloud-secret": tok("4b1d" + r(ALNUM, 38)),
    "adobe-client-secret": tok("p8e-" + r(ALNUM, 32)),
    "netrc-password-line": (
        around("machine api.example.ai\n  login user\n  password ", r(HEX, 40)),
    ),
}

#: Every rule's examples, by rule name.
EXAMPLES: Final[dict[str, tuple[Example, ...]]] = {
    **_CLOUD,
    **_CODE,
    **_MESSAGING,
    **_PAYMENTS,
    **_AI_DATA,
    **_MONITORING,
    **_MISC,
    **_CONNECTION,
    **_GENERIC,
    **_ADDED,
}

#: Values a log holds every day that no rule may touch.
ORDINARY: Final[tuple[str, ...]] = (
    # UUIDs with no key word near them
    uuid(),
    f"order {uuid()} shipped",
    f"request_id={uuid()}",
    f"X-Request-ID: {uuid()}",
    f'{{"trace_id": "{uuid()}", "span": "{r(HEX, 16)}"}}',
    # file paths
    "/srv/app/reports/2026/q3.md",
    "C:\\Users\\x",
    "C:\\Users\\alice\\AppData\\Local\\Temp\\build.log",
    "C:\\Program Files\\App\\app.exe",
    "/var/log/nginx/access.log.1",
    "./node_modules/.bin/tsc",
    "~/.config/app/settings.toml",
    "/etc/ssl/certs/ca-certificates.crt",
    "s3://bucket/key/2026/03/14/file.json.gz",
    "projects/my-project/secrets/db-password/versions/3",
    # git SHAs and labelled digests
    r(HEX, 40),
    f"commit {r(HEX, 40)}",
    f"Merge {r(HEX, 7)} into {r(HEX, 7)}",
    "sha256:" + r(HEX, 64),
    "sha1:" + r(HEX, 40),
    f"ghcr.io/org/app@sha256:{r(HEX, 64)}",
    f'etag: "{r(HEX, 32)}"',
    r(HEX, 64),
    # times
    "2026-03-14T09:26:53Z",
    "2026-03-14T09:26:53.589793+00:00",
    "2026-03-14 09:26:53,123",
    "1710408413",
    # URLs without credentials
    "https://example.com/path?q=1&page=2",
    "https://api.github.com/repos/org/repo/pulls?state=open",
    "http://localhost:8000/health",
    "https://user@example.com/path",
    "postgres://db.internal:5432/app",
    "redis://cache:6379/0",
    "https://example.com:8443/a/b@c",
    "mailto:alice@example.com",
    "arn:aws:iam::123456789012:role/app-role",
    # base64 of ordinary text
    b64(b"hello world, this is an ordinary log line"),
    b64(b"The quick brown fox jumps over the lazy dog"),
    # versions, identifiers
    "v1.2.3-rc.1",
    "1.0.0+build.5",
    "Python 3.12.4",
    "asgi-audit 0.9.0",
    "req_8f14e45fceea167a5a36dedd4bea2543",
    "01HV6Z8Y3K4M5N6P7Q8R9S0T1V",
    "pod app-7f9c6d5b8-x2x4q",
    "ticket JIRA-1234",
    # user agents
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "curl/8.5.0",
    "python-httpx/0.27.0",
    # tracebacks
    'Traceback (most recent call last):\n  File "/srv/app/auth.py", line 42, in login\n'
    "    token = request.headers.get(\"Authorization\")\nKeyError: 'Authorization'",
    '  File "/usr/lib/python3.12/asyncio/base_events.py", line 691, in run_until_complete',
    "ValueError: invalid literal for int() with base 10: 'abc'",
    "    password = getpass.getpass(prompt)",
    "    return authenticate(request, username=username, password=password)",
    "    user.password = make_password(form.cleaned_data['password'])",
    # SQL
    "SELECT id, email FROM users WHERE created_at >= '2026-01-01' ORDER BY id LIMIT 100",
    "INSERT INTO audit_log (actor, action, at) VALUES ('alice', 'login', now())",
    "UPDATE sessions SET expires_at = now() + interval '1 hour' WHERE user_id = 42",
    "SELECT count(*) FROM api_tokens WHERE revoked = false",
    # request lines, headers and words that name secrets without holding one
    "GET /api/v1/users/42 HTTP/1.1",
    "status=200 bytes=5123 duration_ms=12.5",
    "event=login outcome=success user=alice ip=198.51.100.23",
    "client 203.0.113.7:51234 connected",
    "2001:db8::1",
    "Set-Cookie: theme=dark; Path=/; HttpOnly",
    "Content-Type: application/json; charset=utf-8",
    '{"user": "alice", "role": "admin", "active": true}',
    "token_type: Bearer",
    "auth: required",
    "password_reset: true",
    "expires_in: 3600",
    "Basic authentication is required",
    "Bearer token missing",
    "Authorization header missing",
    "the secret to good logs is structure",
    "--dry-run --verbose",
    "author_id=1234567890123",
)
