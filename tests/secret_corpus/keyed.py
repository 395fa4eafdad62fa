"""Secrets recognisable only by the keyword next to them.

A UUID, 32 hex characters or 40 random letters say nothing by themselves; what makes
them a credential is the name they are given: ``HEROKU_API_KEY=<uuid>``,
``_authToken=<uuid>`` in an ``.npmrc``, an ``api-key:`` header. Each template here is the
secret *in* the context where the provider's documentation (or the public rule lists,
which require the same keyword) says it appears; only the secret is a needle.
"""

from __future__ import annotations

from typing import Final

from .generate import GITHUB_PATTERNS as GH
from .generate import Format
from .generate import gitleaks as gl
from .generate import trufflehog as th

__all__ = ("KEYED",)

NPMRC: Final = "https://docs.npmjs.com/cli/v10/configuring-npm/npmrc#auth-related-configuration"
AWS_CLI: Final = "https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html"
AZ_DEVOPS: Final = (
    "https://learn.microsoft.com/en-us/azure/devops/cli/log-in-via-pat (AZURE_DEVOPS_EXT_PAT); "
    "the 52 lower-case base32 characters: " + th("azuredevopspersonalaccesstoken")
)
AZ_OPENAI: Final = (
    "https://learn.microsoft.com/en-us/azure/ai-services/openai/reference#authentication"
)
AZ_FUNCTIONS: Final = "https://learn.microsoft.com/en-us/azure/azure-functions/function-keys-how-to"
TWILIO: Final = "https://www.twilio.com/docs/iam/api/authtoken"
TELEGRAM: Final = "https://core.telegram.org/bots/api#authorizing-your-bot"
OAUTH_BEARER: Final = "RFC 6750, The OAuth 2.0 Authorization Framework: Bearer Token Usage"
COOKIES: Final = "RFC 6265, HTTP State Management Mechanism"
WIREGUARD: Final = "https://www.wireguard.com/quickstart/ (wg genkey: 32 bytes, base64)"
DJANGO: Final = "https://docs.djangoproject.com/en/stable/ref/settings/#secret-key"
RAILS: Final = "https://guides.rubyonrails.org/security.html#environmental-security"
LARAVEL: Final = "https://laravel.com/docs/encryption#configuration"
ETHEREUM: Final = "https://ethereum.org/en/developers/docs/accounts/#account-creation"
SPLUNK: Final = "https://docs.splunk.com/Documentation/Splunk/latest/Data/UsetheHTTPEventCollector"
EDGEGRID: Final = "https://techdocs.akamai.com/developer/docs/set-up-authentication-credentials"

Row = tuple[str, str, str, str]


def _family(family: str, rows: list[Row]) -> tuple[Format, ...]:
    return tuple(Format(p, n, family, s, context=True, template=t) for p, n, t, s in rows)


