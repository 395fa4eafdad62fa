"""Cloud platforms: AWS, Google Cloud, Azure, the other IaaS and PaaS providers.

Written from each provider's published key formats. Identifiable formats (a fixed
prefix or an embedded signature) stand alone; formats with no signature of their own
(a UUID, 32 or 64 hex) are masked only a few characters after a key naming the provider.
"""

from __future__ import annotations

from typing import Final

from ..scanner import Rule
from ._forms import ALNUM, B64, HEX, UUID, keyed, token

__all__ = ("RULES",)

_AZ = "[A-Za-z0-9+/]"

RULES: Final[tuple[Rule, ...]] = (
    # --- Amazon Web Services ---
    token(
        "aws-access-key-id",
        "AWS",
        "(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",
        "a3t",
        "akia",
        "asia",
        "abia",
        "acca",
    ),
    keyed(
        "aws-secret-access-key",
        "AWS",
        (
            "aws_secret",
            "aws-secret",
            "awssecret",
            "secret_access_key",
            "secretaccesskey",
            "secret-access-key",
        ),
        "[A-Za-z0-9/+]{40}",
        entropy=3.0,
    ),
    keyed(
        "aws-session-token",
        "AWS",
        ("aws_session_token", "sessiontoken", "x-amz-security-token"),
        "[A-Za-z0-9/+=%]{100,2048}",
        entropy=3.5,
    ),
    token("aws-bedrock-api-key", "AWS", f"ABSK{B64}{{60,300}}={{0,2}}", "absk", entropy=3.5),
    token(
        "aws-signature",
        "AWS",
        "(?i:signature=)(?P<secret>[0-9a-f]{64})",
        "signature=",
        boundary=False,
    ),
    token("amazon-mws-auth-token", "Amazon MWS", f"amzn\\.mws\\.{UUID}", "amzn.mws."),
    token("aws-appsync-api-key", "AWS", "da2-[a-z0-9]{26}", "da2-", entropy=3.0),
    # --- Google Cloud ---
    token("gcp-api-key", "Google Cloud", "AIza[0-9A-Za-z_-]{35}", "aiza"),
    token("gcp-oauth-client-secret", "Google Cloud", "GOCSPX-[0-9A-Za-z_-]{28}", "gocspx-"),
    token("gcp-oauth-access-token", "Google Cloud", "ya29\\.[0-9A-Za-z_.-]{20,2048}", "ya29."),
    token("gcp-oauth-refresh-token", "Google Cloud", "1//0[0-9A-Za-z_-]{40,512}", "1//0"),
    token(
        "firebase-cloud-messaging-key",
        "Google Cloud",
        "AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{130,140}",
        ":apa91b",
    ),
    # --- Microsoft Azure: identifiable keys carry a service signature at a fixed place ---
    token(
        "azure-entra-client-secret",
        "Microsoft Azure",
        "[A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}",
        "q~",
    ),
    token(
        "azure-storage-account-key",
        "Microsoft Azure",
        "(?i:accountkey)[ \\t]{0,2}=[ \\t]{0,2}(?P<secret>[A-Za-z0-9+/]{86}==)",
        "accountkey",
        boundary=False,
    ),
    token(
        "azure-storage-identifiable-key",
        "Microsoft Azure",
        f"{_AZ}{{76}}\\+ASt{_AZ}{{5}}[AQgw]==",
        "+ast",
        boundary=False,
    ),
    token(
        "azure-cosmosdb-identifiable-key",
        "Microsoft Azure",
        f"{_AZ}{{76}}ACDb{_AZ}{{5}}[AQgw]==",
        "acdb",
        boundary=False,
    ),
    token(
        "azure-batch-identifiable-key",
        "Microsoft Azure",
        f"{_AZ}{{76}}\\+ABa{_AZ}{{5}}[AQgw]==",
        "+aba",
        boundary=False,
    ),
    token(
        "azure-apim-identifiable-key",
        "Microsoft Azure",
        f"{_AZ}{{76}}APIM{_AZ}{{5}}[AQgw]==",
        "apim",
        boundary=False,
    ),
    token(
        "azure-ml-identifiable-key",
        "Microsoft Azure",
        f"{_AZ}{{76}}\\+AMC{_AZ}{{5}}[AQgw]==",
        "+amc",
        boundary=False,
    ),
    token(
        "azure-function-identifiable-key",
        "Microsoft Azure",
        "[A-Za-z0-9_-]{44}AzFu[A-Za-z0-9_-]{5}[AQgw]==",
        "azfu",
        boundary=False,
    ),
    token(
        "azure-search-identifiable-key",
        "Microsoft Azure",
        f"{ALNUM}{{42}}AzSe[A-D]{ALNUM}{{5}}",
        "azse",
    ),
    token(
        "azure-messaging-identifiable-key",
        "Microsoft Azure",
        f"{_AZ}{{33}}(?:\\+ASb|\\+AEh|\\+ARm|AIoT|AzCa|AZEG)[A-P]{_AZ}{{5}}=",
        "+asb",
        "+aeh",
        "+arm",
        "aiot",
        "azca",
        "azeg",
        boundary=False,
    ),
    token(
        "azure-container-registry-key",
        "Microsoft Azure",
        f"{_AZ}{{42}}\\+ACR[A-D]{_AZ}{{5}}",
        "+acr",
        boundary=False,
    ),
    token(
        "azure-common-annotated-key",
        "Microsoft Azure",
        f"{ALNUM}{{52}}JQQJ9[9DH]{ALNUM}[A-L]{ALNUM}{{16}}[A-Za-z]{ALNUM}{{7}}(?:{ALNUM}{{2}}==)?",
        "jqqj9",
    ),
    token(
        "azure-shared-access-key",
        "Microsoft Azure",
        "(?i:sharedaccesskey)[ \\t]{0,2}=[ \\t]{0,2}(?P<secret>[A-Za-z0-9+/]{43}=)",
        "sharedaccesskey",
        boundary=False,
    ),
    token(
        "azure-sas-signature",
        "Microsoft Azure",
        "(?i:sig=)(?P<secret>(?:[A-Za-z0-9+/=]|%2[BbFf]|%3[Dd]){40,120})",
        "sig=",
        boundary=False,
    ),
    keyed(
        "azure-container-registry-password",
        "Microsoft Azure",
        ("azurecr", "acr_password", "acr-password", "acrpassword", "acr_admin_password"),
        "[A-Za-z0-9+/=]{32,52}",
        entropy=3.5,
    ),
    keyed(
        "azure-openai-key",
        "Microsoft Azure",
        ("azure_openai", "azure-openai", "azureopenai"),
        f"{HEX}{{32}}",
    ),
    # --- Azure DevOps ---
    token(
        "azure-devops-pat",
        "Azure DevOps",
        f"{ALNUM}{{52}}JQQJ9[9DH]{ALNUM}[A-L]{ALNUM}{{16}}AZDO{ALNUM}{{4}}",
        "jqqj9",
    ),
    keyed(
        "azure-devops-legacy-pat",
        "Azure DevOps",
        ("devops", "azdo", "vsts", "ado", "system_accesstoken"),
        "[a-z2-7]{52}",
    ),
    # The same format with no key word: 52 characters of lower-case base32 standing
    # alone, as dense as random text is (random ones are above 4.2 bits 99% of the
    # time; a run of English words that long, without a separator or a digit, rarely
    # is). No keyword: it runs on every text, one linear pass.
    token(
        "azure-devops-legacy-pat-bare",
        "Azure DevOps",
        "[a-z2-7]{52}",
        entropy=4.2,
    ),
    # --- Other clouds ---
    token("alibaba-access-key-id", "Alibaba Cloud", "LTAI[A-Za-z0-9]{12,20}", "ltai"),
    keyed(
        "alibaba-access-key-secret",
        "Alibaba Cloud",
        ("alibaba", "aliyun", "alicloud", "accesskeysecret", "access_key_secret"),
        f"{ALNUM}{{30}}",
    ),
    keyed(
        "ibm-cloud-api-key", "IBM Cloud", ("ibm", "iam_apikey"), "[A-Za-z0-9_-]{44}", entropy=3.5
    ),
    keyed(
        "oracle-cloud-auth-token",
        "Oracle Cloud",
        ("oci", "oracle"),
        "[A-Za-z0-9+/=_.:;#<>(){}-]{20,44}",
        entropy=3.5,
    ),
    token("digitalocean-pat", "DigitalOcean", f"dop_v1_{HEX}{{64}}", "dop_v1_"),
    token("digitalocean-oauth-token", "DigitalOcean", f"doo_v1_{HEX}{{64}}", "doo_v1_"),
    token("digitalocean-refresh-token", "DigitalOcean", f"dor_v1_{HEX}{{64}}", "dor_v1_"),
    keyed("linode-token", "Linode", ("linode",), f"{HEX}{{64}}"),
    token("scaleway-access-key", "Scaleway", "SCW[A-Z0-9]{17}", "scw"),
    keyed("scaleway-secret-key", "Scaleway", ("scw", "scaleway"), UUID),
    keyed("vultr-api-key", "Vultr", ("vultr",), "[A-Z0-9]{36}"),
    keyed("hetzner-api-token", "Hetzner", ("hetzner", "hcloud"), f"{ALNUM}{{64}}"),
    keyed("ovh-application-secret", "OVHcloud", ("ovh",), f"{ALNUM}{{32}}", entropy=3.0),
    token("tencent-secret-id", "Tencent Cloud", "AKID[A-Za-z0-9]{32}", "akid"),
    keyed("tencent-secret-key", "Tencent Cloud", ("tencent", "qcloud"), f"{ALNUM}{{32}}"),
    keyed("huawei-secret-key", "Huawei Cloud", ("huawei", "hwcloud"), f"{ALNUM}{{40}}"),
    keyed(
        "backblaze-application-key",
        "Backblaze",
        ("backblaze", "b2_app", "b2app", "b2-app"),
        "K[0-9]{3}[A-Za-z0-9+/]{27}|[A-Za-z0-9+/]{31}",
        entropy=3.5,
    ),
    keyed("fastly-api-token", "Fastly", ("fastly",), "[A-Za-z0-9_-]{32}", entropy=3.0),
    token("akamai-edgegrid-token", "Akamai", "akab-[a-z0-9]{16}-[a-z0-9]{16}", "akab-"),
    # --- Platforms as a service ---
    keyed("heroku-api-key", "Heroku", ("heroku",), UUID),
    token("heroku-prefixed-token", "Heroku", f"HRKU-(?:[A-Za-z0-9_-]{{60}}|{UUID})", "hrku-"),
    token("render-api-key", "Render", "rnd_[A-Za-z0-9]{32}", "rnd_"),
    keyed("railway-token", "Railway", ("railway",), UUID),
    token("flyio-oauth-token", "Fly.io", "fo1_[A-Za-z0-9_-]{43}", "fo1_"),
    token(
        "flyio-macaroon-token",
        "Fly.io",
        "fm[12][ar]?_[A-Za-z0-9+/=_,-]{100,4096}",
        "fm1_",
        "fm2_",
        "fm1a_",
        "fm1r_",
        "fm2a_",
        "fm2r_",
        entropy=3.5,
    ),
    token(
        "vercel-token",
        "Vercel",
        "vc[pciark]_[A-Za-z0-9]{20,60}",
        "vcp_",
        "vci_",
        "vca_",
        "vcr_",
        "vck_",
    ),
    keyed("vercel-legacy-token", "Vercel", ("vercel",), f"{ALNUM}{{24}}", entropy=3.0),
    token("netlify-pat", "Netlify", "nfp_[A-Za-z0-9]{36,40}", "nfp_"),
    keyed("netlify-legacy-token", "Netlify", ("netlify",), "[A-Za-z0-9_-]{40,46}", entropy=3.5),
    token("supabase-pat", "Supabase", f"sbp_{HEX}{{40}}", "sbp_"),
    token("supabase-secret-key", "Supabase", "sb_secret_[A-Za-z0-9_-]{20,80}", "sb_secret_"),
    token("planetscale-token", "PlanetScale", "pscale_tkn_[A-Za-z0-9_.=-]{32,64}", "pscale_tkn_"),
    token("planetscale-password", "PlanetScale", "pscale_pw_[A-Za-z0-9_.=-]{32,64}", "pscale_pw_"),
    token(
        "planetscale-oauth-token",
        "PlanetScale",
        "pscale_oauth_[A-Za-z0-9_.=-]{32,64}",
        "pscale_oauth_",
    ),
    token("neon-api-key", "Neon", "napi_[a-z0-9]{64}", "napi_"),
    keyed(
        "mongodb-atlas-private-key",
        "MongoDB",
        ("atlas_private", "atlas-private", "mongodb_atlas", "mongodb-atlas", "atlas_api"),
        UUID,
    ),
    keyed("upstash-token", "Upstash", ("upstash",), "[A-Za-z0-9_=-]{40,120}", entropy=3.5),
    token("openshift-token", "Red Hat OpenShift", "sha256~[A-Za-z0-9_-]{43}", "sha256~"),
    token(
        "tailscale-key",
        "Tailscale",
        "tskey-(?:auth|api|client|scim|webhook)-[A-Za-z0-9]{8,20}-[A-Za-z0-9]{20,40}",
        "tskey-",
    ),
    token(
        "defined-networking-key",
        "Defined Networking",
        "dnkey-[a-z0-9=_-]{26}-[a-z0-9=_-]{52}",
        "dnkey-",
    ),
    keyed("ngrok-authtoken", "ngrok", ("ngrok",), "[A-Za-z0-9_]{40,60}", entropy=3.5),
    token("yandex-api-key", "Yandex Cloud", "AQVN[A-Za-z0-9_-]{35,38}", "aqvn"),
    token(
        "yandex-iam-token",
        "Yandex Cloud",
        "t1\\.[A-Za-z0-9_-]{20,200}={0,2}\\.[A-Za-z0-9_-]{86}={0,2}",
        "t1.",
    ),
)
