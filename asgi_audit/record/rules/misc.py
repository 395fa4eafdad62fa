"""Identity, productivity and collaboration, content, shipping, security tools, keys.

Written from each provider's published key formats (1Password's Secret Key, age's
Bech32 secret keys, Cloudflare's origin CA keys, Linear's ``lin_api_``, ...).
"""

from __future__ import annotations

from typing import Final

from ..scanner import Rule
from ._forms import ALNUM, HEX, UUID, keyed, near, token

__all__ = ("RULES",)

_B32 = "[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]"  # Bech32's alphabet, upper case

RULES: Final[tuple[Rule, ...]] = (
    # --- Password managers, key files ---
    token(
        "1password-secret-key",
        "1Password",
        "A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}"
        "-[A-Z0-9]{5}",
        "a3-",
    ),
    token(
        "1password-service-account-token",
        "1Password",
        "ops_eyJ[A-Za-z0-9+/=_-]{100,2048}",
        "ops_eyj",
    ),
    token("age-secret-key", "age", f"AGE-SECRET-KEY-1{_B32}{{58}}", "age-secret-key-1"),
    # --- Cloudflare ---
    # "v1.0-", a hex identifier (24 or 64 characters), then the key: hex groups after
    # dashes (one of 146 characters, or several), the last one of 64 or more.
    token(
        "cloudflare-origin-ca-key",
        "Cloudflare",
        f"v1\\.0-(?:{HEX}{{24}}|{HEX}{{64}})(?:-{HEX}{{32,200}}){{0,2}}-{HEX}{{64,200}}",
        "v1.0-",
    ),
    near(
        "cloudflare-api-token",
        "Cloudflare",
        ("cloudflare", "cf_api_token", "cf-api-token", "cf_token"),
        "[A-Za-z0-9_-]{40}",
        entropy=3.0,
    ),
    keyed(
        "cloudflare-global-api-key",
        "Cloudflare",
        ("cloudflare", "cf_api_key", "cf-api-key", "x-auth-key"),
        f"{HEX}{{37}}",
    ),
    # --- Identity ---
    keyed("okta-api-token", "Okta", ("okta", "ssws"), "00[A-Za-z0-9_-]{40}"),
    keyed("auth0-client-secret", "Auth0", ("auth0",), "[A-Za-z0-9_-]{64}"),
    token(
        "salesforce-access-token",
        "Salesforce",
        "00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{80,120}",
        "00d",
    ),
    keyed("launchdarkly-key", "LaunchDarkly", ("launchdarkly",), f"(?:api|sdk|mob)-{UUID}"),
    # --- Atlassian and project tools ---
    token("atlassian-api-token", "Atlassian", "ATATT3[A-Za-z0-9_=-]{150,220}", "atatt3"),
    keyed(
        "atlassian-legacy-token",
        "Atlassian",
        ("atlassian", "jira", "confluence"),
        f"{ALNUM}{{24}}",
        entropy=3.0,
    ),
    token("trello-token", "Trello", "ATTA[A-Fa-f0-9]{64,72}", "atta"),
    keyed("trello-api-key", "Trello", ("trello",), f"{HEX}{{64}}|{HEX}{{32}}"),
    # A version digit, the user's id (and the app's), ":", 32 hex.
    token(
        "asana-pat",
        "Asana",
        f"[0-9]/[0-9]{{13,16}}(?:/[0-9]{{13,16}})?:{HEX}{{32}}",
        *(f"{d}/" for d in "0123456789"),
    ),
    token("linear-api-key", "Linear", f"lin_api_{ALNUM}{{40}}", "lin_api_"),
    token("linear-oauth-token", "Linear", f"lin_oauth_{HEX}{{64}}", "lin_oauth_"),
    token("notion-integration-secret", "Notion", f"secret_{ALNUM}{{43}}", "secret_"),
    token("notion-token", "Notion", f"ntn_[0-9]{{11}}{ALNUM}{{35}}", "ntn_"),
    token("figma-pat", "Figma", "figd_[A-Za-z0-9_-]{40}", "figd_"),
    near("figma-legacy-token", "Figma", ("figma",), f"[0-9]{{4,6}}-{UUID}"),
    token("clickup-token", "ClickUp", "pk_[0-9]{6,10}_[A-Z0-9]{32}", "pk_"),
    near("todoist-token", "Todoist", ("todoist",), "[0-9a-z]{40}", entropy=3.0),
    token("airtable-pat", "Airtable", f"pat{ALNUM}{{14}}\\.{HEX}{{64}}", "pat"),
    keyed("airtable-api-key", "Airtable", ("airtable",), f"key{ALNUM}{{14}}"),
    # --- Files and content ---
    token("dropbox-short-lived-token", "Dropbox", "sl\\.(?:u\\.)?[A-Za-z0-9_-]{130,1400}", "sl."),
    token(
        "dropbox-long-lived-token",
        "Dropbox",
        "[a-z0-9]{11}AAAAAAAAAA[A-Za-z0-9_-]{43}",
        "aaaaaaaaaa",
    ),
    keyed(
        "box-client-secret", "Box", ("box_client", "box-client", "box_developer"), f"{ALNUM}{{32}}"
    ),
    token("contentful-pat", "Contentful", "CFPAT-[A-Za-z0-9_-]{43}", "cfpat-"),
    keyed("sanity-token", "Sanity", ("sanity",), f"sk{ALNUM}{{70,90}}"),
    token("typeform-token", "Typeform", "tfp_[A-Za-z0-9_.=-]{50,70}", "tfp_"),
    token("frameio-token", "Frame.io", "fio-u-[A-Za-z0-9_=-]{64}", "fio-u-"),
    token("beamer-api-key", "Beamer", "b_[A-Za-z0-9=_-]{44}", "b_", entropy=3.5),
    # --- Streaming ---
    keyed("twitch-token", "Twitch", ("twitch",), "[a-z0-9]{30}"),
    # A stream key: "live_", the channel's id, "_", 30 random characters.
    token("twitch-stream-key", "Twitch", f"live_[0-9]{{6,12}}_{ALNUM}{{30}}", "live_"),
    # --- Shipping and travel ---
    token("easypost-api-key", "EasyPost", f"EZ[AT]K{HEX}{{54}}", "ezak", "eztk"),
    token(
        "shippo-api-token",
        "Shippo",
        f"shippo_(?:live|test)_{HEX}{{40}}",
        "shippo_live_",
        "shippo_test_",
    ),
    token(
        "duffel-api-token",
        "Duffel",
        "duffel_(?:test|live)_[A-Za-z0-9_=-]{43}",
        "duffel_test_",
        "duffel_live_",
    ),
    token("lob-api-key", "Lob", f"(?:live|test)_{HEX}{{35}}", "live_", "test_"),
    # --- Security tools, hardware ---
    keyed("shodan-api-key", "Shodan", ("shodan",), f"{ALNUM}{{32}}"),
    keyed("virustotal-api-key", "VirusTotal", ("virustotal", "vt_api", "x-apikey"), f"{HEX}{{64}}"),
    token("adafruit-io-key", "Adafruit", f"aio_{ALNUM}{{28}}", "aio_"),
    # --- Education, networking, identity, commerce plug-ins ---
    token("intra42-client-secret", "42 Intra", f"s-s4t2ud-{HEX}{{64}}", "s-s4t2ud-"),
    token(
        "defined-networking-token", "Defined Networking", "dnkey-[A-Za-z0-9_-]{60,100}", "dnkey-"
    ),
    token(
        "authress-access-key",
        "Authress",
        "(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\\.[a-z0-9]{4,6}\\.acc[_-][a-z0-9-]{5,32}"
        "\\.[A-Za-z0-9+/_=-]{30,120}",
        ".acc_",
        ".acc-",
    ),
    token(
        "settlemint-token",
        "SettleMint",
        f"sm_(?:pat|aat|sat)_{ALNUM}{{16}}",
        "sm_pat_",
        "sm_aat_",
        "sm_sat_",
    ),
    token("maxmind-license-key", "MaxMind", f"{ALNUM}{{6}}_{ALNUM}{{29}}_mmk", "_mmk"),
    token("woocommerce-key", "WooCommerce", f"c[ks]_{HEX}{{40}}", "ck_", "cs_"),
    token(
        "sidekiq-enterprise-credentials",
        "Sidekiq",
        f"(?i:bundle_enterprise__contribsys__com|enterprise\\.contribsys\\.com)"
        f"[ \\t]{{0,4}}[=:][ \\t]{{0,4}}[\"']?(?P<secret>{HEX}{{8}}:{HEX}{{8}})",
        "contribsys",
        boundary=False,
    ),
    token(
        "sidekiq-enterprise-url",
        "Sidekiq",
        f"(?i:https?)://(?P<secret>{HEX}{{8}}:{HEX}{{8}})@(?i:[a-z0-9.-]{{0,64}}contribsys\\.com)",
        "contribsys",
        boundary=False,
    ),
)