_CLOUD: list[Row] = [
    ("Heroku", "API key", "HEROKU_API_KEY={{uuid}}", gl("heroku-api-key")),
    (
        "Amazon Web Services",
        "secret access key",
        "aws_secret_access_key = {{b64slash:40}}",
        AWS_CLI,
    ),
    (
        "Amazon Web Services",
        "session token",
        "aws_session_token = FwoGZXIvYXdzE{{b64:280}}",
        AWS_CLI,
    ),
    (
        "Microsoft Azure",
        "DevOps personal access token",
        "AZURE_DEVOPS_EXT_PAT={{b32l:52}}",
        AZ_DEVOPS,
    ),
    ("Microsoft Azure", "OpenAI API key", "api-key: {{hex:32}}", AZ_OPENAI),
    (
        "Microsoft Azure",
        "Functions key",
        "https://contoso-fn.azurewebsites.net/api/orders?code={{b64url:54}}==",
        AZ_FUNCTIONS,
    ),
    ("Alibaba Cloud", "AccessKey secret", "ALIBABA_CLOUD_ACCESS_KEY_SECRET={{alnum:30}}", GH),
    ("IBM Cloud", "API key", "IBMCLOUD_API_KEY={{b64url:44}}", GH),
    ("Scaleway", "secret key", "SCW_SECRET_KEY={{uuid}}", GH),
    ("Linode", "personal access token", "LINODE_TOKEN={{hex:64}}", th("linode")),
    ("Vultr", "API key", "VULTR_API_KEY={{alnumupper:36}}", th("vultr")),
    ("Hetzner Cloud", "API token", "HCLOUD_TOKEN={{alnum:64}}", th("hetzner")),
    ("Cloudflare", "API token", "CLOUDFLARE_API_TOKEN={{b64url:40}}", gl("cloudflare-api-key")),
    ("Cloudflare", "global API key", "X-Auth-Key: {{hex:37}}", gl("cloudflare-global-api-key")),
    ("Fastly", "API token", "Fastly-Key: {{b64url:32}}", gl("fastly-api-token")),
    ("Akamai", "EdgeGrid client secret", "client_secret = {{b64:43}}=", EDGEGRID),
    ("Railway", "project token", "RAILWAY_TOKEN={{uuid}}", th("railwayapp")),
    ("Okta", "API token", "Authorization: SSWS 00{{b64url:40}}", gl("okta-access-token")),
    ("Auth0", "client secret", "AUTH0_CLIENT_SECRET={{b64url:64}}", th("auth0oauth")),
    ("Splunk", "HTTP Event Collector token", "Authorization: Splunk {{uuid}}", SPLUNK),
]

_BUILD: list[Row] = [
    ("npm", "legacy auth token", "//registry.npmjs.org/:_authToken={{uuid}}", NPMRC),
    ("Snyk", "API token", "SNYK_TOKEN={{uuid}}", gl("snyk-api-token")),
    ("Codecov", "upload token", "CODECOV_TOKEN={{uuid}}", gl("codecov-access-token")),
    ("Travis CI", "API token", "TRAVIS_API_TOKEN={{alnum:22}}", gl("travisci-access-token")),
    ("Drone", "personal token", "DRONE_TOKEN={{alnum:32}}", gl("droneci-access-token")),
    ("Jenkins", "API token", "JENKINS_API_TOKEN=11{{hex:32}}", th("jenkins")),
    ("Gitter", "access token", "GITTER_TOKEN={{hex:40}}", gl("gitter-access-token")),
    ("Gitea", "access token", "GITEA_TOKEN={{hex:40}}", th("gitea")),
    ("LaunchDarkly", "access token", "LAUNCHDARKLY_ACCESS_TOKEN=api-{{uuid}}", GH),
    (
        "Asana",
        "personal access token",
        "ASANA_ACCESS_TOKEN=2/{{digits:16}}/{{digits:16}}:{{hex:32}}",
        GH,
    ),
    ("Trello", "API token", "TRELLO_TOKEN=ATTA{{hex:64}}{{HEX:8}}", th("trelloapikey")),
    ("Algolia", "admin API key", "ALGOLIA_ADMIN_KEY={{hex:32}}", gl("algolia-api-key")),
    (
        "Sidekiq",
        "Enterprise credentials",
        "BUNDLE_ENTERPRISE__CONTRIBSYS__COM={{hex:8}}:{{hex:8}}",
        gl("sidekiq-secret"),
    ),
    ("Squarespace", "API key", "SQUARESPACE_API_KEY={{uuid}}", gl("squarespace-access-token")),
    (
        "Dropbox",
        "short-lived access token",
        "DROPBOX_ACCESS_TOKEN=sl.{{b64url:135}}",
        gl("dropbox-short-lived-api-token"),
    ),
    ("Zendesk", "API token", "ZENDESK_API_TOKEN={{alnum:40}}", th("zendeskapi")),
    ("Intercom", "access token", "INTERCOM_ACCESS_TOKEN=dG9rOj{{b64:54}}=", gl("intercom-api-key")),
]

_OBSERVABILITY: list[Row] = [
    (
        "Datadog",
        "API key",
        "DD_API_KEY={{hex:32}}",
        "https://docs.datadoghq.com/account_management/api-app-keys/",
    ),
    (
        "Datadog",
        "application key",
        "DD_APP_KEY={{hex:40}}",
        "https://docs.datadoghq.com/account_management/api-app-keys/",
    ),
    ("Bugsnag", "API key", "BUGSNAG_API_KEY={{hex:32}}", th("bugsnag")),
    ("Rollbar", "access token", "ROLLBAR_ACCESS_TOKEN={{hex:32}}", th("rollbar")),
    (
        "PagerDuty",
        "REST API key",
        "Authorization: Token token={{b64url:20}}",
        th("pagerdutyapikey"),
    ),
    ("Opsgenie", "API key", "Authorization: GenieKey {{uuid}}", th("opsgenie")),
    ("Honeycomb", "API key", "x-honeycomb-team: {{alnum:22}}", th("honeycomb")),
    ("Sumo Logic", "access key", "SUMO_ACCESS_KEY={{alnum:64}}", gl("sumologic-access-token")),
    ("Mixpanel", "API secret", "MIXPANEL_API_SECRET={{hex:32}}", th("mixpanel")),
    ("Amplitude", "secret key", "AMPLITUDE_SECRET_KEY={{hex:32}}", th("amplitudeapikey")),
]

_AI: list[Row] = [
    ("Mistral AI", "API key", "MISTRAL_API_KEY={{alnum:32}}", th("mistral")),
    ("Cohere", "API key", "CO_API_KEY={{alnum:40}}", gl("cohere-api-token")),
    ("Together AI", "API key", "TOGETHER_API_KEY={{hex:64}}", th("togetherai")),
    ("Weights & Biases", "API key", "WANDB_API_KEY={{hex:40}}", GH),
    ("ElevenLabs", "API key", "xi-api-key: sk_{{hex:48}}", th("elevenlabs")),
    ("Pinecone", "API key", "PINECONE_API_KEY={{uuid}}", th("pinecone")),
    ("AssemblyAI", "API key", "ASSEMBLYAI_API_KEY={{hex:32}}", th("assemblyai")),
    ("Deepgram", "API key", "Authorization: Token {{hex:40}}", th("deepgram")),
]

_MESSAGING: list[Row] = [
    (
        "Telegram",
        "bot token",
        "https://api.telegram.org/bot{{digits:10}}:AA{{b64url:33}}/getMe",
        TELEGRAM,
    ),
    ("Twilio", "auth token", "TWILIO_AUTH_TOKEN={{hex:32}}", TWILIO),
    ("Vonage", "API secret", "VONAGE_API_SECRET={{alnum:16}}", th("nexmoapikey")),
    ("Plivo", "auth token", "PLIVO_AUTH_TOKEN={{alnum:40}}", th("plivo")),
    ("MessageBird", "API key", "MESSAGEBIRD_API_KEY={{alnum:25}}", gl("messagebird-api-token")),
    (
        "Postmark",
        "server token",
        "X-Postmark-Server-Token: {{uuid}}",
        "https://postmarkapp.com/developer/api/overview#authentication",
    ),
    ("Pusher", "app secret", "PUSHER_APP_SECRET={{hex:20}}", th("pusherchannelkey")),
    ("Ably", "API key", "ABLY_API_KEY={{_alnum:6}}.{{_b64url:6}}:{{b64url:43}}", th("ably")),
    (
        "Mattermost",
        "personal access token",
        "MM_ACCESS_TOKEN={{alnumlower:26}}",
        gl("mattermost-access-token"),
    ),
    ("Zoom", "client secret", "ZOOM_CLIENT_SECRET={{alnum:32}}", th("zoom")),
    ("Sendbird", "API token", "SENDBIRD_API_TOKEN={{hex:40}}", gl("sendbird-access-token")),
    ("Twitch", "client secret", "TWITCH_CLIENT_SECRET={{alnumlower:30}}", gl("twitch-api-token")),
    (
        "LinkedIn",
        "client secret",
        "LINKEDIN_CLIENT_SECRET={{alnum:16}}",
        gl("linkedin-client-secret"),
    ),
    ("Etsy", "API key", "ETSY_API_KEY={{alnumlower:24}}", gl("etsy-access-token")),
    ("Flickr", "API secret", "FLICKR_API_SECRET={{alnumlower:32}}", gl("flickr-access-token")),
    ("New York Times", "API key", "NYTIMES_API_KEY={{alnum:32}}", gl("nytimes-access-token")),
]

_PAYMENTS: list[Row] = [
    ("Razorpay", "key secret", "RAZORPAY_KEY_SECRET={{alnum:24}}", th("razorpay")),
    ("Adyen", "API key", "X-API-Key: AQE{{b64url:90}}", th("adyen")),
    ("Lob", "live API key", "LOB_API_KEY=live_{{hex:35}}", gl("lob-api-key")),
    (
        "GoCardless",
        "live access token",
        "GOCARDLESS_ACCESS_TOKEN=live_{{b64url:40}}",
        gl("gocardless-api-token"),
    ),
    ("Coinbase", "API secret", "COINBASE_API_SECRET={{b64url:64}}", gl("coinbase-access-token")),
    ("Kraken", "private key", "KRAKEN_PRIVATE_KEY={{b64:86}}==", gl("kraken-access-token")),
    ("KuCoin", "API secret", "KUCOIN_API_SECRET={{uuid}}", gl("kucoin-secret-key")),
    ("Bittrex", "API secret", "BITTREX_API_SECRET={{hex:32}}", gl("bittrex-secret-key")),
    ("Finnhub", "API key", "FINNHUB_TOKEN={{alnumlower:20}}", gl("finnhub-access-token")),
]

_APPLICATION: list[Row] = [
    ("Ethereum", "account private key", "PRIVATE_KEY=0x{{hex:64}}", ETHEREUM),
    ("WireGuard", "interface private key", "PrivateKey = {{b64:43}}=", WIREGUARD),
    ("Django", "SECRET_KEY", "DJANGO_SECRET_KEY={{pw:50}}", DJANGO),
    ("Ruby on Rails", "secret_key_base", "SECRET_KEY_BASE={{hex:128}}", RAILS),
    ("Laravel", "APP_KEY", "APP_KEY=base64:{{b64:43}}=", LARAVEL),
    (
        "Auth.js (NextAuth)",
        "secret",
        "NEXTAUTH_SECRET={{b64:43}}=",
        "https://authjs.dev/reference/core#secret",
    ),
    ("JSON Web Token", "HMAC signing secret", "JWT_SECRET={{alnum:48}}", "RFC 7518, section 3.2"),
    ("OAuth 2.0", "opaque bearer token", "Authorization: Bearer {{b64url:40}}", OAUTH_BEARER),
    (
        "HTTP",
        "API key header",
        "X-API-Key: {{alnum:32}}",
        "OWASP REST Security Cheat Sheet, API Keys",
    ),
    ("HTTP", "session cookie", "Cookie: session={{b64url:43}}; theme=dark", COOKIES),
    (
        "Django",
        "session cookie",
        "Set-Cookie: sessionid={{alnumlower:32}}; Path=/; HttpOnly",
        COOKIES,
    ),
]

#: Formats added with the rules of the web APIs, business tools and developer tools: the
#: value after the provider's name, in a key or a few words before it.
_MORE: list[tuple[str, Row]] = [
    (
        "messaging",
        ("Twilio", "auth token in a sentence", "twilio token - '{{hex:32}}'", th("twilio")),
    ),
    (
        "messaging",
        (
            "Telegram",
            "bot token after its name",
            "telegram bot: {{_digits:10}}:{{b64url:35}}",
            gl("telegram-bot-api-token"),
        ),
    ),
    (
        "messaging",
        (
            "Discord",
            "bot token after its name",
            "discord token {{b64url:24}}.{{b64url:6}}.{{b64url:27}}",
            th("discordbottoken"),
        ),
    ),
    ("ai", ("AI21 Labs", "API key", "ai21_key: {{uuid}}", th("ai21"))),
    ("ai", ("Clarifai", "personal access token", "CLARIFAI_PAT={{hex:32}}", th("clarifai"))),
    ("ai", ("SerpApi", "API key", "SERPAPI_API_KEY={{hex:64}}", th("serpapi"))),
    ("ai", ("ScrapingBee", "API key", "SCRAPINGBEE_API_KEY={{alnumupper:80}}", th("scrapingbee"))),
    (
        "data",
        (
            "OpenWeather",
            "API key",
            "https://api.openweathermap.org/data/2.5/weather?q=Paris&appid={{hex:32}}",
            th("openweather"),
        ),
    ),
    (
        "data",
        (
            "Weatherstack",
            "access key",
            "WEATHERSTACK_ACCESS_KEY={{alnumlower:32}}",
            th("weatherstack"),
        ),
    ),
    ("data", ("IQAir AirVisual", "API key", "airvisual key: {{uuid}}", th("airvisual"))),
    ("data", ("Ambee", "API key", "AMBEE_API_KEY={{hex:64}}", th("ambee"))),
    ("data", ("ipstack", "access key", "IPSTACK_ACCESS_KEY={{hex:32}}", th("ipstack"))),
    ("data", ("AbuseIPDB", "API key", "ABUSEIPDB_API_KEY={{hex:80}}", th("abuseipdb"))),
    ("data", ("OpenCage", "API key", "OPENCAGE_API_KEY={{hex:32}}", th("opencagedata"))),
    ("data", ("TomTom", "API key", "TOMTOM_API_KEY={{alnum:32}}", th("tomtom"))),
    (
        "data",
        ("Alpha Vantage", "API key", "ALPHAVANTAGE_API_KEY={{alnumupper:16}}", th("alphavantage")),
    ),
    ("data", ("Twelve Data", "API key", "twelvedata apikey={{alnumlower:32}}", th("twelvedata"))),
    ("data", ("Tiingo", "API token", "TIINGO_API_KEY={{alnumlower:40}}", th("tiingo"))),
    ("data", ("Etherscan", "API key", "ETHERSCAN_API_KEY={{alnumupper:34}}", th("etherscan"))),
    ("data", ("Infura", "project secret", "INFURA_PROJECT_SECRET={{hex:32}}", th("infura"))),
    ("data", ("CoinMarketCap", "API key", "X-CMC_PRO_API_KEY: {{uuid}}", th("coinmarketcap"))),
    ("data", ("NewsAPI", "API key", "NEWSAPI_KEY={{hex:32}}", th("newsapi"))),
    ("data", ("TMDB", "API key", "TMDB_API_KEY={{hex:32}}", th("tmdb"))),
    ("data", ("Unsplash", "access key", "UNSPLASH_ACCESS_KEY={{b64url:43}}", th("unsplash"))),
    ("data", ("Strava", "client secret", "STRAVA_CLIENT_SECRET={{hex:40}}", th("strava"))),
    ("data", ("RapidAPI", "API key", "X-RapidAPI-Key: {{b64url:50}}", gl("rapidapi-access-token"))),
    ("data", ("AllSports", "API key", "allsports key={{alnumlower:64}}", th("allsports"))),
    ("data", ("Amadeus", "API key", "AMADEUS_CLIENT_ID={{alnum:32}}", th("amadeus"))),
    (
        "data",
        (
            "Bulbul",
            "API key",
            "https://api.bulbul.com/v1/users?key={{alnumlower:32}}",
            th("bulbul"),
        ),
    ),
    ("data", ("Hunter", "API key", "HUNTER_API_KEY={{hex:40}}", th("hunter"))),
    ("data", ("urlscan.io", "API key", "URLSCAN_API_KEY={{uuid}}", th("urlscan"))),
    ("application secrets", ("Aha!", "API key", "AHA_API_KEY={{hex:64}}", th("aha"))),
    (
        "application secrets",
        ("TimeCamp", "API token", "TIMECAMP_API_TOKEN={{alnumlower:26}}", th("timecamp")),
    ),
    ("application secrets", ("Toggl", "API token", "TOGGL_API_TOKEN={{hex:32}}", th("toggltrack"))),
    (
        "application secrets",
        ("Clockify", "API key", "CLOCKIFY_API_KEY={{alnum:48}}", th("clockify")),
    ),
    (
        "application secrets",
        ("Pipedrive", "API token", "PIPEDRIVE_API_TOKEN={{hex:40}}", th("pipedrive")),
    ),
    (
        "application secrets",
        ("ActiveCampaign", "API key", "ACTIVECAMPAIGN_API_KEY={{hex:72}}", th("activecampaign")),
    ),
    ("application secrets", ("PandaDoc", "API key", "PANDADOC_API_KEY={{hex:40}}", th("pandadoc"))),
    ("application secrets", ("Jotform", "API key", "JOTFORM_API_KEY={{hex:32}}", th("jotform"))),
    (
        "application secrets",
        ("Webflow", "API token", "WEBFLOW_API_TOKEN={{hex:64}}", th("webflow")),
    ),
    (
        "application secrets",
        (
            "Ghost",
            "Admin API key",
            "GHOST_ADMIN_API_KEY={{hex:24}}:{{hex:64}}",
            "https://ghost.org/docs/admin-api/#token-authentication",
        ),
    ),
    (
        "application secrets",
        (
            "ThingsBoard",
            "device access token",
            "https://thingsboard.cloud/api/v1/{{alnumlower:20}}/telemetry",
            "https://thingsboard.io/docs/reference/http-api/",
        ),
    ),
    (
        "application secrets",
        ("Particle", "access token", "PARTICLE_ACCESS_TOKEN={{hex:40}}", th("particleio")),
    ),
    (
        "application secrets",
        ("Agora", "app certificate", "AGORA_APP_CERTIFICATE={{hex:32}}", th("agora")),
    ),
    (
        "build and packages",
        (
            "Code Climate",
            "test reporter id",
            "CC_TEST_REPORTER_ID={{hex:64}}",
            "https://docs.codeclimate.com/docs/finding-your-test-coverage-token",
        ),
    ),
    (
        "build and packages",
        (
            "SonarSource",
            "legacy token",
            "mvn sonar:sonar -Dsonar.login={{hex:40}}",
            gl("sonar-api-token"),
        ),
    ),
    (
        "build and packages",
        ("BrowserStack", "access key", "BROWSERSTACK_ACCESS_KEY={{alnum:20}}", th("browserstack")),
    ),
    (
        "build and packages",
        ("Sauce Labs", "access key", "SAUCE_ACCESS_KEY={{uuid}}", th("saucelabs")),
    ),
    (
        "build and packages",
        (
            "Cypress",
            "record key",
            "cypress run --record --key {{uuid}}",
            "https://docs.cypress.io/cloud/account-management/projects#Record-key",
        ),
    ),
    (
        "build and packages",
        (
            "Percy",
            "project token",
            "PERCY_TOKEN={{hex:64}}",
            "https://www.browserstack.com/docs/percy/get-started/set-env-var",
        ),
    ),
    (
        "build and packages",
        (
            "Weights & Biases",
            "API key in .netrc",
            "machine api.wandb.ai\n  login user\n  password {{hex:40}}",
            th("wandb"),
        ),
    ),
    (
        "build and packages",
        (
            "HTTP",
            "API key after the word key",
            "[DEBUG] Using Key={{hex:64}}",
            gl("generic-api-key"),
        ),
    ),
]

KEYED: Final[tuple[Format, ...]] = (
    *_family("cloud", _CLOUD),
    *_family("build and packages", _BUILD),
    *_family("observability", _OBSERVABILITY),
    *_family("ai", _AI),
    *_family("messaging", _MESSAGING),
    *_family("payments and commerce", _PAYMENTS),
    *_family("application secrets", _APPLICATION),
    *(f for family, row in _MORE for f in _family(family, [row])),
)
